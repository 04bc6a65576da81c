//! A fuzzer of the preview-1 host under hostile guests: random sequences of
//! preview-1 calls with random, mostly invalid arguments (pointers and
//! lengths anywhere, huge iovec counts, bad descriptors and flags, paths with
//! `..`, NUL, invalid UTF-8, symlink loops), made through a generated
//! module's imports from several threads at once, against a scratch preopen
//! and one end of a socket pair.
//!
//! Properties, each measured: the host's heap (a counting global allocator)
//! never grows beyond the documented per-call bound times the threads, plus
//! what the run itself needs; canary files, directories and symlinks beside
//! and above the preopen are unchanged; every call answers an errno or the
//! guest traps; no host panic; every run ends within 10 s of its outcome,
//! leaving no thread behind.
//!
//! The memory is one page in most cases and up to 16 pages in others, so
//! pointers and lengths near the end of a larger memory are tried too.
//! What ran is counted by the host, not read off the generated program: the
//! guest calls `env.begin(import)` before each preview-1 call and
//! `env.started()` as each thread begins, so a case that traps early counts
//! only the calls it made.
//!
//! `FUZZ_CASES` (default 60) and `FUZZ_SEED` choose the cases; the figures
//! are printed at the end (`--nocapture`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasi_threads_host::preview1::{self, Stdin, WasiCtx};
use wasi_threads_host::threads::{self, WasiThreadsCtx};
use wasi_threads_host::{Outcome, Output, Run};
use wasmtime::{Caller, Config, Engine, Linker, Store};

#[path = "support/counting.rs"]
mod counting;

use counting::Counting;

#[global_allocator]
static GLOBAL: Counting = Counting;

/// SplitMix64: the cases are reproducible from their seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// The paths a call may name: in memory from 0, each (offset, length).
const PATHS: &[&[u8]] = &[
    b"f",
    b"d",
    b"d/e",
    b"new",
    b"newdir",
    b"link",
    b"loop1",
    b"out",
    b"..",
    b"../canary",
    b"d/../../canary",
    b"/etc/passwd",
    b".",
    b"f/",
    b"d/",
    b"a\0b",
    b"\xff\xfe",
    b"",
    b"sock",
];

/// Where the paths, the iovecs and the subscriptions are in memory (all in
/// the first page).
const IOVECS: u32 = 1024;
const SUBSCRIPTIONS: u32 = 2048;
const BUFFERS: u32 = 8192;
const PAGE: u32 = 65536;
const COUNTER: u32 = 60000;
/// 1024 iovecs, each naming the whole memory: from 64 MiB (one page) to
/// 1 GiB (16 pages) asked of one call.
const WHOLE: u32 = 16384;
/// The memory sizes a case may have, in pages.
const PAGES: &[u32] = &[1, 1, 1, 2, 3, 16];

fn path_table() -> Vec<(u32, u32)> {
    let mut at = 0;
    PATHS
        .iter()
        .map(|p| {
            let here = (at, p.len() as u32);
            at += p.len() as u32 + 1;
            here
        })
        .collect()
}

/// A value an argument may take.
enum Arg {
    I32(i64),
    I64(i64),
}

/// One call of the generated program: the import and its arguments.
struct Call {
    name: &'static str,
    args: Vec<Arg>,
}

