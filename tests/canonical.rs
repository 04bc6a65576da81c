//! The canonical wasi-threads WIT end to end: its core ABI, the WITX derived
//! from it (the checked-in `witx/`), and the check between the two.

mod support;

use support::{golden::assert_golden, root, wasi_threads};

#[test]
fn abi_prints_thread_spawn_import_and_start_export() {
    let run = wasi_threads(&["abi", "wit/"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "(import \"wasi\" \"thread-spawn\" (func (param i32) (result i32)))\n\
         (export \"wasi_thread_start\" (func (param i32 i32)))\n"
    );
}

#[test]
fn abi_of_the_derived_witx_is_the_import() {
    let run = wasi_threads(&["abi", "witx/threads.witx"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "(import \"wasi\" \"thread-spawn\" (func (param i32) (result i32)))\n"
    );
}

#[test]
fn derived_witx_is_the_checked_in_file() {
    let run = wasi_threads(&["witx", "wit/"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert!(run.stdout.contains("(module $wasi\n"));
    assert!(run
        .stdout
        .contains("(@interface func (export \"thread-spawn\")"));
    assert_golden(&root().join("witx/threads.witx"), &run.stdout);
}

#[test]
fn checked_in_witx_is_equivalent_to_the_wit() {
    let run = wasi_threads(&["check", "wit/", "witx/"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout,
        "equivalent: 1 function with the same core ABI in WIT world wasi:threads/threads and WITX witx/\n"
    );
}

#[test]
fn module_override_reaches_witx_and_check() {
    let run = wasi_threads(&["witx", "wit/", "--module", "wasi_thread_spawn"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("(module $wasi_thread_spawn\n"));
    // The checked-in WITX says "wasi": checking against another module differs.
    let run = wasi_threads(&["check", "wit/", "witx/", "--module", "wasi_thread_spawn"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains(
            "thread-spawn: import module differs: WIT \"wasi_thread_spawn\"; WITX \"wasi\""
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn library_assert_equivalent_accepts_the_canonical_pair() {
    let wit = wasi_threads_abi::WitModel::load(&root().join("wit"), &Default::default()).unwrap();
    let witx = wasi_threads_abi::witx::load(&root().join("witx")).unwrap();
    wasi_threads_abi::assert_equivalent(&wit.model, &witx);
}
