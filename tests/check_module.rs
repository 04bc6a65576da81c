//! `wasi-threads check-module`: real guests the tests build check clean
//! against `wit/` and `witx/preview1/`; hand-broken modules are reported,
//! one line per finding with both sides; bad input is exit code 2.

mod support;

use std::path::{Path, PathBuf};

use support::{root, scratch, wasi_threads};
use wasi_threads_abi::{check_module_path, witx, WitModel, WitOptions};

fn check(module: &Path) -> support::Run {
    wasi_threads(&[
        "check-module",
        module.to_str().unwrap(),
        "wit/",
        "witx/preview1/",
    ])
}

#[test]
fn a_rust_std_guest_matches_wit_and_preview1() {
    let wasm = support::build_rust_guest("rust-threads", "rust-threads.wasm");
    let run = check(&wasm);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("matches: "), "{}", run.stdout);
    assert!(run.stdout.contains(" and 1 export of "), "{}", run.stdout);
    // The same through the library.
    let wit = WitModel::load(&root().join("wit"), &WitOptions::default()).unwrap();
    let preview1 = witx::load(&root().join("witx/preview1")).unwrap();
    let report = check_module_path(&wasm, &[&wit.model, &preview1]).unwrap();
    assert!(report.is_match(), "{report}");
    assert!(report.imports_matched >= 2, "{report}");
    assert_eq!(report.exports_matched, 1);
}

#[test]
fn a_c_pthread_guest_matches_wit_and_preview1() {
    let wasm = support::build_c_guest(
        &root().join("tests/guests/c-pthreads/threads.c"),
        "c-pthreads-check.wasm",
    );
    let run = check(&wasm);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("matches: "), "{}", run.stdout);
}

/// A well-formed wasi-threads module, with `edit` applied to its text.
fn module(name: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let wat = r#"(module
  (import "wasi" "thread-spawn" (func (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 1 16 shared))
  (func (export "wasi_thread_start") (param i32 i32))
  (func (export "_start")))"#;
    let path = scratch("check-module").join(format!("{name}.wat"));
    std::fs::write(&path, edit(wat.to_string())).unwrap();
    path
}

fn findings(name: &str, edit: impl Fn(String) -> String) -> Vec<String> {
    let run = check(&module(name, edit));
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("does not match: "), "{}", run.stdout);
    run.stdout.lines().skip(1).map(str::to_string).collect()
}

#[test]
fn the_well_formed_module_matches() {
    let run = check(&module("good", |w| w));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .starts_with("matches: 2 imports and 1 export of "),
        "{}",
        run.stdout
    );
}

#[test]
fn a_mistyped_import_is_reported_with_both_sides() {
    assert_eq!(
        findings("spawn64", |w| w.replace(
            "(func (param i32) (result i32))",
            "(func (param i64) (result i32))"
        )),
        ["import \"wasi\" \"thread-spawn\": the module has (func (param i64) (result i32)); WIT world wasi:threads/threads has (func (param i32) (result i32))"]
    );
    assert_eq!(
        findings("fd-write", |w| w.replace(
            "(param i32 i32 i32 i32) (result i32)",
            "(param i32 i32 i32) (result i32)"
        )),
        ["import \"wasi_snapshot_preview1\" \"fd_write\": the module has (func (param i32 i32 i32) (result i32)); WITX witx/preview1/ has (func (param i32 i32 i32 i32) (result i32))"]
    );
    assert_eq!(
        findings("unknown", |w| w.replace("\"fd_write\"", "\"fd_frob\"")),
        ["import \"wasi_snapshot_preview1\" \"fd_frob\": the module has (func (param i32 i32 i32 i32) (result i32)); WITX witx/preview1/ has no such import"]
    );
}

#[test]
fn missing_or_mistyped_exports_are_reported() {
    assert_eq!(
        findings("no-start", |w| w.replace("(export \"wasi_thread_start\")", "")),
        ["export \"wasi_thread_start\": the module does not export it; WIT world wasi:threads/threads has (func (param i32 i32))"]
    );
    assert_eq!(
        findings("start-one-param", |w| w.replace(
            "(export \"wasi_thread_start\") (param i32 i32)",
            "(export \"wasi_thread_start\") (param i32)"
        )),
        ["export \"wasi_thread_start\": the module has (func (param i32)); WIT world wasi:threads/threads has (func (param i32 i32))"]
    );
}

#[test]
fn threads_need_an_imported_shared_memory() {
    assert_eq!(
        findings("unshared", |w| w.replace("(memory 1 16 shared)", "(memory 1 16)")),
        ["memory: the module has (import \"env\" \"memory\" (memory 1 16)), not shared; WIT world wasi:threads/threads needs a shared memory"]
    );
    assert_eq!(
        findings("own-memory", |w| w.replace(
            "(import \"env\" \"memory\" (memory 1 16 shared))",
            "(memory 1 16 shared)"
        )),
        ["memory: the module imports none (it defines its own); WIT world wasi:threads/threads needs an imported shared memory, which every thread's instance shares"]
    );
}

#[test]
fn imports_no_interface_covers_are_listed_without_failing() {
    let path = module("uncovered", |w| {
        w.replace(
            "(import \"env\" \"memory\"",
            "(import \"env\" \"log\" (func (param i32)))\n  (import \"env\" \"memory\"",
        )
    });
    let run = check(&path);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "not covered: import \"env\" \"log\" (func (param i32)) (no interface given has core module \"env\")"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn bad_input_is_exit_code_2() {
    let dir = scratch("check-module-bad");
    let text = dir.join("not.wasm");
    std::fs::write(&text, "hello").unwrap();
    let truncated = dir.join("truncated.wasm");
    std::fs::write(&truncated, b"\0asm\x01\0\0\0\x01\x05").unwrap();
    for (path, message) in [
        (text.clone(), "invalid"),
        (truncated, "invalid module"),
        (dir.join("missing.wasm"), "cannot read"),
    ] {
        let run = check(&path);
        assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(message), "{}", run.stderr);
        assert!(
            run.stderr.contains(path.to_str().unwrap()),
            "{}",
            run.stderr
        );
    }
    // An interface that does not load is bad input too.
    let good = module("good-2", |w| w);
    let run = wasi_threads(&[
        "check-module",
        good.to_str().unwrap(),
        text.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
}
