//! Waits the host knows of, so the end of a run wakes them in time
//! independent of the memory's size.
//!
//! In wasmtime 48 a thread parked in `memory.atomic.wait` is woken only by
//! a notify of its own address, and no API wakes every waiter. So, as a
//! module is compiled ([`crate::compile`]), every `memory.atomic.wait32`
//! and `memory.atomic.wait64` on its memory 0 becomes a call of a host
//! function (imported from [`MODULE`]) that records the thread's address in
//! the thread's own slot and waits through
//! `SharedMemory::atomic_wait32/64`: the host API and the instruction share
//! one waiter queue per memory, with the same results (0 woken, 1 the value
//! differed, 2 timed out) and the same traps (out of bounds, misaligned).
//! The end of the run notifies the recorded addresses, again and again
//! until every thread has stopped, and a woken thread checks the end
//! before going back to wasm.
//!
//! The rewrite: the wait's operands stay on the stack (address, expected
//! value, timeout), the instruction's static offset is pushed as an `i64`,
//! and the host function is called; two function imports are added after
//! the module's own, so every function index after them moves by two
//! (calls, `ref.func`, elements, exports, the start function, the name
//! section). Custom sections that hold code offsets (DWARF, source maps,
//! branch hints) no longer match and are dropped; the name section is kept,
//! so traps still name the original functions.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use wasm_encoder::reencode::{self, Reencode};
use wasmparser::{Operator, Parser, Payload};

/// The core module the wait functions are imported from.
pub const MODULE: &str = "wasi-threads-host";
/// `(func (param $addr i32) (param $expected i32) (param $timeout i64)
/// (param $offset i64) (result i32))`
pub const WAIT32: &str = "memory.atomic.wait32";
/// `(func (param $addr i32) (param $expected i64) (param $timeout i64)
/// (param $offset i64) (result i32))`
pub const WAIT64: &str = "memory.atomic.wait64";
/// Changes whenever the rewrite does; part of a compiled module's cache key.
pub const REWRITE_VERSION: u32 = 1;

/// No address recorded.
pub(crate) const NONE: u64 = u64::MAX;