/// (name, parameter kinds) of every preview-1 import the fuzzer calls;
/// kinds: f fd, p pointer, l length, n iovec count, x flags (i32), X i64,
/// P (path pointer, path length) as two parameters.
const IMPORTS: &[(&str, &str)] = &[
    ("args_get", "pp"),
    ("args_sizes_get", "pp"),
    ("environ_get", "pp"),
    ("environ_sizes_get", "pp"),
    ("clock_res_get", "xp"),
    ("clock_time_get", "xXp"),
    ("fd_advise", "fXXx"),
    ("fd_allocate", "fXX"),
    ("fd_close", "f"),
    ("fd_datasync", "f"),
    ("fd_fdstat_get", "fp"),
    ("fd_fdstat_set_flags", "fx"),
    ("fd_fdstat_set_rights", "fXX"),
    ("fd_filestat_get", "fp"),
    ("fd_filestat_set_size", "fX"),
    ("fd_filestat_set_times", "fXXx"),
    ("fd_pread", "fpnXp"),
    ("fd_prestat_get", "fp"),
    ("fd_prestat_dir_name", "fpl"),
    ("fd_pwrite", "fpnXp"),
    ("fd_read", "fpnp"),
    ("fd_readdir", "fplXp"),
    ("fd_renumber", "ff"),
    ("fd_seek", "fXxp"),
    ("fd_sync", "f"),
    ("fd_tell", "fp"),
    ("fd_write", "fpnp"),
    ("path_create_directory", "fP"),
    ("path_filestat_get", "fxPp"),
    ("path_filestat_set_times", "fxPXXx"),
    ("path_link", "fxPfP"),
    ("path_open", "fxPxXXxp"),
    ("path_readlink", "fPplp"),
    ("path_remove_directory", "fP"),
    ("path_rename", "fPfP"),
    ("path_symlink", "PfP"),
    ("path_unlink_file", "fP"),
    ("poll_oneoff", "ppnp"),
    ("proc_raise", "x"),
    ("random_get", "pl"),
    ("sched_yield", ""),
    ("sock_accept", "fxp"),
    ("sock_recv", "fpnxpp"),
    ("sock_send", "fpnxp"),
    ("sock_shutdown", "fx"),
];

fn core_type(kind: char) -> &'static str {
    match kind {
        'X' => "i64",
        'P' => "i32 i32",
        _ => "i32",
    }
}

/// A call with random arguments, for a memory of `memory` bytes.
fn random_call(rng: &mut Rng, paths: &[(u32, u32)], memory: u32) -> Call {
    let (name, kinds) = rng.pick(IMPORTS);
    let mut args = Vec::new();
    for kind in kinds.chars() {
        match kind {
            'f' => args.push(Arg::I32(match rng.below(30) {
                0 => -1,
                1 => 4096,
                _ => rng.pick(&[0, 1, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 7, 9]),
            })),
            'p' => {
                let p = match rng.below(40) {
                    0 => rng.pick(&[-1, -4, memory as i64 - 2, memory as i64, 1]),
                    // Near the end of the memory: some calls fit, some
                    // reach past it.
                    13..=14 => memory as i64 - 8 * rng.below(64) as i64,
                    9..=10 => WHOLE as i64,
                    1..=8 => IOVECS as i64 + 8 * rng.below(8) as i64,
                    11..=12 => SUBSCRIPTIONS as i64,
                    _ => BUFFERS as i64 + 8 * rng.below(4096) as i64,
                };
                args.push(Arg::I32(p));
            }
            'l' => args.push(Arg::I32(match rng.below(12) {
                0 => rng.pick(&[0x7fff_ffff, -1, -100, memory as i64, PAGE as i64]),
                1..=2 => rng.below(65536) as i64,
                _ => rng.below(300) as i64,
            })),
            'n' => args.push(Arg::I32(match rng.below(8) {
                0 => rng.pick(&[1024, 1025, 0x1000_0000, -1]),
                _ => rng.below(5) as i64,
            })),
            // Flags and enums: mostly values that convert (an invalid one
            // traps in the glue, ending the case early).
            'x' => args.push(Arg::I32(match rng.below(100) {
                0 => rng.next() as u32 as i64,
                1..=4 => rng.below(32) as i64,
                _ => rng.below(2) as i64,
            })),
            'X' => args.push(Arg::I64(match rng.below(50) {
                0 => rng.next() as i64,
                1..=2 => rng.pick(&[i64::MAX, -1, i64::MIN, 1 << 40]),
                3..=10 => (rng.next() & 0x3fff_ffff) as i64,
                _ => rng.below(100_000) as i64,
            })),
            'P' => {
                let (at, len) = if rng.below(12) == 0 {
                    (rng.below(memory as u64 + 10) as u32, rng.next() as u32)
                } else {
                    rng.pick(paths)
                };
                args.push(Arg::I32(at as i64));
                args.push(Arg::I32(len as i64));
            }
            _ => unreachable!(),
        }
    }
    Call { name, args }
}

