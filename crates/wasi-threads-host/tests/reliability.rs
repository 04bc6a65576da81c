//! What a run guarantees under faults: nothing happens after its end, a
//! FIFO never blocks inside open(2) (a blocking open still waits for its
//! other end, in the host), a module whose threads would each get
//! a private memory is refused, `fd_allocate` never cuts off an append, and
//! a thread that cannot be stopped is reported.

use std::time::{Duration, Instant};

mod support;

use support::{scratch, SLEEP, SYNC};
use wasi_threads_host::{Outcome, Runner};

#[test]
fn a_call_that_begins_after_the_end_does_nothing() {
    // The child parks in memory.atomic.wait; main exits. The end of the run
    // wakes the child, whose very next instruction calls
    // path_unlink_file("canary"): no loop header or call of wasm lies in
    // between, so only the host can refuse it.
    let dir = scratch("after-the-end");
    std::fs::write(dir.join("canary"), b"still here").unwrap();
    let wat = format!(
        r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_unlink_file" (func $unlink (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "env" "memory" (memory 1 1 shared))
  (export "memory" (memory 0))
  (data (i32.const 100) "canary")
  {SYNC}
  (func (export "wasi_thread_start") (param i32 i32)
    (call $bump (i32.const 0))
    (drop (memory.atomic.wait32 (i32.const 4) (i32.const 0) (i64.const -1)))
    (drop (call $unlink (i32.const 3) (i32.const 100) (i32.const 6))))
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (call $wait_for (i32.const 0) (i32.const 1))
    (call $exit (i32.const 7))))"#
    );
    for _ in 0..20 {
        let report = Runner::new()
            .preopen_dir(&dir, "/d")
            .run(wat.as_bytes())
            .unwrap();
        assert_eq!(report.outcome, Outcome::Exit(7));
        assert_eq!(report.abandoned, 0);
        assert!(dir.join("canary").exists(), "the woken thread unlinked it");
    }
}

#[test]
fn opening_a_fifo_never_blocks_in_the_system_and_the_end_stops_a_waiting_open() {
    // 1: open the FIFO for reading with nonblock: it returns at once.
    // 2: a child opens it for writing (blocking, no reader ever comes):
    //    it waits in the host until main's proc_exit ends the run.
    let dir = scratch("fifo");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        dir.join("fifo"),
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
    let wat = format!(
        r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "env" "memory" (memory 1 1 shared))
  (export "memory" (memory 0))
  (data (i32.const 100) "fifo")
  {SYNC}
  {SLEEP}
  (func (export "wasi_thread_start") (param i32 i32)
    (call $bump (i32.const 0))
    ;; fd_write right (64), blocking
    (drop (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 4)
      (i32.const 0) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 200)))
    (drop (memory.atomic.wait32 (i32.const 8) (i32.const 0) (i64.const -1))))
  (func (export "_start")
    ;; fd_read right (2), nonblock (4)
    (if (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 4)
          (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 4) (i32.const 200))
      (then (call $exit (i32.const 1))))
    ;; the child opens the FIFO for writing and parks; main sleeps 100 ms
    ;; (a relative clock subscription at 1024) and exits.
    (drop (call $spawn (i32.const 0)))
    (call $wait_for (i32.const 0) (i32.const 1))
    (call $sleep (i64.const 100000000))
    (call $exit (i32.const 5))))"#
    );
    let started = Instant::now();
    let report = Runner::new()
        .preopen_dir(&dir, "/d")
        .time_limit(Duration::from_secs(20))
        .run(wat.as_bytes())
        .unwrap();
    assert_eq!(report.outcome, Outcome::Exit(5));
    assert_eq!(report.abandoned, 0);
    assert!(started.elapsed() < Duration::from_secs(10));

    // A writer with no reader at all waits, and the end reaches it.
    let wat = wat
        .replace("(data (i32.const 100) \"fifo\")", "(data (i32.const 100) \"fifo\") (data (i32.const 110) \"lone\")")
        .replace(
            "(drop (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 4)\n      (i32.const 0) (i64.const 64)",
            "(drop (call $open (i32.const 3) (i32.const 0) (i32.const 110) (i32.const 4)\n      (i32.const 0) (i64.const 64)",
        );
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        dir.join("lone"),
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
    let report = Runner::new()
        .preopen_dir(&dir, "/d")
        .time_limit(Duration::from_secs(20))
        .run(wat.as_bytes())
        .unwrap();
    assert_eq!(report.outcome, Outcome::Exit(5));
    assert_eq!(report.abandoned, 0, "the waiting open stopped with the run");
}

