//! Property test over random WIT packages from `wit-smith` with every
//! feature it has: modelling and every generator (the WITX derivation, host,
//! Rust guest and C bindings) never panic; each either gives output or
//! refuses with a message naming the function; generated Rust always
//! parses; generated C compiles with clang-19 (`-Wall -Wextra -Werror`,
//! static asserts included) for every eighth seed; every derivation that
//! succeeds is equivalent to its WIT when parsed back with the witx crate.
//!
//! `WIT_SMITH_CASES` sets how many seeds are tried (default 1000, from
//! `WIT_SMITH_FIRST`, default 0); `WIT_SMITH_SECONDS` stops a long run
//! after that many seconds, with its summary. Each package is made from
//! its seed, so a failure names the seed that reproduces it
//! (`WIT_SMITH_PROGRESS=1` prints each seed as it starts, and each finding
//! as it is made).

mod support;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use support::smith::{self, Made};
use wasi_threads_abi::{check, witx, WitModel, WitOptions};
use wasi_threads_bindgen::{generate, BindgenError, Target};

#[derive(Default)]
struct Tally {
    seeds: u64,
    packages: usize,
    wide_flags: usize,
    smith_panics: usize,
    models: usize,
    derived: usize,
    rejected: usize,
    /// Per generator: outputs, refusals.
    bindings: BTreeMap<&'static str, (usize, usize)>,
    /// C outputs compiled with clang.
    c_compiled: usize,
    refusals: BTreeMap<String, usize>,
    findings: Vec<String>,
}

/// Derives one selection of the package, generates every kind of bindings,
/// and checks what comes out.
fn exercise(
    resolve: &wit_parser::Resolve,
    pkg: wit_parser::PackageId,
    opts: WitOptions,
    seed: u64,
    tally: &mut Tally,
) {
    let what = format!("seed {seed}, {opts:?}");
    let wit = match catch_unwind(AssertUnwindSafe(|| {
        WitModel::from_resolve(resolve.clone(), pkg, &opts)
    })) {
        Ok(Ok(wit)) => wit,
        Ok(Err(_)) => return,
        Err(_) => {
            tally.findings.push(format!("{what}: modelling panicked"));
            return;
        }
    };
    tally.models += 1;

    match catch_unwind(AssertUnwindSafe(|| wasi_threads_witx::derive(&wit))) {
        Err(_) => tally
            .findings
            .push(format!("{what}: the WITX derivation panicked")),
        // A module name WITX cannot spell is refused as a whole, by design.
        Ok(Err(e)) if e.0.contains("cannot be a WITX module name") => {}
        Ok(Err(e)) => tally
            .findings
            .push(format!("{what}: the derivation failed as a whole: {e}")),
        Ok(Ok(derivation)) => {
            tally.derived += derivation.functions.len();
            tally.rejected += derivation.failures.len();
            for f in &derivation.failures {
                if f.reason.is_empty() || f.construct.is_empty() {
                    tally
                        .findings
                        .push(format!("{what}: an empty refusal: {f}"));
                }
                *tally
                    .refusals
                    .entry(format!(
                        "witx: {}",
                        f.construct.split(" in ").next().unwrap_or("")
                    ))
                    .or_default() += 1;
            }
            match witx::parse("derived.witx", &derivation.text) {
                Err(e) => tally
                    .findings
                    .push(format!("{what}: the derived WITX does not parse: {e}")),
                Ok(parsed) => {
                    let expected = smith::derived_part(&wit, &derivation);
                    let report = check(&expected, &parsed);
                    if !report.is_equivalent() {
                        tally.findings.push(format!("{what}:\n{report}"));
                    }
                }
            }
        }
    }

    for target in [Target::Host, Target::Rust, Target::C] {
        let entry = tally.bindings.entry(target.name()).or_default();
        match catch_unwind(AssertUnwindSafe(|| generate(&wit, target))) {
            Err(_) => tally
                .findings
                .push(format!("{what}: bindgen {} panicked", target.name())),
            Ok(Ok(generated)) => {
                entry.0 += 1;
                if target == Target::C && seed.is_multiple_of(8) {
                    compile_c(&generated.files, &what, tally);
                } else if target != Target::C {
                    for (file, text) in &generated.files {
                        if let Err(e) = syn::parse_file(text) {
                            tally.findings.push(format!(
                                "{what}: bindgen {} gave Rust that does not parse ({file}): {e}",
                                target.name()
                            ));
                        }
                    }
                }
            }
            Ok(Err(e @ BindgenError::Unsupported { .. })) => {
                entry.1 += 1;
                refusal(&e, target, &what, tally);
            }
            Ok(Err(BindgenError::Several(errors))) => {
                entry.1 += 1;
                if errors.len() < 2 {
                    tally
                        .findings
                        .push(format!("{what}: several refusals, {} given", errors.len()));
                }
                for e in &errors {
                    refusal(e, target, &what, tally);
                }
            }
            Ok(Err(e @ (BindgenError::Invalid { .. } | BindgenError::Options(_)))) => tally
                .findings
                .push(format!("{what}: bindgen {}: {e}", target.name())),
            Ok(Err(BindgenError::Load(e))) => tally
                .findings
                .push(format!("{what}: bindgen {}: {e}", target.name())),
        }
    }
}

