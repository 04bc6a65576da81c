//! The official WASI test suite's preview-1 tests (prebuilt, with their
//! specifications), run as its `doc/specification.md` says: through the
//! `wasi-threads` binary with the flags a user would type, each test alone
//! in parallel; and all at once inside one process through the library, on
//! one Engine.
//!
//! The suite is found through `WASI_TESTSUITE`, by default
//! `../shared/wasi-testsuite` beside the workspace; without it the tests
//! say they are skipped. Tests the suite expects to fail on every
//! conforming host would be listed in `tests/wasi-testsuite-failures.txt`
//! with their evidence; any other failure, and an unexpected pass, fails.

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use wasi_threads_host::preview1::{self, Stdin, WasiCtx};
use wasi_threads_host::threads::{self, WasiThreadsCtx};
use wasi_threads_host::{MemoryOutput, Outcome, Run};

/// One test of the suite and what its specification expects.
#[derive(Clone, Debug)]
struct Case {
    /// `rust/path_open_read_write`, `c/lseek`, ...
    name: String,
    wasm: PathBuf,
    /// The test's folder, where its `dirs` are.
    folder: PathBuf,
    args: Vec<String>,
    dirs: Vec<String>,
    env: Vec<(String, String)>,
    exit_code: i32,
    stdout: Option<String>,
}

/// What one run of a test gave.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    command: String,
}

fn suite() -> Option<PathBuf> {
    let path = match std::env::var_os("WASI_TESTSUITE") {
        Some(p) => PathBuf::from(p),
        None => support::root().join("../shared/wasi-testsuite"),
    };
    if path.join("tests").is_dir() {
        Some(path)
    } else {
        say(&format!(
            "skipped: the WASI test suite is not at {} (set WASI_TESTSUITE to its folder)",
            path.display()
        ));
        None
    }
}

/// Prints one line on the test process's stderr, past the test harness's
/// capture, so that a skip or a count shows in every run, passing or not.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Every `*.wasm` under `tests/*/testsuite/wasm32-wasip1/`, with its
/// specification (or the defaults).
fn cases(suite: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    for language in std::fs::read_dir(suite.join("tests")).unwrap() {
        let language = language.unwrap().path();
        let folder = language.join("testsuite/wasm32-wasip1");
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries {
            let wasm = entry.unwrap().path();
            if wasm.extension().is_none_or(|e| e != "wasm") {
                continue;
            }
            let stem = wasm.file_stem().unwrap().to_str().unwrap().to_string();
            let spec: serde_json::Value = match std::fs::read(wasm.with_extension("json")) {
                Ok(bytes) => serde_json::from_slice(&bytes)
                    .unwrap_or_else(|e| panic!("{}: {e}", wasm.display())),
                Err(_) => serde_json::json!({}),
            };
            let strings = |key: &str| -> Vec<String> {
                spec.get(key)
                    .and_then(|v| v.as_array())
                    .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default()
            };
            let env = spec
                .get("env")
                .and_then(|v| v.as_object())
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            cases.push(Case {
                name: format!("{}/{stem}", language.file_name().unwrap().to_str().unwrap()),
                folder: folder.clone(),
                args: strings("args"),
                dirs: strings("dirs"),
                env,
                exit_code: spec.get("exit_code").and_then(|v| v.as_i64()).unwrap_or(0) as i32,
                stdout: spec
                    .get("stdout")
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
                wasm,
            });
        }
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    // The suite has 72 preview-1 tests: fewer means a folder went missing.
    assert!(cases.len() >= 72, "found {} tests", cases.len());
    cases
}

/// Copies `from` into `to`, writable, leaving out `*.cleanup` files.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    let mut perms = std::fs::metadata(to).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(to, perms).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&src, &dst);
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if src.extension().is_none_or(|e| e != "cleanup") {
            std::fs::copy(&src, &dst).unwrap();
            let mut perms = std::fs::metadata(&dst).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&dst, perms).unwrap();
        }
    }
}

/// A fresh, writable copy of each directory the test preopens, in a
/// scratch folder of its own; returns (host path, guest name) pairs.
fn fresh_dirs(case: &Case, scratch: &Path) -> Vec<(PathBuf, String)> {
    let own = scratch.join(case.name.replace('/', "-"));
    let _ = std::fs::remove_dir_all(&own);
    case.dirs
        .iter()
        .map(|dir| {
            let copy = own.join(dir);
            copy_tree(&case.folder.join(dir), &copy);
            (copy, dir.clone())
        })
        .collect()
}

