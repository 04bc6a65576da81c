//! Preview-1 calls through the shared context, and the sources a
//! context's builder can replace (clock, random, the descriptor limit).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

mod support;

use wasi_threads_host::preview1::{self, WasiCtx};
use wasi_threads_host::{Outcome, Run, Runner};
use wasmtime::{Config, Engine, Linker, Module, Store};

/// A stdout the test can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn stdin_fills_every_iovec_past_an_empty_one() {
    // iovecs at 0: (100, 4), (200, 0), (104, 8): the 12 bytes land at 100..112,
    // then go back out through fd_write; the exit code is the count read.
    let wat = r#"(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 4))
    (i32.store (i32.const 8) (i32.const 200))
    (i32.store (i32.const 12) (i32.const 0))
    (i32.store (i32.const 16) (i32.const 104))
    (i32.store (i32.const 20) (i32.const 8))
    (drop (call $read (i32.const 0) (i32.const 0) (i32.const 3) (i32.const 40)))
    (i32.store (i32.const 48) (i32.const 100))
    (i32.store (i32.const 52) (i32.load (i32.const 40)))
    (drop (call $write (i32.const 1) (i32.const 48) (i32.const 1) (i32.const 56)))
    (call $exit (i32.load (i32.const 40)))))"#;
    let out = Captured::default();
    let report = Runner::new()
        .stdin(std::io::Cursor::new(b"hello world!".to_vec()))
        .stdout(out.clone())
        .run(wat.as_bytes())
        .unwrap();
    assert_eq!(report.outcome, Outcome::Exit(12));
    assert_eq!(out.0.lock().unwrap().as_slice(), b"hello world!");
}