/// Counts one refused function by its construct; anything but a refusal
/// naming a function and a reason is a finding.
fn refusal(e: &BindgenError, target: Target, what: &str, tally: &mut Tally) {
    let BindgenError::Unsupported { function, reason } = e else {
        tally
            .findings
            .push(format!("{what}: bindgen {}: {e}", target.name()));
        return;
    };
    if function.is_empty() || reason.is_empty() {
        tally.findings.push(format!("{what}: an empty refusal"));
    }
    let construct = reason.split([':', ' ']).next().unwrap_or("").to_string();
    *tally
        .refusals
        .entry(format!("{}: {construct}", target.name()))
        .or_default() += 1;
}

/// Writes the C files of one output and compiles them with clang.
fn compile_c(files: &[(String, String)], what: &str, tally: &mut Tally) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("smith-c")
        .join(tally.c_compiled.to_string());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut sources = Vec::new();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
        if file.ends_with(".c") {
            sources.push(dir.join(file));
        }
    }
    tally.c_compiled += 1;
    if let Err(e) = support::c_syntax_check(&sources, &dir) {
        let first: Vec<&str> = e.lines().filter(|l| l.contains("error")).take(3).collect();
        tally.findings.push(format!(
            "{what}: bindgen c gave C that does not compile ({}): {}",
            dir.display(),
            first.join(" | ")
        ));
    }
}

#[test]
fn random_wit_packages_go_through_every_generator() {
    let start = std::time::Instant::now();
    let cases = smith::cases("WIT_SMITH_CASES", 1000);
    let first = smith::cases("WIT_SMITH_FIRST", 0);
    let budget = std::env::var("WIT_SMITH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(std::time::Duration::from_secs);
    let mut tally = Tally::default();
    let progress = std::env::var_os("WIT_SMITH_PROGRESS").is_some();
    let mut reported = 0;
    for seed in first..first + cases {
        if budget.is_some_and(|b| start.elapsed() > b) {
            break;
        }
        if progress {
            for finding in &tally.findings[reported..] {
                eprintln!("finding: {finding}");
            }
            reported = tally.findings.len();
            eprintln!("seed {seed}");
        }
        tally.seeds += 1;
        let (resolve, pkg) = match smith::make(seed) {
            Made::Package(resolve, pkg, wide) => {
                tally.wide_flags += wide;
                (resolve, pkg)
            }
            Made::SmithPanicked => {
                tally.smith_panics += 1;
                continue;
            }
            Made::Nothing => continue,
        };
        tally.packages += 1;
        for opts in smith::selections(&resolve, pkg) {
            exercise(&resolve, pkg, opts, seed, &mut tally);
        }
    }
    println!(
        "wit-smith: {} seeds from {first}, {} packages ({} flags types of over 32 members; wit-smith itself panicked on {}), {} models, WITX: {} functions derived, {} refused; bindings (output, refused): {:?}; {} C outputs compiled; refusals: {:?}; {} findings; {:.1?}",
        tally.seeds,
        tally.packages,
        tally.wide_flags,
        tally.smith_panics,
        tally.models,
        tally.derived,
        tally.rejected,
        tally.bindings,
        tally.c_compiled,
        tally.refusals,
        tally.findings.len(),
        start.elapsed()
    );
    assert!(
        tally.findings.is_empty(),
        "{} findings; the first ten:\n{}",
        tally.findings.len(),
        tally.findings[..tally.findings.len().min(10)].join("\n")
    );
    assert!(
        tally.packages as u64 > tally.seeds / 4,
        "too few packages generated: {}",
        tally.packages
    );
    assert!(
        tally.derived > 0 && tally.rejected > 0,
        "both outcomes of the derivation are exercised"
    );
    assert!(
        tally.seeds < 200 || tally.wide_flags > 0,
        "flags of over 32 members reach the generators"
    );
    for (target, (made, refused)) in &tally.bindings {
        assert!(
            *made > 0 && *refused > 0,
            "both outcomes of bindgen {target} are exercised"
        );
    }
}

/// Flags of over 32 members, which the component binary format refuses,
/// come back whole from the binary wit-smith gives.
#[test]
fn wide_flags_survive_the_component_binary() {
    let names = |n: usize| (0..n).map(|i| format!("m{i}")).collect::<Vec<_>>();
    let wit = format!(
        "package t:wide;\ninterface i {{\n  flags small {{ {} }}\n  flags wide {{ {} }}\n  flags wider {{ {} }}\n  f: func(a: small, b: wide, c: wider);\n}}\n",
        names(3).join(", "),
        names(40).join(", "),
        names(70).join(", ")
    );
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve.push_str("wide.wit", &wit).unwrap();
    let wasm = wit_component::encode(&resolve, pkg).unwrap();
    assert!(
        wit_parser::decoding::decode(&wasm).is_err(),
        "the decoder refuses flags of over 32 members"
    );
    let (narrow, wide) = smith::narrow_flags(&wasm);
    assert_eq!(wide, [names(40), names(70)]);
    let wit_parser::decoding::DecodedWasm::WitPackage(mut decoded, _) =
        wit_parser::decoding::decode(&narrow).unwrap()
    else {
        panic!("not a WIT package");
    };
    assert_eq!(smith::widen_flags(&mut decoded, &wide), 2);
    let members = |r: &wit_parser::Resolve| {
        let mut all: Vec<(String, Vec<String>)> = r
            .types
            .iter()
            .filter_map(|(_, t)| match &t.kind {
                wit_parser::TypeDefKind::Flags(f) => Some((
                    t.name.clone().unwrap_or_default(),
                    f.flags.iter().map(|f| f.name.clone()).collect(),
                )),
                _ => None,
            })
            .collect();
        all.sort();
        all
    };
    assert_eq!(members(&decoded), members(&resolve));
}
