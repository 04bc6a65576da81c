//! Benchmarks of the host: `cargo bench -p wasi-threads-host`.
//!
//! - spawn round trip: the parent spawns a thread, the child signals, the
//!   parent wakes (per spawn, sequentially);
//! - burst: N spawns back to back, until all N children have signalled;
//! - exit: from `proc_exit` in the main thread until `Runner::run` returns,
//!   with N other threads alive (spinning in wasm, or parked in
//!   `memory.atomic.wait`).
//!
//! The guest marks the start of the measured section with `bench.mark`, a
//! host import that reads the clock; each figure is the median of the runs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "../tests/support/mod.rs"]
mod support;

use support::SYNC;
use wasi_threads_host::{Outcome, Runner, ThreadCtx};
use wasmtime::Caller;

const RUNS: usize = 15;

fn guest(body: &str) -> String {
    format!(
        r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "bench" "mark" (func $mark))
  (import "env" "memory" (memory 1 1 shared))
  (export "memory" (memory 0))
  {SYNC}
  {body})"#
    )
}

/// Runs `wat` once: the time from the first `bench.mark` to the second, or
/// to the run's return when there is no second.
fn measure(wat: &str) -> Duration {
    let marks = Arc::new(Mutex::new(Vec::new()));
    let sink = marks.clone();
    let runner = Runner::new().define(move |linker| {
        let sink = sink.clone();
        linker.func_wrap("bench", "mark", move |_: Caller<'_, ThreadCtx>| {
            sink.lock().unwrap().push(Instant::now());
        })?;
        Ok(())
    });
    let report = runner
        .run(wat.as_bytes())
        .expect("the benchmark guest runs");
    let returned = Instant::now();
    assert_eq!(report.outcome, Outcome::Exit(0));
    assert_eq!(report.abandoned, 0);
    let marks = marks.lock().unwrap();
    marks.get(1).copied().unwrap_or(returned) - marks[0]
}

fn median(wat: &str) -> Duration {
    let mut times: Vec<Duration> = (0..RUNS).map(|_| measure(wat)).collect();
    times.sort();
    times[RUNS / 2]
}

fn round_trip(k: u32) -> String {
    guest(&format!(
        r#"
  (func (export "wasi_thread_start") (param i32 i32) (call $bump (i32.const 0)))
  (func (export "_start")
    (local $i i32)
    (call $mark)
    (loop $next
      (drop (call $spawn (i32.const 0)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (call $wait_for (i32.const 0) (local.get $i))
      (br_if $next (i32.lt_u (local.get $i) (i32.const {k}))))
    (call $mark))"#
    ))
}

fn burst(n: u32) -> String {
    guest(&format!(
        r#"
  (func (export "wasi_thread_start") (param i32 i32) (call $bump (i32.const 0)))
  (func (export "_start")
    (local $i i32)
    (call $mark)
    (loop $next
      (drop (call $spawn (i32.const 0)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const {n}))))
    (call $wait_for (i32.const 0) (i32.const {n}))
    (call $mark))"#
    ))
}

fn exit_with(n: u32, parked: bool) -> String {
    let block = if parked {
        "(drop (memory.atomic.wait32 (i32.const 8) (i32.const 0) (i64.const -1)))"
    } else {
        "(loop $spin (br $spin))"
    };
    guest(&format!(
        r#"
  (func (export "wasi_thread_start") (param i32 i32)
    (call $bump (i32.const 0))
    {block})
  (func (export "_start")
    (local $i i32)
    (loop $next
      (drop (call $spawn (i32.const 0)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const {n}))))
    (call $wait_for (i32.const 0) (i32.const {n}))
    (call $mark)
    (call $exit (i32.const 0)))"#
    ))
}

fn main() {
    // `cargo bench` passes `--bench`; a plain `cargo test` run of this
    // target only checks that it starts.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let k = 200;
    let t = median(&round_trip(k));
    println!(
        "spawn round trip: {:>10.1} us per spawn ({k} sequential)",
        t.as_secs_f64() * 1e6 / k as f64
    );
    for n in [10, 100] {
        let t = median(&burst(n));
        println!(
            "burst of {n:>4} spawns: {:>10.1} us total, {:.1} us per spawn",
            t.as_secs_f64() * 1e6,
            t.as_secs_f64() * 1e6 / n as f64
        );
    }
    for n in [1, 10, 100] {
        let t = median(&exit_with(n, false));
        println!(
            "proc_exit -> return, {n:>3} threads spinning: {:>8.1} us",
            t.as_secs_f64() * 1e6
        );
        let t = median(&exit_with(n, true));
        println!(
            "proc_exit -> return, {n:>3} threads parked:   {:>8.1} us",
            t.as_secs_f64() * 1e6
        );
    }
}
