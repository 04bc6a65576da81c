//! The process's own stdin and stdout, inherited by runs: a write blocked
//! on a full pipe holds no lock and stops with its run, so the same runner
//! runs and prints again; a read of stdin that the end of a run interrupts
//! leaves the next input to the next run. One test in its own binary: it
//! replaces descriptors 0 and 1 of the test process.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::time::Duration;

mod support;

use support::SYNC;
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
  (func (export "wasi_thread_start") (param i32 i32)
    (i32.store (i32.const 16) (i32.const 65536))
    (i32.store (i32.const 20) (i32.const {len}))
    (call $bump (i32.const 0))
    {call})
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (call $wait_for (i32.const 0) (i32.const 1))
    (i32.store8 (i32.const 1032) (i32.const 0))
    (i32.store (i32.const 1040) (i32.const 1))
    (i64.store (i32.const 1048) (i64.const 100000000))
    (drop (call $poll (i32.const 1024) (i32.const 1536) (i32.const 1) (i32.const 1600)))
    (call $exit (i32.const {code}))))"#
    )
}

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
    assert_eq!(first.outcome, Outcome::Exit(6));
    assert_eq!(first.abandoned, 0);
    assert_eq!(
        second.outcome,
        Outcome::Exit(5),
        "the next run read \"next\\n\""
    );
}
