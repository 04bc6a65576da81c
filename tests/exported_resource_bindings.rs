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

/// Exported resources in more positions than the shared world has, as
/// `guest!` binds them, compiled natively (the intrinsics are stubs): a
/// fallible constructor, a resource without functions, borrows inside an
/// option, a tuple and a list, lists of owned handles, and the resource
/// used from a second exported interface.
#[allow(dead_code)]
mod more_guest {
    mod bindings {
        wasi_threads_macros::guest!({
            inline: "
                package test:more;

                interface files {
                    resource file {
                        constructor(name: string) -> result<file, string>;
                        name: func() -> string;
                        open: static func(name: string) -> option<file>;
                        same: func(other: borrow<file>) -> bool;
                    }
                    resource token;
                    compare: func(a: borrow<file>, b: option<borrow<file>>, c: tuple<borrow<file>, u32>) -> bool;
                    many: func(fs: list<file>) -> list<file>;
                    mint: func() -> token;
                }

                interface users {
                    use files.{file};
                    first: func(fs: list<borrow<file>>) -> option<file>;
                    hold: func(f: file);
                }

                world more {
                    export files;
                    export users;
                }
            ",
        });
    }

    use bindings::test::more::files::{self, File, FileBorrow, Token};
    use bindings::test::more::users;

    struct MyFile {
        name: String,
    }

    impl files::GuestFile for MyFile {
        fn new(name: String) -> Result<Self, String> {
            if name.is_empty() {
                Err("no name".to_string())
            } else {
                Ok(MyFile { name })
            }
        }
        fn name(&self) -> String {
            self.name.clone()
        }
        fn open(name: String) -> Option<File> {
            Some(File::new(MyFile { name }))
        }
        fn same(&self, other: FileBorrow<'_>) -> bool {
            self.name == other.get::<MyFile>().name
        }
    }

    struct MyToken;

    impl files::GuestToken for MyToken {}

    struct Exports;

    impl files::Guest for Exports {
        type File = MyFile;
        type Token = MyToken;

        fn compare(a: FileBorrow<'_>, b: Option<FileBorrow<'_>>, c: (FileBorrow<'_>, u32)) -> bool {
            let a = &a.get::<MyFile>().name;
            b.is_none_or(|b| &b.get::<MyFile>().name == a) && &c.0.get::<MyFile>().name == a
        }
        fn many(mut fs: Vec<File>) -> Vec<File> {
            for f in &mut fs {
                f.get_mut::<MyFile>().name.push('!');
            }
            fs
        }
        fn mint() -> Token {
            Token::new(MyToken)
        }
    }

    impl users::Guest for Exports {
        fn first(fs: Vec<FileBorrow<'_>>) -> Option<File> {
            let name = fs.first()?.get::<MyFile>().name.clone();
            Some(File::new(MyFile { name }))
        }
        fn hold(f: users::File) {
            let _ = f.into_inner::<MyFile>();
        }
    }

