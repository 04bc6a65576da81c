//! The counters of `tests/bindgen/exported-resources.wit` as a guest whose
//! bindings wit-bindgen generates: the reference against which the host's
//! handling of exported resources is checked. Each counter keeps its
//! count; its destructor counts how many counters were destroyed.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};

wit_bindgen::generate!({
    path: "../../bindgen/exported-resources.wit",
    world: "exported-resources",
});

use exports::test::exported::counters::{Counter, CounterBorrow, Guest, GuestCounter};

/// How many counters have been destroyed.
static DESTROYED: AtomicU32 = AtomicU32::new(0);

struct Counters;

/// The representation of a counter.
struct Count {
    value: Cell<u32>,
}

impl Drop for Count {
    fn drop(&mut self) {
        DESTROYED.fetch_add(1, Ordering::SeqCst);
    }
}

impl GuestCounter for Count {
    fn new(start: u32) -> Self {
        Count {
            value: Cell::new(start),
        }
    }

    fn add(&self, n: u32) {
        self.value.set(self.value.get().wrapping_add(n));
    }

    fn get(&self) -> u32 {
        self.value.get()
    }

    fn describe(&self) -> String {
        format!("counter {}", self.value.get())
    }

    fn merge(a: CounterBorrow<'_>, b: Counter) -> Counter {
        let sum = a.get::<Count>().get().wrapping_add(b.get::<Count>().get());
        // `b` is dropped here: its handle goes back to the host, which runs
        // the destructor.
        drop(b);
        Counter::new(Count::new(sum))
    }
}

impl Guest for Counters {
    type Counter = Count;

    fn finish(c: Counter) -> u32 {
        c.get::<Count>().get()
    }

    fn total(cs: Vec<CounterBorrow<'_>>) -> u32 {
        cs.iter()
            .fold(0u32, |sum, c| sum.wrapping_add(c.get::<Count>().get()))
    }

    fn destroyed() -> u32 {
        DESTROYED.load(Ordering::SeqCst)
    }
}

impl exports::test::exported::tally::Guest for Counters {
    fn make(start: u32) -> Counter {
        Counter::new(Count::new(start))
    }

    fn peek(c: CounterBorrow<'_>) -> u32 {
        c.get::<Count>().get()
    }

    fn consume(c: Counter) -> u32 {
        // Dropping the handle runs the destructor.
        c.get::<Count>().get()
    }
}

export!(Counters);
