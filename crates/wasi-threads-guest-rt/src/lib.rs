//! The runtime of the Rust guest bindings that `wasi-threads bindgen rust`
//! and `wasi_threads_macros::guest!` generate. Generated code refers to
//! this crate as `::wasi_threads_guest_rt`: add it beside the macros.
//!
//! # `cabi_realloc`
//!
//! The host hands a guest strings and lists by calling the guest's exported
//! `cabi_realloc`. A program has one, wherever its bindings come from, so
//! it is provided as wit-bindgen's runtime provides it:
//!
//! - this crate defines a versioned symbol,
//!   `cabi_realloc_wasi_threads_guest_rt_0_1_0`, that allocates with the
//!   global allocator;
//! - a linkable archive, built from `src/cabi_realloc.c` and linked for
//!   wasm32 only, defines a **weak**, exported `cabi_realloc` that calls the
//!   versioned symbol. The linker takes it only if nothing else defines
//!   `cabi_realloc`: a program's own strong definition wins, and beside
//!   wit-bindgen's bindings (whose archive defines a weak `cabi_realloc`
//!   the same way) one of the two is kept. Every one of them allocates with
//!   Rust's global allocator, which the generated code frees into;
//! - generated code that needs `cabi_realloc` refers to
//!   [`maybe_link_cabi_realloc`], which makes the linker see the symbol.
//!
//! Stable Rust cannot define a weak symbol, hence the C. The archive is
//! committed so that users need no C compiler for wasm; the crate's tests
//! rebuild it with clang-19 and check it is byte for byte the committed one.
//!
//! # Invalid data from the host
//!
//! A string that is not UTF-8, a `char` that is not a Unicode scalar value
//! or a discriminant out of range cannot become a Rust value: the generated
//! code ends the program with [`trap`], which writes a message to stderr
//! (on WASI preview 1 targets) and executes `unreachable`, without the
//! panic machinery.
//!
//! # Exported resources
//!
//! A resource the guest exports is represented by a boxed value of the
//! user's type; the host holds handles to it. [`TypeGuard`] makes sure one
//! type is used per resource.

#![no_std]

extern crate alloc;

pub use alloc::alloc::Layout;
pub use alloc::boxed::Box;
pub use alloc::string::String;
pub use alloc::vec::Vec;

/// Allocates with the global allocator; a zero-sized layout gets a
/// dangling, aligned pointer.
///
/// # Safety
///
/// As [`alloc::alloc::alloc`] for a non-zero size.
pub unsafe fn alloc_bytes(layout: Layout) -> *mut u8 {
    if layout.size() == 0 {
        return layout.align() as *mut u8;
    }
    let ptr = unsafe { alloc::alloc::alloc(layout) };
    if ptr.is_null() {
        alloc::alloc::handle_alloc_error(layout);
    }
    ptr
}

/// Frees what [`alloc_bytes`] (or `cabi_realloc`) allocated.
///
/// # Safety
///
/// As [`alloc::alloc::dealloc`] for a non-zero size.
pub unsafe fn dealloc_bytes(ptr: *mut u8, layout: Layout) {
    if layout.size() != 0 {
        unsafe { alloc::alloc::dealloc(ptr, layout) }
    }
}

/// A temporary allocation, freed when the import call has returned.
pub struct Temp {
    pub ptr: *mut u8,
    pub layout: Layout,
}

impl Drop for Temp {
    fn drop(&mut self) {
        unsafe { dealloc_bytes(self.ptr, self.layout) }
    }
}

/// Takes ownership of a string the host allocated with `cabi_realloc`;
/// bytes that are not UTF-8 end the program with a [`trap`] naming `what`
/// (e.g. "the result of `wasi:example/names#get`").
///
/// # Safety
///
/// `ptr` and `len` are an allocation of `len` bytes with alignment 1 from
/// `cabi_realloc`, now owned by the caller.
pub unsafe fn string_lift(ptr: i32, len: i32, what: &str) -> String {
    let len = len as u32 as usize;
    if len == 0 {
        return String::new();
    }
    let bytes = unsafe { Vec::from_raw_parts(ptr as u32 as usize as *mut u8, len, len) };
    if core::str::from_utf8(&bytes).is_err() {
        invalid(what, "a string that is not UTF-8");
    }
    unsafe { String::from_utf8_unchecked(bytes) }
}

