//! Exported resources in the model: the `[export]` intrinsics a guest
//! imports (`[resource-new]`, `[resource-rep]`, `[resource-drop]`) and the
//! `[dtor]` it exports are listed with the names and core signatures
//! `wit_component::dummy_module` gives for the same world (an independent
//! computation), a compiled module of that world checks clean against the
//! model, and a `borrow` of the guest's own resource reaches it as a rep,
//! at any depth of the parameters.

mod support;

use support::{module_functions, Signatures};

use wasi_threads_abi::{
    check_module, CompiledModule, Intrinsic, LayoutKind, Meaning, Ownership, WitItem, WitModel,
    WitOptions,
};
use wit_parser::{LiftLowerAbi, ManglingAndAbi};

const WIT: &str = r#"
package test:res;

interface host-side {
    resource counter {
        constructor();
        get: func() -> u32;
    }
}

interface store {
    use host-side.{counter};

    resource blob {
        constructor(bytes: list<u8>);
        size: func() -> u32;
        merge: static func(a: borrow<blob>, b: own<blob>) -> blob;
        tally: func(c: borrow<counter>) -> u32;
    }
    /// Same name as a resource of another exported interface.
    resource cursor {
        constructor(of: borrow<blob>);
        next: func() -> option<u8>;
    }

    record pair {
        left: borrow<blob>,
        right: own<blob>,
    }
    weigh: func(p: pair, many: list<borrow<blob>>) -> u32;
}

interface other {
    resource cursor {
        constructor();
    }
}

world guest {
    import host-side;
    export store;
    export other;
}
"#;

fn model() -> WitModel {
    WitModel::parse("res.wit", WIT, &WitOptions::default()).unwrap()
}

fn dummy(wm: &WitModel) -> Vec<u8> {
    wit_component::dummy_module(
        &wm.resolve,
        wm.world.unwrap(),
        ManglingAndAbi::Legacy(LiftLowerAbi::Sync),
    )
}

#[test]
fn intrinsics_and_exports_have_dummy_module_names_and_signatures() {
    let wm = model();
    let expected: Signatures = module_functions(&dummy(&wm))
        .into_iter()
        // The dummy module also exports what every guest has beside the
        // world: its allocator, post-return functions and initializer.
        .filter(|((m, n), _)| {
            !(m.is_empty()
                && (n.starts_with("cabi_post_")
                    || n.starts_with("cabi_realloc")
                    || n == "_initialize"))
        })
        .collect();
    let ty = |t: &[wasi_threads_abi::ValType]| t.iter().map(|v| v.to_string()).collect::<Vec<_>>();
    let got: Signatures = wm
        .model
        .imports
        .iter()
        .map(|f| {
            (
                (f.module.clone().unwrap(), f.name.clone()),
                (ty(&f.param_types()), ty(&f.result_types())),
            )
        })
        .chain(wm.model.exports.iter().map(|f| {
            (
                (String::new(), f.name.clone()),
                (ty(&f.param_types()), ty(&f.result_types())),
            )
        }))
        .collect();
    assert_eq!(got, expected);
    // Three resources exported (two named `cursor`), each with three
    // intrinsics and a destructor.
    let intrinsics = |which: Intrinsic| {
        wm.import_items
            .iter()
            .chain(&wm.export_items)
            .filter(
                |i| matches!(i, WitItem::ExportedResource { intrinsic, .. } if *intrinsic == which),
            )
            .count()
    };
    for which in [
        Intrinsic::New,
        Intrinsic::Rep,
        Intrinsic::Drop,
        Intrinsic::Dtor,
    ] {
        assert_eq!(intrinsics(which), 3, "{which:?}");
    }
    assert!(got.contains_key(&("[export]test:res/store".into(), "[resource-new]blob".into())));
    assert!(got.contains_key(&(String::new(), "test:res/other#[dtor]cursor".into())));
}

