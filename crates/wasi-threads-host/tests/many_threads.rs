//! 1000 threads alive at once get unique ids, and no OS thread is left
//! behind after the run. (Its own test binary: it counts the process's
//! threads.)

mod support;

use support::{recording, SYNC};
use wasi_threads_host::{Outcome, Runner};

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
  {SYNC}
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
    let (runner, log) = recording(Runner::new());
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
    let mut ids: Vec<i32> = log.lock().unwrap().iter().map(|(_, _, tid)| *tid).collect();
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
