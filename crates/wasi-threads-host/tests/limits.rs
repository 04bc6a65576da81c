//! Byte counts of writes whose iovecs ask for more than 4 GiB: the answer
//! is a legal short count (the bytes that reached the file) or an errno,
//! never the total wrapped to 32 bits.

mod support;

use wasi_threads_host::{Outcome, Runner};

/// A 256 MiB memory; at 1024, 17 iovecs from 4096: 16 naming the rest of
/// the memory and one naming 64 KiB + 100 bytes, 4 GiB + 100 bytes in all
/// (100 once wrapped to 32 bits); at 2048, 3 iovecs of 2 GiB from 0, past
/// the end of the memory. "w" is written with fd_write and "p" with fd_pwrite;
/// `test.record(step, value)` gets each errno and count.
const WAT: &str = r#"(module
  (import "test" "record" (func $record (param i32 i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pwrite" (func $pwrite (param i32 i32 i32 i64 i32) (result i32)))
  (memory (export "memory") 4096 4096)
  (data (i32.const 4096) "the first bytes of the memory, gathered again and again")
  (data (i32.const 400) "w")
  (data (i32.const 404) "p")
  (func $open_rw (param $name i32) (result i32)
    ;; oflags creat | trunc, rights fd_seek | fd_write
    (call $record (i32.const 0)
      (call $open (i32.const 3) (i32.const 0) (local.get $name) (i32.const 1) (i32.const 9)
        (i64.const 68) (i64.const 0) (i32.const 0) (i32.const 500)))
    (i32.load (i32.const 500)))
  (func (export "_start") (local $i i32) (local $fd i32)
    (loop $iovs
      (i32.store (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 3))) (i32.const 4096))
      (i32.store (i32.add (i32.const 1028) (i32.shl (local.get $i) (i32.const 3))) (i32.const 268431360))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $iovs (i32.lt_u (local.get $i) (i32.const 16))))
    (i32.store (i32.const 1152) (i32.const 4096))
    (i32.store (i32.const 1156) (i32.const 65636))
    (i32.store (i32.const 2052) (i32.const 0x7ffffff0))
    (i32.store (i32.const 2060) (i32.const 0x7ffffff0))
    (i32.store (i32.const 2068) (i32.const 0x7ffffff0))

    (local.set $fd (call $open_rw (i32.const 400)))
    (call $record (i32.const 1) (call $write (local.get $fd) (i32.const 1024) (i32.const 17) (i32.const 600)))
    (call $record (i32.const 2) (i32.load (i32.const 600)))
    (call $record (i32.const 5) (call $write (local.get $fd) (i32.const 2048) (i32.const 3) (i32.const 600)))

    (local.set $fd (call $open_rw (i32.const 404)))
    (call $record (i32.const 3) (call $pwrite (local.get $fd) (i32.const 1024) (i32.const 17) (i64.const 0) (i32.const 600)))
    (call $record (i32.const 4) (i32.load (i32.const 600)))
    (call $record (i32.const 6) (call $pwrite (local.get $fd) (i32.const 2048) (i32.const 3) (i64.const 0) (i32.const 600)))))"#;

#[test]
fn counts_of_writes_past_four_gibibytes_are_never_wrapped() {
    let dir = support::scratch("counts");
    let (runner, log) = support::recording(Runner::new().preopen_dir(&dir, "/d"));
    let report = runner.run(WAT.as_bytes()).unwrap();
    assert_eq!(report.outcome, Outcome::Exit(0));
    let log = support::calls(&log);
    let value = |step: i32| log.iter().find(|(s, _)| *s == step).map(|&(_, v)| v);
    assert!(
        log.iter().filter(|(s, _)| *s == 0).all(|&(_, e)| e == 0),
        "the opens: {log:?}"
    );
    let memory_start = b"the first bytes of the memory, gathered again and again";
    for (name, errno, count) in [("w", 1, 2), ("p", 3, 4)] {
        let written = std::fs::read(dir.join(name)).unwrap();
        // Legal answers: success with the count of bytes that reached the
        // file, at most what was asked, or an errno (and nothing written).
        match value(errno) {
            Some(0) => {
                let count = value(count).unwrap() as u32;
                assert_eq!(
                    count as usize,
                    written.len(),
                    "{name}: the count answered is the bytes written"
                );
                assert!(count > 100, "{name}: a count of {count}");
                // The iovecs' bytes, in order: the memory from 4096 again
                // and again, so byte k is the memory's byte 4096 + k mod
                // (256 MiB - 4096).
                for (k, &byte) in written.iter().enumerate() {
                    let at = k % ((256 << 20) - 4096);
                    let expected = memory_start.get(at).copied().unwrap_or(0);
                    assert_eq!(byte, expected, "{name}: byte {k} of the file");
                }
            }
            Some(errno) => {
                assert!((1..=76).contains(&errno), "{name}: answered {errno}");
                assert!(written.is_empty());
            }
            None => panic!("{name}: no answer: {log:?}"),
        }
    }
    // Iovecs of 2 GiB each past the end of a 256 MiB memory: fault (21).
    assert_eq!(value(5), Some(21), "fd_write past the memory");
    assert_eq!(value(6), Some(21), "fd_pwrite past the memory");
    let _ = std::fs::remove_dir_all(&dir);
}
