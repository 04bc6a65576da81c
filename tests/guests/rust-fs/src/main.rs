//! Threads sharing files in the preopened directory `/sandbox`:
//!
//! - `files`: eight threads each create, write, read back, rename and (for
//!   odd ones) delete a file, and all append lines to one file the main
//!   thread opened before starting them; then the main thread lists the
//!   directory and reads the shared file.
//! - `escape`: attempts to reach outside `/sandbox` (`..`, a symlink out,
//!   an absolute path no preopen covers) and to write in the read-only
//!   preopen `/ro`; prints the OS error number of each refusal.
//! - `stress N`: eight threads each open, write, renumber over a spare
//!   descriptor, and close, N times, while all write to one shared
//!   descriptor; then checks every byte arrived and that no descriptor is
//!   left open.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::sync::Arc;
use std::thread;

const THREADS: usize = 8;

fn files() {
    let shared = Arc::new(
        OpenOptions::new()
            .create(true)
            .append(true)
            .open("/sandbox/shared.log")
            .unwrap(),
    );
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let shared = shared.clone();
            thread::spawn(move || {
                let path = format!("/sandbox/t{i}.txt");
                let content = format!("thread {i}\n").repeat(100 * (i + 1));
                fs::write(&path, &content).unwrap();
                let mut back = String::new();
                File::open(&path).unwrap().read_to_string(&mut back).unwrap();
                assert_eq!(back, content);
                let renamed = format!("/sandbox/r{i}.txt");
                fs::rename(&path, &renamed).unwrap();
                if i % 2 == 1 {
                    fs::remove_file(&renamed).unwrap();
                }
                for n in 0..50 {
                    (&*shared).write_all(format!("{i}:{n}\n").as_bytes()).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut names: Vec<String> = fs::read_dir("/sandbox")
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    println!("files: {}", names.join(" "));
    let log = fs::read_to_string("/sandbox/shared.log").unwrap();
    let mut lines: Vec<&str> = log.lines().collect();
    println!("shared lines: {}", lines.len());
    lines.sort();
    lines.dedup();
    println!("distinct lines: {}", lines.len());
    // Seek and read through a descriptor the main thread keeps.
    let mut f = File::open("/sandbox/r0.txt").unwrap();
    f.seek(SeekFrom::Start(7)).unwrap();
    let mut word = [0u8; 2];
    f.read_exact(&mut word).unwrap();
    println!("r0 at 7: {:?}", std::str::from_utf8(&word).unwrap());
    let meta = fs::metadata("/sandbox/r2.txt").unwrap();
    println!("r2 size: {}", meta.len());
    fs::create_dir("/sandbox/sub").unwrap();
    fs::write("/sandbox/sub/inner", b"x").unwrap();
    assert!(fs::remove_dir("/sandbox/sub").is_err(), "a non-empty directory stays");
    fs::remove_file("/sandbox/sub/inner").unwrap();
    fs::remove_dir("/sandbox/sub").unwrap();
    println!("directories: ok");
}

fn errno(what: &str, r: std::io::Result<impl Sized>) {
    match r {
        Ok(_) => println!("{what}: allowed"),
        Err(e) => println!("{what}: error {}", e.raw_os_error().unwrap_or(-1)),
    }
}

fn escape() {
    errno("dot-dot", File::open("/sandbox/../outside.txt"));
    errno("dot-dot deep", File::open("/sandbox/a/../../outside.txt"));
    errno("symlink out", File::open("/sandbox/escape"));
    errno("absolute", File::open("/outside.txt"));
    errno("parent dir", fs::read_dir("/sandbox/.."));
    errno("read-only write", File::create("/ro/new.txt"));
    errno("read-only mkdir", fs::create_dir("/ro/d"));
    errno("read-only read", fs::read_to_string("/ro/readme.txt"));
    errno("missing", File::open("/sandbox/missing.txt"));
}

#[link(wasm_import_module = "wasi_snapshot_preview1")]
unsafe extern "C" {
    fn fd_renumber(from: u32, to: u32) -> u16;
}

fn stress(n: usize) {
    let shared = Arc::new(
        OpenOptions::new()
            .create(true)
            .append(true)
            .open("/sandbox/stress.log")
            .unwrap(),
    );
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let shared = shared.clone();
            thread::spawn(move || {
                for k in 0..n {
                    let path = format!("/sandbox/s{i}.tmp");
                    let mut f = File::create(&path).unwrap();
                    f.write_all(&[i as u8; 64]).unwrap();
                    // Move the descriptor onto a spare one, then close that.
                    let spare = File::open("/sandbox/stress.log").unwrap().into_raw_fd();
                    let fd = f.into_raw_fd();
                    assert_eq!(unsafe { fd_renumber(fd as u32, spare as u32) }, 0);
                    let mut moved = unsafe { File::from_raw_fd(spare) };
                    moved.write_all(&[i as u8; 64]).unwrap();
                    drop(moved);
                    assert_eq!(fs::metadata(&path).unwrap().len(), 128);
                    // Every thread appends its records through one descriptor.
                    (&*shared).write_all(format!("{i:02}{k:06}\n").as_bytes()).unwrap();
                }
                fs::remove_file(format!("/sandbox/s{i}.tmp")).unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let fd = shared.as_raw_fd();
    drop(shared);
    let log = fs::read_to_string("/sandbox/stress.log").unwrap();
    let mut records: Vec<&str> = log.lines().collect();
    records.sort();
    let mut expected = Vec::new();
    for i in 0..THREADS {
        for k in 0..n {
            expected.push(format!("{i:02}{k:06}"));
        }
    }
    println!("stress records: {} of {}", records.len(), expected.len());
    println!("stress records intact: {}", records == expected);
    // The lowest free descriptor is the one the shared file had: nothing
    // else was left open.
    let probe = File::open("/sandbox/stress.log").unwrap();
    println!("descriptors leaked: {}", probe.as_raw_fd() != fd);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("files") => files(),
        Some("escape") => escape(),
        Some("stress") => stress(args[2].parse().unwrap()),
        _ => {
            eprintln!("usage: rust-fs files|escape|stress N");
            std::process::exit(2);
        }
    }
}
