//! `host!` and `guest!`: a thin proc-macro shell over `wasi-threads-bindgen`
//! (whose `macro_input` module parses the input and expands it), so a
//! crate's bindings are exactly what `wasi-threads bindgen host|rust` prints
//! for the same WIT. Host bindings need the `wasi-threads-bindgen-rt`
//! crate, which re-exports these macros.
//!
//! ```ignore
//! // Paths are relative to the crate's Cargo.toml.
//! wasi_threads_bindgen_rt::host!("wit");
//! wasi_threads_bindgen_rt::host!({
//!     path: "wit",
//!     world: "threads",
//!     imports: { default: trappable | tracing },
//! });
//! wasi_threads_macros::guest!({ path: "wit", world: "threads" });
//! ```
//!
//! The options are those of wasmtime's `bindgen!` that apply to core
//! modules; see `wasi_threads_bindgen::macro_input`. The macro reads the
//! WIT when the crate compiles, and the crate is rebuilt when a WIT file
//! changes. What `guest!` expands to refers to the runtime
//! crate `wasi-threads-guest-rt`: a guest crate depends on it too.

use proc_macro::TokenStream;
use wasi_threads_bindgen::{macro_input, Target};

/// Host bindings for wasmtime, as `wasmtime::component::bindgen!` for core
/// modules: a `Host` trait (and a `Host<Resource>` trait per resource) and
/// `add_to_linker` per imported interface, the world's `add_to_linker`, and
/// the world's struct with typed exports, its `...Pre` and `...Indices`.
#[proc_macro]
pub fn host(input: TokenStream) -> TokenStream {
    macro_input::expand(input.into(), Target::Host).into()
}

/// Rust guest bindings: import wrappers, `Guest` traits and `export!`.
#[proc_macro]
pub fn guest(input: TokenStream) -> TokenStream {
    macro_input::expand(input.into(), Target::Rust).into()
}