    bindings::export!(Exports with_types_in bindings);
}

// ---- C: a guest on the generated C bindings ----

/// Generates the C bindings of the exported-resources world into a
/// scratch directory and builds `tests/guests/c-exported/exported.c` on
/// them (clang-19, `-Wall -Wextra -Werror`), once for all the tests here.
fn build_c_exported_guest() -> std::path::PathBuf {
    static WASM: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    WASM.get_or_init(build_c_exported_guest_once).clone()
}

fn build_c_exported_guest_once() -> std::path::PathBuf {
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
            wm.model.imports.iter().any(|f| f.module.as_deref()
                == Some("[export]test:exported/counters")
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

/// A world whose exports take owned handles inside a record, a list and an
/// option, beside a second exported interface with a resource of the same
/// name (its C names carry its own prefix), and an imported resource whose
/// owned handles come in a list.
const C_OWNING_WIT: &str = r#"
package test:owning;

interface host-side {
    resource ticket;
    tickets: func() -> list<ticket>;
}

interface bag {
    resource item {
        constructor(value: u32);
    }
    record bundle {
        first: item,
        rest: list<item>,
        maybe: option<item>,
    }
    /// The sum of the items' values; the guest frees `b` with its `_free`
    /// function, which drops every handle in it.
    take: func(b: bundle) -> u32;
    destroyed: func() -> u32;
}

interface other {
    resource item {
        constructor();
    }
}

world owning {
    import host-side;
    export bag;
    export other;
}
"#;

/// The `_free` function of a type holding owned handles drops them: the
/// C guest frees a record holding an item, a list of items and an
/// optional item, and the host sees every handle dropped and every
/// destructor run.
#[test]
fn c_free_functions_drop_the_owned_handles_a_value_holds() {
    let dir = support::root().join("target/bindgen-c/owning-guest");
    std::fs::create_dir_all(&dir).unwrap();
    let wm = wasi_threads_abi::WitModel::parse(
        "owning.wit",
        C_OWNING_WIT,
        &wasi_threads_abi::WitOptions::default(),
    )
    .unwrap();
    let c = wasi_threads_bindgen::generate(&wm, wasi_threads_bindgen::Target::C).unwrap();
    for (file, text) in &c.files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    let header = &c.files[0].1;
    for name in [
        "__test_owning_bag_own_item_t",
        "__test_owning_other_own_item_t",
    ] {
        assert!(header.contains(&format!("}} {name};")), "{name}:\n{header}");
    }
    // The list of the imported resource's handles drops them too, with
    // the drop of imported handles.
    let source = &c.files[1].1;
    assert!(
        source.contains("    __test_owning_host_side_ticket_drop(ptr->ptr[i]);"),
        "{source}"
    );
    let wasm = support::build_c_reactor(
        &[
            &support::root().join("tests/guests/c-exported/bag.c"),
            &dir.join("owning.c"),
        ],
        &dir,
        "c-owning.wasm",
    );
    let report = wasi_threads_abi::check_module_path(&wasm, &[&wm.model]).unwrap();
    assert!(report.is_match(), "{report}");

    let mut g = exported_host::Guest::new(&wasm, "test:owning/bag", "item");
    let new = g.export::<u32, u32>("[constructor]item");
    let take = g.export::<(u32, u32, u32, u32, u32), u32>("take");
    let destroyed = g.export::<(), u32>("destroyed");
    let item = |g: &mut exported_host::Guest, value: u32| {
        let h = new.call(&mut g.store, value).unwrap();
        let rep = g.lift(h);
        g.lower(rep)
    };
    // An item, three in the list and one in the option.
    let first = item(&mut g, 1);
    let rest: Vec<u32> = [10, 20, 30].into_iter().map(|v| item(&mut g, v)).collect();
    let maybe = item(&mut g, 100);
    let bytes: Vec<u8> = rest.iter().flat_map(|h| h.to_le_bytes()).collect();
    let ptr = g.write(&bytes, 4);
    assert_eq!(g.store.data().live(), 5);
    assert_eq!(
        take.call(&mut g.store, (first, ptr, 3, 1, maybe)).unwrap(),
        161
    );
    assert_eq!(g.store.data().live(), 0, "every handle was dropped");
    assert_eq!(g.store.data().destroyed.len(), 5);
    assert_eq!(destroyed.call(&mut g.store, ()).unwrap(), 5);
    // No option, an empty list.
    let first = item(&mut g, 7);
    assert_eq!(take.call(&mut g.store, (first, 0, 0, 0, 0)).unwrap(), 7);
    assert_eq!(g.store.data().live(), 0);
    assert_eq!(destroyed.call(&mut g.store, ()).unwrap(), 6);
}

/// Two functions the C bindings would give one name (here the program's
/// destructor of `r` and an exported function `r-destructor`) refuse the
/// world, naming both, rather than give C that cannot link.
#[test]
fn c_names_two_functions_would_share_are_refused() {
    let wm = wasi_threads_abi::WitModel::parse(
        "clash.wit",
        "package test:clash;
         interface i {
             resource r { constructor(); }
             r-destructor: func(s: string);
         }
         world w { export i; }",
        &wasi_threads_abi::WitOptions::default(),
    )
    .unwrap();
    let e = wasi_threads_bindgen::generate(&wm, wasi_threads_bindgen::Target::C).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("`test:clash/i#r-destructor`")
            && text.contains("`test:clash/i#[dtor]r`")
            && text.contains("`exports_test_clash_i_r_destructor`"),
        "{text}"
    );
}

// ---- The generated host (`host!`), with wit-bindgen's guest ----

/// The counters guest whose bindings wit-bindgen generates.
fn wit_bindgen_guest() -> std::path::PathBuf {
    support::build_rust_guest("exported-wit-bindgen", "exported_wit_bindgen.wasm")
}

#[test]
fn a_wit_bindgen_guest_passes_the_reference_host() {
    exported_host::exercise(&wit_bindgen_guest());
}

mod generated {
    wasi_threads_bindgen_rt::host!({
        path: "tests/bindgen/exported-resources.wit",
        world: "exported-resources",
    });
}

use generated::ExportedResources;
use wasi_threads_bindgen_rt::{GuestResourceTable, GuestResourceView};

/// The store data of one thread of a run: its clone of the run's table of
/// the guest's handles.
struct Thread {
    resources: GuestResourceTable,
}

impl GuestResourceView for Thread {
    fn guest_resources(&self) -> &GuestResourceTable {
        &self.resources
    }
}

/// A linker with the generated intrinsics and `memory` for the module's
/// imported memory; other imports trap.
fn generated_linker(
    engine: &wasmtime::Engine,
    module: &wasmtime::Module,
    memory: &wasmtime::SharedMemory,
) -> wasmtime::Linker<Thread> {
    let mut linker = wasmtime::Linker::new(engine);
    generated::add_to_linker(&mut linker, |t: &mut Thread| t).unwrap();
    define_memory(linker, module, memory)
}

/// `linker` with `memory` for the module's imported memory; other imports
/// trap.
fn define_memory(
    mut linker: wasmtime::Linker<Thread>,
    module: &wasmtime::Module,
    memory: &wasmtime::SharedMemory,
) -> wasmtime::Linker<Thread> {
    let engine = linker.engine().clone();
    let engine = &engine;
    let store = wasmtime::Store::new(
        engine,
        Thread {
            resources: GuestResourceTable::new(),
        },
    );
    for import in module.imports() {
        if let wasmtime::ExternType::Memory(_) = import.ty() {
            linker
                .define(&store, import.module(), import.name(), memory.clone())
                .unwrap();
        }
    }
    linker.define_unknown_imports_as_traps(module).unwrap();
    linker
}

/// The shared memory a module imports.
fn imported_memory(engine: &wasmtime::Engine, module: &wasmtime::Module) -> wasmtime::SharedMemory {
    let ty = module
        .imports()
        .find_map(|i| match i.ty() {
            wasmtime::ExternType::Memory(ty) => Some(ty),
            _ => None,
        })
        .expect("the guest imports a shared memory");
    wasmtime::SharedMemory::new(engine, ty).unwrap()
}

/// An instance of `wasm` on the generated host, over a fresh shared memory,
/// with `table` as the run's table of the guest's handles.
fn instantiate_generated(
    wasm: &std::path::Path,
    table: &GuestResourceTable,
) -> (wasmtime::Store<Thread>, ExportedResources) {
    let engine = support::threads_engine();
    let module = wasmtime::Module::from_file(&engine, wasm).unwrap();
    let memory = imported_memory(&engine, &module);
    let linker = generated_linker(&engine, &module, &memory);
    let mut store = wasmtime::Store::new(
        &engine,
        Thread {
            resources: table.clone(),
        },
    );
    let instance = linker.instantiate(&mut store, &module).unwrap();
    if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
        init.call(&mut store, ()).unwrap();
    }
    let world = ExportedResources::new(&mut store, &instance)
        .unwrap()
        .with_memory(memory);
    (store, world)
}

#[test]
fn the_generated_host_creates_calls_lends_hands_back_and_drops_counters() {
    host_scenario(&wit_bindgen_guest());
}

/// The differential test of exported resources: the guest on the
/// generated Rust guest bindings and the guest on the generated C bindings
/// go through the same scenario on the generated host as wit-bindgen's.
#[test]
fn generated_rust_and_c_guests_export_counters_to_the_generated_host() {
    host_scenario(&rust_guest_macro());
    host_scenario(&build_c_exported_guest());
}

/// Counters created, called, lent (alone and in a list), handed back,
/// dropped by the guest and by the host, through the generated host: each
/// destructor runs once, no handle is left, representations are reused.
fn host_scenario(wasm: &std::path::Path) {
    let table = GuestResourceTable::new();
    let (mut store, world) = instantiate_generated(wasm, &table);
    let counters = world.counters_counter();

    // Created: the handle the constructor returns leaves the guest's table.
    let a = counters.call_constructor(&mut store, 5).unwrap();
    assert_eq!(table.len(), 0, "the returned handle left the table");
    // Called through borrows: the guest gets the representation.
    counters.call_add(&mut store, a.borrow(), 3).unwrap();
    assert_eq!(counters.call_get(&mut store, a.borrow()).unwrap(), 8);
    assert_eq!(
        counters.call_describe(&mut store, a.borrow()).unwrap(),
        "counter 8"
    );
    // Lent in a list.
    let b = counters.call_constructor(&mut store, 10).unwrap();
    assert_ne!(a.rep(), b.rep());
    assert_eq!(
        world
            .call_counters_total(&mut store, vec![a.borrow(), b.borrow()])
            .unwrap(),
        18
    );
    // Handed back: `merge` takes `b` and drops it; its destructor runs.
    let m = counters.call_merge(&mut store, a.borrow(), b).unwrap();
    assert_eq!(counters.call_get(&mut store, m.borrow()).unwrap(), 18);
    assert_eq!(world.call_counters_destroyed(&mut store).unwrap(), 1);
    assert_eq!(table.len(), 0);
    // Handed back through `finish`, which drops it.
    assert_eq!(world.call_counters_finish(&mut store, m).unwrap(), 18);
    assert_eq!(world.call_counters_destroyed(&mut store).unwrap(), 2);
    // Dropped by the host: the destructor runs.
    a.resource_drop(&mut store).unwrap();
    assert_eq!(world.call_counters_destroyed(&mut store).unwrap(), 3);
    assert_eq!(table.len(), 0, "no handle is left");

    // The same resource through `use` from another interface (`tally`):
    // made, lent, handed back and dropped there.
    let t = world.call_tally_make(&mut store, 40).unwrap();
    counters.call_add(&mut store, t.borrow(), 2).unwrap();
    assert_eq!(world.call_tally_peek(&mut store, t.borrow()).unwrap(), 42);
    assert_eq!(table.len(), 0);
    assert_eq!(world.call_tally_consume(&mut store, t).unwrap(), 42);
    assert_eq!(world.call_counters_destroyed(&mut store).unwrap(), 4);
    assert_eq!(table.len(), 0);

    // Many rounds leave no handle and run every destructor; the guest's
    // memory is reused (no representation leaks).
    let mut reps = std::collections::BTreeSet::new();
    for i in 0..200 {
        let c = counters.call_constructor(&mut store, i).unwrap();
        reps.insert(c.rep());
        if i % 2 == 0 {
            assert_eq!(world.call_counters_finish(&mut store, c).unwrap(), i);
        } else {
            c.resource_drop(&mut store).unwrap();
        }
    }
    assert_eq!(world.call_counters_destroyed(&mut store).unwrap(), 204);
    assert_eq!(table.len(), 0);
    assert!(reps.len() < 10, "representations are reused: {reps:?}");
}

#[test]
fn a_counter_made_in_one_thread_is_handed_back_in_another() {
    // wasi-threads instantiates the module once per thread over one shared
    // memory; the stores share the table.
    let engine = support::threads_engine();
    let module = wasmtime::Module::from_file(&engine, wit_bindgen_guest()).unwrap();
    let memory = imported_memory(&engine, &module);
    let linker = generated_linker(&engine, &module, &memory);
    let table = GuestResourceTable::new();
    let pre =
        generated::ExportedResourcesPre::new(linker.instantiate_pre(&module).unwrap()).unwrap();
    let mut main = wasmtime::Store::new(
        &engine,
        Thread {
            resources: table.clone(),
        },
    );
    let first = pre
        .instantiate(&mut main)
        .unwrap()
        .with_memory(memory.clone());
    if let Ok(init) = first
        .instance()
        .get_typed_func::<(), ()>(&mut main, "_initialize")
    {
        init.call(&mut main, ()).unwrap();
    }
    let mut other = wasmtime::Store::new(
        &engine,
        Thread {
            resources: table.clone(),
        },
    );
    let second = pre
        .instantiate(&mut other)
        .unwrap()
        .with_memory(memory.clone());

    let c = first
        .counters_counter()
        .call_constructor(&mut main, 7)
        .unwrap();
    first
        .counters_counter()
        .call_add(&mut main, c.borrow(), 1)
        .unwrap();
    assert_eq!(
        second
            .counters_counter()
            .call_get(&mut other, c.borrow())
            .unwrap(),
        8
    );
    // The second thread's guest drops it: its own `[dtor]` runs.
    assert_eq!(second.call_counters_finish(&mut other, c).unwrap(), 8);
    assert_eq!(first.call_counters_destroyed(&mut main).unwrap(), 1);
    assert_eq!(table.len(), 0);
}

/// A guest of the intrinsics alone: `new`, `rep` and `drop` call them;
/// its `[dtor]` adds the representation it gets to a sum in memory.
const INTRINSICS_GUEST: &str = r#"(module
  (import "env" "memory" (memory 1 1 shared))
  (import "[export]test:exported/counters" "[resource-new]counter" (func $new (param i32) (result i32)))
  (import "[export]test:exported/counters" "[resource-rep]counter" (func $rep (param i32) (result i32)))
  (import "[export]test:exported/counters" "[resource-drop]counter" (func $drop (param i32)))
  (func (export "new") (param i32) (result i32) (call $new (local.get 0)))
  (func (export "rep") (param i32) (result i32) (call $rep (local.get 0)))
  (func (export "drop") (param i32) (call $drop (local.get 0)))
  (func (export "dtor-sum") (result i32) (i32.atomic.load (i32.const 0)))
  (func (export "test:exported/counters#[dtor]counter") (param i32)
    (drop (i32.atomic.rmw.add (i32.const 0) (local.get 0)))))"#;