/// The generated program, for a memory of `pages` pages: each thread
/// (main and `children`) tells `env.started()` it began, then makes its
/// calls, each announced to `env.begin(import)` and its result reported to
/// `env.result(index, value)`; children count themselves out at COUNTER;
/// main waits for them (with a timeout, since a child's call may block) and
/// returns. Also returns the number of calls written.
fn program(rng: &mut Rng, children: u32, calls: usize, pages: u32) -> (String, usize) {
    let memory = pages * PAGE;
    let paths = path_table();
    let mut wat = String::from("(module\n");
    wat.push_str("  (import \"wasi\" \"thread-spawn\" (func $spawn (param i32) (result i32)))\n");
    wat.push_str("  (import \"env\" \"result\" (func $result (param i32 i32)))\n");
    wat.push_str("  (import \"env\" \"begin\" (func $begin (param i32)))\n");
    wat.push_str("  (import \"env\" \"started\" (func $started))\n");
    for (name, kinds) in IMPORTS {
        let params: Vec<&str> = kinds.chars().map(core_type).collect();
        writeln!(
            wat,
            "  (import \"wasi_snapshot_preview1\" \"{name}\" (func ${name} (param {}) (result i32)))",
            params.join(" ")
        )
        .unwrap();
    }
    wat.push_str(
        "  (import \"wasi_snapshot_preview1\" \"proc_exit\" (func $proc_exit (param i32)))\n",
    );
    writeln!(
        wat,
        "  (import \"env\" \"memory\" (memory {pages} {pages} shared))\n  (export \"memory\" (memory 0))"
    )
    .unwrap();
    // Paths.
    let mut data = Vec::new();
    for p in PATHS {
        data.extend_from_slice(p);
        data.push(0);
    }
    // Iovecs: some valid (into BUFFERS or the memory's last bytes), some
    // wild, some one byte past the end.
    let mut iovecs = Vec::new();
    for i in 0..16u32 {
        let (buf, len) = match i % 4 {
            0 => (BUFFERS + i * 64, 64),
            1 if i == 5 => (memory - 16, 16 + rng.below(2) as u32),
            1 => (BUFFERS + i * 512, 4096),
            2 => (rng.below(memory as u64) as u32, rng.next() as u32),
            _ => (BUFFERS, 0),
        };
        iovecs.extend_from_slice(&buf.to_le_bytes());
        iovecs.extend_from_slice(&len.to_le_bytes());
    }
    // Subscriptions: a 1 ms clock, a read of stdin, a read of the socket.
    let mut subs = Vec::new();
    for (tag, fd) in [(0u8, 0u32), (1, 0), (1, 5)] {
        let mut s = [0u8; 48];
        s[0..8].copy_from_slice(&(rng.next()).to_le_bytes());
        s[8] = tag;
        if tag == 0 {
            s[16..20].copy_from_slice(&1u32.to_le_bytes());
            s[24..32].copy_from_slice(&1_000_000u64.to_le_bytes());
        } else {
            s[16..20].copy_from_slice(&fd.to_le_bytes());
        }
        subs.extend_from_slice(&s);
    }
    let escape = |bytes: &[u8]| {
        bytes
            .iter()
            .map(|b| format!("\\{b:02x}"))
            .collect::<String>()
    };
    writeln!(wat, "  (data (i32.const 0) \"{}\")", escape(&data)).unwrap();
    writeln!(wat, "  (data (i32.const {IOVECS}) \"{}\")", escape(&iovecs)).unwrap();
    writeln!(
        wat,
        "  (data (i32.const {SUBSCRIPTIONS}) \"{}\")",
        escape(&subs)
    )
    .unwrap();
    let whole: Vec<u8> = (0..1024)
        .flat_map(|_| 0u32.to_le_bytes().into_iter().chain(memory.to_le_bytes()))
        .collect();
    writeln!(wat, "  (data (i32.const {WHOLE}) \"{}\")", escape(&whole)).unwrap();
    let mut total = 0;
    // Each thread's calls, one string each.
    let mut bodies: Vec<Vec<String>> = Vec::new();
    let import_index = |name: &str| IMPORTS.iter().position(|(n, _)| *n == name).unwrap();
    for _ in 0..=children {
        let mut body = Vec::new();
        for _ in 0..calls {
            let call = random_call(rng, &paths, memory);
            let args: Vec<String> = call
                .args
                .iter()
                .map(|a| match a {
                    Arg::I32(v) => format!("(i32.const {})", *v as i32),
                    Arg::I64(v) => format!("(i64.const {v})"),
                })
                .collect();
            body.push(format!(
                "    (call $begin (i32.const {}))\n    (call $result (i32.const {total}) (call ${} {}))\n",
                import_index(call.name),
                call.name,
                args.join(" ")
            ));
            total += 1;
        }
        bodies.push(body);
    }
    // Often, one thread asks one call, anywhere among its others, to
    // gather 64 MiB to 1 GiB (1024 iovecs of the whole memory) for stdout
    // or the socket.
    if rng.below(3) == 0 {
        let which = rng.below(bodies.len() as u64) as usize;
        let at = rng.below(bodies[which].len() as u64 + 1) as usize;
        let (name, fd) = rng.pick(&[("fd_write", 1), ("fd_write", 5), ("sock_send", 5)]);
        let flags = if name == "sock_send" {
            " (i32.const 0)"
        } else {
            ""
        };
        bodies[which].insert(
            at,
            format!(
                "    (call $begin (i32.const {}))\n    (call $result (i32.const {total}) (call ${name} (i32.const {fd}) (i32.const {WHOLE}) (i32.const 1024){flags} (i32.const {BUFFERS})))\n",
                import_index(name)
            ),
        );
        total += 1;
    }
    // Rarely, a thread ends the program in the middle of everything.
    if rng.below(16) == 0 {
        let which = rng.below(bodies.len() as u64) as usize;
        let at = rng.below(bodies[which].len() as u64 + 1) as usize;
        bodies[which].insert(
            at,
            format!(
                "    (call $begin (i32.const {}))\n    (call $proc_exit (i32.const 42))\n",
                IMPORTS.len()
            ),
        );
        total += 1;
    }
    let bodies: Vec<String> = bodies
        .iter()
        .map(|calls| format!("    (call $started)\n{}", calls.concat()))
        .collect();
    wat.push_str("  (func (export \"wasi_thread_start\") (param $tid i32) (param $which i32)\n");
    for (i, body) in bodies.iter().enumerate().skip(1) {
        writeln!(
            wat,
            "    (if (i32.eq (local.get $which) (i32.const {i})) (then\n{body}    ))"
        )
        .unwrap();
    }
    writeln!(
        wat,
        "    (drop (i32.atomic.rmw.add (i32.const {COUNTER}) (i32.const 1)))\n    (drop (memory.atomic.notify (i32.const {COUNTER}) (i32.const -1))))"
    )
    .unwrap();
    wat.push_str("  (func (export \"_start\") (local $n i32) (local $tries i32)\n");
    for i in 1..=children {
        writeln!(wat, "    (drop (call $spawn (i32.const {i})))").unwrap();
    }
    wat.push_str(&bodies[0]);
    writeln!(
        wat,
        "    (loop $wait\n      (local.set $n (i32.atomic.load (i32.const {COUNTER})))\n      (if (i32.and (i32.lt_u (local.get $n) (i32.const {children})) (i32.lt_u (local.get $tries) (i32.const 200)))\n        (then\n          (drop (memory.atomic.wait32 (i32.const {COUNTER}) (local.get $n) (i64.const 10000000)))\n          (local.set $tries (i32.add (local.get $tries) (i32.const 1)))\n          (br $wait)))))\n)"
    )
    .unwrap();
    (wat, total)
}

