//! The OS threads of wasi-threads' threads are reused: a program that
//! starts threads one after another runs them on a few OS threads, with
//! fresh thread ids and stores, and a thread that trapped leaves its OS
//! thread fit for the next run.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use wasi_threads_host::threads::pool::Pool;
use wasi_threads_host::threads::{self, WasiThreadsCtx};
use wasi_threads_host::{Outcome, Run};
use wasmtime::{Caller, Config, Engine, Linker, Store};

#[derive(Clone)]
struct Host {
    threads: WasiThreadsCtx<Host>,
    seen: Arc<Mutex<Vec<(u32, ThreadId)>>>,
}

/// Main starts `count` threads one at a time; each records its id and OS
/// thread, bumps the counter at 0 and returns (or traps when its start
/// argument says so); main waits for it, then sleeps 5 ms, so the OS
/// thread is parked again before the next spawn.
const PROGRAM: &str = r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "test" "seen" (func $seen (param i32)))
  (import "env" "memory" (memory 1 1 shared))
  (func (export "wasi_thread_start") (param $tid i32) (param $trap i32)
    (call $seen (local.get $tid))
    (if (local.get $trap) (then unreachable))
    (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
    (drop (memory.atomic.notify (i32.const 0) (i32.const 1))))
  (func (export "_start") (local $i i32) (local $n i32)
    (loop $next
      (if (i32.le_s (call $spawn (global.get $trap)) (i32.const 0)) (then unreachable))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (loop $wait
        (local.set $n (i32.atomic.load (i32.const 0)))
        (if (i32.lt_u (local.get $n) (local.get $i)) (then
          (drop (memory.atomic.wait32 (i32.const 0) (local.get $n) (i64.const -1)))
          (br $wait))))
      (drop (memory.atomic.wait32 (i32.const 8) (i32.const 0) (i64.const 5000000)))
      (br_if $next (i32.lt_u (local.get $i) (global.get $count)))))
  (global $count i32 (i32.const COUNT))
  (global $trap i32 (i32.const TRAP)))"#;

fn run(count: u32, trap: bool) -> (Outcome, Vec<(u32, ThreadId)>) {
    let mut config = Config::new();
    wasi_threads_host::configure(&mut config);
    let engine = Engine::new(&config).unwrap();
    let wat = PROGRAM
        .replace("COUNT", &count.to_string())
        .replace("TRAP", if trap { "1" } else { "0" });
    let module = wasi_threads_host::compile(&engine, wat.as_bytes()).unwrap();
    let mut linker: Linker<Host> = Linker::new(&engine);
    threads::add_to_linker(&mut linker, |h: &mut Host| &mut h.threads).unwrap();
    linker
        .func_wrap("test", "seen", |c: Caller<'_, Host>, tid: u32| {
            c.data()
                .seen
                .lock()
                .unwrap()
                .push((tid, std::thread::current().id()));
        })
        .unwrap();
    let run = Run::new(&engine).unwrap();
    let ctx = WasiThreadsCtx::builder(&module, &run)
        .build(&linker)
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    ctx.start(Store::new(
        &engine,
        Host {
            threads: ctx.clone(),
            seen: seen.clone(),
        },
    ))
    .unwrap();
    let report = run.wait();
    assert_eq!(report.abandoned, 0);
    let seen = seen.lock().unwrap().clone();
    (report.outcome, seen)
}

#[test]
fn threads_started_one_after_another_reuse_os_threads() {
    let before = Pool::get().created();
    let (outcome, seen) = run(20, false);
    assert_eq!(outcome, Outcome::Exit(0));
    assert_eq!(seen.len(), 20);
    let tids: HashSet<u32> = seen.iter().map(|s| s.0).collect();
    assert!(tids.iter().all(|&t| (1..1 << 29).contains(&t)));
    let os: HashSet<ThreadId> = seen.iter().map(|s| s.1).collect();
    // Each thread has finished 5 ms before the next starts: one OS thread
    // could serve them all; a loaded machine may need a few.
    assert!(os.len() <= 4, "{} OS threads for 20 threads", os.len());
    assert!(Pool::get().created() - before <= 4);

    // The next run's threads run on the OS threads this one left parked,
    // and a thread that traps ends its run, not its OS thread.
    let (outcome, trapped) = run(1, true);
    match outcome {
        Outcome::Trap(t) => assert_eq!(t.tid, trapped[0].0),
        other => panic!("{other}"),
    }
    assert!(os.contains(&trapped[0].1), "a parked OS thread was reused");
    let (outcome, again) = run(3, false);
    assert_eq!(outcome, Outcome::Exit(0));
    assert!(again.iter().any(|s| s.1 == trapped[0].1));
}
