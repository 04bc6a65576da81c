//! The committed archive is what its C source gives: the source is
//! generated here from the crate's version, compiled with clang-19 and
//! archived with llvm-ar-19 (deterministic: no timestamps, no producers
//! section), and both must equal the committed files byte for byte.
//! `BLESS=1` rewrites them after a version change.

use std::path::{Path, PathBuf};
use std::process::Command;

fn version_symbol() -> String {
    format!(
        "cabi_realloc_wasi_threads_guest_rt_{}",
        env!("CARGO_PKG_VERSION").replace(['.', '-', '+'], "_")
    )
}

fn c_source() -> String {
    let symbol = version_symbol();
    format!(
        "// Built into libwasi_threads_guest_rt_cabi.a by tests/cabi_archive.rs\n\
         // (BLESS=1 regenerates both); see the crate documentation.\n\
         \n\
         #include <stddef.h>\n\
         \n\
         extern void *{symbol}(void *ptr, size_t old_size, size_t align, size_t new_size);\n\
         \n\
         /* Weak: a program's own cabi_realloc, or another weak one, may be\n   \
         the one linked instead. */\n\
         __attribute__((__weak__, __export_name__(\"cabi_realloc\")))\n\
         void *cabi_realloc(void *ptr, size_t old_size, size_t align, size_t new_size) {{\n  \
         return {symbol}(ptr, old_size, align, new_size);\n\
         }}\n"
    )
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (scripts/test.sh installs clang-19 and llvm-19)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn check_or_bless(path: &Path, expected: &[u8]) {
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(path, expected).unwrap();
    }
    let committed = std::fs::read(path).unwrap_or_default();
    assert!(
        committed == expected,
        "{} is not what the source gives; rerun with BLESS=1 and review the diff",
        path.display()
    );
}

#[test]
fn the_c_source_calls_this_versions_symbol_which_the_crate_defines() {
    check_or_bless(&src().join("cabi_realloc.c"), c_source().as_bytes());
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    assert!(
        lib.contains(&format!("pub unsafe extern \"C\" fn {}(", version_symbol())),
        "src/lib.rs must define {}",
        version_symbol()
    );
}

#[test]
fn the_committed_archive_is_what_clang_19_builds_from_the_source() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cabi-archive");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("cabi_realloc.c");
    std::fs::write(&c, c_source()).unwrap();
    let object = dir.join("cabi_realloc.o");
    // -mcpu=mvp: no features required of the program (and no table
    // import); -fno-ident: no producers section naming the compiler build.
    run(Command::new("clang-19")
        .args([
            "--target=wasm32",
            "-mcpu=mvp",
            "-O2",
            "-fno-ident",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-c",
        ])
        .arg(&c)
        .arg("-o")
        .arg(&object));
    let archive = dir.join("libwasi_threads_guest_rt_cabi.a");
    // D: deterministic (zero timestamps, owners and modes); s: an index.
    run(Command::new("llvm-ar-19")
        .arg("crsD")
        .arg(&archive)
        .arg("cabi_realloc.o")
        .current_dir(&dir));
    let built = std::fs::read(&archive).unwrap();
    check_or_bless(&src().join("libwasi_threads_guest_rt_cabi.a"), &built);
    // llvm-nm: the archive defines `cabi_realloc`, weak, and needs the
    // versioned symbol, nothing else.
    let nm = Command::new("llvm-nm-19")
        .arg(&archive)
        .output()
        .expect("run llvm-nm-19");
    let symbols: Vec<String> = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter(|l| !l.is_empty() && !l.ends_with(':'))
        .map(|l| {
            l.split_whitespace()
                .rev()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(
        symbols,
        [
            "cabi_realloc W".to_string(),
            format!("{} U", version_symbol())
        ],
        "{}",
        String::from_utf8_lossy(&nm.stdout)
    );
}
