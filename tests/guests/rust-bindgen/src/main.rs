//! Starts threads with the generated `thread_spawn` and receives them in
//! the generated `wasi_thread_start` export, without std's threads (and so
//! without wasi-libc's pthreads, which define `wasi_thread_start` too).
//!
//! A thread entered this way has no stack of its own set up, so the entry
//! point follows the rules the generated `Guest::wasi_thread_start` docs
//! give: it touches only atomics in statics, with no stack, no panic path
//! and no std (tests/bindgen.rs checks the compiled entry never reads or
//! writes `__stack_pointer`).

use std::sync::atomic::{AtomicI32, Ordering};

mod bindings {
    wasi_threads_macros::guest!("../../../wit");
}

use bindings::wasi::threads::thread_spawn::thread_spawn;

const THREADS: usize = 8;

static DONE: AtomicI32 = AtomicI32::new(0);
static SEEN: [AtomicI32; THREADS + 1] = [const { AtomicI32::new(0) }; THREADS + 1];

struct Threads;

impl bindings::Guest for Threads {
    fn wasi_thread_start(thread_id: i32, start_arg: bindings::StartArg) {
        // `get`, not indexing: no panic path.
        if let Some(seen) = SEEN.get(start_arg as usize) {
            seen.store(thread_id, Ordering::SeqCst);
        }
        DONE.fetch_add(1, Ordering::SeqCst);
    }
}

bindings::export!(Threads with_types_in bindings);

fn main() {
    let mut tids = Vec::new();
    for i in 1..=THREADS as u32 {
        let tid = thread_spawn(i);
        assert!(tid > 0 && tid < 1 << 29, "thread-spawn failed: {tid}");
        tids.push(tid);
    }
    // `memory.atomic.wait` is unstable in Rust: poll, sleeping in between.
    while DONE.load(Ordering::SeqCst) as usize != THREADS {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    for (i, tid) in tids.iter().enumerate() {
        assert_eq!(SEEN[i + 1].load(Ordering::SeqCst), *tid, "thread {} saw its own id", i + 1);
    }
    let mut distinct = tids.clone();
    distinct.sort();
    distinct.dedup();
    println!("threads: {}", tids.len());
    println!("distinct ids: {}", distinct.len());
}