/// An instance of [`INTRINSICS_GUEST`] over `memory`, with `table`.
fn intrinsics_guest(
    engine: &wasmtime::Engine,
    memory: &wasmtime::SharedMemory,
    table: &GuestResourceTable,
) -> (wasmtime::Store<Thread>, wasmtime::Instance) {
    let module = wasmtime::Module::new(engine, INTRINSICS_GUEST).unwrap();
    let linker = generated_linker(engine, &module, memory);
    let mut store = wasmtime::Store::new(
        engine,
        Thread {
            resources: table.clone(),
        },
    );
    let instance = linker.instantiate(&mut store, &module).unwrap();
    (store, instance)
}

fn call<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
    store: &mut wasmtime::Store<Thread>,
    instance: &wasmtime::Instance,
    name: &str,
    params: P,
) -> wasmtime::Result<R> {
    instance
        .get_typed_func::<P, R>(&mut *store, name)
        .unwrap()
        .call(&mut *store, params)
}

#[test]
fn a_bad_handle_traps_naming_the_intrinsic_and_the_handle() {
    let engine = support::threads_engine();
    let memory = wasmtime::SharedMemory::new(&engine, wasmtime::MemoryType::shared(1, 1)).unwrap();
    let table = GuestResourceTable::new();
    let (mut store, instance) = intrinsics_guest(&engine, &memory, &table);

    let e = call::<i32, i32>(&mut store, &instance, "rep", 7).unwrap_err();
    let message = format!("{e:?}");
    assert!(
        message
            .contains("`[export]test:exported/counters` `[resource-rep]counter`: unknown handle 7"),
        "{message}"
    );
    // Handle 0 is never given out.
    let e = call::<i32, i32>(&mut store, &instance, "rep", 0).unwrap_err();
    assert!(format!("{e:?}").contains("unknown handle 0"), "{e:?}");
    // A handle the guest dropped is gone; dropping it again traps too.
    let h: i32 = call(&mut store, &instance, "new", 40).unwrap();
    assert_ne!(h, 0);
    assert_eq!(
        call::<i32, i32>(&mut store, &instance, "rep", h).unwrap(),
        40
    );
    call::<i32, ()>(&mut store, &instance, "drop", h).unwrap();
    assert_eq!(
        call::<(), i32>(&mut store, &instance, "dtor-sum", ()).unwrap(),
        40
    );
    let e = call::<i32, i32>(&mut store, &instance, "rep", h).unwrap_err();
    assert!(
        format!("{e:?}").contains(&format!("`[resource-rep]counter`: unknown handle {h}")),
        "{e:?}"
    );
    let e = call::<i32, ()>(&mut store, &instance, "drop", h).unwrap_err();
    assert!(
        format!("{e:?}").contains(&format!("`[resource-drop]counter`: unknown handle {h}")),
        "{e:?}"
    );
    assert_eq!(
        call::<(), i32>(&mut store, &instance, "dtor-sum", ()).unwrap(),
        40,
        "no destructor ran for the bad drop"
    );
    assert!(table.is_empty());
}

