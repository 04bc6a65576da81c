//! Exported resources through the generated bindings, for
//! `tests/bindgen/exported-resources.wit`: counters a guest defines are
//! created, called, lent, handed back, dropped and destroyed. Guests built
//! on the generated Rust and C bindings (and on wit-bindgen's) are first
//! checked against a hand-written host of the resource intrinsics
//! (`tests/support/exported_host.rs`), then against the host `host!`
//! generates.

mod support;

#[allow(unused_imports)]
use support::exported_host;
