//! The floor of the compute comparison (`scripts/compare.sh`): a bare
//! wasmtime 48 Engine with default settings (plus the threads proposal and
//! shared memories, which a threaded module needs to be instantiated at
//! all and which change no generated code), no epoch checks, no fuel, and
//! only the few preview-1 functions a single-threaded C program calls,
//! written here directly against the shared memory.
//!
//! `cargo run --release --example compare-floor -- MODULE ARGS...` runs
//! the module's `_start` on one thread; `thread-spawn` always fails. It is
//! what any host of this Engine can at best reach; the comparison puts the
//! host's own figure beside it.

use std::cell::UnsafeCell;
use std::io::Write;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use wasmtime::{Config, Engine, ExternType, Linker, Module, SharedMemory, Store};

/// Reads and writes the shared memory at guest addresses (bounds-checked).
#[derive(Clone)]
struct Mem(SharedMemory);

impl Mem {
    fn cells(&self, at: u32, len: u32) -> Option<&[UnsafeCell<u8>]> {
        let data = self.0.data();
        let start = at as usize;
        data.get(start..start.checked_add(len as usize)?)
    }

    fn read(&self, at: u32, len: u32) -> Option<Vec<u8>> {
        // SAFETY: single-threaded program; the cells are in bounds.
        Some(
            self.cells(at, len)?
                .iter()
                .map(|c| unsafe { *c.get() })
                .collect(),
        )
    }

    fn write(&self, at: u32, bytes: &[u8]) -> Option<()> {
        let cells = self.cells(at, bytes.len() as u32)?;
        for (cell, b) in cells.iter().zip(bytes) {
            // SAFETY: as above.
            unsafe { *cell.get() = *b };
        }
        Some(())
    }

    fn u32(&self, at: u32) -> Option<u32> {
        Some(u32::from_le_bytes(self.read(at, 4)?.try_into().ok()?))
    }
}

const FAULT: i32 = 21;
const BADF: i32 = 8;
const INVAL: i32 = 28;

fn main() -> wasmtime::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: compare-floor MODULE ARGS...");
        std::process::exit(2);
    };
    let mut config = Config::new();
    config.wasm_threads(true).shared_memory(true);
    let engine = Engine::new(&config)?;
    let module = Module::from_file(&engine, path)?;
    let memory_type = module
        .imports()
        .find_map(|i| match i.ty() {
            ExternType::Memory(m) if m.is_shared() => Some(m),
            _ => None,
        })
        .ok_or_else(|| wasmtime::Error::msg("the module imports no shared memory"))?;
    let memory = Mem(SharedMemory::new(&engine, memory_type)?);
    let mut linker: Linker<()> = Linker::new(&engine);
    linker.define(&Store::new(&engine, ()), "env", "memory", memory.0.clone())?;
    let p1 = "wasi_snapshot_preview1";

    let argv = args.clone();
    linker.func_wrap(p1, "args_sizes_get", {
        let m = memory.clone();
        move |count: u32, size: u32| -> i32 {
            let bytes: usize = argv.iter().map(|a| a.len() + 1).sum();
            match m
                .write(count, &(argv.len() as u32).to_le_bytes())
                .and_then(|_| m.write(size, &(bytes as u32).to_le_bytes()))
            {
                Some(()) => 0,
                None => FAULT,
            }
        }
    })?;
    let argv = args.clone();
    linker.func_wrap(p1, "args_get", {
        let m = memory.clone();
        move |pointers: u32, buf: u32| -> i32 {
            let mut at = buf;
            for (i, a) in argv.iter().enumerate() {
                let mut s = a.as_bytes().to_vec();
                s.push(0);
                if m.write(pointers + 4 * i as u32, &at.to_le_bytes())
                    .is_none()
                    || m.write(at, &s).is_none()
                {
                    return FAULT;
                }
                at += s.len() as u32;
            }
            0
        }
    })?;
    linker.func_wrap(p1, "environ_sizes_get", {
        let m = memory.clone();
        move |count: u32, size: u32| -> i32 {
            match m.write(count, &[0; 4]).and_then(|_| m.write(size, &[0; 4])) {
                Some(()) => 0,
                None => FAULT,
            }
        }
    })?;
    linker.func_wrap(p1, "environ_get", |_: u32, _: u32| -> i32 { 0 })?;
    let base = Instant::now();
    linker.func_wrap(p1, "clock_time_get", {
        let m = memory.clone();
        move |id: u32, _precision: u64, out: u32| -> i32 {
            let ns = match id {
                0 => SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0),
                1 => base.elapsed().as_nanos() as u64 + 1,
                _ => return INVAL,
            };
            match m.write(out, &ns.to_le_bytes()) {
                Some(()) => 0,
                None => FAULT,
            }
        }
    })?;
    linker.func_wrap(p1, "fd_write", {
        let m = memory.clone();
        move |fd: u32, iovs: u32, count: u32, written: u32| -> i32 {
            let mut bytes = Vec::new();
            for i in 0..count {
                let (Some(at), Some(len)) = (m.u32(iovs + 8 * i), m.u32(iovs + 8 * i + 4)) else {
                    return FAULT;
                };
                match m.read(at, len) {
                    Some(b) => bytes.extend(b),
                    None => return FAULT,
                }
            }
            let ok = match fd {
                1 => std::io::stdout().write_all(&bytes).is_ok(),
                2 => std::io::stderr().write_all(&bytes).is_ok(),
                _ => return BADF,
            };
            if !ok {
                return BADF;
            }
            match m.write(written, &(bytes.len() as u32).to_le_bytes()) {
                Some(()) => 0,
                None => FAULT,
            }
        }
    })?;
    linker.func_wrap(p1, "fd_fdstat_get", |_: u32, _: u32| -> i32 { BADF })?;
    linker.func_wrap(p1, "fd_close", |_: u32| -> i32 { 0 })?;
    linker.func_wrap(p1, "fd_seek", |_: u32, _: i64, _: u32, _: u32| -> i32 {
        BADF
    })?;
    linker.func_wrap(p1, "proc_exit", |code: i32| -> () {
        let _ = std::io::stdout().flush();
        std::process::exit(code)
    })?;
    linker.func_wrap(p1, "sched_yield", || -> i32 { 0 })?;
    linker.func_wrap("wasi", "thread-spawn", |_: u32| -> i32 { -1 })?;
    // Anything else the program imports but never calls.
    linker.define_unknown_imports_as_traps(&module)?;

    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module)?;
    let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
    start.call(&mut store, ())?;
    std::io::stdout().flush()?;
    Ok(())
}
