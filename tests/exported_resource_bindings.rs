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

// ---- C: a guest on the generated C bindings ----

/// Generates the C bindings of the exported-resources world into a
/// scratch directory and builds `tests/guests/c-exported/exported.c` on
/// them (clang-19, `-Wall -Wextra -Werror`).
fn build_c_exported_guest() -> std::path::PathBuf {
    let dir = support::root().join("target/bindgen-c/exported-guest");
    std::fs::create_dir_all(&dir).unwrap();
    let c = wasi_threads_bindgen::generate_path(
        &support::root().join("tests/bindgen/exported-resources.wit"),
        &wasi_threads_abi::WitOptions::default(),
        wasi_threads_bindgen::Target::C,
    )
    .unwrap();
    for (file, text) in &c.files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    support::build_c_reactor(
        &[
            &support::root().join("tests/guests/c-exported/exported.c"),
            &dir.join("exported_resources.c"),
        ],
        &dir,
        "c-exported.wasm",
    )
}

/// The C guest runs the whole scenario on the reference host of the
/// intrinsics: counters created, called, lent in a list, handed back,
/// dropped by either side, each destructor run once.
#[test]
fn a_c_guest_on_the_generated_bindings_exports_a_resource() {
    exported_host::exercise(&build_c_exported_guest());
}

/// The C guest's module has the imports and exports the model lists, the
/// `[export]` intrinsics and the `[dtor]` included.
#[test]
fn the_c_guest_of_exported_resources_checks_clean_against_the_model() {
    let wasm = build_c_exported_guest();
    let wm = wasi_threads_abi::WitModel::load(
        &support::root().join("tests/bindgen/exported-resources.wit"),
        &wasi_threads_abi::WitOptions::default(),
    )
    .unwrap();
    let report = wasi_threads_abi::check_module_path(&wasm, &[&wm.model]).unwrap();
    assert!(report.is_match(), "{report}");
    assert_eq!(report.imports_matched, wm.model.imports.len(), "{report}");
    assert_eq!(report.exports_matched, wm.model.exports.len(), "{report}");
    for name in [
        "[resource-new]counter",
        "[resource-rep]counter",
        "[resource-drop]counter",
    ] {
        assert!(
            wm.model
                .imports
                .iter()
                .any(|f| f.module.as_deref() == Some("[export]test:exported/counters")
                    && f.name == name),
            "{name}"
        );
    }
}

/// Many rounds through the C guest leave its heap where it was: every
/// counter's struct is freed by its destructor, every string result by
/// `cabi_post_*`, every list of borrows by the program.
#[test]
fn the_c_guest_of_exported_resources_frees_what_it_allocates() {
    let wasm = build_c_exported_guest();
    let mut g = exported_host::Guest::new(&wasm, "test:exported/counters", "counter");
    let heap_top = g
        .instance
        .get_typed_func::<(), i32>(&mut g.store, "heap_top")
        .unwrap();
    let new = g.export::<u32, u32>("[constructor]counter");
    let describe = g.export::<u32, u32>("[method]counter.describe");
    let merge = g.export::<(u32, u32), u32>("[static]counter.merge");
    let finish = g.export::<u32, u32>("finish");
    let total = g.export::<(u32, u32), u32>("total");
    let post = g
        .instance
        .get_typed_func::<u32, ()>(
            &mut g.store,
            "cabi_post_test:exported/counters#[method]counter.describe",
        )
        .unwrap();
    let round = |g: &mut exported_host::Guest, i: u32| {
        let h = new.call(&mut g.store, i).unwrap();
        let a = g.lift(h);
        let h = new.call(&mut g.store, 1000).unwrap();
        let b = g.lift(h);
        let area = describe.call(&mut g.store, a).unwrap();
        post.call(&mut g.store, area).unwrap();
        // 64 borrows: a list the program must free, large enough that a
        // leak shows within the rounds below.
        let list: Vec<u8> = (0..64)
            .flat_map(|k| if k % 2 == 0 { a } else { b }.to_le_bytes())
            .collect();
        let ptr = g.write(&list, 4);
        assert_eq!(
            total.call(&mut g.store, (ptr, 64)).unwrap(),
            32 * i + 32 * 1000
        );
        let b = g.lower(b);
        let h = merge.call(&mut g.store, (a, b)).unwrap();
        let m = g.lift(h);
        let m = g.lower(m);
        assert_eq!(finish.call(&mut g.store, m).unwrap(), i + 1000);
        g.drop_rep(a);
    };
    for i in 0..10 {
        round(&mut g, i);
    }
    let before = heap_top.call(&mut g.store, ()).unwrap();
    for i in 0..2000 {
        round(&mut g, i);
    }
    let after = heap_top.call(&mut g.store, ()).unwrap();
    assert_eq!(
        before, after,
        "the guest's heap grew over 2000 rounds: something leaks"
    );
    assert_eq!(g.store.data().live(), 0, "no handle is left");
    assert_eq!(g.store.data().destroyed.len(), 2010 * 3);
}