#[test]
fn fd_fdstat_set_flags_switches_append_on_and_off() {
    // Descriptor 3 is the preopen; the file is opened as 4 for writing.
    // Memory: 0 the name, 16 an iovec, 32 the new descriptor, 40 sizes and
    // positions, 64 an fdstat, 1024 the bytes written.
    let wat = r#"(module
  (import "test" "record" (func $record (param i32 i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_seek" (func $seek (param i32 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fdstat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_set_flags" (func $set_flags (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "f.txt")
  (data (i32.const 1024) "abcdefX")
  (func $put (param $at i32) (param $len i32) (result i32)
    (i32.store (i32.const 16) (i32.add (i32.const 1024) (local.get $at)))
    (i32.store (i32.const 20) (local.get $len))
    (call $write (i32.const 4) (i32.const 16) (i32.const 1) (i32.const 40)))
  (func $rewind (result i32) (call $seek (i32.const 4) (i64.const 0) (i32.const 0) (i32.const 40)))
  (func (export "_start")
    ;; creat|trunc, rights fd_write | fd_seek | fd_fdstat_set_flags (76)
    (call $record (i32.const 1)
      (call $open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 5) (i32.const 9)
        (i64.const 76) (i64.const 0) (i32.const 0) (i32.const 32)))
    (call $record (i32.const 2) (call $put (i32.const 0) (i32.const 3)))
    (call $record (i32.const 3) (call $rewind))
    (call $record (i32.const 4) (call $set_flags (i32.const 4) (i32.const 1)))
    (drop (call $fdstat (i32.const 4) (i32.const 64)))
    (call $record (i32.const 104) (i32.load16_u (i32.const 66)))
    ;; appended although the position is 0
    (call $record (i32.const 5) (call $put (i32.const 3) (i32.const 3)))
    (call $record (i32.const 6) (call $set_flags (i32.const 4) (i32.const 0)))
    (drop (call $fdstat (i32.const 4) (i32.const 64)))
    (call $record (i32.const 106) (i32.load16_u (i32.const 66)))
    (call $record (i32.const 7) (call $rewind))
    (call $record (i32.const 8) (call $put (i32.const 6) (i32.const 1)))
    ;; dsync cannot be switched on after opening
    (call $record (i32.const 9) (call $set_flags (i32.const 4) (i32.const 2)))))"#;
    let dir = support::scratch("flags");
    let (runner, log) = support::recording(Runner::new().preopen_dir(&dir, "/d"));
    let report = runner.run(wat.as_bytes()).unwrap();
    assert_eq!(report.outcome, Outcome::Exit(0));
    let log = support::calls(&log);
    assert_eq!(
        log,
        vec![
            (1, 0),
            (2, 0),
            (3, 0),
            (4, 0),
            (104, 1), // append
            (5, 0),
            (6, 0),
            (106, 0),
            (7, 0),
            (8, 0),
            (9, 58), // notsup
        ]
    );
    assert_eq!(std::fs::read(dir.join("f.txt")).unwrap(), b"Xbcdef");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Rights and fdflags through `path_open`, `fd_fdstat_get` and
/// `fd_fdstat_set_rights`, call by call; the exit code names the first
/// step that went wrong (0 when none did).
const RIGHTS: &str = r#"(module
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fdstat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_set_rights" (func $set_rights (param i32 i64 i64) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_set_flags" (func $set_flags (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_tell" (func $tell (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "f")
  (func $check (param $step i32) (param $ok i32)
    (if (i32.eqz (local.get $ok)) (then (call $exit (local.get $step)))))
  (func (export "_start") (local $fd i32)
    ;; fd_read | fd_seek | fd_tell | fd_write = 2 | 4 | 32 | 64 = 102;
    ;; append | dsync | nonblock | rsync | sync = 31
    (call $check (i32.const 1) (i32.eqz (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 1)
      (i32.const 1) (i64.const 102) (i64.const 0) (i32.const 31) (i32.const 500))))
    (local.set $fd (i32.load (i32.const 500)))
    (call $check (i32.const 2) (i32.eqz (call $fdstat (local.get $fd) (i32.const 200))))
    (call $check (i32.const 3) (i32.eq (i32.load16_u (i32.const 202)) (i32.const 31)))
    (call $check (i32.const 4) (i64.eq (i64.load (i32.const 208)) (i64.const 102)))
    ;; path_open (1 << 13) is not a right of the file: notcapable (76)
    (call $check (i32.const 5) (i32.eq (call $set_rights (local.get $fd) (i64.const 8294) (i64.const 0)) (i32.const 76)))
    ;; the same rights again: accepted, never notsup
    (call $check (i32.const 6) (i32.eqz (call $set_rights (local.get $fd) (i64.const 102) (i64.const 0))))
    ;; drop fd_read and fd_write
    (call $check (i32.const 7) (i32.eqz (call $set_rights (local.get $fd) (i64.const 36) (i64.const 0))))
    (call $check (i32.const 8) (i32.eqz (call $fdstat (local.get $fd) (i32.const 200))))
    (call $check (i32.const 9) (i64.eq (i64.load (i32.const 208)) (i64.const 36)))
    (i32.store (i32.const 300) (i32.const 600))
    (i32.store (i32.const 304) (i32.const 4))
    (call $check (i32.const 10) (i32.eq (call $read (local.get $fd) (i32.const 300) (i32.const 1) (i32.const 400)) (i32.const 76)))
    (call $check (i32.const 11) (i32.eq (call $write (local.get $fd) (i32.const 300) (i32.const 1) (i32.const 400)) (i32.const 76)))
    (call $check (i32.const 12) (i32.eqz (call $tell (local.get $fd) (i32.const 400))))
    ;; what was dropped cannot be granted again
    (call $check (i32.const 13) (i32.eq (call $set_rights (local.get $fd) (i64.const 102) (i64.const 0)) (i32.const 76)))
    ;; setting flags needs fd_fdstat_set_flags, not asked for
    (call $check (i32.const 14) (i32.eq (call $set_flags (local.get $fd) (i32.const 1)) (i32.const 76)))
    ;; with zero rights and creat, the file is still created (as wasmtime does)
    (call $check (i32.const 15) (i32.eqz (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 1)
      (i32.const 1) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 500))))
    (call $check (i32.const 16) (i32.eqz (call $fdstat (i32.load (i32.const 500)) (i32.const 200))))
    (call $check (i32.const 17) (i64.eqz (i64.load (i32.const 208))))
    ;; opened with sync and fd_fdstat_set_flags (8): append can be switched
    ;; on only with sync kept (else notsup, 58)
    (call $check (i32.const 18) (i32.eqz (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 1)
      (i32.const 0) (i64.const 8) (i64.const 0) (i32.const 16) (i32.const 500))))
    (local.set $fd (i32.load (i32.const 500)))
    (call $check (i32.const 19) (i32.eq (call $set_flags (local.get $fd) (i32.const 1)) (i32.const 58)))
    (call $check (i32.const 20) (i32.eqz (call $set_flags (local.get $fd) (i32.const 17))))
    (call $check (i32.const 21) (i32.eqz (call $fdstat (local.get $fd) (i32.const 200))))
    (call $check (i32.const 22) (i32.eq (i32.load16_u (i32.const 202)) (i32.const 17)))
    (call $exit (i32.const 0))))"#;

