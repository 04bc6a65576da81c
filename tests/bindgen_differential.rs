//! The differential test: a guest whose bindings wit-bindgen itself
//! generates (crates.io `wit-bindgen` 0.60, on the same wit-parser as this
//! project), compiled as a core module for `tests/bindgen/kinds.wit`, with
//! every import served by the host bindings `host!` generates. The guest
//! sends a value of every type kind and checks it comes back exactly; the
//! host sends values to the guest's exports and checks what they return.
//!
//! The same guest built with this project's own Rust guest bindings
//! (`guest!`) runs against the same host, so both generators are checked
//! against each other and against wit-bindgen; so does a C guest
//! (`tests/guests/c-kinds`) on the generated C bindings, built by clang-19.

#[path = "support/echo.rs"]
mod echo;
mod support;

use bindings::test::kinds::kinds::{Point, Shape};
use echo::{bindings, Echo};
use support::{build_c_reactor, build_rust_guest, instantiate_reactor, root, threads_engine};
use wasmtime::{Module, Store};

#[test]
fn every_type_kind_crosses_between_wit_bindgen_guest_code_and_generated_host_code() {
    exercise(&build_rust_guest(
        "kinds-wit-bindgen",
        "kinds_wit_bindgen.wasm",
    ));
}

#[test]
fn every_type_kind_crosses_between_generated_guest_code_and_generated_host_code() {
    exercise(&build_rust_guest(
        "kinds-guest-macro",
        "kinds_guest_macro.wasm",
    ));
}

/// The C guest on the C bindings: the same checks, and its heap does not
/// grow over many round trips (every value the bindings hand over is
/// freed: by the guest with the `_free` functions, by `cabi_post_*`).
#[test]
fn every_type_kind_crosses_between_generated_c_guest_code_and_generated_host_code() {
    let dir = root().join("target/bindgen-c/kinds-guest");
    std::fs::create_dir_all(&dir).unwrap();
    let c = wasi_threads_bindgen::generate_path(
        &root().join("tests/bindgen/kinds.wit"),
        &wasi_threads_abi::WitOptions::default(),
        wasi_threads_bindgen::Target::C,
    )
    .unwrap();
    for (file, text) in &c.files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    let wasm = build_c_reactor(
        &[
            &root().join("tests/guests/c-kinds/kinds.c"),
            &dir.join("everything.c"),
        ],
        &dir,
        "c-kinds.wasm",
    );
    let (mut store, instance) = exercise(&wasm);

    let memory = store.data().memory.clone().unwrap();
    let exports = bindings::Everything::new(&mut store, &instance)
        .unwrap()
        .with_memory(memory);
    let heap_top = instance
        .get_typed_func::<(), i32>(&mut store, "heap_top")
        .unwrap();
    let long = "ab".repeat(4096);
    let xs: Vec<u32> = (0..1000).collect();
    let round_trip = |store: &mut Store<Echo>| {
        assert_eq!(exports.call_run(&mut *store).unwrap(), Ok(77));
        assert_eq!(
            exports
                .call_reverse(&mut *store, long.clone())
                .unwrap()
                .len(),
            long.len()
        );
        assert_eq!(
            exports
                .call_describe(&mut *store, Shape::Labelled(long.clone()))
                .unwrap()
                .len(),
            long.len() + 9
        );
        assert_eq!(
            exports.call_total(&mut *store, xs.clone()).unwrap(),
            499_500
        );
    };
    for _ in 0..5 {
        round_trip(&mut store);
    }
    let before = heap_top.call(&mut store, ()).unwrap();
    for _ in 0..100 {
        round_trip(&mut store);
    }
    let after = heap_top.call(&mut store, ()).unwrap();
    assert_eq!(
        before, after,
        "the guest's heap grew over 100 round trips: something leaks"
    );

    // The program's own, strong `cabi_realloc` replaces the weak one of the
    // bindings: the same checks pass, and the host allocated through it.
    let wasm = build_c_reactor(
        &[
            &root().join("tests/guests/c-kinds/kinds.c"),
            &dir.join("everything.c"),
            &root().join("tests/guests/c-kinds/strong_realloc.c"),
        ],
        &dir,
        "c-kinds-strong-realloc.wasm",
    );
    let (mut store, instance) = exercise(&wasm);
    let calls = instance
        .get_typed_func::<(), u32>(&mut store, "realloc_calls")
        .unwrap()
        .call(&mut store, ())
        .unwrap();
    assert!(calls > 0, "the program's own cabi_realloc never ran");
}

