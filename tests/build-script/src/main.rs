//! A host whose bindings a build script generated: a guest calls
//! `thread-spawn` through them and the host's answer comes back.

mod bindings {
    include!(concat!(env!("OUT_DIR"), "/host.rs"));
}

use bindings::wasi::threads::thread_spawn;
use wasmtime::{Config, Engine, Linker, Module, Store};

#[derive(Default)]
struct Data {
    calls: Vec<u32>,
}

impl thread_spawn::Host for Data {
    fn thread_spawn(&mut self, start_arg: u32) -> i32 {
        self.calls.push(start_arg);
        start_arg as i32 * 2
    }
}

fn main() -> wasmtime::Result<()> {
    println!("{}", report()?);
    Ok(())
}

/// Runs the guest: which arguments the host saw, and what `go` returned.
fn report() -> wasmtime::Result<String> {
    let mut config = Config::new();
    config.wasm_threads(true).shared_memory(true);
    let engine = Engine::new(&config)?;
    let module = Module::new(
        &engine,
        r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (func (export "go") (result i32)
    (i32.add (call $spawn (i32.const 20)) (call $spawn (i32.const 1)))))"#,
    )?;
    let mut linker = Linker::new(&engine);
    bindings::add_to_linker(&mut linker, |d: &mut Data| d)?;
    let mut store = Store::new(&engine, Data::default());
    let instance = linker.instantiate(&mut store, &module)?;
    let go = instance.get_typed_func::<(), i32>(&mut store, "go")?;
    let answer = go.call(&mut store, ())?;
    Ok(format!(
        "thread-spawn called with {:?}; go() = {answer}",
        store.data().calls
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_generated_bindings_serve_the_guest() {
        assert_eq!(
            super::report().unwrap(),
            "thread-spawn called with [20, 1]; go() = 42"
        );
    }
}
