//! A reference host for wasi-threads modules on wasmtime.
//!
//! [`Runner`] loads a core module, creates the shared memory its memory
//! import asks for, defines `wasi` `thread-spawn`, and runs `_start`. Each
//! `thread-spawn` instantiates the module again from one `InstancePre`
//! (start functions run in every instance) before it returns, so every
//! failure reaches the guest as a negative value ([`spawn_error`]).
//!
//! Termination follows the proposal: returning from `wasi_thread_start`
//! ends that thread; returning from `_start` or a trap in any thread ends
//! them all. The run never exits the process: it returns an [`Outcome`] and
//! says how many threads it could not stop ([`RunReport::abandoned`]).

mod outcome;
mod runner;
pub mod spawn_error;
mod tids;
mod wasi;

pub use crate::outcome::{Outcome, RunReport};
pub use crate::runner::{HostError, Runner, ThreadCtx};
pub use crate::tids::MAX_TID;
pub use crate::wasi::{Input, Output};
