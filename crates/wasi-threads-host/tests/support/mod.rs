//! Helpers of the host's tests and benchmarks.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use wasi_threads_host::{Runner, ThreadCtx};
use wasmtime::Caller;

/// The calls of `test.record(a, b)`, in order: (calling thread's id, a, b).
pub type Log = Arc<Mutex<Vec<(u32, i32, i32)>>>;

/// The recorded `(a, b)` pairs, without the thread ids.
pub fn calls(log: &Log) -> Vec<(i32, i32)> {
    log.lock()
        .unwrap()
        .iter()
        .map(|&(_, a, b)| (a, b))
        .collect()
}

/// A runner whose modules can call `test.record(a, b)`.
pub fn recording(runner: Runner) -> (Runner, Log) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let runner = runner.define(move |linker| {
        let sink = sink.clone();
        linker.func_wrap(
            "test",
            "record",
            move |caller: Caller<'_, ThreadCtx>, a: i32, b: i32| {
                sink.lock().unwrap().push((caller.data().tid(), a, b));
            },
        )?;
        Ok(())
    });
    (runner, log)
}

/// A fresh, empty scratch directory of this test process, named `name`.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wasi-threads-host-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `$wait_for (param $addr i32) (param $n i32)`: park until the i32 at
/// $addr is $n. `$bump (param $addr i32)`: add 1 and wake every waiter.
pub const SYNC: &str = r#"
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
"#;

/// `$sleep (param $ns i64)`: wait $ns nanoseconds in `poll_oneoff`, which
/// the module imports as `$poll` (one relative clock subscription at 1024,
/// its event at 1536, the count at 1600).
pub const SLEEP: &str = r#"
  (func $sleep (param $ns i64)
    (i32.store8 (i32.const 1032) (i32.const 0))
    (i32.store (i32.const 1040) (i32.const 1))
    (i64.store (i32.const 1048) (local.get $ns))
    (drop (call $poll (i32.const 1024) (i32.const 1536) (i32.const 1) (i32.const 1600))))
"#;
