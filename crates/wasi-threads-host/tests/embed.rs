//! The parts in an embedder's hands: its own Engine, `Linker<T>` and store
//! data, one compiled module run several times at once, cancellation,
//! other stores of the same Engine, panics and exits in its host
//! functions, a precompiled module, a data factory.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

mod support;

use support::scratch;

use wasi_threads_host::preview1::{self, WasiCtx};
use wasi_threads_host::threads::{self, WasiThreadsCtx};
use wasi_threads_host::{MemoryOutput, Outcome, Run, RunEnded, RunReport};
use wasmtime::{Caller, Config, Engine, Linker, Module, Store, UpdateDeadline};

/// (tid, value) pairs a program reported through `env.note`.
type Notes = Arc<Mutex<Vec<(u32, i32)>>>;

/// The embedder's store data.
#[derive(Clone)]
struct Host {
    wasi: WasiCtx,
    threads: WasiThreadsCtx<Host>,
    notes: Notes,
}

fn engine() -> Engine {
    let mut config = Config::new();
    wasi_threads_host::configure(&mut config);
    Engine::new(&config).unwrap()
}

/// The embedder's linker: preview 1, thread-spawn, and host functions of
/// its own.
fn linker(engine: &Engine, rendezvous: Arc<Rendezvous>) -> Linker<Host> {
    let mut linker: Linker<Host> = Linker::new(engine);
    preview1::add_to_linker(&mut linker, |h: &mut Host| &mut h.wasi).unwrap();
    threads::add_to_linker(&mut linker, |h: &mut Host| &mut h.threads).unwrap();
    linker
        .func_wrap("env", "note", |caller: Caller<'_, Host>, value: i32| {
            let h = caller.data();
            h.notes.lock().unwrap().push((h.threads.tid(), value));
        })
        .unwrap();
    linker
        .func_wrap("env", "rendezvous", move |_: Caller<'_, Host>| {
            rendezvous.meet()
        })
        .unwrap();
    // Waits for the end of the run, as a host function must not block a
    // stop: it returns when the run ends, and ends the thread.
    linker
        .func_wrap(
            "env",
            "block",
            |caller: Caller<'_, Host>| -> wasmtime::Result<()> {
                let run = caller.data().threads.run().clone();
                if run.end_signal().sleep(Duration::from_secs(3600)) {
                    return Err(wasmtime::Error::new(RunEnded));
                }
                Ok(())
            },
        )
        .unwrap();
    linker
        .func_wrap(
            "env",
            "quit",
            |caller: Caller<'_, Host>, code: i32| -> wasmtime::Result<()> {
                Err(caller.data().threads.run().exit(code))
            },
        )
        .unwrap();
    linker
        .func_wrap("env", "boom", |_: Caller<'_, Host>| -> () {
            panic!("boom from the embedder");
        })
        .unwrap();
    // Reads the i32 at `addr` of the run's shared memory, from the host.
    linker
        .func_wrap(
            "env",
            "peek",
            |caller: Caller<'_, Host>, addr: i32| -> i32 {
                let memory = caller.data().threads.memory().expect("a shared memory");
                let data = memory.data();
                let mut bytes = [0u8; 4];
                for (i, b) in bytes.iter_mut().enumerate() {
                    // SAFETY: the guest writes this word before calling `peek`
                    // and no thread writes it meanwhile.
                    *b = unsafe { *data[addr as usize + i].get() };
                }
                i32::from_le_bytes(bytes)
            },
        )
        .unwrap();
    linker
}

/// Two runs meet here, to show they run at the same time.
struct Rendezvous {
    arrived: Mutex<usize>,
    all: Condvar,
    parties: usize,
}

impl Rendezvous {
    fn new(parties: usize) -> Arc<Rendezvous> {
        Arc::new(Rendezvous {
            arrived: Mutex::new(0),
            all: Condvar::new(),
            parties,
        })
    }

