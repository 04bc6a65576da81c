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
