//! The Rust guest bindings in one module with others: `guest!`'s bindings
//! for two worlds beside wit-bindgen 0.60's for a third
//! (`tests/guests/mixed-bindings`), served by `host!`'s bindings. Each
//! world needs `cabi_realloc`; the module links one, and every world's
//! strings cross both ways through it. Invalid data from the host (bad
//! UTF-8, a bad `char`, a bad discriminant) ends the run with a trap and a
//! message on stderr, never a panic.

mod support;

use std::sync::{Arc, Mutex};

use support::build_rust_guest;
use wasmtime::{Caller, Engine, Instance, Module, SharedMemory, Store, Trap};

mod bindings {
    wasi_threads_bindgen_rt::host!({ path: "tests/guests/mixed-bindings/wit", world: "all" });
}

use bindings::test::mixed::{names_a, names_b, names_c};

#[derive(Default)]
struct Host {
    memory: Option<SharedMemory>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl names_a::Host for Host {
    fn name(&mut self) -> String {
        "wit-bindgen's world".to_string()
    }
}

impl names_b::Host for Host {
    fn name(&mut self) -> String {
        "the first guest! world".to_string()
    }
}

impl names_c::Host for Host {
    fn name(&mut self) -> String {
        "the second guest! world, ünïcödé".to_string()
    }
}

fn module(engine: &Engine) -> Module {
    Module::from_file(
        engine,
        build_rust_guest("mixed-bindings", "mixed_bindings.wasm"),
    )
    .unwrap()
}

fn instantiate(module: &Module) -> (Store<Host>, Instance) {
    support::instantiate_reactor(module, Host::default(), |linker, store, memory| {
        store.data_mut().memory = memory;
        bindings::add_to_linker_with_memory(
            linker,
            |h: &mut Host| h,
            |caller| caller.data().memory.clone().map(Into::into),
        )
        .unwrap();
        // stderr, for the trap messages; the rest of WASI is never called.
        linker
            .func_wrap(
                "wasi_snapshot_preview1",
                "fd_write",
                |caller: Caller<'_, Host>, fd: i32, iovs: i32, n: i32, written: i32| -> i32 {
                    let memory = caller.data().memory.clone().unwrap();
                    let read = |at: usize, len: usize| -> Vec<u8> {
                        memory.data()[at..at + len]
                            .iter()
                            .map(|c| unsafe { *c.get() })
                            .collect()
                    };
                    let word = |at: usize| u32::from_le_bytes(read(at, 4).try_into().unwrap());
                    let mut total = 0;
                    for i in 0..n as usize {
                        let iov = iovs as usize + 8 * i;
                        let bytes = read(word(iov) as usize, word(iov + 4) as usize);
                        total += bytes.len();
                        if fd == 2 {
                            caller.data().stderr.lock().unwrap().extend(bytes);
                        }
                    }
                    for (k, b) in (total as u32).to_le_bytes().into_iter().enumerate() {
                        unsafe { *memory.data()[written as usize + k].get() = b };
                    }
                    0
                },
            )
            .unwrap();
    })
}

#[test]
fn guest_bindings_of_two_worlds_link_and_run_beside_wit_bindgens() {
    let engine = support::threads_engine();
    let module = module(&engine);
    // One `cabi_realloc`, and both runtimes linked: a cdylib exports every
    // `#[no_mangle]` function, so each runtime's versioned allocator shows.
    let exports: Vec<&str> = module.exports().map(|e| e.name()).collect();
    assert_eq!(
        exports.iter().filter(|e| **e == "cabi_realloc").count(),
        1,
        "{exports:?}"
    );
    for versioned in [
        "cabi_realloc_wit_bindgen_0_60_0",
        "cabi_realloc_wasi_threads_guest_rt_0_1_0",
    ] {
        assert!(exports.contains(&versioned), "{exports:?}");
    }

    let (mut store, instance) = instantiate(&module);
    let memory = store.data().memory.clone().unwrap();
    let all = bindings::All::new(&mut store, &instance)
        .unwrap()
        .with_memory(memory.clone());
    let before = memory.data_size();
    for _ in 0..200 {
        let who = "ab".repeat(2048);
        assert_eq!(
            all.call_greet_a(&mut store, who.clone()).unwrap(),
            format!("wit-bindgen's world greets {who}")
        );
        assert_eq!(
            all.call_greet_b(&mut store, who.clone()).unwrap(),
            format!("the first guest! world greets {who}")
        );
        assert_eq!(
            all.call_greet_c(&mut store, who.clone()).unwrap(),
            format!("the second guest! world, ünïcödé greets {who}")
        );
    }
    // Every allocation made through the one `cabi_realloc` was freed by
    // the world that received it.
    assert!(
        memory.data_size() <= before + 65536,
        "memory grew from {before} to {} bytes",
        memory.data_size()
    );
    assert_eq!(
        all.call_take_text(&mut store, "ünï".to_string()).unwrap(),
        3
    );
    assert_eq!(all.call_take_letter(&mut store, 'ü').unwrap(), 0xfc);
    assert!(store.data().stderr.lock().unwrap().is_empty());
}

