//! The cost of generated host glue for a scalar import: `cargo bench --bench glue`.
//!
//! A guest calls `thread-spawn` (one `i32` in, one `i32` out) in a loop;
//! the import is defined once by the `add_to_linker` that `host!` generates
//! from `wit/`, once by a hand-written `Linker::func_wrap`. Both host
//! functions do the same work (read the store's data, return a value). The
//! figure is the median time per call over several runs of a million calls.

use std::time::{Duration, Instant};

use wasmtime::{Caller, Config, Engine, Linker, Module, Store};

mod bindings {
    wasi_threads_bindgen_rt::host!("wit");
}

use bindings::wasi::threads::thread_spawn;

#[derive(Default)]
struct Data {
    next: i32,
}

impl thread_spawn::Host for Data {
    fn thread_spawn(&mut self, start_arg: u32) -> i32 {
        self.next = self.next.wrapping_add(start_arg as i32);
        self.next
    }
}

const CALLS: i32 = 1_000_000;
const RUNS: usize = 11;

const GUEST: &str = r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (func (export "go") (param $n i32) (result i32)
    (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (call $spawn (i32.const 1))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n)))
    (local.get $acc)))"#;

fn run(engine: &Engine, module: &Module, linker: &Linker<Data>) -> Duration {
    let mut store = Store::new(engine, Data::default());
    let instance = linker.instantiate(&mut store, module).unwrap();
    let go = instance
        .get_typed_func::<i32, i32>(&mut store, "go")
        .unwrap();
    let start = Instant::now();
    let acc = go.call(&mut store, CALLS).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(store.data().next, CALLS, "every call reached the host");
    std::hint::black_box(acc);
    elapsed
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mut config = Config::new();
    config.wasm_threads(true).shared_memory(true);
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(&engine, GUEST).unwrap();

    let mut generated = Linker::new(&engine);
    bindings::add_to_linker(&mut generated, |d: &mut Data| d).unwrap();

    let mut hand = Linker::new(&engine);
    hand.func_wrap(
        "wasi",
        "thread-spawn",
        |mut caller: Caller<'_, Data>, start_arg: i32| -> wasmtime::Result<i32> {
            let data = caller.data_mut();
            data.next = data.next.wrapping_add(start_arg);
            Ok(data.next)
        },
    )
    .unwrap();

    // Interleaved, so drift in the machine affects both alike.
    let (mut g, mut h) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        g.push(run(&engine, &module, &generated));
        h.push(run(&engine, &module, &hand));
    }
    let per_call = |d: Duration| d.as_secs_f64() * 1e9 / f64::from(CALLS);
    let (g, h) = (per_call(median(g)), per_call(median(h)));
    println!("thread-spawn, generated glue (host!):   {g:.2} ns/call");
    println!("thread-spawn, hand-written func_wrap:   {h:.2} ns/call");
    println!("ratio generated / hand-written:         {:.3}", g / h);
}
