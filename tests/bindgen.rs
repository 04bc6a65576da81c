//! `wasi-threads bindgen`: golden files for the canonical WIT and for a
//! world of every type kind; the CLI prints what the library (and so the
//! macros) generates; generated C compiles cleanly with clang-19; generated
//! C and Rust start real threads on the reference host.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{build_rust_guest, golden::assert_golden, root, wasi_threads};
use wasi_threads_abi::WitOptions;
use wasi_threads_bindgen::{generate_path, Generated, Target};

/// The Rust guest bindings of every type kind compile (natively, where the
/// imports are stubs), as `guest!` expands them.
#[allow(dead_code)]
mod kinds_guest {
    wasi_threads_macros::guest!("tests/bindgen/kinds.wit");
}

const WORLDS: [(&str, &str); 3] = [
    ("threads", "wit"),
    ("everything", "tests/bindgen/kinds.wit"),
    ("exported_resources", "tests/bindgen/exported-resources.wit"),
];
const TARGETS: [Target; 3] = [Target::Host, Target::Rust, Target::C];

fn generated(path: &str, target: Target) -> Generated {
    generate_path(&root().join(path), &WitOptions::default(), target).unwrap()
}

#[test]
fn generated_text_matches_the_golden_files() {
    for (name, path) in WORLDS {
        for target in TARGETS {
            for (file, text) in generated(path, target).files {
                let golden = root()
                    .join("tests/golden/bindgen")
                    .join(name)
                    .join(target.name())
                    .join(file);
                assert_golden(&golden, &text);
            }
        }
    }
}

#[test]
fn the_cli_prints_what_the_library_generates() {
    for (_, path) in WORLDS {
        for target in TARGETS {
            let run = wasi_threads(&["bindgen", target.name(), path]);
            assert_eq!(run.code, 0, "{}", run.stderr);
            assert_eq!(run.stdout, generated(path, target).concatenated());
        }
    }
}

