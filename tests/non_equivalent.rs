//! Known non-equivalent WIT/WITX pairs give the expected report, through
//! the library and through `wasi-threads check`.

mod support;

use support::{scratch, wasi_threads};
use wasi_threads_abi::{check, witx, WitModel, WitOptions};

const WIT: &str = "package test:files;

/// Core module: test
interface files {
    enum errno { success, badf, inval }
    record stat { size: u64, mode: u32 }
    record span { offset: u64, len: u32 }
    load: func(path: string, offset: u32, count: u32) -> result<stat, errno>;
    get-output: func() -> u32;
    read-spans: func(spans: list<span>);
    only-in-wit: func();
}
";

/// WITX as a preview-1 author would write it by hand: errno returns,
/// snake-case names, and a C-like struct with another field order.
const WITX: &str = r#"
(typename $errno (enum (@witx tag u8) $success $badf $inval))
(typename $stat (record (field $size u64) (field $mode u32)))
(typename $span (record (field $len u32) (field $offset u64)))
(module $test
  (import "memory" (memory))
  (@interface func (export "load")
    (param $path string) (param $offset u32) (param $count u32)
    (result $error (expected $stat (error $errno))))
  (@interface func (export "get_output") (result $r u32))
  (@interface func (export "read-spans") (param $spans (list $span)))
  (@interface func (export "only-in-witx")))
"#;

const EXPECTED: [&str; 5] = [
    "load: results differ: WIT (i32 i32 i32 i32 i32) -> () (result through a return pointer); WITX (i32 i32 i32 i32 i32) -> (i32)",
    "read-spans: param 0 (`spans`) means something else: WIT pointer of a list of {size 16, align 8: @0 u64, @8 u32}; WITX pointer of a list of {size 16, align 8: @0 u32, @8 u64}",
    "get-output: import name differs: WIT \"get-output\"; WITX \"get_output\"",
    "only-in-wit: missing from WITX: WIT has (import \"test\" \"only-in-wit\" (func))",
    "only-in-witx: only in WITX: WITX has (import \"test\" \"only-in-witx\" (func))",
];

#[test]
fn library_reports_every_difference() {
    let wit = WitModel::parse("files.wit", WIT, &WitOptions::default()).unwrap();
    let witx = witx::parse("files.witx", WITX).unwrap();
    let report = check(&wit.model, &witx);
    let lines: Vec<String> = report.differences.iter().map(|d| d.to_string()).collect();
    assert_eq!(lines, EXPECTED);
    assert_eq!(report.compared, 3);
}

#[test]
fn assert_equivalent_panics_with_the_report() {
    let wit = WitModel::parse("files.wit", WIT, &WitOptions::default()).unwrap();
    let witx = witx::parse("files.witx", WITX).unwrap();
    let panic = std::panic::catch_unwind(|| wasi_threads_abi::assert_equivalent(&wit.model, &witx))
        .expect_err("not equivalent");
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.starts_with(
            "not equivalent: 5 differences between WIT package test:files and WITX files.witx\n"
        ),
        "{message}"
    );
    for line in EXPECTED {
        assert!(message.contains(line), "{message}");
    }
}

