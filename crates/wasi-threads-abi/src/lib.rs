//! One model of an interface's core-wasm ABI.
//!
//! An interface is written in WIT (read with `wit-parser`) or in WITX (read
//! with the `witx` crate). Either way it is loaded into the same [`Model`]:
//! for every function the core import (module, name, parameter and result
//! types) or core export, and the memory layout of every value that crosses
//! through linear memory (pointed-to records, list elements, return areas).
//! Both libraries compute their own ABI (`Resolve::wasm_signature`,
//! `SizeAlign`; `InterfaceFunc::wasm_signature`, `witx::Layout`); this crate
//! only records what they say, in one vocabulary, so the two can be compared
//! ([`check`]) and so generators can read one model instead of re-deriving
//! the ABI.

pub mod check;
pub mod core;
pub mod error;
pub mod layout;
pub mod model;
pub mod wit;
pub mod witx;

pub use crate::check::{assert_equivalent, check, Difference, Report};
pub use crate::core::ValType;
pub use crate::error::{LoadError, LoadErrorKind};
pub use crate::layout::{Layout, LayoutKind};
pub use crate::model::{CoreFunc, CoreParam, Model, Pointee};
pub use crate::wit::{WitItem, WitModel, WitOptions, DEFAULT_MODULE_RULE};