#[test]
fn rights_are_kept_narrowed_and_only_dropped_and_fdflags_are_reported() {
    let dir = support::scratch("rights");
    let report = Runner::new()
        .preopen_dir(&dir, "/d")
        .run(RIGHTS.as_bytes())
        .unwrap();
    assert_eq!(report.outcome, Outcome::Exit(0));
    assert!(dir.join("f").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `wat`'s `_start` in a store whose data is `build`'s context; the
/// guest's memory afterwards.
fn run_with_ctx(
    wat: &str,
    build: impl FnOnce(preview1::WasiCtxBuilder) -> preview1::WasiCtxBuilder,
) -> Vec<u8> {
    let mut config = Config::new();
    wasi_threads_host::configure(&mut config);
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(&engine, wat).unwrap();
    let mut linker: Linker<WasiCtx> = Linker::new(&engine);
    preview1::add_to_linker(&mut linker, |cx: &mut WasiCtx| cx).unwrap();
    let run = Run::new(&engine).unwrap();
    let wasi = build(WasiCtx::builder()).build(&run).unwrap();
    let mut store = Store::new(&engine, wasi);
    run.configure_store(&mut store);
    let instance = linker.instantiate(&mut store, &module).unwrap();
    instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .unwrap()
        .call(&mut store, ())
        .unwrap();
    let memory = instance.get_memory(&mut store, "memory").unwrap();
    memory.data(&store).to_vec()
}

fn u32_at(memory: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(memory[at..at + 4].try_into().unwrap())
}

fn u64_at(memory: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(memory[at..at + 8].try_into().unwrap())
}

/// A clock of fixed readings; monotonic time advances 1 µs per reading.
struct FixedClock {
    monotonic: AtomicU64,
}

impl preview1::Clock for FixedClock {
    fn realtime(&self) -> u64 {
        1_700_000_000_123_456_789
    }
    fn monotonic(&self) -> u64 {
        self.monotonic.fetch_add(1000, Ordering::SeqCst)
    }
    fn resolution(&self) -> u64 {
        250
    }
}

#[test]
fn a_replaced_clock_is_what_the_guest_reads() {
    // Realtime to 0, monotonic twice to 8 and 16, both resolutions to 24
    // and 32; the errnos at 100..120.
    let wat = r#"(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $time (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_res_get" (func $res (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store (i32.const 100) (call $time (i32.const 0) (i64.const 0) (i32.const 0)))
    (i32.store (i32.const 104) (call $time (i32.const 1) (i64.const 1) (i32.const 8)))
    (i32.store (i32.const 108) (call $time (i32.const 1) (i64.const 0) (i32.const 16)))
    (i32.store (i32.const 112) (call $res (i32.const 0) (i32.const 24)))
    (i32.store (i32.const 116) (call $res (i32.const 1) (i32.const 32)))))"#;
    let memory = run_with_ctx(wat, |b| {
        b.clock(FixedClock {
            monotonic: AtomicU64::new(42_000_000_007),
        })
    });
    let errnos: Vec<u32> = (100..120)
        .step_by(4)
        .map(|at| u32_at(&memory, at))
        .collect();
    assert_eq!(errnos, [0; 5]);
    assert_eq!(u64_at(&memory, 0), 1_700_000_000_123_456_789);
    assert_eq!(u64_at(&memory, 8), 42_000_000_007);
    assert_eq!(u64_at(&memory, 16), 42_000_001_007);
    assert_eq!(u64_at(&memory, 24), 250);
    assert_eq!(u64_at(&memory, 32), 250);
}

/// A random source whose k-th byte is (31k + 7) mod 251, however the host
/// asks for the bytes.
struct Sequence(u64);

impl Sequence {
    fn byte(k: u64) -> u8 {
        ((k * 31 + 7) % 251) as u8
    }
}

impl rand_core::RngCore for Sequence {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for b in dst {
            *b = Sequence::byte(self.0);
            self.0 += 1;
        }
    }
}

