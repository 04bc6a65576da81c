//! The process's own stdin, stdout and stderr, inherited by runs: a write
//! blocked on a full pipe holds no lock and stops with its run, so the same
//! runner runs and prints again; while it is blocked, another thread of the
//! run writes stderr and a file and reads the clocks at once; a read of
//! stdin that the end of a run interrupts leaves the next input to the next
//! run. One test in its own binary: it replaces descriptors 0, 1 and 2 of
//! the test process.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::time::Duration;

mod support;

use support::{SLEEP, SYNC};
use wasi_threads_host::{Outcome, Runner};

/// A child blocks writing 1 MiB to stdout (or reading 16 bytes of stdin);
/// main waits until it is there, sleeps 100 ms and exits with `code`.
fn blocked(write: bool, code: i32) -> String {
    let call = if write {
        "(drop (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))"
    } else {
        "(drop (call $read (i32.const 0) (i32.const 16) (i32.const 1) (i32.const 24)))"
    };
    let len = if write { 1 << 20 } else { 16 };
    format!(
        r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "env" "memory" (memory 32 32 shared))
  (export "memory" (memory 0))
  {SYNC}
  {SLEEP}
  (func (export "wasi_thread_start") (param i32 i32)
    (i32.store (i32.const 16) (i32.const 65536))
    (i32.store (i32.const 20) (i32.const {len}))
    (call $bump (i32.const 0))
    {call})
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (call $wait_for (i32.const 0) (i32.const 1))
    (call $sleep (i64.const 100000000))
    (call $exit (i32.const {code}))))"#
    )
}

/// A child blocks writing 1 MiB to stdout; once it is there (and 100 ms
/// later), main reads the monotonic clock, writes "err from main\n" to
/// stderr, opens "f" in the preopen and writes "file\n" to it, reads the
/// realtime clock and the monotonic clock again, and exits with 7. It
/// records each errno as `test.record(step, errno)` and the time its calls
/// took, in milliseconds, as step 9.
const BESIDE_A_BLOCKED_WRITER: &str = r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "test" "record" (func $record (param i32 i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $time (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "env" "memory" (memory 32 32 shared))
  (export "memory" (memory 0))
  (data (i32.const 200) "err from main\n")
  (data (i32.const 300) "f")
  (data (i32.const 320) "file\n")
  SYNC
  SLEEP
  (func (export "wasi_thread_start") (param i32 i32)
    (i32.store (i32.const 16) (i32.const 65536))
    (i32.store (i32.const 20) (i32.const 1048576))
    (call $bump (i32.const 0))
    (drop (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24))))
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (call $wait_for (i32.const 0) (i32.const 1))
    (call $sleep (i64.const 100000000))
    (call $record (i32.const 1) (call $time (i32.const 1) (i64.const 0) (i32.const 64)))
    (i32.store (i32.const 32) (i32.const 200))
    (i32.store (i32.const 36) (i32.const 14))
    (call $record (i32.const 2) (call $write (i32.const 2) (i32.const 32) (i32.const 1) (i32.const 48)))
    ;; oflags creat | trunc, rights fd_write
    (call $record (i32.const 3) (call $open (i32.const 3) (i32.const 0) (i32.const 300) (i32.const 1)
      (i32.const 9) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 304)))
    (i32.store (i32.const 40) (i32.const 320))
    (i32.store (i32.const 44) (i32.const 5))
    (call $record (i32.const 4) (call $write (i32.load (i32.const 304)) (i32.const 40) (i32.const 1) (i32.const 48)))
    (call $record (i32.const 5) (call $time (i32.const 0) (i64.const 0) (i32.const 80)))
    (call $record (i32.const 6) (call $time (i32.const 1) (i64.const 0) (i32.const 72)))
    (call $record (i32.const 9)
      (i32.wrap_i64 (i64.div_u (i64.sub (i64.load (i32.const 72)) (i64.load (i32.const 64))) (i64.const 1000000))))
    (call $exit (i32.const 7))))"#;

/// Writes "hi\n" to stdout, or reads stdin once and exits with the count.
const SMALL: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "hi\n")
  (func (export "_start")
    (drop (call $args (i32.const 0) (i32.const 4)))
    (i32.store (i32.const 16) (i32.const 100))
    (i32.store (i32.const 20) (i32.const 16))
    (if (i32.eq (i32.load (i32.const 0)) (i32.const 1))
      (then
        (i32.store (i32.const 20) (i32.const 3))
        (drop (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))
        (call $exit (i32.const 0))))
    (drop (call $read (i32.const 0) (i32.const 16) (i32.const 1) (i32.const 24)))
    (call $exit (i32.load (i32.const 24)))))"#;