    fn meet(&self) -> wasmtime::Result<()> {
        let mut n = self.arrived.lock().unwrap();
        *n += 1;
        self.all.notify_all();
        let deadline = Instant::now() + Duration::from_secs(20);
        while *n < self.parties {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                wasmtime::bail!("the other runs never came");
            }
            n = self.all.wait_timeout(n, left).unwrap().0;
        }
        Ok(())
    }
}

const IMPORTS: &str = r#"
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "env" "note" (func $note (param i32)))
  (import "env" "rendezvous" (func $rendezvous))
  (import "env" "block" (func $block))
  (import "env" "quit" (func $quit (param i32)))
  (import "env" "boom" (func $boom))
  (import "env" "peek" (func $peek (param i32) (result i32)))
  (import "env" "memory" (memory 1 1 shared))
  (export "memory" (memory 0))
  (func $wait_for (param $addr i32) (param $n i32)
    (local $v i32)
    (loop $again
      (local.set $v (i32.atomic.load (local.get $addr)))
      (if (i32.lt_s (local.get $v) (local.get $n))
        (then
          (drop (memory.atomic.wait32 (local.get $addr) (local.get $v) (i64.const -1)))
          (br $again)))))
  (func $bump (param $addr i32)
    (drop (i32.atomic.rmw.add (local.get $addr) (i32.const 1)))
    (drop (memory.atomic.notify (local.get $addr) (i32.const -1))))
"#;

/// argv[1] is one digit D. The main thread meets the other run, spawns a
/// child and waits for it; the child creates `out.txt` in the preopen (fd
/// 3) holding D. Then main writes D to stdout and exits with code D.
/// Memory: 0 argv pointers, 64 argv bytes, 128 an iovec, 136 a count, 140
/// the opened fd, 144 the child's done flag, 256 the file name.
const PER_RUN: &str = r#"
  (data (i32.const 256) "out.txt")
  (func (export "wasi_thread_start") (param i32 i32)
    (if (call $path_open (i32.const 3) (i32.const 0) (i32.const 256) (i32.const 7)
          (i32.const 9) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 140))
      (then unreachable))
    (i32.store (i32.const 128) (i32.load (i32.const 4)))
    (i32.store (i32.const 132) (i32.const 1))
    (if (call $fd_write (i32.load (i32.const 140)) (i32.const 128) (i32.const 1) (i32.const 136))
      (then unreachable))
    (call $bump (i32.const 144)))
  (func (export "_start")
    (drop (call $args_get (i32.const 0) (i32.const 64)))
    (call $rendezvous)
    (if (i32.le_s (call $spawn (i32.const 0)) (i32.const 0)) (then unreachable))
    (call $wait_for (i32.const 144) (i32.const 1))
    (i32.store (i32.const 128) (i32.load (i32.const 4)))
    (i32.store (i32.const 132) (i32.const 1))
    (drop (call $fd_write (i32.const 1) (i32.const 128) (i32.const 1) (i32.const 136)))
    (call $exit (i32.sub (i32.load8_u (i32.load (i32.const 4))) (i32.const 48))))
"#;

fn module(engine: &Engine, body: &str) -> Module {
    let wat = format!("(module {IMPORTS} {body})");
    wasi_threads_host::compile(engine, wat.as_bytes()).unwrap()
}

/// Starts one run of `module` with `wasi`, returning its handle and
/// threads context.
fn start(
    engine: &Engine,
    module: &Module,
    linker: &Linker<Host>,
    wasi: impl FnOnce(&Run) -> WasiCtx,
) -> (Run, WasiThreadsCtx<Host>, Notes) {
    let run = Run::new(engine).unwrap();
    let wasi = wasi(&run);
    let threads = WasiThreadsCtx::builder(module, &run).build(linker).unwrap();
    let notes = Arc::new(Mutex::new(Vec::new()));
    let host = Host {
        wasi,
        threads: threads.clone(),
        notes: notes.clone(),
    };
    threads.start(Store::new(engine, host)).unwrap();
    (run, threads, notes)
}