/// Calls export `name` with core arguments, having first copied `bytes`
/// (if any) into the guest with its `cabi_realloc`; the first two
/// arguments are then the copy's address and length.
fn call_raw(bytes: Option<&[u8]>, name: &str, args: &[i32]) -> (wasmtime::Error, String) {
    let engine = support::threads_engine();
    let module = module(&engine);
    let (mut store, instance) = instantiate(&module);
    let mut params: Vec<wasmtime::Val> = Vec::new();
    if let Some(bytes) = bytes {
        let realloc = instance
            .get_typed_func::<(i32, i32, i32, i32), i32>(&mut store, "cabi_realloc")
            .unwrap();
        let ptr = realloc
            .call(&mut store, (0, 0, 1, bytes.len() as i32))
            .unwrap();
        let memory = store.data().memory.clone().unwrap();
        for (i, b) in bytes.iter().enumerate() {
            unsafe { *memory.data()[ptr as usize + i].get() = *b };
        }
        params.extend([
            wasmtime::Val::I32(ptr),
            wasmtime::Val::I32(bytes.len() as i32),
        ]);
    }
    params.extend(args.iter().map(|a| wasmtime::Val::from(*a)));
    let func = instance.get_func(&mut store, name).unwrap();
    let mut results = [wasmtime::Val::I32(0)];
    let error = func
        .call(&mut store, &params, &mut results)
        .expect_err("the call traps");
    let stderr = String::from_utf8(store.data().stderr.lock().unwrap().clone()).unwrap();
    (error, stderr)
}

#[test]
fn invalid_data_from_the_host_traps_with_a_message() {
    for (bytes, name, args, message) in [
        (
            Some(&[b'o', b'k', 0xff, 0xfe][..]),
            "take-text",
            &[][..],
            "error: invalid data from the host in the arguments of `take-text`: a string that is not UTF-8\n",
        ),
        (
            None,
            "take-letter",
            &[0xd800],
            "error: invalid data from the host in the arguments of `take-letter`: a char that is not a Unicode scalar value\n",
        ),
        (
            None,
            "take-letter",
            &[0x11_0000],
            "error: invalid data from the host in the arguments of `take-letter`: a char that is not a Unicode scalar value\n",
        ),
        (
            None,
            "take-choice",
            &[2],
            "error: invalid data from the host in the arguments of `take-choice`: a discriminant out of range\n",
        ),
        // Lengths whose bytes do not fit a 32-bit address space: trapped
        // before anything is read, allocated or freed.
        (
            None,
            "take-numbers",
            &[16, 0x4000_0001],
            "error: invalid data from the host in the arguments of `take-numbers`: a list longer than the address space\n",
        ),
        (
            None,
            "take-words",
            &[16, 0x2000_0000],
            "error: invalid data from the host in the arguments of `take-words`: a list longer than the address space\n",
        ),
    ] {
        let (error, stderr) = call_raw(bytes, name, args);
        // `unreachable`, not a panic: no panic message, no abort.
        assert_eq!(
            error.downcast_ref::<Trap>(),
            Some(&Trap::UnreachableCodeReached),
            "{name}: {error:?}"
        );
        assert_eq!(stderr, message, "{name}");
    }
}