/// Rewrites `wasm` (a binary module) when it waits on a shared memory 0
/// that it imports; `None` when there is nothing to rewrite.
pub(crate) fn rewrite(wasm: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut shape = Shape::default();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(|e| e.to_string())? {
            Payload::ImportSection(section) => {
                for import in section.into_imports() {
                    let import = import.map_err(|e| e.to_string())?;
                    match import.ty {
                        wasmparser::TypeRef::Func(_) => shape.imported_funcs += 1,
                        wasmparser::TypeRef::Memory(m) => {
                            if shape.memories == 0 {
                                shape.memory0_shared32 = m.shared && !m.memory64;
                            }
                            shape.memories += 1;
                        }
                        _ => {}
                    }
                    if import.module == MODULE {
                        // Already rewritten.
                        return Ok(None);
                    }
                }
            }
            Payload::TypeSection(section) => shape.types = section.count(),
            Payload::CodeSectionEntry(body) => {
                let mut ops = body.get_operators_reader().map_err(|e| e.to_string())?;
                while !ops.eof() {
                    match ops.read().map_err(|e| e.to_string())? {
                        Operator::MemoryAtomicWait32 { memarg }
                        | Operator::MemoryAtomicWait64 { memarg }
                            if memarg.memory == 0 =>
                        {
                            shape.waits += 1
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if shape.waits == 0 || !shape.memory0_shared32 {
        return Ok(None);
    }
    let mut rewriter = Rewriter { shape };
    let mut module = wasm_encoder::Module::new();
    rewriter
        .parse_core_module(&mut module, Parser::new(0), wasm)
        .map_err(|e| format!("{e:?}"))?;
    Ok(Some(module.finish()))
}

#[derive(Default, Clone, Copy)]
struct Shape {
    imported_funcs: u32,
    memories: u32,
    memory0_shared32: bool,
    types: u32,
    waits: u32,
}

struct Rewriter {
    shape: Shape,
}

impl Rewriter {
    fn wait32(&self) -> u32 {
        self.shape.imported_funcs
    }

    fn wait64(&self) -> u32 {
        self.shape.imported_funcs + 1
    }
}

impl Reencode for Rewriter {
    type Error = std::convert::Infallible;

    fn function_index(&mut self, func: u32) -> Result<u32, reencode::Error> {
        Ok(if func < self.shape.imported_funcs {
            func
        } else {
            func + 2
        })
    }

    fn parse_type_section(
        &mut self,
        types: &mut wasm_encoder::TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        reencode::utils::parse_type_section(self, types, section)?;
        use wasm_encoder::ValType::{I32, I64};
        types.ty().function([I32, I32, I64, I64], [I32]);
        types.ty().function([I32, I64, I64, I64], [I32]);
        Ok(())
    }

    fn parse_import_section(
        &mut self,
        imports: &mut wasm_encoder::ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        reencode::utils::parse_import_section(self, imports, section)?;
        imports.import(
            MODULE,
            WAIT32,
            wasm_encoder::EntityType::Function(self.shape.types),
        );
        imports.import(
            MODULE,
            WAIT64,
            wasm_encoder::EntityType::Function(self.shape.types + 1),
        );
        Ok(())
    }

    fn parse_function_body(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        func: wasmparser::FunctionBody<'_>,
    ) -> Result<(), reencode::Error> {
        let mut f = reencode::utils::new_function_with_parsed_locals(self, &func)?;
        let mut reader = func.get_operators_reader()?;
        while !reader.eof() {
            match reader.read()? {
                Operator::MemoryAtomicWait32 { memarg } if memarg.memory == 0 => {
                    f.instruction(&wasm_encoder::Instruction::I64Const(memarg.offset as i64));
                    f.instruction(&wasm_encoder::Instruction::Call(self.wait32()));
                }
                Operator::MemoryAtomicWait64 { memarg } if memarg.memory == 0 => {
                    f.instruction(&wasm_encoder::Instruction::I64Const(memarg.offset as i64));
                    f.instruction(&wasm_encoder::Instruction::Call(self.wait64()));
                }
                op => {
                    f.instruction(&self.instruction(op)?);
                }
            }
        }
        code.function(&f);
        Ok(())
    }

    fn parse_custom_section(
        &mut self,
        module: &mut wasm_encoder::Module,
        section: wasmparser::CustomSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        let name = section.name();
        // Code offsets moved: these no longer describe the code.
        if name.starts_with(".debug_")
            || name == "sourceMappingURL"
            || name == "external_debug_info"
            || name == "metadata.code.branch_hint"
        {
            return Ok(());
        }
        reencode::utils::parse_custom_section(self, module, section)
    }
}

/// Whether a compiled module calls the host for its waits.
pub(crate) fn is_rewritten(module: &wasmtime::Module) -> bool {
    module.imports().any(|i| i.module() == MODULE)
}

/// Where each thread of a run waits, if it does.
#[derive(Default)]
pub(crate) struct Waiters {
    slots: Mutex<Vec<Weak<AtomicU64>>>,
}

impl Waiters {
    /// A slot for a new thread: the address it waits on, or none.
    pub fn slot(&self) -> Arc<AtomicU64> {
        let slot = Arc::new(AtomicU64::new(NONE));
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.retain(|s| s.strong_count() > 0);
        slots.push(Arc::downgrade(&slot));
        slot
    }

    /// Notifies every address a thread is waiting on.
    pub fn wake(&self, memory: &wasmtime::SharedMemory) {
        let addresses: Vec<u64> = self
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .map(|s| s.load(Ordering::SeqCst))
            .filter(|&a| a != NONE)
            .collect();
        for addr in addresses {
            let _ = memory.atomic_notify(addr, u32::MAX);
        }
    }
}

/// The module as text or binary, as binary.
pub(crate) fn binary(wasm: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    wat::parse_bytes(wasm).map_err(|e| e.to_string())
}
