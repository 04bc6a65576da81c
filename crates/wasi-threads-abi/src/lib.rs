//! One model of an interface's core-wasm ABI.
//!
//! An interface is written in WIT (read with `wit-parser`) or in WITX (read
//! with the `witx` crate). Either way it is loaded into the same [`Model`]:
//! for every function the core import (module, name, parameter and result
//! types) or core export, what every core value means ([`Meaning`]: a
//! scalar, a handle, a pointer to a layout, a (pointer, length) pair, a
//! return area), and the memory layout of every value that crosses through
//! linear memory, all the way down.
//! Both libraries compute their own ABI (`Resolve::wasm_signature`,
//! `SizeAlign`; `InterfaceFunc::wasm_signature`, `witx::Layout`); this crate
//! only records what they say, in one vocabulary, so the two can be compared
//! ([`check`]) and so generators can read one model instead of re-deriving
//! the ABI.
//!
//! Test authors compare a WIT interface with a WITX document in one call:
//!
//! ```
//! use wasi_threads_abi::{assert_equivalent, check, witx, WitModel, WitOptions};
//! // Canonical core names, except where a `Core module:` (or
//! // `Core name:`) doc-comment line keeps a deployed one.
//! let wit = WitModel::parse(
//!     "threads.wit",
//!     "package wasi:threads;
//!      /// Core module: wasi
//!      interface thread-spawn {
//!          thread-spawn: func(start-arg: u32) -> s32;
//!      }",
//!     &WitOptions::default(),
//! )?;
//! let witx = witx::parse(
//!     "threads.witx",
//!     r#"(module $wasi
//!          (@interface func (export "thread-spawn")
//!            (param $start_arg u32) (result $tid s32)))"#,
//! )?;
//! assert_eq!(
//!     wit.model.wat_lines(),
//!     [r#"(import "wasi" "thread-spawn" (func (param i32) (result i32)))"#]
//! );
//! assert_equivalent(&wit.model, &witx);
//!
//! // A hand-written WITX that spells the name in snake case differs.
//! let snake = witx::parse(
//!     "snake.witx",
//!     r#"(module $wasi (@interface func (export "thread_spawn")
//!          (param $start_arg u32) (result $tid s32)))"#,
//! )?;
//! let report = check(&wit.model, &snake);
//! assert_eq!(
//!     report.differences[0].to_string(),
//!     r#"thread-spawn: import name differs: WIT "thread-spawn"; WITX "thread_spawn""#
//! );
//!
//! // The same core types with another meaning differ: a signed result.
//! let signed = witx::parse(
//!     "unsigned.witx",
//!     r#"(module $wasi (@interface func (export "thread-spawn")
//!          (param $start_arg u32) (result $tid u32)))"#,
//! )?;
//! assert_eq!(
//!     check(&wit.model, &signed).differences[0].to_string(),
//!     "thread-spawn: result 0 (`result`) means something else: WIT s32; WITX u32"
//! );
//! # Ok::<(), wasi_threads_abi::LoadError>(())
//! ```

pub mod check;
pub mod core;
pub mod error;
pub mod layout;
pub mod meaning;
pub mod model;
pub mod module;
pub mod naming;
pub mod support;
pub mod wit;
pub mod witx;

pub use crate::check::{assert_equivalent, check, Difference, Report};
pub use crate::core::ValType;
pub use crate::error::{LoadError, LoadErrorKind};
pub use crate::layout::{Layout, LayoutKind, Pairing};
pub use crate::meaning::{HandleType, Meaning, Ownership, Scalar};
pub use crate::model::{CoreFunc, CoreValue, Model};
pub use crate::module::{check_module, check_module_path, CompiledModule, ModuleReport};
pub use crate::support::{Construct, Generator, Unsupported};
pub use crate::wit::{FlatValue, Intrinsic, Source, WitItem, WitModel, WitOptions};