#[test]
fn one_module_runs_twice_at_once_each_run_with_its_own_files_stdio_and_exit_code() {
    let engine = engine();
    let module = module(&engine, PER_RUN);
    let linker = linker(&engine, Rendezvous::new(2));
    let runs: Vec<_> = [3, 5]
        .into_iter()
        .map(|digit| {
            let dir = scratch(&format!("twice-{digit}"));
            let stdout = MemoryOutput::new();
            let out = stdout.clone();
            let d = dir.clone();
            let (run, _, _) = start(&engine, &module, &linker, move |run| {
                WasiCtx::builder()
                    .arg("prog")
                    .arg(digit.to_string())
                    .stdout(out)
                    .preopen_dir(d, ".")
                    .build(run)
                    .unwrap()
            });
            (digit, dir, stdout, run)
        })
        .collect();
    // Both are started before either is waited on; each met the other.
    for (digit, dir, stdout, run) in runs {
        let report = run.wait();
        assert_eq!(report.outcome, Outcome::Exit(digit));
        assert_eq!(report.abandoned, 0);
        assert_eq!(stdout.contents(), digit.to_string().as_bytes());
        assert_eq!(
            std::fs::read_to_string(dir.join("out.txt")).unwrap(),
            digit.to_string()
        );
    }
}

/// Children: 1 parks in `memory.atomic.wait`, 2 sleeps in `poll_oneoff`,
/// 3 blocks in the embedder's `env.block`, 4 spins; each counts itself at
/// 0 first. Main waits for the four, notes it, and parks. Other values of
/// the argument: 5 panics in `env.boom`, 6 calls `env.quit(42)`.
const BLOCKERS: &str = r#"
  (func (export "wasi_thread_start") (param $tid i32) (param $what i32)
    (call $bump (i32.const 0))
    (if (i32.eq (local.get $what) (i32.const 1))
      (then (drop (memory.atomic.wait32 (i32.const 4) (i32.const 0) (i64.const -1)))))
    (if (i32.eq (local.get $what) (i32.const 2))
      (then
        ;; a one-hour relative clock subscription at 1024
        (i32.store8 (i32.const 1032) (i32.const 0))
        (i32.store (i32.const 1040) (i32.const 1))
        (i64.store (i32.const 1048) (i64.const 3600000000000))
        (drop (call $poll (i32.const 1024) (i32.const 1536) (i32.const 1) (i32.const 1600)))))
    (if (i32.eq (local.get $what) (i32.const 3)) (then (call $block)))
    (if (i32.eq (local.get $what) (i32.const 4)) (then (loop $spin (br $spin))))
    (if (i32.eq (local.get $what) (i32.const 5)) (then (call $boom)))
    (if (i32.eq (local.get $what) (i32.const 6)) (then (call $quit (i32.const 42))))
    unreachable)
  (func (export "_start")
    (drop (call $spawn (i32.const 1)))
    (drop (call $spawn (i32.const 2)))
    (drop (call $spawn (i32.const 3)))
    (drop (call $spawn (i32.const 4)))
    (call $wait_for (i32.const 0) (i32.const 4))
    (call $note (i32.const 4))
    (drop (call $args_get (i32.const 64) (i32.const 128)))
    ;; argv[1] = "5" or "6": one more child that panics or quits
    (if (i32.ge_u (i32.load8_u (i32.load (i32.const 68))) (i32.const 53))
      (then (drop (call $spawn (i32.sub (i32.load8_u (i32.load (i32.const 68))) (i32.const 48))))))
    (drop (memory.atomic.wait32 (i32.const 8) (i32.const 0) (i64.const -1)))
    unreachable)
"#;

