//! Every type kind through the derivation: each corpus function either
//! derives to WITX whose signature, computed by witx's own ABI, equals the
//! canonical ABI computed by wit-parser, or is rejected with its reason.

mod support;

use std::collections::BTreeMap;

use support::{corpus, golden::assert_golden, root};
use wasi_threads_abi::{ValType, WitModel, WitOptions};
use wit_parser::abi::AbiVariant;

const INTERFACES: [&str; 6] = [
    "scalars",
    "sequences",
    "compound",
    "resources",
    "wide",
    "async-values",
];

fn model(interface: &str) -> WitModel {
    let opts = WitOptions {
        interface: Some(interface.to_string()),
        ..Default::default()
    };
    WitModel::parse("corpus.wit", &corpus::wit(), &opts).unwrap()
}

/// Re-parses the derived WITX with the witx crate and compares each
/// function's `wasm_signature` with `Resolve::wasm_signature`.
fn assert_signatures_agree(wit: &WitModel, text: &str, derived: &[String]) {
    let doc =
        witx::parse(text).unwrap_or_else(|e| panic!("derived WITX does not parse: {e:?}\n{text}"));
    let witx_funcs: BTreeMap<String, (Vec<ValType>, Vec<ValType>)> = doc
        .modules()
        .flat_map(|m| m.funcs().collect::<Vec<_>>())
        .map(|f| {
            let (p, r) = f.wasm_signature();
            (
                f.name.as_str().to_string(),
                (
                    p.into_iter().map(ValType::from).collect(),
                    r.into_iter().map(ValType::from).collect(),
                ),
            )
        })
        .collect();
    assert_eq!(witx_funcs.len(), derived.len());
    for (core, item) in wit.model.imports.iter().zip(&wit.import_items) {
        if !derived.contains(&core.source_name) {
            continue;
        }
        let (params, results): (Vec<ValType>, Vec<ValType>) = match item {
            wasi_threads_abi::WitItem::Function { func, .. } => {
                let sig = wit.resolve.wasm_signature(AbiVariant::GuestImport, func);
                (
                    sig.params.into_iter().map(ValType::from).collect(),
                    sig.results.into_iter().map(ValType::from).collect(),
                )
            }
            wasi_threads_abi::WitItem::ResourceDrop { .. } => (vec![ValType::I32], vec![]),
            wasi_threads_abi::WitItem::ExportedResource { .. } => continue,
        };
        let got = witx_funcs
            .get(&core.name)
            .unwrap_or_else(|| panic!("`{}` missing from the derived WITX", core.name));
        assert_eq!(
            got,
            &(params, results),
            "signature of `{}`",
            core.source_name
        );
    }
}

#[test]
fn every_corpus_function_derives_or_is_rejected_with_a_reason() {
    let mut faithful = Vec::new();
    let mut lowered = Vec::new();
    let mut rejected = Vec::new();
    for interface in INTERFACES {
        let wit = model(interface);
        let d = wasi_threads_witx::derive(&wit).unwrap();
        assert_eq!(
            d.functions.len() + d.failures.len(),
            wit.model.imports.len(),
            "every function of `{interface}` is accounted for"
        );
        let names: Vec<String> = d.functions.iter().map(|f| f.name.clone()).collect();
        assert_signatures_agree(&wit, &d.text, &names);
        assert_golden(
            &root().join(format!("tests/golden/corpus/{interface}.witx")),
            &d.text,
        );
        for f in &d.functions {
            if f.is_faithful() {
                faithful.push(f.name.clone());
            } else {
                lowered.push(f.name.clone());
                assert!(
                    d.text.contains(&format!(";; Lowered: {}.", f.lowerings[0])),
                    "`{}` says how it was lowered",
                    f.name
                );
            }
        }
        rejected.extend(d.failures.iter().map(|f| f.to_string()));
    }

    let scalars = [
        "u8", "s8", "u16", "s16", "u32", "s32", "u64", "s64", "f32", "f64", "char",
    ];
    for t in scalars {
        assert!(
            faithful.contains(&format!("echo-{t}")),
            "echo-{t} is type-faithful"
        );
    }
    for name in [
        "nothing",
        "take-string",
        "take-bytes",
        "take-points",
        "take-strings",
        "take-flags8",
        "take-flags16",
        "take-flags32",
        "take-alias",
        "take-bools",
        "[constructor]file",
        "[method]file.size",
        "[method]file.dup",
        "close-all",
        "[resource-drop]file",
        "mixed",
        "sixteen",
    ] {
        assert!(
            faithful.contains(&name.to_string()),
            "{name} is type-faithful: {faithful:?}"
        );
    }
    for name in [
        "echo-bool",
        "give-string",
        "give-words",
        "take-chars",
        "nested",
        "take-option",
        "give-option",
        "take-result",
        "give-result",
        "give-empty-result",
        "give-unit-err",
        "give-stat",
        "take-tuple",
        "give-tuple",
        "take-point",
        "give-point",
        "take-shape",
        "give-shape",
        "take-e2",
        "take-e257",
        "take-flags40",
        "list-flags40",
        "[method]file.read",
        "[static]file.open",
        "seventeen",
    ] {
        assert!(
            lowered.contains(&name.to_string()),
            "{name} is lowered: {lowered:?}"
        );
    }
    assert_eq!(
        rejected,
        [
            "`list-odd` of test:corpus/compound: memory layout: no ABI-identical WITX form: \
             param 0 (`o`) means something else: \
             WIT pointer of a list of variant{size 8, align 2, tag u8, payload @2: {size 5, align 1: @0 u8, @1 u8, @2 u8, @3 u8, @4 u8}, u16}; \
             WITX pointer of a list of variant{size 6, align 2, tag u8, payload @2: {size 5, align 1: @0 u8, @1 u8, @2 u8, @3 u8, @4 u8}, u16}",
            "`take-future` of test:corpus/async-values: future in parameter `f` (future<u32>): future values have no core-wasm ABI without the component model",
            "`give-stream` of test:corpus/async-values: stream in the result (stream<u8>): stream values have no core-wasm ABI without the component model",
            "`waits` of test:corpus/async-values: async func: async functions have no core-wasm ABI without the component model",
        ]
    );
    println!(
        "corpus: {} functions derive type-faithfully, {} through a lowering, {} rejected",
        faithful.len(),
        lowered.len(),
        rejected.len()
    );
}

