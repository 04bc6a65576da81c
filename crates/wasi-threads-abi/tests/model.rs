//! The model of the canonical wasi-threads WIT, and of small WIT and WITX
//! texts, checked against what wit-parser and witx compute.

use std::path::Path;

use wasi_threads_abi::{check, witx, Layout, Meaning, Scalar, ValType, WitModel, WitOptions};

fn canonical() -> WitModel {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit");
    WitModel::load(&dir, &WitOptions::default()).unwrap()
}

#[test]
fn canonical_wit_keeps_the_deployed_names_through_its_directives() {
    let m = canonical();
    assert_eq!(
        m.model.wat_lines(),
        [
            r#"(import "wasi" "thread-spawn" (func (param i32) (result i32)))"#,
            r#"(export "wasi_thread_start" (func (param i32 i32)))"#,
        ]
    );
    assert_eq!(m.model.exports[0].source_name, "wasi-thread-start");
    assert_eq!(m.model.origin, "WIT world wasi:threads/threads");
}

#[test]
fn module_override_applies_to_every_import() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit");
    let opts = WitOptions {
        module: Some("wasi_thread".into()),
        ..Default::default()
    };
    let m = WitModel::load(&dir, &opts).unwrap();
    assert_eq!(m.model.imports[0].module.as_deref(), Some("wasi_thread"));
}

const LOAD_WIT: &str = r#"
package test:files;
interface files {
    enum errno { success, badf, inval }
    record stat { size: u64, mode: u32 }
    load: func(path: string, offset: u32, count: u32) -> result<stat, errno>;
    get-output: func() -> u32;
}
"#;

#[test]
fn canonical_names_by_default() {
    let m = WitModel::parse("files.wit", LOAD_WIT, &WitOptions::default()).unwrap();
    assert_eq!(
        m.model.wat_lines(),
        [
            r#"(import "test:files/files" "load" (func (param i32 i32 i32 i32 i32)))"#,
            r#"(import "test:files/files" "get-output" (func (result i32)))"#,
        ]
    );
}

#[test]
fn retptr_and_string_meanings() {
    let m = WitModel::parse("files.wit", LOAD_WIT, &WitOptions::default()).unwrap();
    let load = &m.model.imports[0];
    assert!(load.retptr);
    assert_eq!(
        load.params[0].meaning,
        Meaning::Elements {
            element: Layout::byte(),
            text: true
        }
    );
    assert_eq!(load.params[1].meaning, Meaning::Length);
    assert_eq!(
        load.params[2].meaning,
        Meaning::Scalar(Scalar::Int {
            bits: 32,
            signed: false
        })
    );
    let Meaning::ReturnArea(area) = &load.params[4].meaning else {
        panic!("no return area: {:?}", load.params[4])
    };
    // result<stat, errno>: u8 discriminant, payload aligned to 8, 16-byte stat.
    assert_eq!((area.size, area.align), (24, 8));
    assert_eq!(
        area.to_string(),
        "variant{size 24, align 8, tag u8, payload @8: {size 16, align 8: @0 u64, @8 u32}, enum of 3 (tag u8)}"
    );
}

#[test]
fn errno_returning_witx_is_not_equivalent_to_retptr_wit() {
    let wit = WitModel::parse("files.wit", LOAD_WIT, &WitOptions::default()).unwrap();
    let witx = witx::parse(
        "files.witx",
        r#"
        (typename $errno (enum (@witx tag u8) $success $badf $inval))
        (typename $stat (record (field $size u64) (field $mode u32)))
        (module $test:files/files
          (import "memory" (memory))
          (@interface func (export "load")
            (param $path string) (param $offset u32) (param $count u32)
            (result $error (expected $stat (error $errno))))
          (@interface func (export "get_output") (result $r u32)))
        "#,
    )
    .unwrap();
    let report = check(&wit.model, &witx);
    let lines: Vec<String> = report.differences.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        lines,
        [
            "load: results differ: WIT (i32 i32 i32 i32 i32) -> () (result through a return pointer); WITX (i32 i32 i32 i32 i32) -> (i32)",
            "get-output: import name differs: WIT \"get-output\"; WITX \"get_output\"",
        ]
    );
    assert!(!report.is_equivalent());
}

#[test]
fn witx_core_types_and_meanings() {
    let m = witx::parse(
        "t.witx",
        r#"(typename $f (flags (@witx repr u64) $a $b))
           (module $m (@interface func (export "f") (param $x $f) (param $y f64) (result $r s64)))"#,
    )
    .unwrap();
    assert_eq!(m.imports[0].param_types(), [ValType::I64, ValType::F64]);
    assert_eq!(m.imports[0].result_types(), [ValType::I64]);
    assert_eq!(
        m.imports[0].params[0].meaning,
        Meaning::Scalar(Scalar::Flags {
            members: 2,
            bits: 64
        })
    );
}

#[test]
fn a_layout_of_too_many_cells_is_not_expanded_and_agrees_with_nothing() {
    // A million cells written out: fixed-length lists multiply.
    let m = WitModel::parse(
        "big.wit",
        "package t:big; interface i { f: func(x: list<list<list<list<u8, 100>, 100>, 100>>); }",
        &WitOptions::default(),
    )
    .unwrap();
    let Meaning::Elements { element, .. } = &m.model.imports[0].params[0].meaning else {
        panic!("{:?}", m.model.imports[0].params[0])
    };
    assert_eq!((element.size, element.align), (1_000_000, 1));
    assert_eq!(
        element.kind,
        wasi_threads_abi::LayoutKind::Unmodelled { cells: 1_000_000 }
    );
    assert!(!check(&m.model, &m.model).is_equivalent());
}
