//! A threaded program as Rust users write it: `std::thread` with a Mutex, a
//! Barrier, channels and thread-locals. With the argument `exit-from-child`,
//! a child thread ends the whole program with `process::exit(17)` while the
//! main thread waits for it.

use std::cell::Cell;
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

const THREADS: usize = 8;

thread_local! {
    static CALLS: Cell<u32> = const { Cell::new(0) };
}

fn count_call() -> u32 {
    CALLS.with(|c| {
        c.set(c.get() + 1);
        c.get()
    })
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("exit-from-child") {
        let child = thread::spawn(|| {
            println!("child exits");
            std::process::exit(17);
        });
        child.join().unwrap();
        thread::sleep(std::time::Duration::from_secs(3600));
        unreachable!("the child's exit ends the program");
    }

    let total = Arc::new(Mutex::new(0u64));
    let barrier = Arc::new(Barrier::new(THREADS));
    let (tx, rx) = mpsc::channel();
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let total = total.clone();
            let barrier = barrier.clone();
            let tx = tx.clone();
            thread::spawn(move || {
                // Every thread's thread-local starts at zero.
                for _ in 0..=i {
                    count_call();
                }
                let calls = count_call();
                barrier.wait();
                let sum: u64 = (1..=1000 * (i as u64 + 1)).sum();
                *total.lock().unwrap() += sum;
                tx.send((i, calls)).unwrap();
                sum
            })
        })
        .collect();
    drop(tx);
    let sums: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let mut calls: Vec<(usize, u32)> = rx.iter().collect();
    calls.sort();
    let locals_ok = calls.iter().all(|(i, c)| *c == *i as u32 + 2);
    assert_eq!(count_call(), 1, "the main thread's thread-local is its own");
    println!("threads: {THREADS}");
    println!("thread-locals: {}", if locals_ok { "separate" } else { "shared" });
    println!("messages: {}", calls.len());
    println!("total: {}", *total.lock().unwrap());
    println!("sums: {}", sums.iter().sum::<u64>());
}