/// A `char` from its core value; a value that is not a Unicode scalar
/// value ends the program with a [`trap`] naming `what`.
#[inline]
pub fn char_lift(value: i32, what: &str) -> char {
    match char::from_u32(value as u32) {
        Some(c) => c,
        None => invalid(what, "a char that is not a Unicode scalar value"),
    }
}

/// The layout of a list the host passed: `len` elements of `size` bytes
/// aligned to `align`. A length whose bytes do not fit the address space
/// ends the program with a [`trap`] naming `what`, before anything is read
/// or freed.
#[inline]
pub fn list_layout(len: usize, size: usize, align: usize, what: &str) -> Layout {
    match len
        .checked_mul(size)
        .and_then(|bytes| Layout::from_size_align(bytes, align).ok())
    {
        Some(layout) => layout,
        None => invalid(what, "a list longer than the address space"),
    }
}

/// Ends the program: the host passed a discriminant the type does not have.
#[cold]
pub fn invalid_discriminant(what: &str) -> ! {
    invalid(what, "a discriminant out of range")
}

#[cold]
fn invalid(what: &str, problem: &str) -> ! {
    trap(&[
        "error: invalid data from the host in ",
        what,
        ": ",
        problem,
        "\n",
    ])
}

/// Writes the concatenation of `message` to stderr (on WASI preview 1
/// targets; nothing is written elsewhere) and traps with `unreachable`.
/// Nothing is allocated, and no panic hook or unwinding runs.
#[cold]
pub fn trap(message: &[&str]) -> ! {
    stderr(message);
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    // Only wasm32 runs generated guest code; elsewhere (native builds for
    // checks and tests) a panic says the same.
    #[cfg(not(target_arch = "wasm32"))]
    panic!("{}", message.concat())
}

#[cfg(all(target_arch = "wasm32", target_os = "wasi", target_env = "p1"))]
fn stderr(message: &[&str]) {
    #[repr(C)]
    struct Ciovec {
        buf: *const u8,
        len: usize,
    }
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    unsafe extern "C" {
        #[link_name = "fd_write"]
        fn fd_write(fd: i32, iovs: *const Ciovec, iovs_len: usize, written: *mut usize) -> i32;
    }
    for part in message {
        let mut rest = part.as_bytes();
        while !rest.is_empty() {
            let iov = Ciovec {
                buf: rest.as_ptr(),
                len: rest.len(),
            };
            let mut written = 0;
            if unsafe { fd_write(2, &iov, 1, &mut written) } != 0 || written == 0 {
                return;
            }
            rest = &rest[written.min(rest.len())..];
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_os = "wasi", target_env = "p1")))]
fn stderr(_: &[&str]) {}

/// Remembers the one Rust type that represents an exported resource: the
/// generated `get::<T>()`, `get_mut`, `into_inner` and destructor read the
/// resource's representation as a `T`, so the first type used fixes it and
/// any other ends the program with a [`trap`]. Unlike a `static mut`, it is
/// safe for threads sharing the memory.
pub struct TypeGuard {
    /// 0: no type yet; 1: being set; 2: `id` is set.
    state: core::sync::atomic::AtomicU8,
    id: core::cell::UnsafeCell<core::mem::MaybeUninit<core::any::TypeId>>,
}

// `id` is written once, before `state` becomes 2 (release), and read only
// after `state` was seen as 2 (acquire).
unsafe impl Sync for TypeGuard {}

impl TypeGuard {
    pub const fn new() -> TypeGuard {
        TypeGuard {
            state: core::sync::atomic::AtomicU8::new(0),
            id: core::cell::UnsafeCell::new(core::mem::MaybeUninit::uninit()),
        }
    }

