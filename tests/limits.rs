//! Allocation bombs: guests that ask the host to gather or fill gigabytes
//! end normally, through the binary, with the process's peak resident
//! memory far below what they asked for.

mod support;

use std::time::{Duration, Instant};

use support::scratch;

/// Runs `wasi-threads run [OPTIONS] MODULE` with stdout to /dev/null;
/// returns its exit code, its peak resident memory in bytes (from wait4's
/// rusage) and how long it took. Killed after 60 s.
fn run_measured(options: &[&str], module: &str) -> (i32, u64, Duration) {
    let child = support::binary()
        .arg("run")
        .args(options)
        .arg(module)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let started = Instant::now();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let guard = {
        let done = done.clone();
        std::thread::spawn(move || {
            while started.elapsed() < Duration::from_secs(60) {
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // SAFETY: kill(2) on the child's pid, which is not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        })
    };
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid, and wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, with valid pointers.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let took = started.elapsed();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    guard.join().unwrap();
    assert_eq!(waited, pid);
    assert!(
        libc::WIFEXITED(status),
        "ended by signal {} after {took:?}",
        libc::WTERMSIG(status)
    );
    std::mem::forget(child);
    (
        libc::WEXITSTATUS(status),
        usage.ru_maxrss as u64 * 1024,
        took,
    )
}

#[test]
fn gathering_gigabytes_for_one_write_stays_bounded() {
    // 64 iovecs, each naming 200 MiB of a 256 MiB shared memory: 12.5 GiB
    // asked for one fd_write to stdout. The write is short (16 MiB); the
    // exit code is the count written, in MiB.
    let dir = scratch("bomb-gather");
    let module = dir.join("gather.wat");
    std::fs::write(
        &module,
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "env" "memory" (memory 4096 4096 shared))
  (export "memory" (memory 0))
  (func (export "_start") (local $i i32)
    (loop $iovs
      (i32.store (i32.mul (local.get $i) (i32.const 8)) (i32.const 1048576))
      (i32.store (i32.add (i32.mul (local.get $i) (i32.const 8)) (i32.const 4)) (i32.const 209715200))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $iovs (i32.lt_u (local.get $i) (i32.const 64))))
    (if (call $write (i32.const 1) (i32.const 0) (i32.const 64) (i32.const 1024))
      (then (call $exit (i32.const 255))))
    (call $exit (i32.shr_u (i32.load (i32.const 1024)) (i32.const 20)))))"#,
    )
    .unwrap();
    let (code, peak, took) = run_measured(&[], module.to_str().unwrap());
    eprintln!(
        "gather bomb: exit {code}, peak {} MiB, {took:?}",
        peak >> 20
    );
    assert_eq!(code, 16, "a short write of 16 MiB");
    assert!(peak < 1536 << 20, "peak resident memory {} MiB", peak >> 20);
}

#[test]
fn filling_four_gibibytes_of_a_small_memory_is_refused_at_once() {
    // random_get(0, 4 GiB - 100) on a 64 KiB memory: `fault` (21) without
    // allocating the length.
    let dir = scratch("bomb-random");
    let module = dir.join("random.wat");
    std::fs::write(
        &module,
        r#"(module
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (call $exit (call $random (i32.const 0) (i32.const -100)))))"#,
    )
    .unwrap();
    let (code, peak, took) = run_measured(&[], module.to_str().unwrap());
    eprintln!(
        "random bomb: exit {code}, peak {} MiB, {took:?}",
        peak >> 20
    );
    assert_eq!(code, 21, "fault");
    assert!(peak < 1536 << 20, "peak resident memory {} MiB", peak >> 20);
}

#[test]
fn gathering_gigabytes_for_one_positioned_write_to_a_file_stays_bounded() {
    // As above, through fd_pwrite at offset 3 of a file opened in a
    // preopen: 64 iovecs of 200 MiB each, of a 256 MiB shared memory. The
    // exit code is the count written, in MiB (254 if the open failed, 255
    // if the write did).
    let dir = scratch("bomb-pwrite");
    let files = dir.join("files");
    std::fs::create_dir_all(&files).unwrap();
    let module = dir.join("pwrite.wat");
    std::fs::write(
        &module,
        r#"(module
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pwrite" (func $pwrite (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "env" "memory" (memory 4096 4096 shared))
  (export "memory" (memory 0))
  (data (i32.const 2048) "bomb.bin")
  (func (export "_start") (local $i i32)
    (loop $iovs
      (i32.store (i32.mul (local.get $i) (i32.const 8)) (i32.const 1048576))
      (i32.store (i32.add (i32.mul (local.get $i) (i32.const 8)) (i32.const 4)) (i32.const 209715200))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $iovs (i32.lt_u (local.get $i) (i32.const 64))))
    ;; oflags creat | trunc, rights fd_seek | fd_write
    (if (call $open (i32.const 3) (i32.const 0) (i32.const 2048) (i32.const 8) (i32.const 9)
          (i64.const 68) (i64.const 0) (i32.const 0) (i32.const 2064))
      (then (call $exit (i32.const 254))))
    (if (call $pwrite (i32.load (i32.const 2064)) (i32.const 0) (i32.const 64) (i64.const 3) (i32.const 1024))
      (then (call $exit (i32.const 255))))
    (call $exit (i32.shr_u (i32.load (i32.const 1024)) (i32.const 20)))))"#,
    )
    .unwrap();
    let preopen = format!("{}::/files", files.display());
    let (code, peak, took) = run_measured(&["--dir", &preopen], module.to_str().unwrap());
    eprintln!(
        "pwrite bomb: exit {code}, peak {} MiB, {took:?}",
        peak >> 20
    );
    assert_eq!(code, 16, "a short write of 16 MiB");
    let written = std::fs::metadata(files.join("bomb.bin")).unwrap().len();
    assert_eq!(written, 3 + (16 << 20), "16 MiB written at offset 3");
    assert!(peak < 1536 << 20, "peak resident memory {} MiB", peak >> 20);
    let _ = std::fs::remove_dir_all(&dir);
}
