//! The equivalence rules, one test each (the README lists the same rules):
//! hand-written WIT and WITX pairs whose core types agree, checked for what
//! their core values mean.

use wasi_threads_abi::{check, witx, WitModel, WitOptions};

/// The differences `check` reports between a one-interface WIT package
/// (core module `m`) and a WITX document (whose module must be `$m`).
fn differences(wit_body: &str, witx_text: &str) -> Vec<String> {
    let wit = WitModel::parse(
        "t.wit",
        &format!("package t:t;\n/// Core module: m\ninterface i {{\n{wit_body}\n}}\n"),
        &WitOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let witx = witx::parse("t.witx", witx_text).unwrap_or_else(|e| panic!("{e}"));
    let report = check(&wit.model, &witx);
    assert_eq!(
        report.compared,
        wit.model.imports.len(),
        "every function is compared: {report}"
    );
    report.differences.iter().map(|d| d.to_string()).collect()
}

fn equivalent(wit_body: &str, witx_text: &str) {
    let d = differences(wit_body, witx_text);
    assert!(d.is_empty(), "expected equivalent:\n{}", d.join("\n"));
}

fn different(wit_body: &str, witx_text: &str, expected: &[&str]) {
    let d = differences(wit_body, witx_text);
    assert!(!d.is_empty(), "expected differences");
    for e in expected {
        assert!(
            d.iter().any(|line| line.contains(e)),
            "no difference says {e:?}:\n{}",
            d.join("\n")
        );
    }
}

#[test]
fn a_value_is_not_a_pointer_to_it() {
    // The two pairs of the issue: the same core types, another meaning.
    different(
        "record r { a: u32 }\nf: func(x: r);\ng: func(x: u32);",
        r#"(typename $r (record (field $a u32)))
           (module $m
             (import "memory" (memory))
             (@interface func (export "f") (param $x (@witx pointer $r)))
             (@interface func (export "g") (param $x (@witx pointer u32))))"#,
        &[
            "f: param 0 (`x.a`) means something else: WIT u32; WITX pointer to {size 4, align 4: @0 u32}",
            "g: param 0 (`x`) means something else: WIT u32; WITX pointer to u32",
        ],
    );
    // And the other way round: a WITX record is passed by pointer.
    different(
        "record r { a: u32 }\nf: func(x: r);",
        r#"(typename $r (record (field $a u32)))
           (module $m (@interface func (export "f") (param $x $r)))"#,
        &["f: param 0 (`x.a`) means something else: WIT u32; WITX const pointer to"],
    );
}

#[test]
fn scalars_compare_by_width_signedness_bool_and_char() {
    equivalent(
        "f: func(a: u8, b: s16, c: u32, d: s64, e: f32, g: bool, h: char) -> u16;",
        r#"(module $m (@interface func (export "f")
             (param $a u8) (param $b s16) (param $c u32) (param $d s64)
             (param $e f32) (param $g bool) (param $h char) (result $r u16)))"#,
    );
    for (wit, witx, message) in [
        ("u32", "s32", "WIT u32; WITX s32"),
        ("u8", "u16", "WIT u8; WITX u16"),
        ("u8", "u32", "WIT u8; WITX u32"),
        ("bool", "u8", "WIT bool; WITX u8"),
        ("bool", "u32", "WIT bool; WITX u32"),
        ("char", "u32", "WIT char; WITX u32"),
        ("s64", "u64", "WIT s64; WITX u64"),
    ] {
        different(
            &format!("f: func(x: {wit});"),
            &format!(r#"(module $m (@interface func (export "f") (param $x {witx})))"#),
            &[message],
        );
    }
}

#[test]
fn enums_compare_by_tag_width_and_cases_flags_by_width_and_members() {
    equivalent(
        "enum e { a, b, c }\nflags f { x, y }\nfunc1: func(e: e, f: f);",
        r#"(typename $errno (enum (@witx tag u8) $one $two $three))
           (typename $bits (flags (@witx repr u8) $p $q))
           (module $m (@interface func (export "func1") (param $e $errno) (param $f $bits)))"#,
    );
    for (witx_types, message) in [
        (
            r#"(typename $e (enum (@witx tag u16) $a $b $c)) (typename $f (flags (@witx repr u8) $x $y))"#,
            "WIT enum of 3 (tag u8); WITX enum of 3 (tag u16)",
        ),
        (
            r#"(typename $e (enum (@witx tag u8) $a $b $c $d)) (typename $f (flags (@witx repr u8) $x $y))"#,
            "WIT enum of 3 (tag u8); WITX enum of 4 (tag u8)",
        ),
        (
            r#"(typename $e (enum (@witx tag u8) $a $b $c)) (typename $f (flags (@witx repr u16) $x $y))"#,
            "WIT flags of 2 (u8); WITX flags of 2 (u16)",
        ),
        (
            r#"(typename $e (enum (@witx tag u8) $a $b $c)) (typename $f (flags (@witx repr u8) $x $y $z))"#,
            "WIT flags of 2 (u8); WITX flags of 3 (u8)",
        ),
    ] {
        different(
            "enum e { a, b, c }\nflags f { x, y }\nfunc1: func(e: e, f: f);",
            &format!(
                r#"{witx_types} (module $m (@interface func (export "func1") (param $e $e) (param $f $f)))"#
            ),
            &[message],
        );
    }
}

