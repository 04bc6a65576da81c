//! `wasi-threads run`: the example program, exit codes, traps, arguments,
//! environment and the thread limit, through the binary; and the embedding
//! example, `examples/embed.rs`, as a library user runs the host.

mod support;

/// The embedding example, whose `run` writes what `cargo run --example
/// embed` prints.
#[path = "../examples/embed.rs"]
#[allow(dead_code)]
mod embed;

use support::{scratch, wasi_threads, wasi_threads_env};

#[test]
fn the_example_runs_its_threads() {
    let run = wasi_threads(&["run", "examples/threads.wat"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{}", run.stdout);
    assert_eq!(lines[4], "main: all 4 threads finished");
    let mut tids = Vec::new();
    let mut ns = Vec::new();
    for line in &lines[..4] {
        // thread <tid>: 1 + ... + <n> = <sum>
        let rest = line
            .strip_prefix("thread ")
            .unwrap_or_else(|| panic!("{line}"));
        let (tid, rest) = rest.split_once(": 1 + ... + ").unwrap();
        let (n, sum) = rest.split_once(" = ").unwrap();
        let (tid, n, sum): (u32, u64, u64) = (
            tid.parse().unwrap(),
            n.parse().unwrap(),
            sum.parse().unwrap(),
        );
        assert_eq!(sum, n * (n + 1) / 2, "{line}");
        tids.push(tid);
        ns.push(n);
    }
    tids.sort();
    tids.dedup();
    assert_eq!(tids.len(), 4, "distinct thread ids: {tids:?}");
    ns.sort();
    assert_eq!(ns, [1_000_000, 2_000_000, 3_000_000, 4_000_000]);
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

const COUNTS: &str = r#"(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $args (i32.const 0) (i32.const 4)))
    (drop (call $env (i32.const 8) (i32.const 12)))
    ;; exit code: 10 * argc + environment count
    (call $exit (i32.add (i32.mul (i32.load (i32.const 0)) (i32.const 10)) (i32.load (i32.const 8))))))"#;

#[test]
fn arguments_and_environment_reach_the_program() {
    let dir = scratch("run-counts");
    let module = write(&dir, "counts.wat", COUNTS);
    let run = wasi_threads(&["run", "--env", "A=1", "--env", "B=two", &module, "x", "--y"]);
    // argv is the module, x and --y.
    assert_eq!(run.code, 32, "{}", run.stderr);
    let run = wasi_threads(&["run", &module]);
    assert_eq!(run.code, 10, "{}", run.stderr);
}

#[test]
fn a_trap_exits_134_naming_the_thread() {
    let dir = scratch("run-trap");
    let module = write(
        &dir,
        "trap.wat",
        r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "env" "memory" (memory 1 1 shared))
  (func (export "wasi_thread_start") (param i32 i32) unreachable)
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1)))))"#,
    );
    let run = wasi_threads(&["run", &module]);
    assert_eq!(run.code, 134);
    assert!(
        run.stderr.starts_with("error: thread 1 trapped: "),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("unreachable"), "{}", run.stderr);
}

#[test]
fn max_threads_limits_spawn() {
    let dir = scratch("run-limit");
    let module = write(
        &dir,
        "limit.wat",
        r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "env" "memory" (memory 1 1 shared))
  (export "memory" (memory 0))
  (func (export "wasi_thread_start") (param i32 i32)
    (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1))))
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    ;; exit with the second spawn's error, negated
    (call $exit (i32.sub (i32.const 0) (call $spawn (i32.const 0))))))"#,
    );
    let run = wasi_threads(&["run", "--max-threads", "1", &module]);
    assert_eq!(run.code, 6, "thread-spawn gave -6 (again): {}", run.stderr);
}