/// Starts BLOCKERS with `arg` and waits until its four children are in
/// place.
fn blockers(engine: &Engine, arg: &str) -> (Run, Notes) {
    let module = module(engine, BLOCKERS);
    let linker = linker(engine, Rendezvous::new(1));
    let arg = arg.to_string();
    let (run, _, notes) = start(engine, &module, &linker, move |run| {
        WasiCtx::builder()
            .arg("blockers")
            .arg(arg)
            .build(run)
            .unwrap()
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while notes.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the children never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Let them reach their waits.
    std::thread::sleep(Duration::from_millis(50));
    (run, notes)
}

#[test]
fn a_run_is_cancelled_from_another_thread_whatever_its_threads_do() {
    let engine = engine();
    let (run, _) = blockers(&engine, "0");
    let canceller = {
        let run = run.clone();
        std::thread::spawn(move || run.cancel())
    };
    let started = Instant::now();
    let report = run.wait();
    canceller.join().unwrap();
    assert_eq!(report.outcome, Outcome::Cancelled);
    assert_eq!(
        report.abandoned, 0,
        "parked, sleeping, blocked and spinning threads all stop"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // A run ends once: a later cancel changes nothing.
    run.cancel();
    assert_eq!(run.wait().outcome, Outcome::Cancelled);
}

#[test]
fn without_an_ender_the_blocked_threads_stay_blocked_until_the_time_limit() {
    let engine = engine();
    let (run, _) = blockers(&engine, "0");
    run.set_time_limit(Duration::from_millis(200));
    let report = run.wait();
    assert_eq!(report.outcome, Outcome::TimedOut);
    assert_eq!(report.abandoned, 0);
}

#[test]
fn a_panic_in_an_embedder_host_function_is_the_outcome_not_a_hang() {
    let engine = engine();
    let (run, _) = blockers(&engine, "5");
    let report = run.wait();
    match &report.outcome {
        Outcome::Panic { tid, message } => {
            assert_eq!(*tid, 5);
            assert!(message.contains("boom from the embedder"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(report.abandoned, 0);
}

#[test]
fn an_embedder_host_function_ends_the_run_with_a_code() {
    let engine = engine();
    let (run, _) = blockers(&engine, "6");
    let report = run.wait();
    assert_eq!(report.outcome, Outcome::Exit(42));
    assert_eq!(report.abandoned, 0);
}

#[test]
fn other_stores_and_runs_of_the_engine_keep_running_when_a_run_ends() {
    let engine = engine();
    // A store of the embedder's own, outside any run, with its own epoch
    // policy: it counts the ticks it sees and goes on.
    let ticks = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let spinning = Arc::new(AtomicBool::new(false));
    let spinner = Module::new(
        &engine,
        r#"(module
          (import "env" "go_on" (func $go_on (result i32)))
          (func (export "spin") (result i32) (local $n i32)
            (loop $again
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br_if $again (call $go_on)))
            (local.get $n)))"#,
    )
    .unwrap();
    let other = {
        let engine = engine.clone();
        let ticks = ticks.clone();
        let stop = stop.clone();
        let spinning = spinning.clone();
        std::thread::spawn(move || -> wasmtime::Result<i32> {
            let mut store = Store::new(&engine, ());
            store.set_epoch_deadline(1);
            let seen = ticks.clone();
            store.epoch_deadline_callback(move |_| {
                seen.fetch_add(1, Ordering::SeqCst);
                Ok(UpdateDeadline::Continue(1))
            });
            let mut linker = Linker::new(&engine);
            linker.func_wrap("env", "go_on", move || {
                spinning.store(true, Ordering::SeqCst);
                !stop.load(Ordering::SeqCst) as i32
            })?;
            let instance = linker.instantiate(&mut store, &spinner)?;
            instance
                .get_typed_func::<(), i32>(&mut store, "spin")?
                .call(&mut store, ())
        })
    };
    while !spinning.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    // A run that blocks until cancelled, and a second that ends.
    let (survivor, _) = blockers(&engine, "0");
    let before = ticks.load(Ordering::SeqCst);
    let (ending, _) = blockers(&engine, "6");
    assert_eq!(ending.wait().outcome, Outcome::Exit(42));
    assert!(
        ticks.load(Ordering::SeqCst) > before,
        "the end of the run advanced the Engine's epoch"
    );
    // The survivor was not touched by the other run's end.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(survivor.outcome(), None);
    survivor.cancel();
    assert_eq!(survivor.wait().outcome, Outcome::Cancelled);
    // Nor was the embedder's own store: it returns normally when told.
    stop.store(true, Ordering::SeqCst);
    assert!(other.join().unwrap().unwrap() > 0);
}

#[test]
fn a_precompiled_module_runs() {
    let engine = engine();
    let compiled = module(&engine, PER_RUN).serialize().unwrap();
    // SAFETY: the bytes were serialized by this Engine just above.
    let module = unsafe { Module::deserialize(&engine, &compiled) }.unwrap();
    let linker = linker(&engine, Rendezvous::new(1));
    let dir = scratch("precompiled");
    let d = dir.clone();
    let (run, _, _) = start(&engine, &module, &linker, move |run| {
        WasiCtx::builder()
            .args(["prog", "7"])
            .stdout(MemoryOutput::new())
            .preopen_dir(d, ".")
            .build(run)
            .unwrap()
    });
    assert_eq!(run.wait().outcome, Outcome::Exit(7));
    assert_eq!(std::fs::read_to_string(dir.join("out.txt")).unwrap(), "7");
}

/// Each child notes its id and the word it wrote at 16 + 4 * id, as the
/// host reads it from the shared memory; then main exits.
const TIDS: &str = r#"
  (func (export "wasi_thread_start") (param $tid i32) (param i32)
    (i32.atomic.store (i32.add (i32.const 16) (i32.mul (local.get $tid) (i32.const 4)))
      (i32.mul (local.get $tid) (i32.const 1000)))
    (call $note (call $peek (i32.add (i32.const 16) (i32.mul (local.get $tid) (i32.const 4)))))
    (call $bump (i32.const 0)))
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (drop (call $spawn (i32.const 0)))
    (drop (call $spawn (i32.const 0)))
    (call $wait_for (i32.const 0) (i32.const 3)))
"#;

#[test]
fn host_functions_see_their_thread_id_and_the_shared_memory() {
    let engine = engine();
    let module = module(&engine, TIDS);
    let linker = linker(&engine, Rendezvous::new(1));
    let (run, threads, notes) = start(&engine, &module, &linker, |run| {
        WasiCtx::builder().build(run).unwrap()
    });
    assert_eq!(threads.tid(), 0);
    assert_eq!(run.wait().outcome, Outcome::Exit(0));
    let mut notes = notes.lock().unwrap().clone();
    notes.sort();
    assert_eq!(notes, [(1, 1000), (2, 2000), (3, 3000)]);
}

type Seen = Arc<Mutex<Vec<(u32, Option<u32>)>>>;

/// Store data that cannot be cloned: each thread's comes from a factory.
struct Unique {
    threads: WasiThreadsCtx<Unique>,
    made_from: Option<u32>,
    /// (tid, the spawning thread's tid) as each thread saw it.
    seen: Seen,
}

#[test]
fn a_factory_makes_each_new_threads_store_data_from_the_spawning_threads() {
    let engine = engine();
    let module = wasi_threads_host::compile(
        &engine,
        br#"(module
          (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
          (import "env" "seen" (func $seen))
          (import "env" "memory" (memory 1 1 shared))
          (func (export "wasi_thread_start") (param $tid i32) (param $depth i32)
            (call $seen)
            (if (local.get $depth)
              (then (drop (call $spawn (i32.sub (local.get $depth) (i32.const 1)))))
              (else
                (i32.atomic.store (i32.const 0) (i32.const 1))
                (drop (memory.atomic.notify (i32.const 0) (i32.const 1))))))
          (func (export "_start")
            (drop (call $spawn (i32.const 1)))
            (loop $wait
              (if (i32.eqz (i32.atomic.load (i32.const 0)))
                (then
                  (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1)))
                  (br $wait))))))"#,
    )
    .unwrap();
    let mut linker: Linker<Unique> = Linker::new(&engine);
    threads::add_to_linker(&mut linker, |u: &mut Unique| &mut u.threads).unwrap();
    linker
        .func_wrap("env", "seen", |caller: Caller<'_, Unique>| {
            let u = caller.data();
            u.seen.lock().unwrap().push((u.threads.tid(), u.made_from));
        })
        .unwrap();
    let run = Run::new(&engine).unwrap();
    let ctx = WasiThreadsCtx::builder_with_factory(&module, &run, |parent: &Unique| Unique {
        threads: parent.threads.clone(),
        made_from: Some(parent.threads.tid()),
        seen: parent.seen.clone(),
    })
    .build(&linker)
    .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    ctx.start(Store::new(
        &engine,
        Unique {
            threads: ctx.clone(),
            made_from: None,
            seen: seen.clone(),
        },
    ))
    .unwrap();
    assert_eq!(run.wait().outcome, Outcome::Exit(0));
    // Main (0) spawned 1, which spawned 2.
    assert_eq!(*seen.lock().unwrap(), [(1, Some(0)), (2, Some(1))]);
}

#[test]
fn an_engine_without_what_the_parts_need_is_refused_naming_the_setting() {
    let mut config = Config::new();
    wasi_threads_host::configure(&mut config);
    config.epoch_interruption(false);
    let engine = Engine::new(&config).unwrap();
    let e = Run::new(&engine).unwrap_err();
    assert!(
        e.to_string().contains("Config::epoch_interruption(true)"),
        "{e}"
    );
}

#[test]
fn a_report_is_the_same_for_every_waiter() {
    let engine = engine();
    let (run, _) = blockers(&engine, "6");
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let run = run.clone();
            std::thread::spawn(move || run.wait())
        })
        .collect();
    let reports: Vec<RunReport> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
    assert!(reports.iter().all(|r| r.outcome == Outcome::Exit(42)));
}