#[test]
fn a_blocking_open_of_a_fifo_for_reading_waits_for_a_writer_or_the_end() {
    // 1: the program opens the FIFO for reading (blocking) and reads; a host
    //    thread opens it for writing 300 ms later and writes "hi\n". As on
    //    POSIX, the program reads the 3 bytes, not an end of file.
    let dir = scratch("fifo-read");
    let fifo = dir.join("fifo");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
    let reader = r#"(module
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "fifo")
  (func (export "_start")
    ;; fd_read right (2), blocking
    (if (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 4)
          (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 200))
      (then (call $exit (i32.const 100))))
    (i32.store (i32.const 16) (i32.const 300))
    (i32.store (i32.const 20) (i32.const 16))
    (if (call $read (i32.load (i32.const 200)) (i32.const 16) (i32.const 1) (i32.const 24))
      (then (call $exit (i32.const 101))))
    (if (i32.and (i32.gt_u (i32.load (i32.const 24)) (i32.const 0))
                 (i32.ne (i32.load8_u (i32.const 300)) (i32.const 104)))
      (then (call $exit (i32.const 102))))
    (call $exit (i32.load (i32.const 24)))))"#;
    let writer = std::thread::spawn({
        let fifo = fifo.clone();
        move || {
            use std::os::unix::fs::OpenOptionsExt;
            std::thread::sleep(Duration::from_millis(300));
            // Non-blocking, so that this thread ends even when no reader
            // is there (ENXIO), after 5 s.
            let started = Instant::now();
            loop {
                match std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
                    .open(&fifo)
                {
                    Ok(mut f) => {
                        use std::io::Write;
                        return f.write_all(b"hi\n").is_ok();
                    }
                    Err(_) if started.elapsed() < Duration::from_secs(5) => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => return false,
                }
            }
        }
    });
    let started = Instant::now();
    let report = Runner::new()
        .preopen_dir(&dir, "/d")
        .time_limit(Duration::from_secs(20))
        .run(reader.as_bytes())
        .unwrap();
    let took = started.elapsed();
    assert!(writer.join().unwrap(), "the writer found no reader");
    assert_eq!(
        report.outcome,
        Outcome::Exit(3),
        "read the writer's 3 bytes (after {took:?})"
    );
    assert!(took >= Duration::from_millis(250), "{took:?}");

    // 2: a child opens a FIFO no writer ever opens, blocking; main's
    //    proc_exit 100 ms later ends the run, and the waiting open with it.
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        dir.join("lone"),
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
    let wat = format!(
        r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "env" "memory" (memory 1 1 shared))
  (export "memory" (memory 0))
  (data (i32.const 100) "lone")
  {SYNC}
  {SLEEP}
  (func (export "wasi_thread_start") (param i32 i32)
    (call $bump (i32.const 0))
    ;; fd_read right (2), blocking: returns only when a writer comes
    (drop (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 4)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 200)))
    (call $bump (i32.const 4)))
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (call $wait_for (i32.const 0) (i32.const 1))
    (call $sleep (i64.const 100000000))
    ;; 6 when the open returned without a writer
    (call $exit (i32.add (i32.const 5) (i32.atomic.load (i32.const 4))))))"#
    );
    let started = Instant::now();
    let report = Runner::new()
        .preopen_dir(&dir, "/d")
        .time_limit(Duration::from_secs(20))
        .run(wat.as_bytes())
        .unwrap();
    assert_eq!(report.outcome, Outcome::Exit(5), "the open waited");
    assert_eq!(report.abandoned, 0, "the waiting open stopped with the run");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_threaded_module_with_a_memory_of_its_own_is_refused_exported_or_not() {
    for export in ["", r#"(export "mem" (memory 0))"#] {
        let wat = format!(
            r#"(module
  (import "wasi" "thread-spawn" (func (param i32) (result i32)))
  (memory 1 1 shared)
  {export}
  (func (export "_start")))"#
        );
        let e = Runner::new().run(wat.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("defines its own memory"), "{e}");
        if export.is_empty() {
            assert!(e.to_string().contains("not exported"), "{e}");
        } else {
            assert!(e.to_string().contains("\"mem\""), "{e}");
        }
    }
    // Without thread-spawn, a module with its own memory is a plain program.
    let plain = r#"(module (memory 1) (func (export "_start")))"#;
    assert_eq!(
        Runner::new().run(plain.as_bytes()).unwrap().outcome,
        Outcome::Exit(0)
    );
}

