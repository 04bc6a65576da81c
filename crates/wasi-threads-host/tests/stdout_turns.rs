//! Several threads writing to the process's stdout, a full pipe in
//! blocking mode: each time a reader frees some room, at most one of them
//! writes, so none is left blocked inside write(2) where the end of the run
//! cannot reach it. One test in its own binary: it replaces descriptor 1 of
//! the test process.

use std::io::Read;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

mod support;

use support::{SLEEP, SYNC};
use wasi_threads_host::{Outcome, Runner};

/// Eight children each write 1 MiB to stdout; main waits until they are all
/// writing, sleeps 600 ms and exits with 5.
fn writers() -> String {
    format!(
        r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "env" "memory" (memory 32 32 shared))
  (export "memory" (memory 0))
  {SYNC}
  {SLEEP}
  (func (export "wasi_thread_start") (param $tid i32) (param i32)
    (local $iov i32)
    (local.set $iov (i32.add (i32.const 2048) (i32.mul (local.get $tid) (i32.const 16))))
    (i32.store (local.get $iov) (i32.const 65536))
    (i32.store offset=4 (local.get $iov) (i32.const 1048576))
    (call $bump (i32.const 0))
    (drop (call $write (i32.const 1) (local.get $iov) (i32.const 1) (i32.add (local.get $iov) (i32.const 8)))))
  (func (export "_start") (local $i i32)
    (loop $more
      (drop (call $spawn (i32.const 0)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 8))))
    (call $wait_for (i32.const 0) (i32.const 8))
    (call $sleep (i64.const 600000000))
    (call $exit (i32.const 5))))"#
    )
}

#[test]
fn writers_racing_for_room_in_a_full_pipe_all_stop_with_the_run() {
    let saved_out = rustix::io::dup(std::io::stdout().as_fd()).unwrap();
    let (mut out_r, out_w) = std::io::pipe().unwrap();
    rustix::stdio::dup2_stdout(&out_w).unwrap();
    drop(out_w);

    let run = std::thread::spawn(|| {
        let started = Instant::now();
        let report = Runner::new()
            .grace(Duration::from_millis(500))
            .time_limit(Duration::from_secs(20))
            .run(writers().as_bytes())
            .unwrap();
        (report, started.elapsed())
    });
    // Once the pipe is full, free one page of it at a time: every writer
    // waiting in poll(2) wakes to the same room.
    std::thread::sleep(Duration::from_millis(150));
    let mut page = [0u8; 4096];
    for _ in 0..30 {
        out_r.read_exact(&mut page).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    let (report, took) = run.join().unwrap();
    rustix::stdio::dup2_stdout(&saved_out).unwrap();
    // A writer left inside write(2) fails with EPIPE now, and ends.
    drop(out_r);

    assert_eq!(report.outcome, Outcome::Exit(5));
    assert_eq!(
        report.abandoned, 0,
        "writers were left blocked inside write(2)"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}
