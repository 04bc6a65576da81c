//! `memory.atomic.wait` through the host (the rewrite `compile` makes):
//! the same results and traps as the instruction, notifies crossing between
//! the host's waits and the instruction's, and the end of a run reaching
//! parked threads anywhere in a large memory at once.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasi_threads_host::threads::{self, WasiThreadsCtx};
use wasi_threads_host::{Outcome, Run, Runner};
use wasmtime::{Caller, Config, Engine, Linker, Module, Store};

#[derive(Clone)]
struct Host {
    threads: WasiThreadsCtx<Host>,
    log: Arc<Mutex<Vec<(i32, i32)>>>,
}

fn engine() -> Engine {
    let mut config = Config::new();
    wasi_threads_host::configure(&mut config);
    Engine::new(&config).unwrap()
}

/// Runs `module` with `test.record(i, v)` and `test.notify(addr) -> count`
/// (the host's notify); returns the outcome and the records in order.
fn run(engine: &Engine, module: &Module) -> (Outcome, Vec<(i32, i32)>) {
    let mut linker: Linker<Host> = Linker::new(engine);
    threads::add_to_linker(&mut linker, |h: &mut Host| &mut h.threads).unwrap();
    linker
        .func_wrap("test", "record", |c: Caller<'_, Host>, i: i32, v: i32| {
            c.data().log.lock().unwrap().push((i, v));
        })
        .unwrap();
    linker
        .func_wrap("test", "notify", |c: Caller<'_, Host>, addr: i32| -> i32 {
            let memory = c.data().threads.memory().unwrap();
            memory.atomic_notify(addr as u64, 1).unwrap() as i32
        })
        .unwrap();
    let run = Run::new(engine).unwrap();
    run.set_time_limit(Duration::from_secs(20));
    let ctx = WasiThreadsCtx::builder(module, &run)
        .build(&linker)
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    ctx.start(Store::new(
        engine,
        Host {
            threads: ctx.clone(),
            log: log.clone(),
        },
    ))
    .unwrap();
    let report = run.wait();
    assert_eq!(report.abandoned, 0);
    let log = log.lock().unwrap().clone();
    (report.outcome, log)
}

fn module(body: &str) -> String {
    format!(
        r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "test" "record" (func $record (param i32 i32)))
  (import "test" "notify" (func $host_notify (param i32) (result i32)))
  (import "env" "memory" (memory 1 1 shared))
  (export "memory" (memory 0))
  {body})"#
    )
}

/// The same program, rewritten by `compile` and as the embedder compiles
/// it: the same outcome (trap kind included) and records.
fn same_both_ways(body: &str) -> (Outcome, Vec<(i32, i32)>) {
    let engine = engine();
    let wat = module(body);
    let rewritten = wasi_threads_host::compile(&engine, wat.as_bytes()).unwrap();
    assert!(
        rewritten
            .imports()
            .any(|i| i.module() == "wasi-threads-host"),
        "compile rewrote the waits"
    );
    let plain = Module::new(&engine, &wat).unwrap();
    assert!(!plain.imports().any(|i| i.module() == "wasi-threads-host"));
    let (a, log_a) = run(&engine, &rewritten);
    let (b, log_b) = run(&engine, &plain);
    let kind = |o: &Outcome| match o {
        Outcome::Trap(t) => Some(t.trap_code()),
        _ => None,
    };
    assert_eq!(kind(&a), kind(&b), "{a} / {b}");
    if kind(&a).is_none() {
        assert_eq!(a, b);
    }
    // Records of different threads interleave as they happen to.
    let sorted = |log: &[(i32, i32)]| {
        let mut log = log.to_vec();
        log.sort();
        log
    };
    assert_eq!(sorted(&log_a), sorted(&log_b));
    (a, log_a)
}