#[test]
fn fd_allocate_extends_and_never_cuts_off_a_concurrent_append() {
    // A child appends 1 byte 20000 times; main calls fd_allocate(0, size)
    // with a size it read a moment before, again and again. Every appended
    // byte must be in the file at the end.
    let dir = scratch("allocate");
    let wat = format!(
        r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_allocate" (func $allocate (param i32 i64 i64) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_get" (func $stat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "env" "memory" (memory 1 1 shared))
  (export "memory" (memory 0))
  (data (i32.const 100) "grow")
  (data (i32.const 120) "x")
  {SYNC}
  (func (export "wasi_thread_start") (param i32 i32) (local $i i32)
    (i32.store (i32.const 300) (i32.const 120))
    (i32.store (i32.const 304) (i32.const 1))
    (loop $again
      (if (call $write (i32.load (i32.const 200)) (i32.const 300) (i32.const 1) (i32.const 312))
        (then unreachable))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 20000))))
    (call $bump (i32.const 0)))
  (func (export "_start")
    ;; creat, append (1), rights fd_write | fd_allocate | fd_filestat_get
    ;; (64 | 256 | 2097152)
    (if (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 4)
          (i32.const 1) (i64.const 2097472) (i64.const 0) (i32.const 1) (i32.const 200))
      (then (call $exit (i32.const 1))))
    (drop (call $spawn (i32.const 0)))
    (loop $race
      (if (call $stat (i32.load (i32.const 200)) (i32.const 400)) (then (call $exit (i32.const 2))))
      (if (call $allocate (i32.load (i32.const 200)) (i64.const 0) (i64.add (i64.load (i32.const 432)) (i64.const 1)))
        (then (call $exit (i32.const 3))))
      (br_if $race (i32.eqz (i32.atomic.load (i32.const 0)))))
    (call $exit (i32.const 0))))"#
    );
    let report = Runner::new()
        .preopen_dir(&dir, "/d")
        .run(wat.as_bytes())
        .unwrap();
    assert_eq!(report.outcome, Outcome::Exit(0));
    let bytes = std::fs::read(dir.join("grow")).unwrap();
    let xs = bytes.iter().filter(|&&b| b == b'x').count();
    assert_eq!(xs, 20000, "appended bytes lost");
}

#[test]
fn a_thread_that_cannot_be_stopped_is_reported_not_waited_for() {
    // A host function of the embedder's that sleeps without looking at the
    // end of the run cannot be interrupted.
    let wat = format!(
        r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "test" "stubborn" (func $stubborn))
  (import "env" "memory" (memory 1 1 shared))
  (export "memory" (memory 0))
  {SYNC}
  (func (export "wasi_thread_start") (param i32 i32)
    (call $bump (i32.const 0))
    (call $stubborn))
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (call $wait_for (i32.const 0) (i32.const 1))
    (call $exit (i32.const 3))))"#
    );
    let started = Instant::now();
    let report = Runner::new()
        .grace(Duration::from_millis(100))
        .define(|linker| {
            linker.func_wrap("test", "stubborn", || {
                std::thread::sleep(Duration::from_secs(3));
            })?;
            Ok(())
        })
        .run(wat.as_bytes())
        .unwrap();
    assert_eq!(report.outcome, Outcome::Exit(3));
    assert_eq!(report.abandoned, 1);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the run did not wait for it"
    );
}