#[test]
fn handles_are_shared_by_the_instances_of_a_run() {
    let engine = support::threads_engine();
    let memory = wasmtime::SharedMemory::new(&engine, wasmtime::MemoryType::shared(1, 1)).unwrap();
    let table = GuestResourceTable::new();
    let (mut one, first) = intrinsics_guest(&engine, &memory, &table);
    let (mut two, second) = intrinsics_guest(&engine, &memory, &table);
    let h: i32 = call(&mut one, &first, "new", 5).unwrap();
    assert_eq!(call::<i32, i32>(&mut two, &second, "rep", h).unwrap(), 5);
    call::<i32, ()>(&mut two, &second, "drop", h).unwrap();
    assert_eq!(
        call::<(), i32>(&mut one, &first, "dtor-sum", ()).unwrap(),
        5
    );
    assert!(call::<i32, i32>(&mut one, &first, "rep", h).is_err());
}

#[test]
fn a_guest_cannot_grow_the_table_past_its_limit() {
    let engine = support::threads_engine();
    let memory = wasmtime::SharedMemory::new(&engine, wasmtime::MemoryType::shared(1, 1)).unwrap();
    let table = GuestResourceTable::with_limit(100);
    let (mut store, instance) = intrinsics_guest(&engine, &memory, &table);
    let mut handles = Vec::new();
    for rep in 0..100 {
        handles.push(call::<i32, i32>(&mut store, &instance, "new", rep).unwrap());
    }
    let e = call::<i32, i32>(&mut store, &instance, "new", 100).unwrap_err();
    assert!(
        format!("{e:?}").contains("`[resource-new]counter`: the guest already holds 100 handles"),
        "{e:?}"
    );
    // A dropped handle makes room, and its number is given out again.
    call::<i32, ()>(&mut store, &instance, "drop", handles[10]).unwrap();
    assert_eq!(
        call::<i32, i32>(&mut store, &instance, "new", 7).unwrap(),
        handles[10]
    );
    assert_eq!(table.len(), 100);
}