#[test]
fn flags_of_more_than_32_members_are_words_of_flags() {
    let members: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
    let wit = format!("flags wide {{ {} }}\nf: func(x: wide);", members.join(", "));
    let word = |n: usize| {
        (0..n)
            .map(|i| format!("$w{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    equivalent(
        &wit,
        &format!(
            r#"(typename $lo (flags (@witx repr u32) {})) (typename $hi (flags (@witx repr u32) {}))
               (module $m (@interface func (export "f") (param $a $lo) (param $b $hi)))"#,
            word(32),
            word(8)
        ),
    );
    different(
        &wit,
        r#"(module $m (@interface func (export "f") (param $a u32) (param $b u32)))"#,
        &["WIT flags of 32 (u32); WITX u32"],
    );
}

#[test]
fn handles_compare_by_resource_and_ownership() {
    let wit = "resource file;\nresource dir;\nf: func(a: borrow<file>, b: own<dir>, c: own<file>);";
    // The names of the WITX handle types do not count; the pairing does.
    equivalent(
        wit,
        r#"(typename $fd (handle)) (typename $dirfd (handle))
           (module $m
             (@interface func (export "f") (param $a $fd) (param $b $dirfd) (param $c $fd))
             (@interface func (export "[resource-drop]file") (param $s $fd))
             (@interface func (export "[resource-drop]dir") (param $s $dirfd)))"#,
    );
    different(
        wit,
        r#"(typename $fd (handle)) (typename $dirfd (handle))
           (module $m
             (@interface func (export "f") (param $a $fd) (param $b $fd) (param $c $fd))
             (@interface func (export "[resource-drop]file") (param $s $fd))
             (@interface func (export "[resource-drop]dir") (param $s $dirfd)))"#,
        &["f: param 1 (`b`) means something else: WIT own<t:t/i#dir>; WITX handle<fd> (WITX's fd is WIT's t:t/i#file elsewhere)"],
    );
    // WITX handles say neither own nor borrow; two WIT models do.
    let a = WitModel::parse(
        "a.wit",
        "package t:t; interface i { resource r; f: func(x: borrow<r>); }",
        &WitOptions::default(),
    )
    .unwrap();
    let b = WitModel::parse(
        "b.wit",
        "package t:t; interface i { resource r; f: func(x: own<r>); }",
        &WitOptions::default(),
    )
    .unwrap();
    let report = check(&a.model, &b.model);
    assert_eq!(
        report.differences[0].to_string(),
        "f: param 0 (`x`) means something else: WIT borrow<t:t/i#r>; WITX own<t:t/i#r>"
    );
}

#[test]
fn a_string_and_a_list_of_u8_and_a_pointer_with_a_length_agree() {
    let wit = "f: func(a: list<u8>, b: string, c: list<u8>, d: string);";
    equivalent(
        wit,
        r#"(module $m (import "memory" (memory))
             (@interface func (export "f")
               (param $a string)
               (param $b (list u8))
               (param $buf (@witx pointer u8)) (param $buf_len (@witx usize))
               (param $s (@witx const_pointer (@witx char8))) (param $s_len u32)))"#,
    );
    different(
        "f: func(a: list<s8>);",
        r#"(module $m (import "memory" (memory)) (@interface func (export "f") (param $a string)))"#,
        &["WIT pointer of a list of s8; WITX pointer of a string"],
    );
    // Without a length after it, a pointer is the address of one value.
    different(
        "f: func(a: list<u8>);",
        r#"(module $m (import "memory" (memory))
             (@interface func (export "f") (param $p (@witx pointer u8)) (param $n s32)))"#,
        &["param 0 (`a`) means something else: WIT pointer of a list of u8; WITX pointer to u8"],
    );
}