fn exercise(wasm: &std::path::Path) -> (Store<Echo>, wasmtime::Instance) {
    let module = Module::from_file(&threads_engine(), wasm).unwrap();
    // The target imports a shared memory; the host creates it from the
    // import's type and hands it to the bindings. The guest's libc imports
    // WASI; nothing here calls it.
    let (mut store, instance) =
        instantiate_reactor(&module, Echo::default(), |linker, store, memory| {
            store.data_mut().memory = memory;
            bindings::add_to_linker_with_memory(
                linker,
                |e: &mut Echo| e,
                |caller| caller.data().memory.clone().map(Into::into),
            )
            .unwrap();
        });
    let memory = store.data().memory.clone().unwrap();
    let exports = bindings::Everything::new(&mut store, &instance)
        .unwrap()
        .with_memory(memory);

    // Guest to host and back: every import, every kind.
    let passed = exports.call_run(&mut store).unwrap();
    // Ok(n): all n checks of the guest passed (Err names the first failure).
    assert_eq!(passed, Ok(77));
    assert_eq!(store.data().pings, 1);
    assert!(
        store.data().counters.is_empty(),
        "the guest dropped every counter: {:?}",
        store.data().counters
    );
    assert_eq!(store.data().next, 3, "three counters were created");

    // Host to guest: arguments lowered into the guest with its cabi_realloc,
    // results lifted back (and freed with its cabi_post_*).
    for s in ["", "abc", "ünïcödé ✓"] {
        let reversed: String = s.chars().rev().collect();
        assert_eq!(
            exports.call_reverse(&mut store, s.to_string()).unwrap(),
            reversed
        );
    }
    assert_eq!(
        exports
            .call_scale(&mut store, Point { x: 3, y: -7 }, -2)
            .unwrap(),
        Point { x: -6, y: 14 }
    );
    for (shape, text) in [
        (Shape::Circle(2.5), "circle 2.5"),
        (Shape::Rect(Point { x: 4, y: 5 }), "rect 4x5"),
        (Shape::Labelled("tag".to_string()), "labelled tag"),
        (Shape::Empty, "empty"),
    ] {
        assert_eq!(exports.call_describe(&mut store, shape).unwrap(), text);
    }
    // Arguments the host allocates in the guest are the guest's to free;
    // results are freed by the guest's `cabi_post_*`, which the bindings
    // call: a thousand 8 KiB round trips leave the memory as it was.
    let shared = store.data().memory.clone().unwrap();
    let before = shared.data_size();
    let long = "ab".repeat(4096);
    for _ in 0..1000 {
        let back = exports.call_reverse(&mut store, long.clone()).unwrap();
        assert_eq!(back.len(), long.len());
    }
    assert!(
        shared.data_size() <= before + 65536,
        "memory grew from {before} to {} bytes: something leaks",
        shared.data_size()
    );
    let xs: Vec<u32> = (0..10_000).collect();
    assert_eq!(
        exports.call_total(&mut store, xs).unwrap(),
        (0..10_000u64).sum::<u64>()
    );
    assert_eq!(exports.call_total(&mut store, Vec::new()).unwrap(), 0);
    (store, instance)
}

/// Host bindings of `tests/bindgen/twins.wit`: two interfaces that each
/// define `point`, `error-code` and `echo`.
mod twins {
    wasi_threads_bindgen_rt::host!({ path: "tests/bindgen/twins.wit" });

    use test::twins::{narrow, wide};

    /// Serves both imports as the WIT documents them.
    #[derive(Default)]
    pub struct Server {
        pub memory: Option<wasmtime::SharedMemory>,
        pub calls: Vec<&'static str>,
    }

    impl narrow::Host for Server {
        fn echo(&mut self, p: narrow::Point) -> Result<narrow::Point, narrow::ErrorCode> {
            self.calls.push("narrow");
            if p.x > 100 {
                Err(narrow::ErrorCode::TooBig)
            } else {
                Ok(p)
            }
        }
    }

    impl wide::Host for Server {
        fn echo(&mut self, p: wide::Point) -> Result<wide::Point, wide::ErrorCode> {
            self.calls.push("wide");
            if p.x > 1 << 40 {
                Err(wide::ErrorCode::TooBig(p.x))
            } else {
                Ok(wide::Point {
                    label: p.label.chars().rev().collect(),
                    ..p
                })
            }
        }
    }
}

/// Two interfaces with types and functions of the same names, in one
/// world, on both Rust generators: each keeps its own layout (a `u8, u16`
/// record against a `u64, f64, string` one) both ways.
#[test]
fn same_named_types_of_two_interfaces_stay_apart_in_rust_host_and_guest_bindings() {
    use twins::test::twins::{narrow, wide};
    let wasm = build_rust_guest("twins-guest-macro", "twins_guest_macro.wasm");
    let module = Module::from_file(&threads_engine(), wasm).unwrap();
    let (mut store, instance) = instantiate_reactor(
        &module,
        twins::Server::default(),
        |linker, store, memory| {
            store.data_mut().memory = memory;
            twins::add_to_linker_with_memory(
                linker,
                |t: &mut twins::Server| t,
                |caller| caller.data().memory.clone().map(Into::into),
            )
            .unwrap();
        },
    );
    let memory = store.data().memory.clone().unwrap();
    let exports = twins::Twins::new(&mut store, &instance)
        .unwrap()
        .with_memory(memory);

    let realloc_calls = instance
        .get_typed_func::<(), u32>(&mut store, "realloc_calls")
        .unwrap();
    assert_eq!(exports.call_run(&mut store).unwrap(), Ok(()));
    assert_eq!(store.data().calls, ["narrow", "narrow", "wide", "wide"]);

    let p = narrow::Point { x: 9, y: 513 };
    assert_eq!(
        exports.call_narrow_echo(&mut store, p.clone()).unwrap(),
        Ok(p)
    );
    assert_eq!(
        exports
            .call_narrow_echo(&mut store, narrow::Point { x: 101, y: 0 })
            .unwrap(),
        Err(narrow::ErrorCode::TooBig)
    );
    let w = wide::Point {
        x: u64::from(u32::MAX) + 2,
        y: 1e300,
        label: "ünï".into(),
    };
    let back = exports
        .call_wide_echo(&mut store, w.clone())
        .unwrap()
        .unwrap();
    assert_eq!((back.x, back.y, back.label.as_str()), (w.x, w.y, "ïnü"));
    match exports
        .call_wide_echo(&mut store, wide::Point { x: u64::MAX, ..w })
        .unwrap()
    {
        Err(wide::ErrorCode::TooBig(x)) => assert_eq!(x, u64::MAX),
        other => panic!("expected too-big(u64::MAX), got {other:?}"),
    }
    // The host allocated the guest's copies of the returned labels and of
    // the label passed in with the program's own, strong `cabi_realloc`.
    assert!(
        realloc_calls.call(&mut store, ()).unwrap() >= 3,
        "the program's own cabi_realloc was not the one exported"
    );
}