/// The same world with async exports: the guest's `[resource-drop]` runs
/// the destructor with `call_async`.
mod async_generated {
    wasi_threads_bindgen_rt::host!({
        path: "tests/bindgen/exported-resources.wit",
        world: "exported-resources",
        exports: { default: async },
    });
}

#[test]
fn async_exports_hand_back_and_drop_counters() {
    let engine = support::threads_engine();
    let module = wasmtime::Module::from_file(&engine, wit_bindgen_guest()).unwrap();
    let memory = imported_memory(&engine, &module);
    let mut linker = wasmtime::Linker::new(&engine);
    async_generated::add_to_linker(&mut linker, |t: &mut Thread| t).unwrap();
    let linker = define_memory(linker, &module, &memory);
    let table = GuestResourceTable::new();
    let mut store = wasmtime::Store::new(
        &engine,
        Thread {
            resources: table.clone(),
        },
    );
    let pre = async_generated::ExportedResourcesPre::new(linker.instantiate_pre(&module).unwrap())
        .unwrap();
    support::block_on(async {
        let world = pre
            .instantiate_async(&mut store)
            .await
            .unwrap()
            .with_memory(memory.clone());
        if let Ok(init) = world
            .instance()
            .get_typed_func::<(), ()>(&mut store, "_initialize")
        {
            init.call_async(&mut store, ()).await.unwrap();
        }
        let counters = world.counters_counter();
        let a = counters.call_constructor(&mut store, 2).await.unwrap();
        let b = counters.call_constructor(&mut store, 3).await.unwrap();
        let m = counters
            .call_merge(&mut store, a.borrow(), b)
            .await
            .unwrap();
        assert_eq!(
            counters
                .call_describe(&mut store, m.borrow())
                .await
                .unwrap(),
            "counter 5"
        );
        assert_eq!(world.call_counters_finish(&mut store, m).await.unwrap(), 5);
        a.resource_drop_async(&mut store).await.unwrap();
        assert_eq!(world.call_counters_destroyed(&mut store).await.unwrap(), 3);
    });
    assert!(table.is_empty());
}

