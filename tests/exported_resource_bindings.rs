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

// ---- Rust guest bindings (`guest!`) ----

/// The guest of `tests/guests/exported-guest-macro`: counters defined
/// through `GuestCounter`, handed out as `Counter`, lent as
/// `CounterBorrow`.
fn rust_guest_macro() -> std::path::PathBuf {
    support::build_rust_guest("exported-guest-macro", "exported_guest_macro.wasm")
}

#[test]
fn a_rust_guest_exporting_a_resource_through_guest_macro_runs_on_the_reference_host() {
    exported_host::exercise(&rust_guest_macro());
}

#[test]
fn a_rust_guest_exporting_a_resource_through_guest_macro_matches_the_model() {
    use wasi_threads_abi::{check_module_path, witx, WitModel, WitOptions};
    let wasm = rust_guest_macro();
    let wit = WitModel::load(
        &support::root().join("tests/bindgen/exported-resources.wit"),
        &WitOptions::default(),
    )
    .unwrap();
    let preview1 = witx::load(&support::root().join("witx/preview1")).unwrap();
    let report = check_module_path(&wasm, &[&wit.model, &preview1]).unwrap();
    assert!(report.is_match(), "{report}");
    assert!(report.uncovered.is_empty(), "{report}");
    // Every export of the world, the destructor included, with its
    // signature; the three intrinsics among the imports.
    assert_eq!(report.exports_matched, wit.model.exports.len(), "{report}");
    assert!(report.imports_matched >= 3, "{report}");
}