fn scratch(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wasi-threads-testsuite-{}-{what}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The tests expected to fail, with their evidence.
fn expected_failures() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(support::root().join("tests/wasi-testsuite-failures.txt"))
        .unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(char::is_whitespace) {
            Some((name, why)) => (name.to_string(), why.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

/// Whether `ran` is what `case` expects; the reason when not.
fn verdict(case: &Case, ran: &Ran) -> Result<(), String> {
    if ran.code != Some(case.exit_code) {
        return Err(format!(
            "exit code {:?}, expected {}",
            ran.code, case.exit_code
        ));
    }
    if let Some(stdout) = &case.stdout {
        if &ran.stdout != stdout {
            return Err(format!("stdout {:?}, expected {stdout:?}", ran.stdout));
        }
    }
    // The suite's tests skip what a host does not support, saying so
    // ("... skipping"): here every branch must run.
    if ran.stderr.contains("skipping") {
        return Err("a part of the test was skipped".to_string());
    }
    Ok(())
}

/// Checks every verdict against the expected failures; panics with every
/// difference.
fn judge(results: Vec<(Case, Ran)>) {
    let expected = expected_failures();
    let mut problems = Vec::new();
    let mut passed = 0;
    for (case, ran) in &results {
        match (verdict(case, ran), expected.get(&case.name)) {
            (Ok(()), None) => passed += 1,
            (Ok(()), Some(_)) => problems.push(format!(
                "{}: passed, but is listed as an expected failure",
                case.name
            )),
            (Err(_), Some(_)) => {}
            (Err(why), None) => problems.push(format!(
                "{}: {why}\n  command: {}\n  stderr: {}",
                case.name,
                ran.command,
                ran.stderr.trim_end().replace('\n', "\n          ")
            )),
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} WASI test suite tests failed:\n{}",
        problems.len(),
        results.len(),
        problems.join("\n")
    );
    say(&format!(
        "{passed} of {} WASI test suite tests passed ({} expected failures)",
        results.len(),
        expected.len()
    ));
}

/// Runs `f` over `items` on a few threads at once.
fn parallel<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
    let queue = Mutex::new(items.into_iter().enumerate().collect::<Vec<_>>());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let Some((i, item)) = queue.lock().unwrap().pop() else {
                    return;
                };
                let r = f(item);
                results.lock().unwrap().push((i, r));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// The test through the binary: `wasi-threads run --dir COPY::DIR --env
/// K=V MODULE ARGS...`, stdin an empty pipe, at most 60 s.
fn run_cli(case: &Case, scratch: &Path) -> Ran {
    let mut args: Vec<String> = vec!["run".into()];
    for (host, guest) in fresh_dirs(case, scratch) {
        args.push("--dir".into());
        args.push(format!("{}::{guest}", host.display()));
    }
    for (k, v) in &case.env {
        args.push("--env".into());
        args.push(format!("{k}={v}"));
    }
    args.push(case.wasm.display().to_string());
    args.extend(case.args.iter().cloned());
    let command = format!(
        "WASI_THREADS_CACHE={} wasi-threads {}",
        support::cache_dir().display(),
        args.join(" ")
    );
    let mut child = support::binary()
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wasi-threads");
    drop(child.stdin.take());
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = String::from_utf8_lossy(&out.join().unwrap()).into_owned();
    let mut stderr = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
    if status.is_none() {
        stderr.push_str("\n(killed after 60 s)");
    }
    Ran {
        code: status.and_then(|s| s.code()),
        stdout,
        stderr,
        command,
    }
}

#[test]
fn every_preview1_test_passes_through_the_binary() {
    let Some(suite) = suite() else { return };
    let cases = cases(&suite);
    let scratch = scratch("cli");
    let results = parallel(cases, |case| {
        let ran = run_cli(&case, &scratch);
        (case, ran)
    });
    let _ = std::fs::remove_dir_all(&scratch);
    judge(results);
}

/// Store data of the in-process runs.
#[derive(Clone)]
struct Host {
    wasi: WasiCtx,
    threads: WasiThreadsCtx<Host>,
}

#[test]
fn every_preview1_test_passes_all_at_once_in_one_process() {
    let Some(suite) = suite() else { return };
    let cases = cases(&suite);
    let scratch = scratch("library");
    let mut config = wasmtime::Config::new();
    wasi_threads_host::configure(&mut config);
    let engine = wasmtime::Engine::new(&config).unwrap();
    let mut linker: wasmtime::Linker<Host> = wasmtime::Linker::new(&engine);
    preview1::add_to_linker(&mut linker, |h: &mut Host| &mut h.wasi).unwrap();
    threads::add_to_linker(&mut linker, |h: &mut Host| &mut h.threads).unwrap();

    // Compiled in parallel, then every run started before any is waited on.
    let modules = parallel(cases.clone(), |case| {
        wasi_threads_host::compile(&engine, &std::fs::read(&case.wasm).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", case.name))
    });
    let started: Vec<(Case, Run, MemoryOutput, MemoryOutput)> = cases
        .into_iter()
        .zip(&modules)
        .map(|(case, module)| {
            let run = Run::new(&engine).unwrap();
            let (stdout, stderr) = (MemoryOutput::new(), MemoryOutput::new());
            let mut wasi = WasiCtx::builder()
                .arg(case.wasm.file_name().unwrap().to_str().unwrap())
                .args(case.args.iter().cloned())
                .stdin(Stdin::null())
                .stdout(stdout.clone())
                .stderr(stderr.clone());
            for (k, v) in &case.env {
                wasi = wasi.env(k, v);
            }
            for (host, guest) in fresh_dirs(&case, &scratch) {
                wasi = wasi.preopen_dir(host, &guest);
            }
            let wasi = wasi.build(&run).unwrap();
            let threads = WasiThreadsCtx::builder(module, &run)
                .build(&linker)
                .unwrap();
            let host = Host {
                wasi,
                threads: threads.clone(),
            };
            threads
                .start(wasmtime::Store::new(&engine, host))
                .unwrap_or_else(|e| panic!("{}: {e}", case.name));
            run.set_time_limit(Duration::from_secs(30));
            (case, run, stdout, stderr)
        })
        .collect();
    let results: Vec<(Case, Ran)> = started
        .into_iter()
        .map(|(case, run, stdout, stderr)| {
            let report = run.wait();
            let code = match &report.outcome {
                Outcome::Exit(code) => Some(*code),
                _ => None,
            };
            let mut stderr = String::from_utf8_lossy(&stderr.contents()).into_owned();
            if code.is_none() {
                stderr.push_str(&format!("\n(outcome: {})", report.outcome));
            }
            let ran = Ran {
                code,
                stdout: String::from_utf8_lossy(&stdout.contents()).into_owned(),
                stderr,
                command: format!(
                    "(in process) {} {}",
                    case.wasm.display(),
                    case.args.join(" ")
                ),
            };
            (case, ran)
        })
        .collect();
    let _ = std::fs::remove_dir_all(&scratch);
    judge(results);
}