#[test]
fn a_module_that_cannot_run_is_bad_input() {
    let run = wasi_threads(&["run", "no/such.wasm"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with("error: cannot read no/such.wasm"),
        "{}",
        run.stderr
    );
    let dir = scratch("run-bad");
    let module = write(
        &dir,
        "bad.wat",
        "(module (import \"nowhere\" \"f\" (func)) (func (export \"_start\")))",
    );
    let run = wasi_threads(&["run", &module]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("nowhere"), "{}", run.stderr);
}

#[test]
fn wasmtime_46s_options_are_taken() {
    let dir = scratch("run-wasmtime-options");
    let module = write(&dir, "counts.wat", COUNTS);
    let run = wasi_threads(&[
        "run",
        "-W",
        "threads=y,shared-memory=y",
        "-S",
        "threads=y",
        "-S",
        "preview2=n",
        "--env",
        "A=1",
        &module,
        "x",
    ]);
    assert_eq!(run.code, 21, "{}", run.stderr);
    // `--env NAME` passes on the host's value, and nothing when it has none.
    let run = wasi_threads_env(
        &[
            "run",
            "--env",
            "FROM_HOST",
            "--env",
            "NOT_ON_THE_HOST",
            &module,
        ],
        &[("FROM_HOST", "yes")],
    );
    assert_eq!(run.code, 11, "{}", run.stderr);
    // `-S inherit-env`: at least the variable set here.
    let run = wasi_threads_env(
        &["run", "-S", "inherit-env", &module],
        &[("FROM_HOST", "yes")],
    );
    assert!(run.code > 10, "{}", run.stderr);
}

#[test]
fn unknown_or_malformed_options_are_errors_naming_them() {
    let dir = scratch("run-bad-options");
    let module = write(&dir, "counts.wat", COUNTS);
    for (args, named) in [
        (vec!["-W", "threads,simd"], "unknown `-W` option `simd`"),
        (vec!["-S", "nn=y"], "unknown `-S` option `nn`"),
        (vec!["-W", "fuel=lots"], "`-W fuel=lots`"),
        (vec!["-S", "preview2"], "preview2=y"),
        (vec!["--env", "=x"], "the name is empty"),
    ] {
        let mut all = vec!["run"];
        all.extend(args);
        all.push(&module);
        let run = wasi_threads(&all);
        assert_eq!(run.code, 2, "{all:?}");
        assert!(run.stderr.contains(named), "{all:?}: {}", run.stderr);
        assert_eq!(run.stdout, "");
    }
}

const SPIN: &str = r#"(module
  (import "env" "memory" (memory 2 4 shared))
  (func (export "_start") (loop $spin (br $spin))))"#;

#[test]
fn wasmtime_limits_fuel_timeout_and_memory() {
    let dir = scratch("run-limits");
    let module = write(&dir, "spin.wat", SPIN);
    let run = wasi_threads(&["run", "-W", "timeout=100ms", &module]);
    assert_eq!(run.code, 134, "{}", run.stderr);
    assert_eq!(run.stderr, "error: the time limit was reached\n");
    let run = wasi_threads(&["run", "-W", "fuel=10000", &module]);
    assert_eq!(run.code, 134, "{}", run.stderr);
    assert!(run.stderr.contains("fuel"), "{}", run.stderr);
    let run = wasi_threads(&["run", "-W", "max-memory-size=65536", &module]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("over the memory limit of 65536"),
        "{}",
        run.stderr
    );
}

#[test]
fn turning_threads_off_refuses_threaded_modules_as_wasmtime_does() {
    let dir = scratch("run-threads-off");
    let module = write(&dir, "spin.wat", SPIN);
    let run = wasi_threads(&["run", "-W", "threads=n", &module]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("threads"), "{}", run.stderr);
    let spawner = write(
        &dir,
        "spawner.wat",
        r#"(module
  (import "wasi" "thread-spawn" (func (param i32) (result i32)))
  (import "env" "memory" (memory 1 1 shared))
  (func (export "_start")))"#,
    );
    let run = wasi_threads(&["run", "-S", "threads=n", &spawner]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("thread-spawn"), "{}", run.stderr);
}

#[test]
fn help_lists_exit_codes_and_defaults() {
    let run = wasi_threads(&["run", "--help"]);
    assert_eq!(run.code, 0);
    for text in [
        "Exit codes:",
        "134",
        "Defaults:",
        "8192",
        "-W threads=y,shared-memory=y -S threads=y",
    ] {
        assert!(run.stdout.contains(text), "{text}: {}", run.stdout);
    }
    // Every other command says what its exit codes mean, each its own.
    for (command, texts) in [
        ("abi", &["Exit codes: 0 printed; 2 bad input"][..]),
        ("witx", &["1 some function could not be derived"]),
        ("check", &["0 equivalent; 1 some function"]),
        (
            "bindgen",
            &["1 some function uses a construct", "nothing is written"],
        ),
        (
            "check-module",
            &[
                "1 a mismatch, a missing export",
                "2 bad input (a module that is not wasm",
            ],
        ),
    ] {
        let run = wasi_threads(&[command, "--help"]);
        assert_eq!(run.code, 0, "{command}: {}", run.stderr);
        for text in texts {
            assert!(
                run.stdout.contains(text),
                "{command}: {text}: {}",
                run.stdout
            );
        }
    }
}

