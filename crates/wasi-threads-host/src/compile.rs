//! The one entry that compiles a module for the parts: the place where a
//! module is checked (and, where the parts need it, processed) as it is
//! loaded.

use wasmtime::{Engine, Module};

use crate::Error;

/// Compiles `wasm` (binary, or WAT text) on `engine` and checks the
/// wasi-threads rules: a `thread-spawn` import of the right type comes
/// with a shared memory import and no memory of the module's own.
///
/// Its `memory.atomic.wait` instructions on a shared memory become calls
/// of the host (see [`crate::threads::add_to_linker`]), so that the end of
/// a run wakes its parked threads at once whatever the memory's size.
///
/// A module compiled or deserialized by the embedder itself is accepted by
/// the parts too; they check the same rules when a context is built, and
/// the end of a run then wakes parked threads by notifying every address
/// of the memory, which takes time in proportion to its size.
pub fn compile(engine: &Engine, wasm: &[u8]) -> Result<Module, Error> {
    let module = match prepare(wasm) {
        Some(rewritten) => Module::new(engine, &rewritten),
        // Nothing to rewrite, or not a module wasmtime takes: its own
        // error says why.
        None => Module::new(engine, wasm),
    }
    .map_err(Error::Compile)?;
    let shape = crate::threads::inspect(&module)?;
    if shape.spawn {
        crate::engine::check_threads(engine)?;
    }
    Ok(module)
}

/// The module as it is compiled: its binary, with its waits rewritten;
/// `None` when it is compiled as given.
pub(crate) fn prepare(wasm: &[u8]) -> Option<Vec<u8>> {
    let binary = crate::threads::waits::binary(wasm).ok()?;
    crate::threads::waits::rewrite(&binary).ok()?
}