/// Owned resources inside a record, an option and a list, and a lent one
/// inside an option.
mod nested {
    wasi_threads_bindgen_rt::host!({
        inline: "
            package t:nest;
            interface bag {
                resource counter {
                    constructor(start: u32);
                }
                record pair { a: counter, b: option<counter> }
                make-pair: func() -> pair;
                take: func(cs: list<counter>) -> u32;
                peek: func(c: option<borrow<counter>>) -> u32;
            }
            world nested {
                export bag;
            }
        ",
    });
}

#[test]
fn owned_counters_cross_inside_records_options_and_lists() {
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(
        &engine,
        r#"(module
          (import "[export]t:nest/bag" "[resource-new]counter" (func $new (param i32) (result i32)))
          (import "[export]t:nest/bag" "[resource-rep]counter" (func $rep (param i32) (result i32)))
          (import "[export]t:nest/bag" "[resource-drop]counter" (func $drop (param i32)))
          (memory (export "memory") 1)
          (global $heap (mut i32) (i32.const 1024))
          (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
            (local $p i32)
            (local.set $p (global.get $heap))
            (global.set $heap (i32.add (global.get $heap) (local.get 3)))
            (local.get $p))
          ;; The representation is the starting count.
          (func (export "t:nest/bag#[constructor]counter") (param i32) (result i32)
            (call $new (local.get 0)))
          ;; pair { a: 1, b: some(2) }: a at 0, b's case at 4, its payload at 8.
          (func (export "t:nest/bag#make-pair") (result i32)
            (i32.store (i32.const 64) (call $new (i32.const 1)))
            (i32.store8 (i32.const 68) (i32.const 1))
            (i32.store (i32.const 72) (call $new (i32.const 2)))
            (i32.const 64))
          ;; The sum of the representations; every counter is dropped.
          (func (export "t:nest/bag#take") (param $p i32) (param $n i32) (result i32)
            (local $sum i32) (local $h i32)
            (block $done (loop $next
              (br_if $done (i32.eqz (local.get $n)))
              (local.set $h (i32.load (local.get $p)))
              (local.set $sum (i32.add (local.get $sum) (call $rep (local.get $h))))
              (call $drop (local.get $h))
              (local.set $p (i32.add (local.get $p) (i32.const 4)))
              (local.set $n (i32.sub (local.get $n) (i32.const 1)))
              (br $next)))
            (local.get $sum))
          (func (export "t:nest/bag#peek") (param $case i32) (param $rep i32) (result i32)
            (select (local.get $rep) (i32.const 1000) (local.get $case)))
          ;; The sum of the representations destroyed.
          (func (export "t:nest/bag#[dtor]counter") (param i32)
            (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (local.get 0))))
          (func (export "destroyed") (result i32) (i32.load (i32.const 0))))"#,
    )
    .unwrap();
    let mut linker = wasmtime::Linker::new(&engine);
    nested::add_to_linker(&mut linker, |t: &mut Thread| t).unwrap();
    let table = GuestResourceTable::new();
    let mut store = wasmtime::Store::new(
        &engine,
        Thread {
            resources: table.clone(),
        },
    );
    let world = nested::Nested::instantiate(&mut store, &module, &linker).unwrap();
    let destroyed = world
        .instance()
        .get_typed_func::<(), i32>(&mut store, "destroyed")
        .unwrap();

    let nested::t::nest::bag::Pair { a, b } = world.call_bag_make_pair(&mut store).unwrap();
    let b = b.expect("the guest returned `some`");
    assert_eq!((a.rep(), b.rep()), (1, 2));
    assert!(table.is_empty(), "both handles left the guest's table");
    assert_eq!(
        world.call_bag_peek(&mut store, Some(a.borrow())).unwrap(),
        1
    );
    assert_eq!(world.call_bag_peek(&mut store, None).unwrap(), 1000);
    assert_eq!(world.call_bag_take(&mut store, vec![a, b]).unwrap(), 3);
    assert_eq!(destroyed.call(&mut store, ()).unwrap(), 3);
    let c = world
        .bag_counter()
        .call_constructor(&mut store, 40)
        .unwrap();
    c.resource_drop(&mut store).unwrap();
    assert_eq!(destroyed.call(&mut store, ()).unwrap(), 43);
    assert!(table.is_empty());
}