/// Everything beside and above the preopen: name -> contents (or link
/// target), to compare before and after.
fn snapshot(dir: &Path, skip: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path == skip {
            continue;
        }
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).unwrap();
            out.insert(path, target.into_os_string().into_encoded_bytes());
        } else if meta.is_dir() {
            out.insert(path.clone(), b"<dir>".to_vec());
            snapshot(&path, skip, out);
        } else {
            out.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
}

#[derive(Clone)]
struct Host {
    wasi: WasiCtx,
    threads: WasiThreadsCtx<Host>,
}

/// What calls answered: (out-of-range answers as (call, value)).
type Answers = Arc<Mutex<Vec<(i32, i32)>>>;

/// What ran, counted by the host as the guest runs: calls begun, by import
/// (`proc_exit` last), calls answered, and threads started. Reset for each
/// case.
struct Executed {
    begun: Vec<AtomicU64>,
    answered: AtomicU64,
    started: AtomicU64,
}

impl Executed {
    fn reset(&self) {
        for n in &self.begun {
            n.store(0, Ordering::SeqCst);
        }
        self.answered.store(0, Ordering::SeqCst);
        self.started.store(0, Ordering::SeqCst);
    }

    fn begun(&self) -> u64 {
        self.begun.iter().map(|n| n.load(Ordering::SeqCst)).sum()
    }
}