#[test]
fn the_cli_writes_files_into_a_directory() {
    let dir = root().join("target/bindgen-cli-out");
    let _ = std::fs::remove_dir_all(&dir);
    let run = wasi_threads(&["bindgen", "c", "wit", "-o", dir.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for (file, text) in generated("wit", Target::C).files {
        assert_eq!(std::fs::read_to_string(dir.join(&file)).unwrap(), text);
    }
}

#[test]
fn the_canonical_c_header_declares_what_wasi_libc_declares() {
    let c = generated("wit", Target::C);
    let header = &c.files[0].1;
    assert!(
        header.contains("__wasi_thread_spawn_result_t __wasi_thread_spawn(void *start_arg)"),
        "{header}"
    );
    assert!(header.contains(
        r#"void wasi_thread_start(int32_t thread_id, void *start_arg) __attribute__((__export_name__("wasi_thread_start")));"#
    ));
    let source = &c.files[1].1;
    assert!(source.contains(
        "int32_t __imported_wasi_thread_spawn(int32_t arg0) __attribute__((\n    __import_module__(\"wasi\"),\n    __import_name__(\"thread-spawn\")\n));"
    ));
}

#[test]
fn async_functions_are_refused_with_exit_code_1() {
    let dir = root().join("target/bindgen-async");
    std::fs::create_dir_all(&dir).unwrap();
    let wit = dir.join("async.wit");
    std::fs::write(
        &wit,
        "package t:a;\ninterface i { wait: async func(); }\nworld w { import i; }\n",
    )
    .unwrap();
    assert_refused(
        &wit,
        "error: cannot generate bindings for `t:a/i#wait`: async func: async functions have no core-wasm ABI without the component model\n",
    );
}

#[test]
fn maps_and_fixed_length_lists_are_refused_with_exit_code_1() {
    let dir = root().join("target/bindgen-unsupported");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, param, reason) in [
        (
            "map",
            "map<string, u32>",
            "map in parameter `x` (map<string, u32>): maps are not supported by the bindings generators",
        ),
        (
            "array",
            "list<u8, 4>",
            "fixed-length list in parameter `x` (list<u8, 4>): fixed-length lists are not supported by the bindings generators",
        ),
        (
            "nested-error-context",
            "option<error-context>",
            "error-context in parameter `x` (option<error-context>): error-context values have no core-wasm ABI without the component model",
        ),
    ] {
        let wit = dir.join(format!("{name}.wit"));
        std::fs::write(
            &wit,
            format!(
                "package t:u;\ninterface i {{ f: func(x: {param}); }}\nworld w {{ import i; }}\n"
            ),
        )
        .unwrap();
        assert_refused(
            &wit,
            &format!("error: cannot generate bindings for `t:u/i#f`: {reason}\n"),
        );
    }
}

/// The header's include guard never meets a constant: an enum named like
/// the header, with a case `h`, gives `T_X_I_W_H`, which was the guard.
#[test]
fn the_include_guard_is_apart_from_every_constant() {
    let dir = root().join("target/bindgen-guard");
    std::fs::create_dir_all(&dir).unwrap();
    let wit = dir.join("guard.wit");
    std::fs::write(
        &wit,
        "package t:x;\ninterface i {\n  enum w { h, k }\n  f: func(x: w);\n}\nworld w { import i; }\n",
    )
    .unwrap();
    let c = generate_path(&wit, &WitOptions::default(), Target::C).unwrap();
    for (file, text) in &c.files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    let header = &c.files.iter().find(|(f, _)| f.ends_with(".h")).unwrap().1;
    assert!(header.contains("#define T_X_I_W_H ("), "{header}");
    for (file, _) in &c.files {
        check(clang_check(&dir.join(file)), &format!("compiling {file}"));
    }
}

#[test]
fn one_run_names_every_refused_function() {
    let dir = root().join("target/bindgen-unsupported");
    std::fs::create_dir_all(&dir).unwrap();
    let wit = dir.join("several.wit");
    std::fs::write(
        &wit,
        "package t:u;\ninterface i {\n  f: func(x: map<string, u32>);\n  ok: func(x: u32);\n  g: func(x: list<u8, 4>);\n}\nworld w { import i; export h: async func(); }\n",
    )
    .unwrap();
    assert_refused(
        &wit,
        "error: cannot generate bindings for `t:u/i#f`: map in parameter `x` (map<string, u32>): maps are not supported by the bindings generators\n\
         error: cannot generate bindings for `t:u/i#g`: fixed-length list in parameter `x` (list<u8, 4>): fixed-length lists are not supported by the bindings generators\n\
         error: cannot generate bindings for `h`: async func: async functions have no core-wasm ABI without the component model\n",
    );
}

#[test]
fn empty_tuples_and_records_bind_and_derive() {
    let dir = root().join("target/bindgen-empty");
    std::fs::create_dir_all(&dir).unwrap();
    let wit = dir.join("empty.wit");
    std::fs::write(
        &wit,
        "package t:e;\ninterface i {\n  record nothing {}\n  f: func() -> tuple<>;\n  g: func(x: tuple<>, y: nothing, z: u32) -> nothing;\n  h: func(x: list<tuple<>>) -> option<tuple<>>;\n  k: func(x: option<tuple<>>, y: result<nothing, u32>);\n}\nworld w { import i; export run: func() -> tuple<>; export take: func(x: option<tuple<>>, y: result<u32, tuple<>>); }\n",
    )
    .unwrap();
    let wit = wit.to_str().unwrap();
    for target in ["host", "rust", "c"] {
        let run = wasi_threads(&["bindgen", target, wit]);
        assert_eq!(run.code, 0, "{target}: {}", run.stderr);
        assert!(!run.stdout.is_empty());
    }
    // The Rust parses; the C compiles with every warning an error.
    for target in [Target::Host, Target::Rust] {
        let generated = generate_path(wit.as_ref(), &WitOptions::default(), target).unwrap();
        syn::parse_file(&generated.files[0].1).unwrap();
    }
    let c = generate_path(wit.as_ref(), &WitOptions::default(), Target::C).unwrap();
    for (file, text) in &c.files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    for (file, _) in &c.files {
        check(clang_check(&dir.join(file)), &format!("compiling {file}"));
    }
    // WITX has them as no value at all, except in memory, where witx
    // cannot lay out a record without members: `h` is refused, by name.
    let run = wasi_threads(&["witx", wit]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout.contains("(@interface func (export \"f\")\n  )"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("(@interface func (export \"g\")"));
    assert_eq!(
        run.stderr,
        "error: cannot derive `h` of t:e/i: tuple<>: witx cannot lay out a tuple without members\n"
    );
}

/// Every generator refuses `wit`: exit code 1, `stderr`, nothing printed.
fn assert_refused(wit: &std::path::Path, stderr: &str) {
    for target in ["host", "c", "rust"] {
        let run = wasi_threads(&["bindgen", target, wit.to_str().unwrap()]);
        assert_eq!(run.code, 1, "{target}: {}", run.stderr);
        assert_eq!(run.stderr, stderr, "{target}");
        assert!(run.stdout.is_empty(), "{target}");
    }
}

fn clang() -> Command {
    Command::new("clang-19")
}

/// Compiles a C file for wasm32 with every warning an error, checking
/// syntax and types only, with wasi-libc's headers (the bindings' source
/// includes `<stdlib.h>` where it frees or allocates).
fn clang_check(path: &std::path::Path) -> std::process::Output {
    clang_wasm32()
        .args(["-fsyntax-only", "-x", "c"])
        .arg(path)
        .output()
        .expect("run clang-19 (scripts/test.sh installs it)")
}

/// clang-19 for wasm32 (threads), C11, every warning an error, with
/// wasi-libc's headers from `WASI_LIBC_INCLUDE`.
fn clang_wasm32() -> Command {
    let include = PathBuf::from(std::env::var("WASI_LIBC_INCLUDE").expect(
        "WASI_LIBC_INCLUDE names wasi-libc's headers (generic-musl and wasm-wasi-musl); scripts/test.sh sets it up",
    ));
    let resource = clang()
        .arg("-print-resource-dir")
        .output()
        .expect("run clang-19 (scripts/test.sh installs it)");
    let resource = PathBuf::from(String::from_utf8(resource.stdout).unwrap().trim());
    let mut command = clang();
    command
        .args([
            "--target=wasm32-wasip1-threads",
            "-pthread",
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-nostdinc",
            "-isystem",
        ])
        .arg(resource.join("include"))
        .arg("-isystem")
        .arg(include.join("wasm-wasi-musl"))
        .arg("-isystem")
        .arg(include.join("generic-musl"));
    command
}

fn check(out: std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed (scripts/test.sh installs clang-19 and lld-19):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes a world's C bindings into `target/bindgen-c/<name>`.
fn c_files(name: &str, path: &str) -> PathBuf {
    let dir = root().join("target/bindgen-c").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in generated(path, Target::C).files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

#[test]
fn generated_c_compiles_with_all_warnings_as_errors() {
    for (name, path) in WORLDS {
        let dir = c_files(name, path);
        for file in [format!("{name}.h"), format!("{name}.c")] {
            check(clang_check(&dir.join(&file)), &format!("compiling {file}"));
        }
    }
}

/// The header's `_Static_assert`s (size, alignment, every field offset of
/// every typedef, from the model's layouts) hold under clang for wasm32,
/// cover every typedef, and fail when a layout disagrees.
#[test]
fn generated_c_asserts_every_layout_and_a_wrong_one_fails() {
    let dir = c_files("everything-asserts", "tests/bindgen/kinds.wit");
    let header = std::fs::read_to_string(dir.join("everything.h")).unwrap();
    let typedefs: Vec<&str> = header
        .lines()
        .filter_map(|l| l.strip_prefix("} "))
        .filter_map(|l| l.strip_suffix(';'))
        .collect();
    assert!(typedefs.len() > 10, "{typedefs:?}");
    for name in &typedefs {
        assert!(
            header.contains(&format!("_Static_assert(sizeof({name}) == ")),
            "no size assert for {name}"
        );
    }
    check(
        clang_check(&dir.join("everything.h")),
        "compiling everything.h",
    );
    // One offset off by one: clang refuses it.
    let digit_end = header.find(", \"canonical ABI offset\");").unwrap();
    let digit_start = header[..digit_end]
        .rfind(|c: char| !c.is_ascii_digit())
        .unwrap()
        + 1;
    let n: u32 = header[digit_start..digit_end].parse().unwrap();
    let wrong = format!(
        "{}{}{}",
        &header[..digit_start],
        n + 1,
        &header[digit_end..]
    );
    let wrong_path = dir.join("wrong.h");
    std::fs::write(&wrong_path, wrong).unwrap();
    let out = clang_check(&wrong_path);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("static assertion failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn generated_c_starts_threads_on_the_reference_host() {
    let dir = c_files("threads", "wit");
    let wasm = dir.join("spawn.wasm");
    build_freestanding(
        &dir,
        &[
            root().join("tests/guests/c-bindgen/spawn.c"),
            dir.join("threads.c"),
        ],
        &wasm,
    );
    let run = wasi_threads(&["run", wasm.to_str().unwrap()]);
    assert_eq!(run.code, 0, "exit code {}: {}", run.code, run.stderr);
}

#[test]
fn generated_rust_starts_threads_on_the_reference_host() {
    let wasm = build_rust_guest("rust-bindgen", "rust-bindgen.wasm");
    let run = wasi_threads(&["run", wasm.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "threads: 8\ndistinct ids: 8\n");
    // The rule the generated docs give a libc-free `wasi_thread_start`:
    // it runs on no stack of its own, so neither it nor anything it calls
    // may touch the shadow stack pointer.
    let bytes = std::fs::read(&wasm).unwrap();
    let touching = stack_pointer_users(&bytes, "wasi_thread_start");
    assert!(
        touching.is_empty(),
        "wasi_thread_start reaches functions that use __stack_pointer: {touching:?}"
    );
    // The check can fail: the guest's `main` uses its stack.
    assert!(!stack_pointer_users(&bytes, "_start").is_empty());
}

/// The functions reachable by direct calls from export `entry` that read or
/// write the global named `__stack_pointer` (by the name section); an
/// indirect call counts as a use, since its callee is unknown.
fn stack_pointer_users(wasm: &[u8], entry: &str) -> Vec<String> {
    use wasmparser::{KnownCustom, Name, Operator, Parser, Payload, TypeRef};
    let mut imported_funcs = 0u32;
    let mut entry_index = None;
    let mut bodies = Vec::new();
    let mut func_names = std::collections::HashMap::new();
    let mut stack_pointer = None;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.unwrap() {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if let TypeRef::Func(_) = import.unwrap().ty {
                        imported_funcs += 1;
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.unwrap();
                    if export.name == entry {
                        entry_index = Some(export.index);
                    }
                }
            }
            Payload::CodeSectionEntry(body) => bodies.push(body),
            Payload::CustomSection(section) => {
                if let KnownCustom::Name(names) = section.as_known() {
                    for name in names {
                        match name.unwrap() {
                            Name::Global(map) => {
                                for naming in map {
                                    let naming = naming.unwrap();
                                    if naming.name == "__stack_pointer" {
                                        stack_pointer = Some(naming.index);
                                    }
                                }
                            }
                            Name::Function(map) => {
                                for naming in map {
                                    let naming = naming.unwrap();
                                    func_names.insert(naming.index, naming.name.to_string());
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let stack_pointer = stack_pointer.expect("the name section names __stack_pointer");
    let mut todo = vec![entry_index.unwrap_or_else(|| panic!("no export {entry}"))];
    let mut seen = std::collections::HashSet::new();
    let mut users = Vec::new();
    while let Some(f) = todo.pop() {
        if !seen.insert(f) || f < imported_funcs {
            continue;
        }
        let mut ops = bodies[(f - imported_funcs) as usize]
            .get_operators_reader()
            .unwrap();
        let mut uses = false;
        while !ops.eof() {
            match ops.read().unwrap() {
                Operator::GlobalGet { global_index } | Operator::GlobalSet { global_index } => {
                    uses |= global_index == stack_pointer
                }
                Operator::Call { function_index } => todo.push(function_index),
                Operator::CallIndirect { .. } => uses = true,
                _ => {}
            }
        }
        if uses {
            users.push(func_names.get(&f).cloned().unwrap_or(format!("#{f}")));
        }
    }
    users
}

/// Constants are typed, and flags of more than 32 members say which word
/// each flag is in: checked by clang on a C file using the header.
#[test]
fn c_constants_are_typed_and_wide_flags_name_their_word() {
    let dir = root().join("target/bindgen-c/wide");
    std::fs::create_dir_all(&dir).unwrap();
    let flags: Vec<String> = (0..40).map(|i| format!("b{i}")).collect();
    let wit = format!(
        "package t:w;\ninterface i {{\n  flags wide {{ {} }}\n  variant v {{ a(u32), b }}\n  enum e {{ x, y }}\n  f: func(w: wide, v: v, e: e);\n}}\nworld w {{ import i; }}\n",
        flags.join(", ")
    );
    std::fs::write(dir.join("w.wit"), wit).unwrap();
    let c = generate_path(&dir.join("w.wit"), &WitOptions::default(), Target::C).unwrap();
    for (file, text) in &c.files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    let header = &c.files[0].0;
    std::fs::write(
        dir.join("use.c"),
        format!(
            r#"#include "{header}"
_Static_assert(T_W_I_WIDE_B0_WORD == 0 && T_W_I_WIDE_B0 == 1, "b0");
_Static_assert(T_W_I_WIDE_B31_WORD == 0 && T_W_I_WIDE_B31 == 0x80000000u, "b31");
_Static_assert(T_W_I_WIDE_B32_WORD == 1 && T_W_I_WIDE_B32 == 1, "b32");
_Static_assert(T_W_I_WIDE_B39_WORD == 1 && T_W_I_WIDE_B39 == 0x80, "b39");
_Static_assert(sizeof(__t_w_i_wide_t) == 8, "two words");
_Static_assert(__builtin_types_compatible_p(__typeof__(T_W_I_V_A), uint8_t), "typed case");
_Static_assert(T_W_I_V_B == 1, "case b");
_Static_assert(__builtin_types_compatible_p(__typeof__(T_W_I_E_Y), __t_w_i_e_t), "typed enum");
int has(__t_w_i_wide_t w) {{ return (w.words[T_W_I_WIDE_B32_WORD] & T_W_I_WIDE_B32) != 0; }}
"#
        ),
    )
    .unwrap();
    check(clang_check(&dir.join("use.c")), "compiling use.c");
}

/// The canonical header's declarations agree with wasi-libc's own
/// `wasi/api.h`: one translation unit includes both, and clang accepts the
/// two declarations of `__wasi_thread_spawn` as one function.
#[test]
fn the_canonical_c_header_is_compatible_with_wasi_libc_api_h() {
    let dir = c_files("threads-with-api-h", "wit");
    std::fs::write(
        dir.join("both.c"),
        "#include <wasi/api.h>\n#include \"threads.h\"\n\
         _Static_assert(__builtin_types_compatible_p(__typeof__(&__wasi_thread_spawn), int32_t (*)(void *)), \"one function\");\n\
         int32_t spawn(void *arg) { return __wasi_thread_spawn(arg); }\n",
    )
    .unwrap();
    check(
        clang_wasm32()
            .args(["-fsyntax-only", "-I"])
            .arg(&dir)
            .arg(dir.join("both.c"))
            .output()
            .expect("run clang-19"),
        "compiling wasi/api.h beside threads.h",
    );
}

/// Two interfaces of one world each define `point` (and `error-code`) with
/// their own layout: the C bindings have two typedefs, each with its
/// interface's prefix and its own static asserts, which clang checks for
/// wasm32; a program uses both, links, and imports each function from its
/// own interface's module, as the model says.
#[test]
fn c_types_of_the_same_name_in_two_interfaces_stay_apart() {
    let dir = root().join("target/bindgen-c/two-points");
    std::fs::create_dir_all(&dir).unwrap();
    let wit = dir.join("two.wit");
    std::fs::write(
        &wit,
        "package t:two;
interface a {
  record point { x: s32, y: s32 }
  enum error-code { busy, gone }
  make: func(x: s32) -> result<point, error-code>;
  all: func(ps: list<point>) -> u32;
}
interface b {
  /// A point of b: a tag and a double.
  record point {
    /// What the point is.
    tag: u8,
    y: f64,
  }
  enum error-code {
    busy, gone, broken,
    /// Too late.
    late,
  }
  /// Makes a point of b.
  make: func(x: u8) -> result<point, error-code>;
  all: func(ps: list<point>) -> u32;
}
world w { import a; import b; }
",
    )
    .unwrap();
    let c = generate_path(&wit, &WitOptions::default(), Target::C).unwrap();
    for (file, text) in &c.files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    let header = &c.files[0].1;
    for (name, size, align) in [("__t_two_a_point_t", 8, 4), ("__t_two_b_point_t", 16, 8)] {
        assert!(
            header.contains(&format!("_Static_assert(sizeof({name}) == {size}, "))
                && header.contains(&format!("_Static_assert(_Alignof({name}) == {align}, ")),
            "{name}: {header}"
        );
    }
    assert!(header.contains("_Static_assert(offsetof(__t_two_b_point_t, y) == 8, "));
    assert!(header
        .contains(" * A point of b: a tag and a double.\n */\ntypedef struct __t_two_b_point_t {"));
    // Doc comments from the WIT on the type, the field, the case and the
    // function, as wasi-libc's api.h has them.
    for doc in [
        "    /**\n     * What the point is.\n     */\n    uint8_t tag;",
        "/**\n * Too late.\n */\n#define T_TWO_B_ERROR_CODE_LATE ((__t_two_b_error_code_t)3)",
        "/**\n * Makes a point of b.\n */\n__t_two_a_result_t_two_b_point_t_two_b_error_code_t __t_two_b_make(uint8_t x)",
    ] {
        assert!(header.contains(doc), "{doc}\n{header}");
    }
    std::fs::write(
        dir.join("use.c"),
        r#"#include "w.h"
_Static_assert(sizeof(__t_two_a_point_t) == 8 && sizeof(__t_two_b_point_t) == 16, "two layouts");
_Static_assert(!__builtin_types_compatible_p(__t_two_a_point_t, __t_two_b_point_t), "two types");
_Static_assert(!__builtin_types_compatible_p(__t_two_a_list_point_t, __t_two_a_list_t_two_b_point_t), "two lists");
__attribute__((__export_name__("use")))
int use(void) {
    __t_two_a_result_point_error_code_t a = __t_two_a_make(-3);
    __t_two_a_result_t_two_b_point_t_two_b_error_code_t b = __t_two_b_make(7);
    __t_two_a_point_t as[2] = {{1, 2}, {3, 4}};
    __t_two_b_point_t bs[1] = {{9, 0.5}};
    if (!a.is_err && a.val.ok.y != 0) return 1;
    if (!b.is_err && b.val.ok.y != 0.0) return 2;
    if (b.is_err && b.val.err == T_TWO_B_ERROR_CODE_LATE) return 3;
    return (int) (__t_two_a_all(as, 2) + __t_two_b_all(bs, 1));
}
"#,
    )
    .unwrap();
    let wasm = dir.join("two.wasm");
    check(
        clang_wasm32()
            .args(["-O2", "-nostdlib", "-fuse-ld=/usr/bin/wasm-ld-19", "-I"])
            .arg(&dir)
            .arg(dir.join("use.c"))
            .arg(dir.join("w.c"))
            .args(["-Wl,--no-entry", "-o"])
            .arg(&wasm)
            .output()
            .expect("run clang-19"),
        "building the program using both points",
    );
    let model = wasi_threads_abi::WitModel::load(&wit, &WitOptions::default()).unwrap();
    let report = wasi_threads_abi::check_module_path(&wasm, &[&model.model]).unwrap();
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(report.imports_matched, 4, "{:?}", report.uncovered);
}

/// Names that would still meet in C (interface `a-b`'s `c` and interface
/// `a`'s `b-c` are both `__t_n_a_b_c_t`) are refused, never merged.
#[test]
fn c_names_that_would_meet_are_refused() {
    let dir = root().join("target/bindgen-c/meeting-names");
    std::fs::create_dir_all(&dir).unwrap();
    let wit = dir.join("n.wit");
    std::fs::write(
        &wit,
        "package t:n;
interface a-b { record c { x: u32 } f: func(x: c); }
interface a { record b-c { y: u64 } g: func(x: b-c); }
world w { import a-b; import a; }
",
    )
    .unwrap();
    let Err(err) = generate_path(&wit, &WitOptions::default(), Target::C) else {
        panic!("names that meet in C were not refused");
    };
    assert!(
        err.to_string()
            .contains("two different types would both be named `__t_n_a_b_c_t` in C"),
        "{err}"
    );
}

/// Links a freestanding (libc-free) wasm32 module with shared memory from
/// `sources`, with the generated files of `dir` on the include path.
fn build_freestanding(dir: &std::path::Path, sources: &[PathBuf], wasm: &std::path::Path) {
    let out = clang()
        .args([
            "--target=wasm32",
            "-O2",
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-nostdlib",
            "-matomics",
            "-mbulk-memory",
            "-fuse-ld=/usr/bin/wasm-ld-19",
        ])
        .arg("-I")
        .arg(dir)
        .args(sources)
        .arg("-Wl,--no-entry,--export=_start,--import-memory,--export-memory,--shared-memory,--max-memory=1048576")
        .arg("-o")
        .arg(wasm)
        .output()
        .expect("run clang-19 (scripts/test.sh installs it)");
    check(out, "building the freestanding C guest");
}

/// The generated assembly entry gives each thread the stack and
/// thread-local block its start argument names: a libc-free guest's
/// threads keep arrays on their own stacks, recurse, and count in a
/// `_Thread_local`, concurrently, on the reference host. The same guest
/// with a C `wasi_thread_start` that skips the set-up fails (its threads'
/// locals are not on their own stacks).
#[test]
fn the_generated_thread_entry_gives_each_thread_its_own_stack() {
    let dir = c_files("thread-stacks", "wit");
    let guest = root().join("tests/guests/c-thread-stacks");
    let header = std::fs::read_to_string(dir.join("threads.h")).unwrap();
    assert!(header.contains("wasi-libc's own\n * `wasi_thread_start` is the entry"));
    let wasm = dir.join("stacks.wasm");
    build_freestanding(
        &dir,
        &[
            guest.join("stacks.c"),
            dir.join("threads.c"),
            dir.join("threads_thread_start.s"),
        ],
        &wasm,
    );
    let run = wasi_threads(&["run", wasm.to_str().unwrap()]);
    assert_eq!(run.code, 0, "exit code {}: {}", run.code, run.stderr);

    let shared = dir.join("shared-stack.wasm");
    build_freestanding(
        &dir,
        &[
            guest.join("stacks.c"),
            dir.join("threads.c"),
            guest.join("shared_stack.c"),
        ],
        &shared,
    );
    let run = wasi_threads(&["run", shared.to_str().unwrap()]);
    assert_eq!(run.code, 11, "one shared stack: {}", run.stderr);
}

/// A world that imports and exports the interface defining a resource is
/// refused by every bindings generator, naming the resource's drop: one set
/// of names per interface cannot tell its imported handles from its
/// exported ones.
#[test]
fn a_resource_both_imported_and_exported_is_refused() {
    let dir = support::scratch("roles");
    let wit = dir.join("roles.wit");
    std::fs::write(
        &wit,
        "package t:ie;\ninterface i {\n  resource r { constructor(); get: func() -> u32; }\n}\nworld w { import i; export i; }\n",
    )
    .unwrap();
    for target in ["host", "rust", "c"] {
        let run = wasi_threads(&["bindgen", target, wit.to_str().unwrap()]);
        assert_eq!(run.code, 1, "{target}: {}", run.stderr);
        assert!(
            run.stderr.contains("t:ie/i#[resource-drop]r")
                && run.stderr.contains("resource both imported and exported"),
            "{target}: {}",
            run.stderr
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