#[test]
fn a_replaced_random_source_is_what_the_guest_gets() {
    // 10 bytes to 1000, then 70,000 (more than one 64 KiB chunk of the
    // host's) to 2000; the bytes around each are 0xee and must stay so.
    let wat = r#"(module
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 999) "\ee")
  (data (i32.const 1010) "\ee")
  (data (i32.const 1999) "\ee")
  (data (i32.const 72000) "\ee")
  (func (export "_start")
    (i32.store (i32.const 100) (call $random (i32.const 1000) (i32.const 10)))
    (i32.store (i32.const 104) (call $random (i32.const 2000) (i32.const 70000)))))"#;
    let memory = run_with_ctx(wat, |b| b.random(Sequence(0)));
    assert_eq!((u32_at(&memory, 100), u32_at(&memory, 104)), (0, 0));
    let expected: Vec<u8> = (0..70_010).map(Sequence::byte).collect();
    assert_eq!(&memory[1000..1010], &expected[..10]);
    assert!(memory[2000..72000] == expected[10..], "the second fill");
    for at in [999, 1010, 1999, 72000] {
        assert_eq!(memory[at], 0xee, "byte {at} was written");
    }
}

#[test]
fn max_fds_bounds_the_table_and_a_close_makes_room() {
    // Descriptors 0-2 are stdio and 3 the preopen. Eight opens of "f"
    // (errnos from 100, descriptors from 200); then close 4 (errno at 300)
    // and open twice more (errnos at 304 and 312, descriptors at 308, 316).
    let wat = r#"(module
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "f")
  (func $open_f (param $fd_at i32) (result i32)
    ;; oflags creat, rights fd_write
    (call $open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 1)
      (i64.const 64) (i64.const 0) (i32.const 0) (local.get $fd_at)))
  (func (export "_start") (local $i i32)
    (loop $opens
      (i32.store (i32.add (i32.const 100) (i32.shl (local.get $i) (i32.const 2)))
        (call $open_f (i32.add (i32.const 200) (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $opens (i32.lt_u (local.get $i) (i32.const 8))))
    (i32.store (i32.const 300) (call $close (i32.const 4)))
    (i32.store (i32.const 304) (call $open_f (i32.const 308)))
    (i32.store (i32.const 312) (call $open_f (i32.const 316)))))"#;
    // wasi-libc's __WASI_ERRNO_MFILE: "File descriptor value too large".
    const MFILE: u32 = 33;
    for max in [5usize, 7] {
        let dir = support::scratch(&format!("max-fds-{max}"));
        let memory = run_with_ctx(wat, |b| b.preopen_dir(&dir, "/d").max_fds(max));
        let room = max - 4;
        for i in 0..8 {
            let errno = u32_at(&memory, 100 + 4 * i);
            if i < room {
                assert_eq!(errno, 0, "max {max}: open {i}");
                assert_eq!(u32_at(&memory, 200 + 4 * i), 4 + i as u32);
            } else {
                assert_eq!(errno, MFILE, "max {max}: open {i} is past the limit");
            }
        }
        assert_eq!(u32_at(&memory, 300), 0, "max {max}: close");
        assert_eq!(u32_at(&memory, 304), 0, "max {max}: the open after a close");
        assert_eq!(u32_at(&memory, 308), 4, "max {max}: the freed descriptor");
        assert_eq!(u32_at(&memory, 312), MFILE, "max {max}: full again");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// `fd_readdir` into a buffer that ends at the very top of a 4 GiB memory
/// and fills it: the entries land and the call answers the buffer's size
/// (the pointer just past the buffer does not exist, and nothing may ask
/// for it). The exit code is the errno, then 100 + `bufused` when it is 0.
#[test]
fn a_directory_read_into_the_top_of_a_4_gib_memory_fills_it() {
    let dir = support::scratch("readdir-top");
    std::fs::write(dir.join("a-name-long-enough-to-fill-the-buffer"), b"").unwrap();
    let wat = r#"(module
  (import "wasi_snapshot_preview1" "fd_readdir" (func $readdir (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 65536)
  (func (export "_start") (local $errno i32)
    ;; 64 bytes ending at 2^32: `.` and `..` take 51, the third entry fills it.
    (local.set $errno (call $readdir (i32.const 3) (i32.const -64) (i32.const 64) (i64.const 0) (i32.const 16)))
    (if (local.get $errno) (then (call $exit (local.get $errno))))
    (call $exit (i32.add (i32.const 100) (i32.load (i32.const 16))))))"#;
    let report = Runner::new()
        .preopen_dir(&dir, "/d")
        .run(wat.as_bytes())
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(report.outcome, Outcome::Exit(164));
}