#[test]
fn an_instance_pre_the_embedder_made_serves_every_thread() {
    let engine = engine();
    let module = module(&engine, TIDS);
    let mut linker = linker(&engine, Rendezvous::new(1));
    let run = Run::new(&engine).unwrap();
    let wasi = WasiCtx::builder().build(&run).unwrap();
    let notes: Notes = Arc::new(Mutex::new(Vec::new()));
    // The embedder defines the shared memory itself, as with wasmtime 46.
    let memory = wasmtime::SharedMemory::new(&engine, wasmtime::MemoryType::shared(1, 1)).unwrap();
    let placeholder = WasiThreadsCtx::builder(&module, &run)
        .build(&linker)
        .unwrap();
    let store = Store::new(
        &engine,
        Host {
            wasi: wasi.clone(),
            threads: placeholder,
            notes: notes.clone(),
        },
    );
    linker
        .define(&store, "env", "memory", memory.clone())
        .unwrap();
    let pre = linker.instantiate_pre(&module).unwrap();
    let threads = WasiThreadsCtx::builder(&module, &run)
        .build_with_instance_pre(pre, Some(memory.clone()))
        .unwrap();
    assert!(threads.memory().is_some());
    let mut store = store;
    store.data_mut().threads = threads.clone();
    threads.start(store).unwrap();
    assert_eq!(run.wait().outcome, Outcome::Exit(0));
    let mut notes = notes.lock().unwrap().clone();
    notes.sort();
    assert_eq!(notes, [(1, 1000), (2, 2000), (3, 3000)]);
}
