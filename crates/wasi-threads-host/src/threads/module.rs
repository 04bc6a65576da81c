//! What a module asks of the threads part: whether it imports
//! `thread-spawn` (with the right type), the memory it imports, and whether
//! it exports the thread entry point; and the memory the host creates for
//! that import.

use wasmtime::{ExternType, MemoryType, Module, ValType};

use crate::Error;

/// The core import that starts a thread.
pub const SPAWN_MODULE: &str = "wasi";
pub const SPAWN_NAME: &str = "thread-spawn";
/// The export every new thread enters.
pub const ENTRY_POINT: &str = "wasi_thread_start";

/// A module's memory import.
#[derive(Clone, Debug)]
pub(crate) struct MemoryImport {
    pub module: String,
    pub name: String,
    pub ty: MemoryType,
}

/// What the threads part needs to know of a module.
#[derive(Clone, Debug)]
pub(crate) struct Shape {
    pub spawn: bool,
    pub memory: Option<MemoryImport>,
    /// `wasi_thread_start (param i32 i32)` is exported.
    pub entry_point: bool,
}

/// Checks the wasi-threads rules on `module`: a `thread-spawn` import of
/// type `(func (param i32) (result i32))`, and with it a shared memory
/// import and no memory of the module's own.
pub(crate) fn inspect(module: &Module) -> Result<Shape, Error> {
    let mut spawn = false;
    let mut memory = None;
    for import in module.imports() {
        match import.ty() {
            ExternType::Memory(ty) => {
                memory = Some(MemoryImport {
                    module: import.module().to_string(),
                    name: import.name().to_string(),
                    ty,
                })
            }
            ExternType::Func(f)
                if import.module() == SPAWN_MODULE && import.name() == SPAWN_NAME =>
            {
                let i32_only = |mut tys: Box<dyn ExactSizeIterator<Item = ValType>>| {
                    tys.len() == 1 && tys.all(|t| t.matches(&ValType::I32))
                };
                if !i32_only(Box::new(f.params())) || !i32_only(Box::new(f.results())) {
                    return Err(Error::SpawnType {
                        found: f.to_string(),
                    });
                }
                spawn = true;
            }
            _ => {}
        }
    }
    if spawn {
        let own = module.resources_required().num_memories;
        if own > 0 {
            let exported: Vec<String> = module
                .exports()
                .filter(|e| matches!(e.ty(), ExternType::Memory(_)))
                .map(|e| e.name().to_string())
                .collect();
            return Err(Error::OwnMemory {
                count: own,
                exported,
            });
        }
        match &memory {
            Some(m) if !m.ty.is_shared() => {
                return Err(Error::MemoryNotShared {
                    module: m.module.clone(),
                    name: m.name.clone(),
                })
            }
            None => return Err(Error::NoMemory),
            _ => {}
        }
    }
    let entry_point = matches!(
        module.get_export(ENTRY_POINT),
        Some(ExternType::Func(f))
            if f.params().len() == 2
                && f.params().all(|p| p.matches(&ValType::I32))
                && f.results().len() == 0
    );
    Ok(Shape {
        spawn,
        memory,
        entry_point,
    })
}

/// The memory type to create for `import`: its own, with the maximum
/// lowered to `limit` bytes when given.
pub(crate) fn limited(import: &MemoryImport, limit: Option<u64>) -> Result<MemoryType, Error> {
    let ty = &import.ty;
    let Some(limit) = limit else {
        return Ok(ty.clone());
    };
    let page = ty.page_size();
    let limit_pages = limit / page;
    if ty.minimum() > limit_pages {
        return Err(Error::MemoryLimit {
            module: import.module.clone(),
            name: import.name.clone(),
            needed: ty.minimum() * page,
            limit,
        });
    }
    let max = ty.maximum().map_or(limit_pages, |m| m.min(limit_pages));
    let mut builder = wasmtime::MemoryTypeBuilder::new();
    builder
        .min(ty.minimum())
        .max(Some(max))
        .shared(ty.is_shared())
        .memory64(ty.is_64())
        .page_size_log2(ty.page_size_log2());
    builder.build().map_err(|source| Error::CreateMemory {
        module: import.module.clone(),
        name: import.name.clone(),
        source,
    })
}
