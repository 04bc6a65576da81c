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
