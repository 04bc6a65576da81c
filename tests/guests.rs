//! Real guests, built here from sources in `tests/guests/`, run by
//! `wasi-threads run`. `scripts/test.sh` installs what they need (the
//! `wasm32-wasip1-threads` Rust target).

mod support;

use std::path::PathBuf;

use support::{root, wasi_threads};

/// Builds the Rust guest for wasm32-wasip1-threads; returns its path.
fn rust_guest() -> PathBuf {
    support::build_rust_guest("rust-threads", "rust-threads.wasm")
}

#[test]
fn rust_std_threads_share_memory_and_keep_their_own_locals() {
    let guest = rust_guest();
    let run = wasi_threads(&["run", guest.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let total: u64 = (1..=8u64).map(|i| 1000 * i * (1000 * i + 1) / 2).sum();
    assert_eq!(
        run.stdout,
        format!(
            "threads: 8\nthread-locals: separate\nmessages: 8\ntotal: {total}\nsums: {total}\n"
        )
    );
}

/// wasmtime 46's flags for wasi-threads, as scripts pass them.
const WASMTIME_FLAGS: [&str; 4] = ["-W", "threads=y,shared-memory=y", "-S", "threads=y"];

#[test]
fn the_guests_run_with_wasmtime_46s_flags_as_without() {
    for (guest, exit_code) in [(rust_guest(), 17), (c_guest(), 23)] {
        let guest = guest.to_str().unwrap();
        let plain = wasi_threads(&["run", guest]);
        let mut args = vec!["run"];
        args.extend(WASMTIME_FLAGS);
        args.push(guest);
        let flagged = wasi_threads(&args);
        assert_eq!(flagged.code, 0, "{}", flagged.stderr);
        assert_eq!(
            (flagged.stdout, flagged.stderr),
            (plain.stdout, plain.stderr)
        );
        args.push("exit-from-child");
        let exit = wasi_threads(&args);
        assert_eq!(exit.stdout, "child exits\n");
        assert_eq!(exit.code, exit_code, "{}", exit.stderr);
    }
}

#[test]
fn a_thread_limit_that_stops_a_program_is_named_with_its_flag() {
    let guest = rust_guest();
    let run = wasi_threads(&["run", "--max-threads", "2", guest.to_str().unwrap()]);
    // std::thread::spawn panics when the third thread cannot start.
    assert_eq!(run.code, 134, "{}", run.stderr);
    let warning = "warning: thread-spawn failed: the limit of 2 live threads was reached; raise it with --max-threads N\n";
    assert_eq!(run.stderr.matches(warning).count(), 1, "{}", run.stderr);
}

#[test]
fn rust_process_exit_from_a_child_ends_the_program() {
    let guest = rust_guest();
    let run = wasi_threads(&["run", guest.to_str().unwrap(), "exit-from-child"]);
    assert_eq!(run.code, 17, "{}", run.stderr);
    assert_eq!(run.stdout, "child exits\n");
}

/// Builds the C guest with clang-19 against the threaded wasi-libc.
fn c_guest() -> PathBuf {
    support::build_c_guest(
        &root().join("tests/guests/c-pthreads/threads.c"),
        "c-pthreads.wasm",
    )
}

#[test]
fn c_pthreads_share_a_mutex_and_a_condition_variable() {
    let guest = c_guest();
    let run = wasi_threads(&["run", guest.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sums: Vec<u64> = (1..=6u64).map(|i| 1000 * i * (1000 * i + 1) / 2).collect();
    let total: u64 = sums.iter().sum();
    let check: u64 = sums.iter().map(|s| s % 1_000_003).sum();
    assert_eq!(
        run.stdout,
        format!("threads: 6\ntotal: {total}\ncheck: {check}\n")
    );
}

#[test]
fn c_exit_from_a_thread_ends_the_program() {
    let guest = c_guest();
    let run = wasi_threads(&["run", guest.to_str().unwrap(), "exit-from-child"]);
    assert_eq!(run.code, 23, "{}", run.stderr);
    assert_eq!(run.stdout, "child exits\n");
}
