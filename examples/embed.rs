//! Embedding wasi-threads and preview 1 in a wasmtime program of one's own:
//! its own Engine, its own `Linker<T>` and store data with a host function
//! of its own (`env` `log`), one compiled module run twice at once, and a
//! third run cancelled from another thread.
//!
//! `cargo run --example embed` prints each run's outcome and what its
//! threads logged; `tests/run.rs` checks it against `examples/embed.out`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasi_threads_host::preview1::{self, WasiCtx};
use wasi_threads_host::threads::{self, WasiThreadsCtx};
use wasi_threads_host::{Outcome, Run};
use wasmtime::{Caller, Config, Engine, Linker, Store};

/// The program: `_start` reads N from its first argument and starts N
/// threads; thread T adds 1 + ... + 1000 * T and logs the sum; main waits
/// for them all and exits with code N. With N = 0 main waits for ever.
const PROGRAM: &str = r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "env" "log" (func $log (param i64)))
  (import "env" "memory" (memory 1 1 shared))
  (export "memory" (memory 0))
  (func (export "wasi_thread_start") (param $tid i32) (param i32)
    (local $i i64) (local $sum i64)
    (loop $add
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (local.set $sum (i64.add (local.get $sum) (local.get $i)))
      (br_if $add (i64.lt_u (local.get $i) (i64.mul (i64.extend_i32_u (local.get $tid)) (i64.const 1000)))))
    (call $log (local.get $sum))
    (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
    (drop (memory.atomic.notify (i32.const 0) (i32.const 1))))
  (func (export "_start") (local $n i32) (local $i i32) (local $done i32)
    (drop (call $args_get (i32.const 16) (i32.const 32)))
    (local.set $n (i32.sub (i32.load8_u (i32.load (i32.const 20))) (i32.const 48)))
    (loop $start
      (if (i32.lt_u (local.get $i) (local.get $n))
        (then
          (drop (call $spawn (i32.const 0)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $start))))
    (loop $wait
      (local.set $done (i32.atomic.load (i32.const 0)))
      (if (i32.or (i32.eqz (local.get $n)) (i32.lt_u (local.get $done) (local.get $n)))
        (then
          (drop (memory.atomic.wait32 (i32.const 0) (local.get $done) (i64.const -1)))
          (br $wait))))
    (call $exit (local.get $n))))"#;

/// What the threads of one run logged.
type Log = Arc<Mutex<Vec<String>>>;

/// The store data of every thread: the two parts' contexts and the
/// embedder's own state.
#[derive(Clone)]
struct Host {
    wasi: WasiCtx,
    threads: WasiThreadsCtx<Host>,
    log: Log,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(&mut std::io::stdout())
}

/// The three runs; writes their outcomes and logs to `out`.
pub fn run(out: &mut dyn std::io::Write) -> Result<(), Box<dyn std::error::Error>> {
    // The embedder's Engine, with what the parts need turned on.
    let mut config = Config::new();
    wasi_threads_host::configure(&mut config);
    let engine = Engine::new(&config)?;
    // Compiled once, run three times.
    let module = wasi_threads_host::compile(&engine, PROGRAM.as_bytes())?;

    // The embedder's linker: preview 1, thread-spawn, and `env` `log`.
    let mut linker: Linker<Host> = Linker::new(&engine);
    preview1::add_to_linker(&mut linker, |h: &mut Host| &mut h.wasi)?;
    threads::add_to_linker(&mut linker, |h: &mut Host| &mut h.threads)?;
    linker.func_wrap("env", "log", |caller: Caller<'_, Host>, sum: i64| {
        let host = caller.data();
        let tid = host.threads.tid();
        let line = format!("thread {tid}: 1 + ... + {} = {sum}", tid * 1000);
        host.log.lock().unwrap().push(line);
    })?;

    // Starts one run with argument `n`; returns its handle and its log.
    let start = |n: u32| -> Result<(Run, Log), Box<dyn std::error::Error>> {
        let run = Run::new(&engine)?;
        let wasi = WasiCtx::builder()
            .args(["embed".to_string(), n.to_string()])
            .build(&run)?;
        let threads = WasiThreadsCtx::builder(&module, &run).build(&linker)?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let host = Host {
            wasi,
            threads: threads.clone(),
            log: log.clone(),
        };
        threads.start(Store::new(&engine, host))?;
        Ok((run, log))
    };

    // Two runs of the one module at once, and a third that would wait for
    // ever, cancelled from another thread.
    let first = start(2)?;
    let second = start(3)?;
    let third = start(0)?;
    let canceller = {
        let run = third.0.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            run.cancel();
        })
    };

    for (name, (run, log)) in [("first", first), ("second", second), ("third", third)] {
        let report = run.wait();
        let outcome = match &report.outcome {
            Outcome::Exit(code) => format!("exit {code}"),
            other => other.to_string(),
        };
        writeln!(
            out,
            "{name} run: {outcome}, {} threads left running",
            report.abandoned
        )?;
        let mut lines = log.lock().unwrap().clone();
        lines.sort();
        for line in lines {
            writeln!(out, "  {line}")?;
        }
    }
    canceller.join().unwrap();
    Ok(())
}
