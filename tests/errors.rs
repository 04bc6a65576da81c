//! Every error path of the command line: exit code 2 and a message naming
//! the file and, for parse errors, the line and column.

mod support;

use support::{scratch, wasi_threads};

#[test]
fn missing_file_is_bad_input() {
    for args in [
        &["abi", "no/such.wit"][..],
        &["abi", "no/such.witx"],
        &["witx", "no/such/dir"],
        &["check", "wit/", "no/such.witx"],
        &["check", "no/such.wit", "witx/"],
    ] {
        let run = wasi_threads(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.starts_with("error: cannot read no/such"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty());
    }
}

#[test]
fn wit_syntax_error_names_file_line_and_column() {
    let dir = scratch("wit-syntax");
    let file = dir.join("broken.wit");
    std::fs::write(
        &file,
        "package a:b;\ninterface i {\n    f: func(x: u32 -> u32;\n}\n",
    )
    .unwrap();
    let run = wasi_threads(&["abi", file.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("expected ')', found `->`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("--> {}:3:20", file.display())),
        "{}",
        run.stderr
    );
    let run = wasi_threads(&["witx", dir.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("broken.wit:3:20"), "{}", run.stderr);
}

#[test]
fn witx_syntax_and_validation_errors_name_the_location() {
    let dir = scratch("witx-syntax");
    let file = dir.join("broken.witx");
    std::fs::write(
        &file,
        "(module $m\n  (@interface func (export \"f\") (param $x u32)\n",
    )
    .unwrap();
    let run = wasi_threads(&["abi", file.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&format!("{}:2:4", file.display())),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("unclosed annotation"), "{}", run.stderr);

    let file = dir.join("invalid.witx");
    std::fs::write(
        &file,
        "(module $m\n  (@interface func (export \"f\") (param $x $undefined)))\n",
    )
    .unwrap();
    let run = wasi_threads(&["check", "wit/", file.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("undefined"), "{}", run.stderr);
    assert!(run.stderr.contains("2 |"), "{}", run.stderr);
}

#[test]
fn unknown_interface_and_world_are_bad_input() {
    let run = wasi_threads(&["witx", "wit/", "--interface", "thread-join"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "error: cannot model wit/: unknown interface `thread-join` in package wasi:threads (it has: thread-spawn)\n"
    );
    let run = wasi_threads(&["abi", "wit/", "--world", "nope"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("nope"), "{}", run.stderr);
}

#[test]
fn a_package_with_several_worlds_needs_one_named() {
    let dir = scratch("worlds");
    let file = dir.join("two.wit");
    std::fs::write(&file, "package a:b;\nworld one {}\nworld two {}\n").unwrap();
    let run = wasi_threads(&["abi", file.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("package a:b has 2 worlds (one, two); choose one with --world"),
        "{}",
        run.stderr
    );
    let run = wasi_threads(&["abi", file.to_str().unwrap(), "--world", "two"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn a_module_name_witx_cannot_spell_is_bad_input() {
    let run = wasi_threads(&["witx", "wit/", "--module", "two words"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("core module \"two words\" cannot be a WITX module name"),
        "{}",
        run.stderr
    );
    // `abi` has no such limit: core module names are any string.
    let run = wasi_threads(&["abi", "wit/", "--module", "two words"]);
    assert_eq!(run.code, 0);
    assert!(run
        .stdout
        .starts_with("(import \"two words\" \"thread-spawn\""));
}

#[test]
fn bad_arguments_are_bad_input() {
    assert_eq!(wasi_threads(&["abi"]).code, 2);
    assert_eq!(wasi_threads(&["frobnicate"]).code, 2);
    assert_eq!(
        wasi_threads(&["witx", "wit/", "--interface", "x", "--world", "y"]).code,
        2
    );
    assert_eq!(wasi_threads(&["--help"]).code, 0);
}

#[test]
fn underivable_functions_exit_1_and_the_rest_is_printed() {
    let dir = scratch("partial");
    let file = dir.join("partial.wit");
    std::fs::write(
        &file,
        "package a:b;\ninterface i {\n    ok: func(x: u32) -> u32;\n    later: func(f: future<u32>);\n}\n",
    )
    .unwrap();
    let run = wasi_threads(&["witx", file.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("(@interface func (export \"ok\")"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("later"), "{}", run.stdout);
    assert_eq!(
        run.stderr,
        "error: cannot derive `later` of a:b/i: future in parameter `f` (future<u32>): future values have no core-wasm ABI without the component model\n"
    );
}

#[test]
fn non_utf8_and_binary_input_do_not_panic() {
    let dir = scratch("binary");
    let wit = dir.join("junk.wit");
    std::fs::write(&wit, [0xff, 0xfe, 0x00, 0x61]).unwrap();
    let witx = dir.join("junk.witx");
    std::fs::write(&witx, [0xff, 0xfe, 0x00, 0x61]).unwrap();
    for args in [
        &["abi", wit.to_str().unwrap()][..],
        &["abi", witx.to_str().unwrap()],
    ] {
        let run = wasi_threads(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    }
}

#[test]
fn an_empty_tuple_result_derives_and_binds() {
    // Inputs that once panicked (an index out of bounds) or printed Rust
    // that did not parse.
    let dir = scratch("empty-result");
    let file = dir.join("t.wit");
    std::fs::write(
        &file,
        "package a:b;\ninterface i { f: func() -> tuple<>; }\nworld w { import i; export g: func() -> tuple<>; }\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let run = wasi_threads(&["witx", file]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("(@interface func (export \"f\")\n  )"),
        "{}",
        run.stdout
    );
    for target in ["host", "rust", "c"] {
        let run = wasi_threads(&["bindgen", target, file]);
        assert_eq!(run.code, 0, "{target}: {}", run.stderr);
        if target != "c" {
            syn::parse_file(&run.stdout).unwrap_or_else(|e| panic!("{target}: {e}"));
        }
    }
}
