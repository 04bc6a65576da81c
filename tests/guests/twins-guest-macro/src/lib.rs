//! A guest whose world (`tests/bindgen/twins.wit`) imports and exports two
//! interfaces that each define `point`, `error-code` and `echo`, with
//! different layouts, on this project's Rust guest bindings (`guest!`):
//! `run` calls both imports, the exports answer the host with the rules
//! the WIT documents.
//!
//! It also defines its own `cabi_realloc`, which counts its calls: the
//! program's strong definition is the one linked and exported, not the
//! guest runtime's weak one.

mod bindings {
    wasi_threads_macros::guest!("../../bindgen/twins.wit");
}

use bindings::test::twins::{narrow, wide};
// The exports' traits are beside the imports, on the same types.
use bindings::test::twins::{narrow as narrow_out, wide as wide_out};

use std::alloc::{self, Layout};
use std::sync::atomic::{AtomicU32, Ordering};

struct Twins;

impl bindings::Guest for Twins {
    fn run() -> Result<(), String> {
        let p = narrow::Point { x: 7, y: 65535 };
        if narrow::echo(p.clone()) != Ok(p.clone()) {
            return Err(format!("narrow echo of {p:?}"));
        }
        let big = narrow::Point { x: 200, y: 1 };
        if narrow::echo(big) != Err(narrow::ErrorCode::TooBig) {
            return Err("narrow echo of x = 200 is too-big".into());
        }
        let w = wide::Point {
            x: 1 << 33,
            y: -0.5,
            label: "abc".into(),
        };
        match wide::echo(w.clone()) {
            Ok(back) if back.x == w.x && back.y == w.y && back.label == "cba" => {}
            other => return Err(format!("wide echo of {w:?}: {other:?}")),
        }
        let huge = wide::Point {
            x: 1 << 41,
            y: 0.0,
            label: String::new(),
        };
        match wide::echo(huge) {
            Err(wide::ErrorCode::TooBig(x)) if x == 1 << 41 => {}
            other => return Err(format!("wide echo of x = 2^41: {other:?}")),
        }
        Ok(())
    }
}

impl narrow_out::Guest for Twins {
    fn echo(p: narrow_out::Point) -> Result<narrow_out::Point, narrow_out::ErrorCode> {
        if p.x > 100 {
            Err(narrow_out::ErrorCode::TooBig)
        } else {
            Ok(p)
        }
    }
}

impl wide_out::Guest for Twins {
    fn echo(p: wide_out::Point) -> Result<wide_out::Point, wide_out::ErrorCode> {
        if p.x > 1 << 40 {
            Err(wide_out::ErrorCode::TooBig(p.x))
        } else {
            Ok(wide_out::Point {
                label: p.label.chars().rev().collect(),
                ..p
            })
        }
    }
}

bindings::export!(Twins with_types_in bindings);

static REALLOC_CALLS: AtomicU32 = AtomicU32::new(0);

/// The program's own allocator for values the host passes in.
///
/// # Safety
/// As the canonical ABI's `cabi_realloc`: `old` was allocated by this
/// function with `old_len` and `align`.
#[no_mangle]
pub unsafe extern "C" fn cabi_realloc(
    old: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    REALLOC_CALLS.fetch_add(1, Ordering::Relaxed);
    if new_len == 0 {
        return align as *mut u8;
    }
    let ptr = if old_len == 0 {
        alloc::alloc(Layout::from_size_align(new_len, align).unwrap())
    } else {
        alloc::realloc(
            old,
            Layout::from_size_align(old_len, align).unwrap(),
            new_len,
        )
    };
    if ptr.is_null() {
        std::process::abort();
    }
    ptr
}

/// How many times the program's own `cabi_realloc` ran.
#[no_mangle]
pub extern "C" fn realloc_calls() -> u32 {
    REALLOC_CALLS.load(Ordering::Relaxed)
}
