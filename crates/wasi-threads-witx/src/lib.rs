//! Derives WITX from WIT, with the same core-wasm ABI.
//!
//! Every imported function of a [`WitModel`] is written as a WITX
//! `(@interface func)` whose preview-1 ABI, as the witx crate computes it,
//! is the canonical ABI of the WIT function as wit-parser computes it: same
//! core module and name, same parameter and result types, same layouts
//! behind every pointer.
//!
//! - Where WIT and WITX share a construct, the WITX says the same thing
//!   (integers, floats, `bool`, `char`, `string` and `list` parameters,
//!   enums and flags with the canonical tag and repr widths, handles).
//! - Where WITX has no equal construct, the function is *lowered* to an
//!   ABI-identical form and a comment on it says how (flattened record and
//!   variant parameters, results through a return pointer, parameters
//!   through a pointer past 16 flat values, ...).
//! - Where no ABI-identical WITX exists, that function alone fails with a
//!   [`Failure`] naming the construct and why.
//!
//! The derivation checks itself: each function's text, and then the whole
//! document, is parsed back with the witx crate and compared with the WIT
//! model ([`wasi_threads_abi::check`]) before it is returned.

mod derive;
mod names;
mod types;

pub use crate::derive::{derive, Derivation, DeriveError, DerivedFunction, Failure};