#[test]
fn layouts_are_compared_all_the_way_down() {
    let wit = "record inner { name: string, tags: list<string>, ok: bool }
               record outer { id: u64, inner: inner, more: list<inner> }
               f: func(x: list<outer>);";
    let witx = |inner: &str| {
        format!(
            r#"(typename $inner (record {inner}))
               (typename $outer (record (field $id u64) (field $inner $inner) (field $more (list $inner))))
               (module $m (import "memory" (memory))
                 (@interface func (export "f") (param $x (list $outer))))"#
        )
    };
    let bool8 = "(variant (@witx tag u8) (case $false) (case $true))";
    equivalent(
        wit,
        &witx(&format!(
            "(field $name string) (field $tags (list string)) (field $ok {bool8})"
        )),
    );
    // A string deep inside, a list of u8 instead: the same memory.
    equivalent(
        wit,
        &witx(&format!(
            "(field $name (list u8)) (field $tags (list (list u8))) (field $ok {bool8})"
        )),
    );
    // preview 1's iovec: a pointer and a length in a record is a list too.
    equivalent(
        wit,
        &witx(&format!(
            "(field $name (@witx pointer u8)) (field $len (@witx usize)) (field $tags (list string)) (field $ok {bool8})"
        )),
    );
    // WITX's own bool is four bytes.
    different(
        wit,
        &witx("(field $name string) (field $tags (list string)) (field $ok bool)"),
        &["param 0 (`x`) means something else"],
    );
    // A list of strings against a list of lists of s8, three levels down.
    different(
        wit,
        &witx(&format!(
            "(field $name string) (field $tags (list (list s8))) (field $ok {bool8})"
        )),
        &["param 0 (`x`) means something else"],
    );
    // Fields in another order.
    different(
        "record p { x: u32, y: f32 }\nf: func(p: list<p>);",
        r#"(typename $p (record (field $y f32) (field $x u32)))
           (module $m (import "memory" (memory)) (@interface func (export "f") (param $p (list $p))))"#,
        &["WIT pointer of a list of {size 8, align 4: @0 u32, @4 f32}; WITX pointer of a list of {size 8, align 4: @0 f32, @4 u32}"],
    );
}

#[test]
fn a_return_area_agrees_with_a_writable_pointer_only() {
    let wit = "record stat { size: u64, mode: u32 }\nf: func() -> stat;";
    let witx = |pointer: &str| {
        format!(
            r#"(typename $stat (record (field $size u64) (field $mode u32)))
               (module $m (import "memory" (memory))
                 (@interface func (export "f") (param $out ({pointer} $stat))))"#
        )
    };
    equivalent(wit, &witx("@witx pointer"));
    different(
        wit,
        &witx("@witx const_pointer"),
        &["WIT return area of {size 16, align 8: @0 u64, @8 u32}; WITX const pointer to"],
    );
}

#[test]
fn results_witx_cannot_spell_have_one_spelling() {
    let wit = "enum e { a, b }\nf: func() -> bool;\ng: func() -> e;\nh: func() -> result;";
    equivalent(
        wit,
        r#"(module $m
             (@interface func (export "f") (result $r u8))
             (@interface func (export "g") (result $r u8))
             (@interface func (export "h") (result $r u8)))"#,
    );
    different(
        wit,
        r#"(module $m
             (@interface func (export "f") (result $r u32))
             (@interface func (export "g") (result $r u16))
             (@interface func (export "h") (result $r s8)))"#,
        &[
            "f: result 0 (`result`) means something else: WIT bool; WITX u32",
            "g: result 0 (`result`) means something else: WIT enum of 2 (tag u8); WITX u16",
            "h: result 0 (`result`) means something else: WIT enum of 2 (tag u8); WITX s8",
        ],
    );
    // As a parameter, WITX can say bool: u8 is not one.
    different(
        "f: func(x: bool);",
        r#"(module $m (@interface func (export "f") (param $x u8)))"#,
        &["WIT bool; WITX u8"],
    );
}

#[test]
fn flattened_variants_keep_their_meanings_and_joined_payloads_are_raw() {
    // option<u32>: a discriminant of 2 cases, then the u32 itself.
    let wit = "f: func(x: option<u32>, y: result<u32, f32>);";
    equivalent(
        wit,
        r#"(typename $tag (enum (@witx tag u8) $none $some))
           (typename $ok_err (enum (@witx tag u8) $ok $err))
           (module $m (@interface func (export "f")
             (param $x $tag) (param $x_payload u32) (param $y $ok_err) (param $y_payload u32)))"#,
    );
    different(
        wit,
        r#"(typename $tag (enum (@witx tag u8) $none $some))
           (typename $ok_err (enum (@witx tag u8) $ok $err))
           (module $m (@interface func (export "f")
             (param $x $tag) (param $x_payload s32) (param $y $ok_err) (param $y_payload s32)))"#,
        &[
            "param 1 (`x (payload 0)`) means something else: WIT u32; WITX s32",
            "param 3 (`y (payload 0)`) means something else: WIT joined variant payload; WITX s32",
        ],
    );
    different(
        wit,
        r#"(module $m (@interface func (export "f")
             (param $x u32) (param $x_payload u32) (param $y u32) (param $y_payload u32)))"#,
        &["param 0 (`x (tag)`) means something else: WIT enum of 2 (tag u8); WITX u32"],
    );
}
