// The support code of generated host bindings, emitted once per generated
// world as its `_rt` module. It is text to this crate: the generated code
// compiles it in the embedder's crate, against the embedder's wasmtime.

#![allow(dead_code)]

use std::marker::PhantomData;

pub use wasmtime::{Error, Result};

/// A handle to a resource of type `T`, as the guest holds it: the index the
/// host gave out. The host keeps the resource itself in a table of its own
/// and looks it up with [`Resource::rep`].
pub struct Resource<T> {
    rep: u32,
    _marker: PhantomData<fn() -> T>,
}

impl<T> Resource<T> {
    pub fn new(rep: u32) -> Self {
        Resource {
            rep,
            _marker: PhantomData,
        }
    }

    pub fn rep(&self) -> u32 {
        self.rep
    }
}

impl<T> Clone for Resource<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Resource<T> {}

impl<T> PartialEq for Resource<T> {
    fn eq(&self, other: &Self) -> bool {
        self.rep == other.rep
    }
}

impl<T> Eq for Resource<T> {}

impl<T> std::hash::Hash for Resource<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.rep.hash(state)
    }
}

impl<T> std::fmt::Debug for Resource<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Resource").field(&self.rep).finish()
    }
}

/// The linear memory a guest's values live in: a plain memory, or the
/// shared memory of a threaded module.
#[derive(Clone)]
pub enum GuestMemory {
    Plain(wasmtime::Memory),
    Shared(wasmtime::SharedMemory),
}

impl From<wasmtime::Memory> for GuestMemory {
    fn from(memory: wasmtime::Memory) -> Self {
        GuestMemory::Plain(memory)
    }
}

impl From<wasmtime::SharedMemory> for GuestMemory {
    fn from(memory: wasmtime::SharedMemory) -> Self {
        GuestMemory::Shared(memory)
    }
}

impl GuestMemory {
    /// The memory an instance exports as `memory`, plain or shared.
    pub fn exported(
        store: &mut impl wasmtime::AsContextMut,
        instance: &wasmtime::Instance,
    ) -> Option<GuestMemory> {
        GuestMemory::of(instance.get_export(store.as_context_mut(), "memory")?)
    }

    fn of(export: wasmtime::Extern) -> Option<GuestMemory> {
        match export {
            wasmtime::Extern::Memory(m) => Some(GuestMemory::Plain(m)),
            wasmtime::Extern::SharedMemory(m) => Some(GuestMemory::Shared(m)),
            _ => None,
        }
    }
}

/// The memory of the calling instance: its `memory` export. Embedders whose
/// modules import a memory without exporting it pass their own lookup to
/// `add_to_linker_with_memory` instead.
pub fn exported_memory<T>(caller: &mut wasmtime::Caller<'_, T>) -> Option<GuestMemory> {
    GuestMemory::of(caller.get_export("memory")?)
}

/// The guest's `cabi_realloc`, through which the host allocates the memory
/// of strings and lists it hands to the guest.
pub type Realloc = wasmtime::TypedFunc<(i32, i32, i32, i32), i32>;

/// The instance's `cabi_realloc` export, if it has one of the right type.
pub fn caller_realloc<T>(caller: &mut wasmtime::Caller<'_, T>) -> Option<Realloc> {
    let func = caller.get_export("cabi_realloc")?.into_func()?;
    func.typed(&*caller).ok()
}

/// A value type that crosses linear memory.
pub trait Prim: Sized {
    const SIZE: usize;
    fn from_le(bytes: &[u8]) -> Self;
    fn to_le(self, out: &mut [u8]);
}

macro_rules! prims {
    ($($t:ty)*) => {$(
        impl Prim for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn from_le(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().unwrap())
            }
            fn to_le(self, out: &mut [u8]) {
                out.copy_from_slice(&self.to_le_bytes())
            }
        }
    )*};
}

prims!(u8 i8 u16 i16 i32 i64 f32 f64);

/// One call's view of the guest: its store, memory and allocator, and the
/// name of the function, for the message of every trap.
pub struct Cx<'a, T: 'static> {
    pub store: wasmtime::StoreContextMut<'a, T>,
    memory: Option<GuestMemory>,
    realloc: Option<Realloc>,
    func: &'static str,
}

