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

// Exported resources through wit-bindgen's guest and the generated host.

/// The counters guest whose bindings wit-bindgen generates.
fn wit_bindgen_guest() -> std::path::PathBuf {
    support::build_rust_guest("exported-wit-bindgen", "exported_wit_bindgen.wasm")
}

#[test]
fn a_wit_bindgen_guest_passes_the_reference_host() {
    exported_host::exercise(&wit_bindgen_guest());
}