    /// Fixes `T` as the type of `resource` (e.g. "test:exported/counters"
    /// resource `counter`), or checks it is the type fixed before.
    pub fn check<T: 'static>(&self, resource: &str) {
        use core::sync::atomic::Ordering::{Acquire, Release};
        let id = core::any::TypeId::of::<T>();
        match self.state.compare_exchange(0, 1, Acquire, Acquire) {
            Ok(_) => {
                unsafe { (*self.id.get()).write(id) };
                self.state.store(2, Release);
                return;
            }
            Err(_) => {
                while self.state.load(Acquire) != 2 {
                    core::hint::spin_loop();
                }
            }
        }
        if unsafe { (*self.id.get()).assume_init_ref() } != &id {
            trap(&[
                "error: two Rust types are used for the exported resource ",
                resource,
                "; use the one its `Guest` trait names\n",
            ])
        }
    }
}

impl Default for TypeGuard {
    fn default() -> TypeGuard {
        TypeGuard::new()
    }
}

/// The representation behind an exported resource's handle or borrow,
/// which `into_inner` has taken: ends the program with a [`trap`].
#[cold]
pub fn resource_taken(resource: &str) -> ! {
    trap(&[
        "error: the value of the exported resource ",
        resource,
        " was taken out with `into_inner`\n",
    ])
}

/// The allocator behind every `cabi_realloc` of this crate's archive:
/// allocates, grows or frees with the global allocator, as the canonical
/// ABI's `realloc` does.
///
/// # Safety
///
/// `old_ptr`, `old_len` and `align` describe an allocation of the global
/// allocator (or `old_len` is 0); `align` is a power of two.
pub unsafe fn cabi_realloc(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    let new = unsafe { Layout::from_size_align_unchecked(new_len, align) };
    if old_len == 0 {
        return unsafe { alloc_bytes(new) };
    }
    let old = unsafe { Layout::from_size_align_unchecked(old_len, align) };
    if new_len == 0 {
        unsafe { dealloc_bytes(old_ptr, old) };
        return align as *mut u8;
    }
    let ptr = unsafe { alloc::alloc::realloc(old_ptr, old, new_len) };
    if ptr.is_null() {
        alloc::alloc::handle_alloc_error(new);
    }
    ptr
}

/// The versioned symbol the archive's weak `cabi_realloc` calls; its name
/// is unique to this version of the crate, so two versions link together.
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc_wasi_threads_guest_rt_0_1_0(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    unsafe { cabi_realloc(old_ptr, old_len, align, new_len) }
}

/// Referenced by generated code that needs `cabi_realloc`: the `#[used]`
/// static below keeps a reference to the symbol until the linker has seen
/// it, so the linker takes a definition (the program's own, or the weak one
/// of an archive) and exports it; the function itself is then discarded.
pub fn maybe_link_cabi_realloc() {
    #[cfg(target_arch = "wasm32")]
    {
        unsafe extern "C" {
            fn cabi_realloc(
                old_ptr: *mut u8,
                old_len: usize,
                align: usize,
                new_len: usize,
            ) -> *mut u8;
        }
        #[used]
        static CABI_REALLOC: unsafe extern "C" fn(*mut u8, usize, usize, usize) -> *mut u8 =
            cabi_realloc;
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::TypeGuard;

    #[test]
    fn the_first_type_is_kept_across_threads() {
        static GUARD: TypeGuard = TypeGuard::new();
        let threads: std::vec::Vec<_> = (0..8)
            .map(|_| std::thread::spawn(|| GUARD.check::<u32>("`r` of `t:t/i`")))
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        GUARD.check::<u32>("`r` of `t:t/i`");
    }

    #[test]
    #[should_panic(expected = "two Rust types are used for the exported resource `r` of `t:t/i`")]
    fn a_second_type_traps() {
        static GUARD: TypeGuard = TypeGuard::new();
        GUARD.check::<u32>("`r` of `t:t/i`");
        GUARD.check::<u64>("`r` of `t:t/i`");
    }
}