#[test]
fn inherited_stdio_blocks_in_the_host_where_the_end_reaches_it() {
    let saved_out = rustix::io::dup(std::io::stdout().as_fd()).unwrap();
    let saved_in = rustix::io::dup(std::io::stdin().as_fd()).unwrap();

    // stdout: a pipe nobody reads yet.
    let (mut out_r, out_w) = std::io::pipe().unwrap();
    rustix::stdio::dup2_stdout(&out_w).unwrap();
    drop(out_w);
    let runner = Runner::new().arg("prog");
    let report = runner.run(blocked(true, 5).as_bytes()).unwrap();
    let blocked_writer_stopped = report.abandoned;
    // The same runner prints again, while a reader drains the pipe.
    let drain = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 65536];
        while !all.ends_with(b"hi\n") {
            match out_r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
        all
    });
    let again = runner.run(SMALL.as_bytes()).unwrap();
    rustix::stdio::dup2_stdout(&saved_out).unwrap();
    let drained = drain.join().unwrap();

    // stdout: a pipe nobody reads for 10 s (then drained, so that a host
    // which did block the other calls still ends); stderr: a pipe read
    // throughout.
    let saved_err = rustix::io::dup(std::io::stderr().as_fd()).unwrap();
    let (mut full_r, full_w) = std::io::pipe().unwrap();
    let (mut err_r, err_w) = std::io::pipe().unwrap();
    rustix::stdio::dup2_stdout(&full_w).unwrap();
    rustix::stdio::dup2_stderr(&err_w).unwrap();
    drop((full_w, err_w));
    let (run_over, over) = mpsc::channel::<()>();
    let late_drain = std::thread::spawn(move || {
        let _ = over.recv_timeout(Duration::from_secs(10));
        std::io::copy(&mut full_r, &mut std::io::sink()).unwrap();
    });
    let err_drain = std::thread::spawn(move || {
        let mut all = Vec::new();
        err_r.read_to_end(&mut all).unwrap();
        all
    });
    let dir = support::scratch("stdio");
    let (beside, log) = support::recording(
        Runner::new()
            .arg("prog")
            .preopen_dir(&dir, "/d")
            .time_limit(Duration::from_secs(30)),
    );
    let beside = beside
        .run(
            BESIDE_A_BLOCKED_WRITER
                .replace("SYNC", SYNC)
                .replace("SLEEP", SLEEP)
                .as_bytes(),
        )
        .unwrap();
    let _ = run_over.send(());
    rustix::stdio::dup2_stdout(&saved_out).unwrap();
    rustix::stdio::dup2_stderr(&saved_err).unwrap();
    late_drain.join().unwrap();
    let stderr_written = err_drain.join().unwrap();
    let beside_calls = support::calls(&log);
    let file_written = std::fs::read(dir.join("f")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);

    // stdin: a pipe with nothing in it yet.
    let (in_r, mut in_w) = std::io::pipe().unwrap();
    rustix::stdio::dup2_stdin(&in_r).unwrap();
    drop(in_r);
    let reader = Runner::new().arg("prog").arg("read");
    let first = reader.run(blocked(false, 6).as_bytes()).unwrap();
    in_w.write_all(b"next\n").unwrap();
    let second = std::thread::spawn(move || {
        Runner::new()
            .arg("prog")
            .arg("read")
            .time_limit(Duration::from_secs(10))
            .run(SMALL.as_bytes())
            .unwrap()
    })
    .join()
    .unwrap();
    rustix::stdio::dup2_stdin(&saved_in).unwrap();

    assert_eq!(report.outcome, Outcome::Exit(5));
    assert_eq!(
        blocked_writer_stopped, 0,
        "the writer blocked on a full pipe stopped"
    );
    assert_eq!(
        again.outcome,
        Outcome::Exit(0),
        "the same runner printed again"
    );
    assert!(drained.ends_with(b"hi\n"));
    assert_eq!(beside.outcome, Outcome::Exit(7), "{beside_calls:?}");
    assert_eq!(beside.abandoned, 0);
    let errnos: Vec<(i32, i32)> = beside_calls
        .iter()
        .copied()
        .filter(|&(step, _)| step != 9)
        .collect();
    let took = beside_calls.iter().find(|&&(step, _)| step == 9);
    assert_eq!(
        errnos,
        [(1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0)],
        "clock, stderr, open, file write, clocks beside a blocked stdout writer"
    );
    let took = took.expect("the time the calls took").1;
    assert!(
        took < 2000,
        "the calls beside a blocked stdout writer took {took} ms"
    );
    assert!(
        String::from_utf8_lossy(&stderr_written).contains("err from main\n"),
        "stderr: {:?}",
        String::from_utf8_lossy(&stderr_written)
    );
    assert_eq!(file_written, b"file\n");
    assert_eq!(first.outcome, Outcome::Exit(6));
    assert_eq!(first.abandoned, 0);
    assert_eq!(
        second.outcome,
        Outcome::Exit(5),
        "the next run read \"next\\n\""
    );
}