/// A generator of operations: xorshift64, seeded, so a failure repeats.
struct Ops(u64);

impl Ops {
    fn next(&mut self, below: u32) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % u64::from(below)) as u32
    }
}

#[test]
fn random_operations_agree_with_a_model_of_the_counters() {
    let table = GuestResourceTable::with_limit(4);
    let (mut store, world) = instantiate_generated(&wit_bindgen_guest(), &table);
    let counters = world.counters_counter();

    // The model: each live counter's count, and how many were destroyed.
    let mut live: Vec<(wasi_threads_bindgen_rt::GuestResource<_>, u32)> = Vec::new();
    let mut destroyed = 0u32;
    let mut ops = Ops(0x9e37_79b9_7f4a_7c15);
    for step in 0..3000 {
        let op = if live.is_empty() { 0 } else { ops.next(8) };
        let i = if live.is_empty() {
            0
        } else {
            ops.next(live.len() as u32) as usize
        };
        match op {
            0 => {
                let start = ops.next(1000);
                live.push((counters.call_constructor(&mut store, start).unwrap(), start));
            }
            1 => {
                let n = ops.next(1000);
                counters
                    .call_add(&mut store, live[i].0.borrow(), n)
                    .unwrap();
                live[i].1 = live[i].1.wrapping_add(n);
            }
            2 => assert_eq!(
                counters.call_get(&mut store, live[i].0.borrow()).unwrap(),
                live[i].1,
                "step {step}"
            ),
            3 => assert_eq!(
                counters
                    .call_describe(&mut store, live[i].0.borrow())
                    .unwrap(),
                format!("counter {}", live[i].1),
                "step {step}"
            ),
            4 => {
                let sum = live.iter().fold(0u32, |s, (_, n)| s.wrapping_add(*n));
                let borrows = live.iter().map(|(c, _)| c.borrow()).collect();
                assert_eq!(
                    world.call_counters_total(&mut store, borrows).unwrap(),
                    sum,
                    "step {step}"
                );
            }
            5 if live.len() >= 2 => {
                // `a` is lent, `b` (another counter) handed back.
                let j = (i + 1 + ops.next(live.len() as u32 - 1) as usize) % live.len();
                let (b, nb) = live.swap_remove(j);
                let a = if i == live.len() { j } else { i };
                let m = counters
                    .call_merge(&mut store, live[a].0.borrow(), b)
                    .unwrap();
                let sum = live[a].1.wrapping_add(nb);
                live.push((m, sum));
                destroyed += 1;
            }
            6 => {
                let (c, n) = live.swap_remove(i);
                assert_eq!(world.call_counters_finish(&mut store, c).unwrap(), n);
                destroyed += 1;
            }
            _ => {
                let (c, _) = live.swap_remove(i);
                c.resource_drop(&mut store).unwrap();
                destroyed += 1;
            }
        }
        assert_eq!(
            world.call_counters_destroyed(&mut store).unwrap(),
            destroyed,
            "step {step}"
        );
        assert!(table.is_empty(), "step {step}: a handle was left behind");
    }
    assert!(destroyed > 500, "the sequence exercised drops: {destroyed}");
}