/// Exits with the file types of descriptors 0, 1 and 2 (as `fd_fdstat_get`
/// gives them) packed as `t0 + 8 * t1 + 64 * t2`; 1 (a block device, which
/// none is) when the call fails, 5 when a character device could seek
/// (wasi-libc's `isatty` wants neither `fd_seek` nor `fd_tell`).
const FILETYPES: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fdstat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func $type (param $fd i32) (result i32)
    (if (call $fdstat (local.get $fd) (i32.const 0)) (then (return (i32.const 1))))
    (if (i32.and
          (i32.eq (i32.load8_u (i32.const 0)) (i32.const 2))
          (i64.ne (i64.and (i64.load (i32.const 8)) (i64.const 36)) (i64.const 0)))
      (then (return (i32.const 5))))
    (i32.load8_u (i32.const 0)))
  (func (export "_start")
    (call $exit
      (i32.add (call $type (i32.const 0))
        (i32.add (i32.mul (call $type (i32.const 1)) (i32.const 8))
          (i32.mul (call $type (i32.const 2)) (i32.const 64)))))))"#;

/// A pseudo-terminal: (the controlling side, the terminal the program sees).
fn pty() -> (std::os::fd::OwnedFd, std::fs::File) {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let terminal = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().unwrap())
        .unwrap();
    (master, terminal)
}

#[test]
fn stdio_descriptors_say_what_they_are_terminal_file_or_stream() {
    use std::process::Stdio;
    const UNKNOWN: i32 = 0;
    const CHARACTER_DEVICE: i32 = 2;
    const REGULAR_FILE: i32 = 4;
    let dir = scratch("run-filetypes");
    let module = write(&dir, "types.wat", FILETYPES);
    let file = |name: &str| {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(dir.join(name))
            .unwrap()
    };
    let run = |stdin: Stdio, stdout: Stdio, stderr: Stdio| {
        support::binary()
            .args(["run", &module])
            .stdin(stdin)
            .stdout(stdout)
            .stderr(stderr)
            .status()
            .unwrap()
            .code()
            .unwrap()
    };
    // stdin a file, stdout a terminal, stderr a pipe.
    let (_master, terminal) = pty();
    let code = run(file("in").into(), terminal.into(), Stdio::piped());
    assert_eq!(code, REGULAR_FILE + 8 * CHARACTER_DEVICE + 64 * UNKNOWN);
    // stdin a pipe, stdout a file, stderr a terminal.
    let (_master, terminal) = pty();
    let code = run(Stdio::piped(), file("out").into(), terminal.into());
    assert_eq!(code, UNKNOWN + 8 * REGULAR_FILE + 64 * CHARACTER_DEVICE);
}

const SAYS: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const CODE))))"#;

/// The cache's entries (not its temporary files).
fn entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    found.retain(|p| p.extension().is_some_and(|e| e == "cwasm"));
    found.sort();
    found
}

#[test]
fn compiled_modules_are_kept_and_used_from_the_cache() {
    let dir = scratch("run-cache");
    let cache = dir.join("cache");
    let cache_arg = cache.to_str().unwrap();
    let a = write(&dir, "a.wat", &SAYS.replace("CODE", "11"));
    let b = write(&dir, "b.wat", &SAYS.replace("CODE", "22"));

    let run = wasi_threads(&["run", "--cache-dir", cache_arg, &a]);
    assert_eq!(run.code, 11, "{}", run.stderr);
    let after_a = entries(&cache);
    assert_eq!(after_a.len(), 1, "one entry for a: {after_a:?}");
    let run = wasi_threads(&["run", "--cache-dir", cache_arg, &b]);
    assert_eq!(run.code, 22, "{}", run.stderr);
    let both = entries(&cache);
    assert_eq!(both.len(), 2, "{both:?}");
    let entry_a = after_a[0].clone();
    let entry_b = both.iter().find(|p| **p != entry_a).unwrap().clone();

    // A second run of a adds nothing.
    let run = wasi_threads(&["run", "--cache-dir", cache_arg, &a]);
    assert_eq!(run.code, 11, "{}", run.stderr);
    assert_eq!(entries(&cache), both);

    // The run really comes from the entry: given b's sound entry under
    // a's name, running a runs b's code.
    std::fs::copy(&entry_b, &entry_a).unwrap();
    let run = wasi_threads(&["run", "--cache-dir", cache_arg, &a]);
    assert_eq!(run.code, 22, "{}", run.stderr);

    // A damaged entry is compiled again and replaced, never loaded.
    let mut damaged = std::fs::read(&entry_b).unwrap();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x5a;
    std::fs::write(&entry_a, &damaged).unwrap();
    let run = wasi_threads(&["run", "--cache-dir", cache_arg, &a]);
    assert_eq!(run.code, 11, "{}", run.stderr);
    let replaced = std::fs::read(&entry_a).unwrap();
    assert_ne!(replaced, damaged, "the damaged entry is replaced");
    let run = wasi_threads(&["run", "--cache-dir", cache_arg, &a]);
    assert_eq!(run.code, 11, "{}", run.stderr);
    // A truncated one too.
    std::fs::write(&entry_a, &replaced[..replaced.len() / 3]).unwrap();
    let run = wasi_threads(&["run", "--cache-dir", cache_arg, &a]);
    assert_eq!(run.code, 11, "{}", run.stderr);
    assert_eq!(std::fs::read(&entry_a).unwrap().len(), replaced.len());
}