#[test]
fn results_are_the_instructions() {
    let (outcome, log) = same_both_ways(
        r#"
  (func (export "_start")
    (i64.store (i32.const 24) (i64.const 5))
    ;; the value differs: 1
    (call $record (i32.const 1) (memory.atomic.wait32 (i32.const 16) (i32.const 1) (i64.const -1)))
    ;; it matches, 1 ms passes: 2
    (call $record (i32.const 2) (memory.atomic.wait32 (i32.const 16) (i32.const 0) (i64.const 1000000)))
    ;; 64-bit: differs, then times out at once
    (call $record (i32.const 3) (memory.atomic.wait64 (i32.const 24) (i64.const 4) (i64.const -1)))
    (call $record (i32.const 4) (memory.atomic.wait64 (i32.const 24) (i64.const 5) (i64.const 0)))
    ;; the static offset counts: 0 + offset 24 is the 5 above
    (call $record (i32.const 5) (memory.atomic.wait64 offset=24 (i32.const 0) (i64.const 6) (i64.const 0)))
    (call $record (i32.const 6) (memory.atomic.wait32 offset=16 (i32.const 0) (i32.const 0) (i64.const 0))))
  (func (export "wasi_thread_start") (param i32 i32))"#,
    );
    assert_eq!(outcome, Outcome::Exit(0));
    assert_eq!(log, [(1, 1), (2, 2), (3, 1), (4, 2), (5, 1), (6, 2)]);
}

#[test]
fn traps_are_the_instructions() {
    for (what, wait) in [
        (
            "misaligned",
            "(memory.atomic.wait32 (i32.const 2) (i32.const 0) (i64.const 0))",
        ),
        (
            "misaligned 64",
            "(memory.atomic.wait64 (i32.const 4) (i64.const 0) (i64.const 0))",
        ),
        (
            "past the end",
            "(memory.atomic.wait32 (i32.const 65536) (i32.const 0) (i64.const 0))",
        ),
        (
            "the offset carries past 4 GiB",
            "(memory.atomic.wait32 offset=8 (i32.const -4) (i32.const 0) (i64.const 0))",
        ),
        (
            "past the end and misaligned",
            "(memory.atomic.wait32 offset=4294967295 (i32.const 0) (i32.const 0) (i64.const 0))",
        ),
    ] {
        let body = format!(
            r#"(func (export "_start") (drop {wait}))
  (func (export "wasi_thread_start") (param i32 i32))"#
        );
        let (outcome, _) = same_both_ways(&body);
        assert!(matches!(outcome, Outcome::Trap(_)), "{what}: {outcome}");
    }
}

#[test]
fn notifies_cross_between_the_hosts_waits_and_the_instructions() {
    // The child waits on 32 (through the host when rewritten, as the
    // instruction when not); main notifies it with the instruction, then
    // the child waits on 40 and main notifies through the host's
    // SharedMemory::atomic_notify. Each notify wakes exactly one waiter.
    let (outcome, log) = same_both_ways(
        r#"
  (func (export "wasi_thread_start") (param i32 i32)
    (i32.atomic.store (i32.const 0) (i32.const 1))
    (call $record (i32.const 1) (memory.atomic.wait32 (i32.const 32) (i32.const 0) (i64.const -1)))
    (i32.atomic.store (i32.const 0) (i32.const 2))
    (call $record (i32.const 2) (memory.atomic.wait32 (i32.const 40) (i32.const 0) (i64.const -1)))
    (i32.atomic.store (i32.const 0) (i32.const 3)))
  (func $until (param $n i32) (result i32) (local $woke i32)
    ;; notify 32 (n = 1) or 40 (n = 2) until a waiter wakes
    (loop $again
      (if (i32.ne (i32.atomic.load (i32.const 0)) (local.get $n))
        (then (br $again)))
      (local.set $woke
        (if (result i32) (i32.eq (local.get $n) (i32.const 1))
          (then (memory.atomic.notify (i32.const 32) (i32.const 1)))
          (else (call $host_notify (i32.const 40)))))
      (br_if $again (i32.eqz (local.get $woke))))
    (local.get $woke))
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (call $record (i32.const 10) (call $until (i32.const 1)))
    (call $record (i32.const 20) (call $until (i32.const 2)))
    (loop $done (br_if $done (i32.ne (i32.atomic.load (i32.const 0)) (i32.const 3)))))"#,
    );
    assert_eq!(outcome, Outcome::Exit(0));
    let mut log = log;
    log.sort();
    assert_eq!(log, [(1, 0), (2, 0), (10, 1), (20, 1)]);
}

