//! Spawn and termination, one WAT program per behaviour.

mod support;

use support::{recording, SYNC};
use wasi_threads_host::{spawn_error, Outcome, Runner, MAX_TID};

fn module(memory_import: &str, body: &str) -> String {
    format!(
        r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "test" "record" (func $record (param i32 i32)))
  {memory_import}
  {SYNC}
  {body})"#
    )
}

const MEMORY: &str = r#"(import "env" "memory" (memory 1 1 shared))"#;

#[test]
fn spawn_returns_distinct_ids_and_the_child_sees_tid_and_start_arg() {
    let wat = module(
        MEMORY,
        r#"
  (func (export "wasi_thread_start") (param $tid i32) (param $arg i32)
    (call $record (local.get $tid) (local.get $arg))
    (call $bump (i32.const 0)))
  (func (export "_start")
    (local $i i32)
    (loop $spawn
      (call $record (i32.const -1) (call $spawn (i32.add (i32.const 100) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $spawn (i32.lt_u (local.get $i) (i32.const 4))))
    (call $wait_for (i32.const 0) (i32.const 4)))"#,
    );
    let (runner, log) = recording(Runner::new());
    let report = runner.run(wat.as_bytes()).unwrap();
    assert_eq!(report.outcome, Outcome::Exit(0));
    assert_eq!(report.abandoned, 0);
    let log = log.lock().unwrap();
    let spawned: Vec<i32> = log
        .iter()
        .filter(|(_, a, _)| *a == -1)
        .map(|(_, _, b)| *b)
        .collect();
    assert_eq!(spawned.len(), 4);
    let mut distinct = spawned.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "{spawned:?}");
    assert!(
        spawned.iter().all(|t| *t >= 1 && (*t as u32) < MAX_TID),
        "{spawned:?}"
    );
    // Each child saw its own id, as its store knows it, and its start-arg.
    let mut children: Vec<(u32, i32, i32)> =
        log.iter().filter(|(_, a, _)| *a != -1).copied().collect();
    children.sort();
    assert_eq!(children.len(), 4);
    for (i, (store_tid, tid, arg)) in children.iter().enumerate() {
        assert_eq!(*store_tid as i32, *tid);
        assert!(spawned.contains(tid));
        assert_eq!(
            *arg,
            100 + spawned.iter().position(|t| t == tid).unwrap() as i32,
            "{i}"
        );
    }
}

#[test]
fn a_trap_in_a_child_ends_the_run_while_main_is_parked() {
    let wat = module(
        MEMORY,
        r#"
  (func $entry (export "wasi_thread_start") (param i32 i32) unreachable)
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (call $wait_for (i32.const 0) (i32.const 1)))"#,
    );
    let (runner, _) = recording(Runner::new());
    let report = runner.run(wat.as_bytes()).unwrap();
    match &report.outcome {
        Outcome::Trap(trap) => {
            assert_eq!(trap.tid, 1);
            assert!(trap.message.contains("unreachable"), "{}", trap.message);
            assert_eq!(
                trap.trap_code(),
                Some(wasmtime::Trap::UnreachableCodeReached)
            );
            let frames = trap.backtrace().expect("wasmtime captures the frames");
            assert!(
                frames
                    .frames()
                    .iter()
                    .any(|f| f.func_name() == Some("entry")),
                "{frames}"
            );
        }
        other => panic!("{other:?}"),
    }
    // The main thread, parked in memory.atomic.wait with no timeout, was
    // woken by the host's notify sweep and stopped at its loop's epoch check.
    assert_eq!(report.abandoned, 0);
}

#[test]
fn a_trap_interrupts_threads_in_a_busy_loop() {
    // Two children and main spin; the third child traps.
    let wat = module(
        MEMORY,
        r#"
  (func (export "wasi_thread_start") (param $tid i32) (param $arg i32)
    (if (i32.eqz (local.get $arg)) (then (loop $spin (br $spin))))
    unreachable)
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (drop (call $spawn (i32.const 0)))
    (drop (call $spawn (i32.const 1)))
    (loop $spin (br $spin)))"#,
    );
    let (runner, _) = recording(Runner::new());
    let report = runner.run(wat.as_bytes()).unwrap();
    assert!(
        matches!(&report.outcome, Outcome::Trap(t) if t.tid == 3),
        "{:?}",
        report.outcome
    );
    assert_eq!(
        report.abandoned, 0,
        "busy threads, main included, are interrupted"
    );
}

#[test]
fn returning_from_start_ends_the_program_while_children_run() {
    let wat = module(
        MEMORY,
        r#"
  (func (export "wasi_thread_start") (param i32 i32)
    (call $bump (i32.const 0))
    (loop $spin (br $spin)))
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (drop (call $spawn (i32.const 0)))
    (call $wait_for (i32.const 0) (i32.const 2)))"#,
    );
    let (runner, _) = recording(Runner::new());
    let report = runner.run(wat.as_bytes()).unwrap();
    assert_eq!(report.outcome, Outcome::Exit(0));
    assert_eq!(report.abandoned, 0);
}

#[test]
fn a_module_without_thread_spawn_runs() {
    let wat = r#"(module
  (import "test" "record" (func $record (param i32 i32)))
  (memory 1)
  (func (export "_start") (call $record (i32.const 7) (i32.const 8))))"#;
    let (runner, log) = recording(Runner::new());
    let report = runner.run(wat.as_bytes()).unwrap();
    assert_eq!(report.outcome, Outcome::Exit(0));
    assert_eq!(*log.lock().unwrap(), [(0, 7, 8)]);
}