#[test]
fn cli_check_prints_the_report_and_exits_1() {
    let dir = scratch("non-equivalent");
    std::fs::write(dir.join("files.wit"), WIT).unwrap();
    std::fs::write(dir.join("files.witx"), WITX).unwrap();
    let wit = dir.join("files.wit");
    let witx = dir.join("files.witx");
    let run = wasi_threads(&["check", wit.to_str().unwrap(), witx.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let mut lines = run.stdout.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("not equivalent: 5 differences"));
    assert_eq!(lines.collect::<Vec<_>>(), EXPECTED);
}

#[test]
fn the_derived_witx_of_the_same_wit_is_equivalent() {
    let wit = WitModel::parse("files.wit", WIT, &WitOptions::default()).unwrap();
    let derived = wasi_threads_witx::derive(&wit).unwrap();
    assert!(derived.failures.is_empty());
    let witx = witx::parse("derived.witx", &derived.text).unwrap();
    wasi_threads_abi::assert_equivalent(&wit.model, &witx);
}

#[test]
fn a_different_core_module_is_reported() {
    let wit = WitModel::parse(
        "m.wit",
        "package test:m; interface i { f: func(x: u32); }",
        &WitOptions::default(),
    )
    .unwrap();
    let witx = witx::parse(
        "m.witx",
        r#"(module $wasi_snapshot_preview1 (@interface func (export "f") (param $x u64)))"#,
    )
    .unwrap();
    let lines: Vec<String> = check(&wit.model, &witx)
        .differences
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(
        lines,
        [
            "f: import module differs: WIT \"test:m/i\"; WITX \"wasi_snapshot_preview1\"",
            "f: params differ: WIT (i32) -> (); WITX (i64) -> ()",
        ]
    );
}

/// The pairs a check on core types alone calls equivalent: a value against
/// a pointer to it.
const VALUE_WIT: &str = "package test:values;

/// Core module: m
interface values {
    record r { a: u32 }
    f: func(x: r);
    g: func(x: u32);
    fill: func(buf: list<u8>);
}
";

const POINTER_WITX: &str = r#"
(typename $r (record (field $a u32)))
(module $m
  (import "memory" (memory))
  (@interface func (export "f") (param $x (@witx pointer $r)))
  (@interface func (export "g") (param $x (@witx pointer u32)))
  (@interface func (export "fill") (param $buf (@witx pointer u8)) (param $buf_len (@witx usize))))
"#;

#[test]
fn a_value_and_a_pointer_to_it_are_not_equivalent_and_a_buffer_is_a_list() {
    let dir = scratch("values");
    std::fs::write(dir.join("values.wit"), VALUE_WIT).unwrap();
    std::fs::write(dir.join("values.witx"), POINTER_WITX).unwrap();
    let run = wasi_threads(&[
        "check",
        dir.join("values.wit").to_str().unwrap(),
        dir.join("values.witx").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().skip(1).collect();
    assert_eq!(
        lines,
        [
            "f: param 0 (`x.a`) means something else: WIT u32; WITX pointer to {size 4, align 4: @0 u32}",
            "g: param 0 (`x`) means something else: WIT u32; WITX pointer to u32",
        ],
        "`fill` (a pointer and a length against list<u8>) is equivalent"
    );
    // Without `f` and `g`, what is left is equivalent: exit code 0.
    let witx = POINTER_WITX
        .lines()
        .filter(|l| !l.contains("\"f\"") && !l.contains("\"g\""))
        .collect::<Vec<_>>()
        .join("\n");
    let wit = VALUE_WIT
        .lines()
        .filter(|l| !l.contains("f: func") && !l.contains("g: func"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("fill.wit"), wit).unwrap();
    std::fs::write(dir.join("fill.witx"), witx).unwrap();
    let run = wasi_threads(&[
        "check",
        dir.join("fill.wit").to_str().unwrap(),
        dir.join("fill.witx").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.starts_with("equivalent: 1 function"),
        "{}",
        run.stdout
    );
}

/// Two interfaces a world declares inline have no names, and each may have
/// a resource of the same name: they are two resources all the same.
const TWIN_RESOURCES_WIT: &str = "package test:twins;

world twins {
    import left: interface {
        resource r;
        take: func(x: r);
    }
    import right: interface {
        resource r;
        take: func(x: r);
    }
}
";

#[test]
fn resources_of_the_same_name_in_inline_interfaces_are_two_resources() {
    let dir = scratch("twins");
    let wit = dir.join("twins.wit");
    std::fs::write(&wit, TWIN_RESOURCES_WIT).unwrap();
    let run = wasi_threads(&["witx", wit.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let derived = run.stdout;
    std::fs::write(dir.join("twins.witx"), &derived).unwrap();
    let run = wasi_threads(&[
        "check",
        wit.to_str().unwrap(),
        dir.join("twins.witx").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}{}{derived}", run.stdout, run.stderr);

    // One function taking the other interface's resource is reported.
    let (left, right) = derived.split_at(derived.find("(module $right").unwrap());
    let crossed = format!("{left}{}", right.replacen("$r_2", "$r", 1));
    assert_ne!(crossed, derived, "{derived}");
    std::fs::write(dir.join("crossed.witx"), &crossed).unwrap();
    let run = wasi_threads(&[
        "check",
        wit.to_str().unwrap(),
        dir.join("crossed.witx").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}{}{crossed}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("take: param 0 (`x`) means something else"),
        "{}",
        run.stdout
    );
}
