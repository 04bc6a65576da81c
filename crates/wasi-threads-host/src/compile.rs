//! The one entry that compiles a module for the parts: the place where a
//! module is checked (and, where the parts need it, processed) as it is
//! loaded.

use wasmtime::{Engine, Module};

use crate::Error;

/// Compiles `wasm` (binary, or WAT text) on `engine` and checks the
/// wasi-threads rules: a `thread-spawn` import of the right type comes
/// with a shared memory import and no memory of the module's own.
///
/// A module compiled or deserialized by the embedder itself is accepted by
/// the parts too; they check the same rules when a context is built.
pub fn compile(engine: &Engine, wasm: &[u8]) -> Result<Module, Error> {
    let module = Module::new(engine, wasm).map_err(Error::Compile)?;
    let shape = crate::threads::inspect(&module)?;
    if shape.spawn {
        crate::engine::check_threads(engine)?;
    }
    Ok(module)
}
