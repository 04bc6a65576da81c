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