#[test]
fn memory_imported_under_any_name_is_shared_by_every_thread() {
    let wat = module(
        r#"(import "some module" "any field" (memory 2 17 shared))"#,
        r#"
  (func (export "wasi_thread_start") (param i32 i32)
    (i32.atomic.store (i32.const 64) (i32.const 42))
    (call $bump (i32.const 0)))
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (call $wait_for (i32.const 0) (i32.const 1))
    (call $record (i32.atomic.load (i32.const 64)) (memory.size)))"#,
    );
    let (runner, log) = recording(Runner::new());
    let report = runner.run(wat.as_bytes()).unwrap();
    assert_eq!(report.outcome, Outcome::Exit(0));
    // The child's store is visible to main; the memory has its import's
    // minimum size.
    assert_eq!(*log.lock().unwrap(), [(0, 42, 2)]);
}

#[test]
fn the_thread_limit_makes_spawn_fail_with_its_code() {
    let wat = module(
        MEMORY,
        r#"
  (func (export "wasi_thread_start") (param i32 i32)
    (call $bump (i32.const 0))
    (call $wait_for (i32.const 4) (i32.const 1)))
  (func (export "_start")
    (call $record (i32.const 1) (call $spawn (i32.const 0)))
    (call $record (i32.const 2) (call $spawn (i32.const 0)))
    (call $wait_for (i32.const 0) (i32.const 2))
    (call $record (i32.const 3) (call $spawn (i32.const 0)))
    (call $bump (i32.const 4)))"#,
    );
    let (runner, log) = recording(Runner::new().max_threads(2));
    let report = runner.run(wat.as_bytes()).unwrap();
    assert_eq!(report.outcome, Outcome::Exit(0));
    let log = log.lock().unwrap();
    assert!(log[0].2 > 0 && log[1].2 > 0, "{log:?}");
    assert_eq!(log[2], (0, 3, spawn_error::LIMIT));
}

#[test]
fn a_missing_thread_entry_makes_spawn_fail_with_its_code() {
    let wat = module(
        MEMORY,
        r#"
  (func (export "_start")
    (call $record (i32.const 1) (call $spawn (i32.const 0))))"#,
    );
    let (runner, log) = recording(Runner::new());
    let report = runner.run(wat.as_bytes()).unwrap();
    assert_eq!(report.outcome, Outcome::Exit(0));
    assert_eq!(*log.lock().unwrap(), [(0, 1, spawn_error::NO_ENTRY)]);
}

#[test]
fn modules_that_cannot_share_memory_are_refused_before_running() {
    let unshared = r#"(module
  (import "wasi" "thread-spawn" (func (param i32) (result i32)))
  (import "env" "memory" (memory 1))
  (func (export "_start")))"#;
    let err = Runner::new().run(unshared.as_bytes()).unwrap_err();
    assert!(
        err.to_string()
            .contains("memory import \"env\" \"memory\" is not shared"),
        "{err}"
    );

    let own = r#"(module
  (import "wasi" "thread-spawn" (func (param i32) (result i32)))
  (memory (export "memory") 1 1 shared)
  (func (export "_start")))"#;
    let err = Runner::new().run(own.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("defines its own memory"), "{err}");

    let mistyped = r#"(module
  (import "wasi" "thread-spawn" (func (param i64) (result i32)))
  (func (export "_start")))"#;
    let err = Runner::new().run(mistyped.as_bytes()).unwrap_err();
    assert!(
        err.to_string()
            .contains("not (func (param i32) (result i32))"),
        "{err}"
    );
}

#[test]
fn the_memory_limit_caps_growth_and_refuses_larger_minimums() {
    let wat = module(
        r#"(import "env" "memory" (memory 1 100 shared))"#,
        r#"
  (func (export "wasi_thread_start") (param i32 i32))
  (func (export "_start")
    (call $record (memory.grow (i32.const 1)) (memory.grow (i32.const 5))))"#,
    );
    // 4 pages: growing to 2 works, to 7 does not.
    let (runner, log) = recording(Runner::new().memory_limit(4 * 65536));
    let report = runner.run(wat.as_bytes()).unwrap();
    assert_eq!(report.outcome, Outcome::Exit(0));
    assert_eq!(*log.lock().unwrap(), [(0, 1, -1)]);

    let err = Runner::new()
        .memory_limit(65535)
        .run(wat.as_bytes())
        .unwrap_err();
    assert!(
        err.to_string().contains("over the memory limit of 65535"),
        "{err}"
    );
}

#[test]
fn each_thread_has_its_own_fuel() {
    let wat = module(
        MEMORY,
        r#"
  (func (export "wasi_thread_start") (param i32 i32)
    (loop $spin (br $spin)))
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (call $wait_for (i32.const 0) (i32.const 1)))"#,
    );
    let (runner, _) = recording(Runner::new().fuel(100_000));
    let report = runner.run(wat.as_bytes()).unwrap();
    match &report.outcome {
        Outcome::Trap(trap) => {
            assert_eq!(trap.tid, 1, "the spinning child runs out first");
            assert!(trap.message.contains("fuel"), "{}", trap.message);
        }
        other => panic!("{other:?}"),
    }
}