#[test]
fn flags_and_enums_keep_canonical_widths() {
    let wit = model("compound");
    let d = wasi_threads_witx::derive(&wit).unwrap();
    assert!(d.text.contains("(typename $flags8 (flags (@witx repr u8)"));
    assert!(d
        .text
        .contains("(typename $flags16 (flags (@witx repr u16)"));
    assert!(d
        .text
        .contains("(typename $flags32 (flags (@witx repr u32)"));
    assert!(d.text.contains(
        "(typename $flags40 (record (field $word0 $flags40_word0) (field $word1 $flags40_word1)))"
    ));
    assert!(d
        .text
        .contains("(typename $flags40_word1 (flags (@witx repr u32)\n    $flag32\n"));
    assert!(d.text.contains("(typename $e2 (enum (@witx tag u8)"));
    assert!(d.text.contains("(typename $e257 (enum (@witx tag u16)"));
}

#[test]
fn a_package_without_worlds_is_one_model_with_a_module_per_interface() {
    // Canonical core modules keep same-named functions of two interfaces
    // apart.
    let wit = WitModel::parse(
        "two.wit",
        "package a:b; interface x { f: func(); } interface y { f: func(); }",
        &WitOptions::default(),
    )
    .unwrap();
    assert_eq!(
        wit.model.wat_lines(),
        [
            r#"(import "a:b/x" "f" (func))"#,
            r#"(import "a:b/y" "f" (func))"#
        ]
    );
    let d = wasi_threads_witx::derive(&wit).unwrap();
    assert!(d.text.contains("(module $a:b/x\n") && d.text.contains("(module $a:b/y\n"));
    // Directives that put both in one module clash, and say so.
    let err = WitModel::parse(
        "clash.wit",
        "package a:b;
         /// Core module: a
         interface x { f: func(); }
         /// Core module: a
         interface y { f: func(); }",
        &WitOptions::default(),
    )
    .err()
    .expect("two `f` in module `a` clash");
    assert!(
        err.message.contains(
            "`f` of a:b/x and `f` of a:b/y would both be core (import \"a\" \"f\" (func))"
        ),
        "{}",
        err.message
    );
}

#[test]
fn a_value_too_large_to_model_is_refused_by_name() {
    let wit = WitModel::parse(
        "big.wit",
        "package t:big; interface i { f: func(x: list<list<list<list<u8, 100>, 100>, 100>>); g: func(); }",
        &WitOptions::default(),
    )
    .unwrap();
    let d = wasi_threads_witx::derive(&wit).unwrap();
    assert_eq!(d.functions.len(), 1, "`g` derives");
    assert_eq!(d.failures.len(), 1);
    assert!(
        d.failures[0]
            .to_string()
            .contains("1000000 cells, more than the model writes out"),
        "{}",
        d.failures[0]
    );
}
