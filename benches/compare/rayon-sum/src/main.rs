//! The Rust workload of the host comparison (`scripts/compare.sh`), built
//! for wasm32-wasip1-threads and natively.
//!
//! `rayon-sum THREADS`: on a rayon pool of THREADS threads, counts the
//! steps of the Collatz sequence of every number below 3,000,000 (work of
//! uneven size, split by rayon's work stealing). Prints the milliseconds
//! the parallel part took (measured inside the program) and the total,
//! which is the same everywhere. `rayon-sum startup` returns at once.

use rayon::prelude::*;
use std::time::Instant;

fn steps(mut n: u64) -> u64 {
    let mut steps = 0;
    while n != 1 {
        n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
        steps += 1;
    }
    steps
}

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_default();
    if arg == "startup" {
        return;
    }
    let threads: usize = match arg.parse() {
        Ok(n) if n >= 1 => n,
        _ => {
            eprintln!("usage: rayon-sum THREADS | startup");
            std::process::exit(2);
        }
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    // Start the pool's threads before timing.
    pool.broadcast(|_| ());
    let start = Instant::now();
    let total: u64 = pool.install(|| (1..3_000_000u64).into_par_iter().map(steps).sum());
    let ms = start.elapsed().as_secs_f64() * 1e3;
    println!("{ms:.3} {total}");
}