/// Two exported interfaces of one name (`counters` of two packages), each
/// with a resource `counter` and a function `count`: the world's struct
/// names them by their whole paths, so their fields and accessors stay
/// apart.
mod same_named_exports {
    wasi_threads_bindgen_rt::host!({
        inline: "
            package t:main;

            package t:other {
                interface counters {
                    resource counter { constructor(); }
                    count: func() -> u32;
                }
            }

            interface counters {
                resource counter { constructor(); }
                count: func() -> u32;
            }

            world two {
                export counters;
                export t:other/counters;
            }
        ",
    });
}

/// Compiles only if each interface has its own fields, accessor and
/// `call_` methods (with the last name alone, the world's struct had every
/// field twice).
#[test]
fn exported_interfaces_of_one_name_keep_their_own_accessors() {
    type Count = fn(
        &same_named_exports::Two,
        wasmtime::StoreContextMut<'_, Thread>,
    ) -> wasmtime::Result<u32>;
    let main: Count = |w, s| w.call_t_main_counters_count(s);
    let other: Count = |w, s| w.call_t_other_counters_count(s);
    let accessors = |w: &same_named_exports::Two| {
        let _ = w.t_main_counters_counter();
        let _ = w.t_other_counters_counter();
    };
    let _ = (main, other, accessors);
}

/// With exported resources, some async exports and some blocking ones
/// cannot work together (the async `[resource-drop]` makes wasmtime refuse
/// blocking calls into the instance): the generator says so instead.
#[test]
fn exports_partly_async_beside_exported_resources_are_refused() {
    use wasi_threads_bindgen::{FunctionConfig, HostOptions};
    let wit = wasi_threads_abi::WitModel::load(
        &support::root().join("tests/bindgen/exported-resources.wit"),
        &wasi_threads_abi::WitOptions::default(),
    )
    .unwrap();
    let async_ = wasi_threads_bindgen::Flags {
        async_: true,
        ..Default::default()
    };
    let partly = HostOptions {
        exports: FunctionConfig {
            rules: vec![("test:exported/counters.finish".to_string(), async_)],
            default: Default::default(),
        },
        ..Default::default()
    };
    let Err(error) = wasi_threads_bindgen::generate_host(&wit, &partly) else {
        panic!("exports partly async were accepted");
    };
    assert!(error.to_string().contains("then all must be"), "{error}");
    let all = HostOptions {
        exports: FunctionConfig {
            rules: Vec::new(),
            default: async_,
        },
        ..Default::default()
    };
    assert!(wasi_threads_bindgen::generate_host(&wit, &all).is_ok());
}

/// A borrow lent after its counter was dropped, or handed back to the
/// guest, is refused with an error instead of giving the guest a stale
/// representation (the canonical ABI traps on a borrow of a handle that is
/// gone).
#[test]
fn a_borrow_of_a_dropped_or_handed_back_counter_is_refused() {
    let table = GuestResourceTable::new();
    let (mut store, world) = instantiate_generated(&wit_bindgen_guest(), &table);
    let counters = world.counters_counter();

    let a = counters.call_constructor(&mut store, 1).unwrap();
    let lent = a.borrow();
    assert_eq!(counters.call_get(&mut store, lent.clone()).unwrap(), 1);
    a.resource_drop(&mut store).unwrap();
    let error = counters.call_get(&mut store, lent).unwrap_err();
    assert!(
        format!("{error:?}").contains("whose resource was dropped or handed back"),
        "{error:?}"
    );

    let b = counters.call_constructor(&mut store, 2).unwrap();
    let lent = b.borrow();
    assert_eq!(world.call_counters_finish(&mut store, b).unwrap(), 2);
    let error = world
        .call_counters_total(&mut store, vec![lent])
        .unwrap_err();
    assert!(
        format!("{error:?}").contains("whose resource was dropped or handed back"),
        "{error:?}"
    );
    assert_eq!(world.call_counters_destroyed(&mut store).unwrap(), 2);
    assert_eq!(table.len(), 0);
}
