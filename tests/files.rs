//! The filesystem of the reference host: real guests whose threads share
//! files and descriptors in a preopened directory, escapes refused, and a
//! stress test of one descriptor table under concurrent use.

mod support;

use std::path::Path;

use support::{build_c_guest, build_rust_guest, root, scratch, wasi_threads, Captured};
use wasi_threads_host::{Outcome, Runner};

/// wasi-libc's errno values.
const ENOENT: i32 = 44;
const ENOTCAPABLE: i32 = 76;

fn rust_fs() -> std::path::PathBuf {
    build_rust_guest("rust-fs", "rust-fs.wasm")
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn rust_threads_create_write_read_rename_and_delete_files_and_share_a_descriptor() {
    let wasm = rust_fs();
    let dir = scratch("rust-files");
    let dir_arg = format!("{}::/sandbox", dir.display());
    let run = wasi_threads(&["run", "--dir", &dir_arg, wasm.to_str().unwrap(), "files"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "files: r0.txt r2.txt r4.txt r6.txt shared.log\nshared lines: 400\ndistinct lines: 400\nr0 at 7: \"0\\n\"\nr2 size: 2700\ndirectories: ok\n"
    );
    // Byte for byte, as the host sees the files.
    assert_eq!(
        listing(&dir),
        ["r0.txt", "r2.txt", "r4.txt", "r6.txt", "shared.log"]
    );
    for i in [0, 2, 4, 6] {
        let content = std::fs::read_to_string(dir.join(format!("r{i}.txt"))).unwrap();
        assert_eq!(content, format!("thread {i}\n").repeat(100 * (i + 1)));
    }
    let log = std::fs::read_to_string(dir.join("shared.log")).unwrap();
    let mut lines: Vec<&str> = log.lines().collect();
    lines.sort();
    let mut expected: Vec<String> = (0..8)
        .flat_map(|i| (0..50).map(move |n| format!("{i}:{n}")))
        .collect();
    expected.sort();
    assert_eq!(lines, expected);
}

#[test]
fn c_threads_share_files_through_stdio() {
    let wasm = build_c_guest(&root().join("tests/guests/c-files/files.c"), "c-files.wasm");
    let dir = scratch("c-files");
    let dir_arg = format!("{}::/sandbox", dir.display());
    let run = wasi_threads(&["run", "--dir", &dir_arg, wasm.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "files: d0.txt d2.txt d4.txt shared.txt\nshared lines: 240\n"
    );
    for i in [0, 2, 4] {
        let content = std::fs::read_to_string(dir.join(format!("d{i}.txt"))).unwrap();
        let expected: String = (0..40).map(|n| format!("thread {i} line {n}\n")).collect();
        assert_eq!(content, expected);
    }
    let shared = std::fs::read_to_string(dir.join("shared.txt")).unwrap();
    let mut lines: Vec<&str> = shared.lines().collect();
    lines.sort();
    let mut expected: Vec<String> = (0..6)
        .flat_map(|i| (0..40).map(move |n| format!("{i}:{n}")))
        .collect();
    expected.sort();
    assert_eq!(lines, expected);
}

#[test]
fn escapes_are_refused_and_read_only_preopens_stay_read_only() {
    let wasm = std::fs::read(rust_fs()).unwrap();
    let base = scratch("escape");
    let sandbox = base.join("sandbox");
    let ro = base.join("ro");
    std::fs::create_dir_all(sandbox.join("a")).unwrap();
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::write(base.join("outside.txt"), "secret").unwrap();
    std::fs::write(ro.join("readme.txt"), "read me").unwrap();
    std::os::unix::fs::symlink("../outside.txt", sandbox.join("escape")).unwrap();
    let out = Captured::default();
    let report = Runner::new()
        .arg("rust-fs")
        .arg("escape")
        .preopen_dir(&sandbox, "/sandbox")
        .preopen_dir_readonly(&ro, "/ro")
        .stdout(out.clone())
        .run(&wasm)
        .unwrap();
    assert_eq!(report.outcome, Outcome::Exit(0));
    let text = out.text();
    assert_eq!(
        text,
        format!(
            "dot-dot: error {ENOTCAPABLE}\n\
             dot-dot deep: error {ENOTCAPABLE}\n\
             symlink out: error {ENOTCAPABLE}\n\
             absolute: error {ENOENT}\n\
             parent dir: error {ENOTCAPABLE}\n\
             read-only write: error {ENOTCAPABLE}\n\
             read-only mkdir: error {ENOTCAPABLE}\n\
             read-only read: allowed\n\
             missing: error {ENOENT}\n"
        )
    );
    assert!(!ro.join("new.txt").exists() && !ro.join("d").exists());
    assert_eq!(
        std::fs::read_to_string(base.join("outside.txt")).unwrap(),
        "secret"
    );
}

#[test]
fn many_threads_hammer_one_descriptor_table() {
    let wasm = rust_fs();
    let dir = scratch("stress");
    let dir_arg = format!("{}::/sandbox", dir.display());
    let run = wasi_threads(&[
        "run",
        "--dir",
        &dir_arg,
        wasm.to_str().unwrap(),
        "stress",
        "300",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "stress records: 2400 of 2400\nstress records intact: true\ndescriptors leaked: false\n"
    );
    assert_eq!(listing(&dir), ["stress.log"]);
}

#[test]
fn a_missing_preopen_directory_is_an_error_before_anything_runs() {
    let run = wasi_threads(&[
        "run",
        "--dir",
        "/nonexistent/dir::/x",
        "examples/threads.wat",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("cannot open the directory /nonexistent/dir to preopen"),
        "{}",
        run.stderr
    );
}

/// `path_open` straight from wasm (no libc in between): the host itself
/// refuses absolute paths and `..` with `notcapable` (76).
#[test]
fn the_host_refuses_absolute_and_parent_paths_itself() {
    let dir = scratch("raw-open");
    for path in ["/etc/passwd", "..", "../x", "a/../../x"] {
        let wat = format!(
            r#"(module
                 (import "wasi_snapshot_preview1" "path_open"
                   (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
                 (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                 (memory (export "memory") 1)
                 (data (i32.const 16) "{path}")
                 (func (export "_start")
                   (call $exit (call $open (i32.const 3) (i32.const 1) (i32.const 16) (i32.const {len})
                     (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 64)))))"#,
            len = path.len()
        );
        std::fs::create_dir_all(dir.join("a")).unwrap();
        let report = Runner::new()
            .preopen_dir(&dir, "/sandbox")
            .run(wat.as_bytes())
            .unwrap();
        assert_eq!(report.outcome, Outcome::Exit(76), "{path}");
    }
}