#[test]
fn hostile_call_sequences_from_several_threads_keep_every_guarantee() {
    let cases: u64 = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed);
    let root = std::env::temp_dir().join(format!("wasi-threads-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let outside = root.join("outside");
    let sandbox = outside.join("sandbox");
    std::fs::create_dir_all(outside.join("canary-dir")).unwrap();
    std::fs::write(root.join("canary"), b"above").unwrap();
    std::fs::write(outside.join("canary"), b"beside").unwrap();
    std::fs::write(outside.join("canary-dir/x"), b"inside a sibling").unwrap();
    std::os::unix::fs::symlink("canary", outside.join("canary-link")).unwrap();
    let mut before = BTreeMap::new();
    snapshot(&root, &sandbox, &mut before);

    let mut config = Config::new();
    wasi_threads_host::configure(&mut config);
    let engine = Engine::new(&config).unwrap();
    let answers: Answers = Arc::new(Mutex::new(Vec::new()));
    let executed = Arc::new(Executed {
        begun: (0..=IMPORTS.len()).map(|_| AtomicU64::new(0)).collect(),
        answered: AtomicU64::new(0),
        started: AtomicU64::new(0),
    });
    let mut linker: Linker<Host> = Linker::new(&engine);
    preview1::add_to_linker(&mut linker, |h: &mut Host| &mut h.wasi).unwrap();
    threads::add_to_linker(&mut linker, |h: &mut Host| &mut h.threads).unwrap();
    {
        let answers = answers.clone();
        let executed = executed.clone();
        linker
            .func_wrap(
                "env",
                "result",
                move |_: Caller<'_, Host>, call: i32, value: i32| {
                    executed.answered.fetch_add(1, Ordering::SeqCst);
                    // Errnos run from 0 (success) to 76 (notcapable).
                    if !(0..=76).contains(&value) {
                        answers.lock().unwrap().push((call, value));
                    }
                },
            )
            .unwrap();
    }
    {
        let executed = executed.clone();
        linker
            .func_wrap("env", "begin", move |_: Caller<'_, Host>, import: i32| {
                executed.begun[import as usize].fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
    }
    {
        let executed = executed.clone();
        linker
            .func_wrap("env", "started", move |_: Caller<'_, Host>| {
                executed.started.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
    }

    let mut rng = Rng(seed);
    let (mut calls, mut threads_generated, mut traps, mut exits, mut timeouts) = (0, 0, 0, 0, 0);
    let (mut begun, mut answered, mut started_threads) = (0u64, 0u64, 0u64);
    let mut begun_by_import = vec![0u64; IMPORTS.len() + 1];
    let mut cases_by_pages: BTreeMap<u32, usize> = BTreeMap::new();
    let mut worst_growth = 0usize;
    let mut trap_kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut worst_stop = Duration::ZERO;
    let started = Instant::now();
    for case in 0..cases {
        // A fresh sandbox each case.
        let _ = std::fs::remove_dir_all(&sandbox);
        std::fs::create_dir_all(sandbox.join("d")).unwrap();
        std::fs::write(sandbox.join("f"), b"file").unwrap();
        std::os::unix::fs::symlink("f", sandbox.join("link")).unwrap();
        std::os::unix::fs::symlink("loop2", sandbox.join("loop1")).unwrap();
        std::os::unix::fs::symlink("loop1", sandbox.join("loop2")).unwrap();
        std::os::unix::fs::symlink("../canary", sandbox.join("out")).unwrap();

        let children = rng.below(4) as u32;
        let per_thread = 10 + rng.below(40) as usize;
        let pages = rng.pick(PAGES);
        *cases_by_pages.entry(pages).or_insert(0) += 1;
        let (wat, total) = program(&mut rng, children, per_thread, pages);
        executed.reset();
        let module = wasi_threads_host::compile(&engine, wat.as_bytes())
            .unwrap_or_else(|e| panic!("case {case}: {e}\n{wat}"));
        let (ours, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
        std::io::Write::write_all(&mut peer, &[7u8; 1024]).unwrap();
        drop(peer);

        let run = Run::new(&engine).unwrap();
        run.set_time_limit(Duration::from_secs(2));
        let wasi = WasiCtx::builder()
            .args(["fuzz", "x"])
            .env("K", "V")
            .stdin(Stdin::null())
            .stdout(Output::null())
            .stderr(Output::null())
            .preopen_dir(&sandbox, "/sandbox")
            .preopen_dir_readonly(&sandbox, "/ro")
            .preopen_socket(ours)
            .build(&run)
            .unwrap();
        let ctx = WasiThreadsCtx::builder(&module, &run)
            .build(&linker)
            .unwrap();
        let baseline = counting::start();
        ctx.start(Store::new(
            &engine,
            Host {
                wasi,
                threads: ctx.clone(),
            },
        ))
        .unwrap();
        let outcome = loop {
            if let Some(o) = run.wait_outcome_timeout(Duration::from_secs(60)) {
                break o;
            }
        };
        let stop = Instant::now();
        let report = run.wait();
        let stopping = stop.elapsed();
        worst_stop = worst_stop.max(stopping);
        let growth = counting::growth_since(baseline);
        worst_growth = worst_growth.max(growth);

        calls += total;
        threads_generated += children as usize + 1;
        // Every thread has stopped (checked below), so the counts are final.
        let case_begun = executed.begun();
        let case_answered = executed.answered.load(Ordering::SeqCst);
        let case_started = executed.started.load(Ordering::SeqCst);
        assert!(
            case_answered <= case_begun && case_begun <= total as u64,
            "case {case}: {case_answered} answered, {case_begun} begun, {total} written"
        );
        assert!(case_started <= children as u64 + 1);
        if outcome == Outcome::Exit(0) {
            // The main thread returned: it began and was answered every
            // one of its own calls.
            assert!(
                case_started >= 1 && case_answered >= per_thread as u64,
                "case {case}: main returned after {case_answered} answers"
            );
        }
        begun += case_begun;
        answered += case_answered;
        started_threads += case_started;
        for (sum, n) in begun_by_import.iter_mut().zip(&executed.begun) {
            *sum += n.load(Ordering::SeqCst);
        }
        match &outcome {
            Outcome::Exit(_) => exits += 1,
            Outcome::Trap(t) => {
                traps += 1;
                *trap_kinds
                    .entry(t.message.chars().take(40).collect::<String>())
                    .or_insert(0) += 1;
            }
            Outcome::TimedOut => timeouts += 1,
            Outcome::Panic { tid, message } => {
                panic!("case {case} (seed {seed}): a host panic in thread {tid}: {message}")
            }
            other => panic!("case {case}: {other}"),
        }
        assert_eq!(
            report.abandoned, 0,
            "case {case} (seed {seed}): threads left behind"
        );
        assert!(
            stopping < Duration::from_secs(10),
            "case {case}: stopping took {stopping:?}"
        );
        // The documented bound: 16 MiB of data per call, per thread, and
        // what a run of a few threads needs besides (stores, instances).
        let bound = (children as usize + 1) * (17 << 20) + (16 << 20);
        assert!(
            growth < bound,
            "case {case} (seed {seed}): the heap grew by {} MiB",
            growth >> 20
        );
        let bad = answers.lock().unwrap().clone();
        assert!(
            bad.is_empty(),
            "case {case} (seed {seed}): answers that are not errnos: {bad:?}"
        );
        let mut after = BTreeMap::new();
        snapshot(&root, &sandbox, &mut after);
        assert_eq!(
            before, after,
            "case {case} (seed {seed}): something outside the preopen changed"
        );
        let _ = outcome;
    }
    let _ = std::fs::remove_dir_all(&root);
    eprintln!(
        "fuzz: {cases} cases (seed {seed}) in {:?}; calls: {calls} generated, {begun} executed, \
         {answered} answered; threads: {threads_generated} generated, {started_threads} started; \
         outcomes: {exits} exits, {traps} guest traps, {timeouts} time limits; \
         largest heap growth {} KiB; longest stop {worst_stop:?}",
        started.elapsed(),
        worst_growth >> 10
    );
    eprintln!("cases by memory pages: {cases_by_pages:?}");
    let by_import: Vec<String> = IMPORTS
        .iter()
        .map(|(name, _)| *name)
        .chain(["proc_exit"])
        .zip(&begun_by_import)
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    eprintln!("calls executed by import: {}", by_import.join(", "));
    eprintln!("guest traps by kind: {trap_kinds:?}");
}