#[test]
fn no_cache_and_the_default_directory() {
    let dir = scratch("run-no-cache");
    let cache = dir.join("from-env");
    let a = write(&dir, "a.wat", &SAYS.replace("CODE", "5"));
    let env = [("WASI_THREADS_CACHE", cache.to_str().unwrap())];
    let run = wasi_threads_env(&["run", "--no-cache", &a], &env);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(entries(&cache).is_empty(), "--no-cache writes nothing");
    let run = wasi_threads_env(&["run", &a], &env);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert_eq!(
        entries(&cache).len(),
        1,
        "WASI_THREADS_CACHE is the default"
    );
    // An unwritable cache is no error: the module is compiled and run.
    let file = dir.join("a-file");
    std::fs::write(&file, "").unwrap();
    let run = wasi_threads(&["run", "--cache-dir", file.join("sub").to_str().unwrap(), &a]);
    assert_eq!(run.code, 5, "{}", run.stderr);
}

/// Programs that end while other threads spin, park or trap: the default
/// (the process ends at the outcome, no epoch checks) and
/// `-W epoch-interruption=y` (threads stopped one by one) give the same
/// exit code and messages, and both end.
#[test]
fn ending_the_process_and_stopping_threads_agree() {
    let dir = scratch("run-endings");
    let programs = [
        (
            "exit-while-spinning",
            r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "env" "memory" (memory 1 1 shared))
  (export "memory" (memory 0))
  (func (export "wasi_thread_start") (param i32 i32)
    (i32.atomic.store (i32.const 0) (i32.const 1))
    (loop $spin (br $spin)))
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (loop $wait (br_if $wait (i32.eqz (i32.atomic.load (i32.const 0)))))
    (call $exit (i32.const 3))))"#,
            3,
            "",
        ),
        (
            "return-while-parked",
            r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "env" "memory" (memory 1 1 shared))
  (export "memory" (memory 0))
  (func (export "wasi_thread_start") (param i32 i32)
    (i32.atomic.store (i32.const 0) (i32.const 1))
    (drop (memory.atomic.wait32 (i32.const 64) (i32.const 0) (i64.const -1))))
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (loop $wait (br_if $wait (i32.eqz (i32.atomic.load (i32.const 0)))))))"#,
            0,
            "",
        ),
        (
            "trap-while-main-spins",
            r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "env" "memory" (memory 1 1 shared))
  (export "memory" (memory 0))
  (func (export "wasi_thread_start") (param i32 i32) unreachable)
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (loop $spin (br $spin))))"#,
            134,
            "error: thread 1 trapped: ",
        ),
    ];
    for (name, wat, code, stderr) in programs {
        let module = write(&dir, &format!("{name}.wat"), wat);
        for mode in [&["run"][..], &["run", "-W", "epoch-interruption=y"][..]] {
            let mut args = mode.to_vec();
            args.push(&module);
            let run = wasi_threads(&args);
            assert_eq!(run.code, code, "{name} {mode:?}: {}", run.stderr);
            assert!(
                run.stderr.starts_with(stderr),
                "{name} {mode:?}: {}",
                run.stderr
            );
            if stderr.is_empty() {
                assert_eq!(run.stderr, "", "{name} {mode:?}");
            }
        }
    }
    // Without a timeout in either mode the time limit still ends a spin.
    let module = write(&dir, "spin.wat", SPIN);
    let run = wasi_threads(&["run", "-W", "epoch-interruption=y,timeout=50ms", &module]);
    assert_eq!(run.code, 134, "{}", run.stderr);
    assert_eq!(run.stderr, "error: the time limit was reached\n");
}

#[test]
fn the_embedding_example_prints_what_examples_embed_out_says() {
    let mut out = Vec::new();
    embed::run(&mut out).unwrap();
    let expected = std::fs::read_to_string(support::root().join("examples/embed.out")).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), expected);
}