/// Three threads parked in a 1 GiB memory, one at its very top; main
/// exits. With the waits through the host, the end reaches them within a
/// short grace; notifying every address of 1 GiB would not.
#[test]
fn the_end_reaches_threads_parked_anywhere_in_a_large_memory_at_once() {
    let wat = r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "env" "memory" (memory 16384 16384 shared))
  (export "memory" (memory 0))
  (func (export "wasi_thread_start") (param i32) (param $at i32)
    (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
    (drop (memory.atomic.wait32 (local.get $at) (i32.const 0) (i64.const -1))))
  (func (export "_start")
    (drop (call $spawn (i32.const 64)))
    (drop (call $spawn (i32.const 536870912)))
    (drop (call $spawn (i32.const 1073741820)))
    (loop $wait (br_if $wait (i32.lt_u (i32.atomic.load (i32.const 0)) (i32.const 3))))
    (call $exit (i32.const 7))))"#;
    let started = Instant::now();
    let report = Runner::new()
        .grace(Duration::from_millis(200))
        .run(wat.as_bytes())
        .unwrap();
    assert_eq!(report.outcome, Outcome::Exit(7));
    assert_eq!(report.abandoned, 0, "every parked thread was woken");
    eprintln!(
        "1 GiB, 3 parked: run returned after {:?}",
        started.elapsed()
    );
}

/// Fifty threads wait again and again with short timeouts; a wait that
/// begins after the end returns at once and ends its thread.
#[test]
fn waits_that_begin_after_the_end_do_not_wait() {
    let wat = r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "env" "memory" (memory 1 1 shared))
  (export "memory" (memory 0))
  (func (export "wasi_thread_start") (param i32 i32)
    (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
    (loop $forever
      (drop (memory.atomic.wait32 (i32.const 8) (i32.const 0) (i64.const 1000)))
      (drop (memory.atomic.wait32 (i32.const 8) (i32.const 0) (i64.const -1)))
      (br $forever)))
  (func (export "_start") (local $i i32)
    (loop $more
      (drop (call $spawn (i32.const 0)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 50))))
    (loop $wait (br_if $wait (i32.lt_u (i32.atomic.load (i32.const 0)) (i32.const 50))))
    (call $exit (i32.const 9))))"#;
    for _ in 0..5 {
        let report = Runner::new()
            .grace(Duration::from_secs(5))
            .run(wat.as_bytes())
            .unwrap();
        assert_eq!(report.outcome, Outcome::Exit(9));
        assert_eq!(report.abandoned, 0);
    }
}

#[test]
fn names_survive_the_rewrite_so_traps_name_the_original_functions() {
    let engine = engine();
    let wat = module(
        r#"
  (func $parker (export "_start")
    (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const 0)))
    (call $boom))
  (func $boom unreachable)
  (func (export "wasi_thread_start") (param i32 i32))"#,
    );
    let rewritten = wasi_threads_host::compile(&engine, wat.as_bytes()).unwrap();
    let (outcome, _) = run(&engine, &rewritten);
    let Outcome::Trap(trap) = outcome else {
        panic!("{outcome}")
    };
    let names: Vec<_> = trap
        .backtrace()
        .unwrap()
        .frames()
        .iter()
        .filter_map(|f| f.func_name().map(str::to_string))
        .collect();
    assert_eq!(names, ["boom", "parker"]);
}