#[test]
fn a_module_of_the_world_checks_clean_against_the_model() {
    let wm = model();
    let wasm = dummy(&wm);
    let module = CompiledModule::read(&wasm, "dummy.wasm").unwrap();
    let report = check_module(&module, &[&wm.model]);
    assert!(report.is_match(), "{report}");
    assert!(report.uncovered.is_empty(), "{report}");
    // Every import of the module, the intrinsics included, is the model's.
    assert_eq!(report.imports_matched, wm.model.imports.len(), "{report}");

    // A destructor of the wrong type is found.
    let mut bad = wm.model.clone();
    let dtor = bad
        .exports
        .iter_mut()
        .find(|f| f.name.ends_with("#[dtor]blob"))
        .unwrap();
    dtor.params[0].ty = wasi_threads_abi::ValType::I64;
    let report = check_module(&module, &[&bad]);
    assert!(!report.is_match(), "{report}");
    assert!(
        report.findings.iter().any(|f| f.contains("[dtor]blob")),
        "{report}"
    );
}

/// The meaning of each core value of an export, by label.
fn meanings(wm: &WitModel, export: &str) -> Vec<(String, Meaning)> {
    let f = wm
        .model
        .exports
        .iter()
        .find(|f| f.name == export)
        .unwrap_or_else(|| panic!("no export {export}"));
    f.params
        .iter()
        .map(|p| (p.label.clone(), p.meaning.clone()))
        .collect()
}

fn ownership(m: &Meaning) -> Option<Ownership> {
    match m {
        Meaning::Handle(h) => h.ownership,
        _ => None,
    }
}

#[test]
fn a_borrow_of_the_guests_own_resource_is_its_rep() {
    let wm = model();
    // `self` of a method, and a borrow parameter: reps. An own parameter
    // stays a handle (the guest gets it into its table and asks for the
    // rep), and so does a borrow of the host's resource.
    let merge = meanings(&wm, "test:res/store#[static]blob.merge");
    assert_eq!(ownership(&merge[0].1), Some(Ownership::Rep));
    assert_eq!(ownership(&merge[1].1), Some(Ownership::Own));
    let tally = meanings(&wm, "test:res/store#[method]blob.tally");
    assert_eq!(ownership(&tally[0].1), Some(Ownership::Rep));
    assert_eq!(ownership(&tally[1].1), Some(Ownership::Borrow));
    let cursor = meanings(&wm, "test:res/store#[constructor]cursor");
    assert_eq!(ownership(&cursor[0].1), Some(Ownership::Rep));

    // Inside a record and a list: the borrow is a rep too.
    let weigh = meanings(&wm, "test:res/store#weigh");
    assert_eq!(ownership(&weigh[0].1), Some(Ownership::Rep), "{weigh:?}");
    assert_eq!(ownership(&weigh[1].1), Some(Ownership::Own), "{weigh:?}");
    match &weigh[2].1 {
        Meaning::Elements { element, .. } => match &element.kind {
            LayoutKind::Handle(h) => assert_eq!(h.ownership, Some(Ownership::Rep)),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }

    // Imports are never reps: the host's `counter` methods take handles.
    for f in &wm.model.imports {
        if f.serves_exports() {
            continue;
        }
        for p in &f.params {
            assert_ne!(ownership(&p.meaning), Some(Ownership::Rep), "{}", f.name);
        }
    }
    // The intrinsics: new takes a rep and gives an own handle; rep the
    // reverse; the destructor takes a rep.
    let import = |name: &str| {
        wm.model
            .imports
            .iter()
            .find(|f| f.module.as_deref() == Some("[export]test:res/store") && f.name == name)
            .unwrap()
    };
    let new = import("[resource-new]blob");
    assert_eq!(ownership(&new.params[0].meaning), Some(Ownership::Rep));
    assert_eq!(ownership(&new.results[0].meaning), Some(Ownership::Own));
    let rep = import("[resource-rep]blob");
    assert_eq!(ownership(&rep.params[0].meaning), Some(Ownership::Own));
    assert_eq!(ownership(&rep.results[0].meaning), Some(Ownership::Rep));
    let dtor = meanings(&wm, "test:res/store#[dtor]blob");
    assert_eq!(ownership(&dtor[0].1), Some(Ownership::Rep));
}

#[test]
fn witx_leaves_the_intrinsics_out_and_the_check_ignores_them() {
    let wm = model();
    let derivation = wasi_threads_witx::derive(&wm).unwrap();
    assert!(!derivation.text.contains("[export]"), "{}", derivation.text);
    assert!(
        !derivation.text.contains("resource-new"),
        "{}",
        derivation.text
    );
    // The host side's interface still derives.
    assert!(derivation.text.contains("counter"), "{}", derivation.text);
}
