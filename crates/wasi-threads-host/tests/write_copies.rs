//! What one write from a shared memory allocates in the host: its bytes
//! once, at most `MAX_IO` of them. One test in its own binary: it counts
//! the process's allocations.

use wasi_threads_host::{Outcome, Output, Runner};

#[path = "support/counting.rs"]
mod counting;

use counting::Counting;

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The most one read or write moves (the host's `MAX_IO`).
const MAX_IO: usize = 16 << 20;

/// Writes `len` bytes of a 64 MiB shared memory to stdout in one iovec;
/// exits with 1 when the write took `expect` bytes.
fn writer(len: u32, expect: usize) -> String {
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "env" "memory" (memory 1024 1024 shared))
  (export "memory" (memory 0))
  (func (export "_start")
    (i32.store (i32.const 16) (i32.const 65536))
    (i32.store (i32.const 20) (i32.const {len}))
    (drop (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))
    (call $exit (i32.eq (i32.load (i32.const 24)) (i32.const {expect})))))"#
    )
}

/// The most the process allocated beyond what it held before, over a run
/// of the compiled `wat`.
fn peak_growth(runner: &Runner, wat: &str) -> usize {
    let module = runner.compile(wat.as_bytes()).unwrap();
    let before = counting::start();
    let report = runner.run_module(&module).unwrap();
    assert_eq!(report.outcome, Outcome::Exit(1));
    counting::growth_since(before)
}

#[test]
fn a_write_from_a_shared_memory_copies_its_bytes_once() {
    let runner = Runner::new().stdout_to(Output::null());
    let small = peak_growth(&runner, &writer(1, 1));
    // 32 MiB asked: a 16 MiB write, gathered into one buffer of 16 MiB.
    let big = peak_growth(&runner, &writer(32 << 20, MAX_IO));
    let extra = big.saturating_sub(small);
    assert!(
        extra > MAX_IO - (1 << 20),
        "the write's buffer was counted: {extra}"
    );
    assert!(
        extra < MAX_IO + (1 << 20),
        "a 16 MiB write allocated {extra} bytes beyond a 1-byte one"
    );
}
