//! A guest that exports the resource `counter` of
//! `tests/bindgen/exported-resources.wit` through the Rust bindings
//! `guest!` generates, compiled as a core module: the host holds handles,
//! the guest keeps the counts, and every destructor run is counted.

mod bindings {
    wasi_threads_macros::guest!("../../bindgen/exported-resources.wit");
}

use core::cell::Cell;
use core::sync::atomic::{AtomicU32, Ordering};

use bindings::test::exported::counters::{Counter, CounterBorrow, Guest, GuestCounter};

/// Destructor runs of [`MyCounter`] so far.
static DESTROYED: AtomicU32 = AtomicU32::new(0);

/// The value behind a `counter` handle.
struct MyCounter {
    count: Cell<u32>,
}

impl Drop for MyCounter {
    fn drop(&mut self) {
        DESTROYED.fetch_add(1, Ordering::SeqCst);
    }
}

impl GuestCounter for MyCounter {
    fn new(start: u32) -> Self {
        MyCounter {
            count: Cell::new(start),
        }
    }

    fn add(&self, n: u32) {
        self.count.set(self.count.get().wrapping_add(n));
    }

    fn get(&self) -> u32 {
        self.count.get()
    }

    fn describe(&self) -> String {
        format!("counter {}", self.count.get())
    }

    fn merge(a: CounterBorrow<'_>, b: Counter) -> Counter {
        let sum = a
            .get::<MyCounter>()
            .count
            .get()
            .wrapping_add(b.get::<MyCounter>().count.get());
        // `b` is dropped here: its handle goes back to the host, which runs
        // the destructor.
        drop(b);
        Counter::new(MyCounter::new(sum))
    }
}

struct Exports;

impl Guest for Exports {
    type Counter = MyCounter;

    fn finish(c: Counter) -> u32 {
        // The value moves out; dropping the handle then runs the
        // destructor, which frees only the box, and the value is dropped
        // here.
        c.into_inner::<MyCounter>().count.get()
    }

    fn total(cs: Vec<CounterBorrow<'_>>) -> u32 {
        cs.iter()
            .map(|c| c.get::<MyCounter>().count.get())
            .fold(0, u32::wrapping_add)
    }

    fn destroyed() -> u32 {
        DESTROYED.load(Ordering::SeqCst)
    }
}

impl bindings::test::exported::tally::Guest for Exports {
    fn make(start: u32) -> Counter {
        Counter::new(MyCounter::new(start))
    }

    fn peek(c: CounterBorrow<'_>) -> u32 {
        c.get::<MyCounter>().count.get()
    }

    fn consume(c: Counter) -> u32 {
        // Dropping the handle runs the destructor.
        c.get::<MyCounter>().count.get()
    }
}

bindings::export!(Exports with_types_in bindings);