impl<'a, T: 'static> Cx<'a, T> {
    pub fn new(
        store: wasmtime::StoreContextMut<'a, T>,
        memory: Option<GuestMemory>,
        realloc: Option<Realloc>,
        func: &'static str,
    ) -> Self {
        Cx {
            store,
            memory,
            realloc,
            func,
        }
    }

    /// A trap naming the function and what was being read or written.
    pub fn trap(&self, what: &str, message: impl std::fmt::Display) -> Error {
        wasmtime::format_err!("{}: {what}: {message}", self.func)
    }

    fn memory(&self, what: &str) -> Result<&GuestMemory> {
        self.memory
            .as_ref()
            .ok_or_else(|| self.trap(what, "the guest has no memory the host can reach (it exports no `memory`)"))
    }

    fn range(&self, what: &str, ptr: i32, offset: usize, len: usize) -> Result<(GuestMemory, usize)> {
        let memory = self.memory(what)?.clone();
        let size = match &memory {
            GuestMemory::Plain(m) => m.data_size(&self.store),
            GuestMemory::Shared(m) => m.data_size(),
        };
        let start = ptr as u32 as usize + offset;
        match start.checked_add(len) {
            Some(end) if end <= size => Ok((memory, start)),
            _ => Err(self.trap(
                what,
                format_args!(
                    "pointer {:#x}+{offset} with {len} bytes is out of bounds of memory ({size} bytes)",
                    ptr as u32
                ),
            )),
        }
    }

    /// Checks that `len` bytes at `ptr`, aligned to `align`, lie in memory.
    pub fn check(&self, what: &str, ptr: i32, len: usize, align: usize) -> Result<()> {
        if ptr as u32 as usize % align != 0 {
            return Err(self.trap(
                what,
                format_args!("pointer {:#x} is not aligned to {align}", ptr as u32),
            ));
        }
        self.range(what, ptr, 0, len).map(|_| ())
    }

    /// Copies `len` bytes out of memory.
    pub fn read(&self, what: &str, ptr: i32, offset: usize, len: usize) -> Result<Vec<u8>> {
        let (memory, start) = self.range(what, ptr, offset, len)?;
        let mut out = vec![0u8; len];
        match memory {
            GuestMemory::Plain(m) => out.copy_from_slice(&m.data(&self.store)[start..start + len]),
            GuestMemory::Shared(m) => {
                let cells = &m.data()[start..start + len];
                // Other threads may write these bytes concurrently; the copy
                // reads whatever they hold, as a wasm load would.
                unsafe {
                    std::ptr::copy_nonoverlapping(cells.as_ptr().cast::<u8>(), out.as_mut_ptr(), len)
                }
            }
        }
        Ok(out)
    }

    /// Copies bytes into memory.
    pub fn write(&mut self, what: &str, ptr: i32, offset: usize, bytes: &[u8]) -> Result<()> {
        let (memory, start) = self.range(what, ptr, offset, bytes.len())?;
        match memory {
            GuestMemory::Plain(m) => {
                m.data_mut(&mut self.store)[start..start + bytes.len()].copy_from_slice(bytes)
            }
            GuestMemory::Shared(m) => {
                let cells = &m.data()[start..start + bytes.len()];
                unsafe {
                    std::ptr::copy_nonoverlapping(bytes.as_ptr(), cells.as_ptr() as *mut u8, bytes.len())
                }
            }
        }
        Ok(())
    }

    pub fn load<P: Prim>(&self, what: &str, ptr: i32, offset: usize) -> Result<P> {
        Ok(P::from_le(&self.read(what, ptr, offset, P::SIZE)?))
    }

    pub fn store<P: Prim>(&mut self, what: &str, ptr: i32, offset: usize, value: P) -> Result<()> {
        let mut bytes = [0u8; 8];
        value.to_le(&mut bytes[..P::SIZE]);
        self.write(what, ptr, offset, &bytes[..P::SIZE])
    }

    /// A string: `len` bytes of UTF-8 at `ptr`.
    pub fn string(&self, what: &str, ptr: i32, len: i32) -> Result<String> {
        let bytes = self.read(what, ptr, 0, len as u32 as usize)?;
        String::from_utf8(bytes).map_err(|e| self.trap(what, format_args!("invalid UTF-8: {e}")))
    }

    /// A list of `len` elements of `size` bytes: checks the whole run first,
    /// so a huge length traps instead of allocating.
    pub fn list(&self, what: &str, ptr: i32, len: i32, size: usize, align: usize) -> Result<usize> {
        let len = len as u32 as usize;
        let bytes = len
            .checked_mul(size)
            .ok_or_else(|| self.trap(what, format_args!("a list of {len} elements overflows memory")))?;
        self.check(what, ptr, bytes, align)?;
        Ok(len)
    }

    pub fn char(&self, what: &str, value: i32) -> Result<char> {
        char::from_u32(value as u32).ok_or_else(|| {
            self.trap(what, format_args!("{:#x} is not a Unicode scalar value", value as u32))
        })
    }

    pub fn discriminant(&self, what: &str, value: i32) -> Error {
        self.trap(what, format_args!("invalid discriminant {}", value as u32))
    }

    /// Allocates `size` bytes aligned to `align` in the guest with its
    /// `cabi_realloc`.
    pub fn realloc(&mut self, what: &str, size: usize, align: usize) -> Result<i32> {
        let realloc = self.realloc.clone().ok_or_else(|| {
            self.trap(what, "the guest exports no `cabi_realloc` to allocate the value in")
        })?;
        let ptr = realloc.call(&mut self.store, (0, 0, align as i32, size as i32))?;
        self.check(what, ptr, size, align)
            .map_err(|e| self.trap(what, format_args!("`cabi_realloc` returned a bad pointer: {e}")))?;
        Ok(ptr)
    }
}
