//! 1000 threads alive at once get unique ids, and no OS thread is left
//! behind after the run. (Its own test binary: it counts the process's
//! threads.)

use std::sync::{Arc, Mutex};

use wasi_threads_host::{Outcome, Runner, ThreadCtx};
use wasmtime::Caller;

fn os_threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_thousand_concurrent_spawns_have_unique_ids_and_leave_no_thread() {
    const N: i32 = 1000;
    let wat = format!(
        r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "test" "record" (func $record (param i32 i32)))
  (import "env" "memory" (memory 1 1 shared))
  (func $wait_for (param $addr i32) (param $n i32)
    (local $v i32)
    (loop $again
      (local.set $v (i32.atomic.load (local.get $addr)))
      (if (i32.ne (local.get $v) (local.get $n))
        (then
          (drop (memory.atomic.wait32 (local.get $addr) (local.get $v) (i64.const -1)))
          (br $again)))))
  (func $bump (param $addr i32)
    (drop (i32.atomic.rmw.add (local.get $addr) (i32.const 1)))
    (drop (memory.atomic.notify (local.get $addr) (i32.const -1))))
  ;; Every child waits until all {N} are alive, so they run at once.
  (func (export "wasi_thread_start") (param $tid i32) (param $arg i32)
    (call $bump (i32.const 0))
    (call $wait_for (i32.const 0) (i32.const {N}))
    (call $bump (i32.const 4)))
  (func (export "_start")
    (local $i i32)
    (loop $spawn
      (call $record (i32.const 0) (call $spawn (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $spawn (i32.lt_u (local.get $i) (i32.const {N}))))
    (call $wait_for (i32.const 4) (i32.const {N}))))"#
    );
    let ids = Arc::new(Mutex::new(Vec::new()));
    let sink = ids.clone();
    let runner = Runner::new().define(move |linker| {
        let sink = sink.clone();
        linker.func_wrap(
            "test",
            "record",
            move |_: Caller<'_, ThreadCtx>, _: i32, tid: i32| {
                sink.lock().unwrap().push(tid);
            },
        )?;
        Ok(())
    });
    // A first run starts the process-wide threads that outlive a run (the
    // compiler's worker pool); the count is taken after it.
    let warm_up = Runner::new()
        .run(br#"(module (func (export "_start")))"#)
        .unwrap();
    assert_eq!(warm_up.outcome, Outcome::Exit(0));
    let before = os_threads();
    let report = runner.run(wat.as_bytes()).unwrap();
    assert_eq!(report.outcome, Outcome::Exit(0));
    assert_eq!(report.abandoned, 0);
    let mut ids = ids.lock().unwrap().clone();
    assert_eq!(ids.len(), N as usize);
    assert!(
        ids.iter().all(|t| *t > 0),
        "a spawn failed: {:?}",
        ids.iter().find(|t| **t <= 0)
    );
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N as usize, "ids are unique");
    // Threads that finished may still be unwinding their OS thread.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while os_threads() > before && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        os_threads() <= before,
        "OS threads before {before}, after {}",
        os_threads()
    );
}
