//! Preview-1 calls through the shared context.

use std::io::Write;
use std::sync::{Arc, Mutex};

use wasi_threads_host::{Outcome, Runner};

/// A stdout the test can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn stdin_fills_every_iovec_past_an_empty_one() {
    // iovecs at 0: (100, 4), (200, 0), (104, 8): the 12 bytes land at 100..112,
    // then go back out through fd_write; the exit code is the count read.
    let wat = r#"(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 4))
    (i32.store (i32.const 8) (i32.const 200))
    (i32.store (i32.const 12) (i32.const 0))
    (i32.store (i32.const 16) (i32.const 104))
    (i32.store (i32.const 20) (i32.const 8))
    (drop (call $read (i32.const 0) (i32.const 0) (i32.const 3) (i32.const 40)))
    (i32.store (i32.const 48) (i32.const 100))
    (i32.store (i32.const 52) (i32.load (i32.const 40)))
    (drop (call $write (i32.const 1) (i32.const 48) (i32.const 1) (i32.const 56)))
    (call $exit (i32.load (i32.const 40)))))"#;
    let out = Captured::default();
    let report = Runner::new()
        .stdin(std::io::Cursor::new(b"hello world!".to_vec()))
        .stdout(out.clone())
        .run(wat.as_bytes())
        .unwrap();
    assert_eq!(report.outcome, Outcome::Exit(12));
    assert_eq!(out.0.lock().unwrap().as_slice(), b"hello world!");
}
