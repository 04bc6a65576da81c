//! Compiled core modules against the models: does a `.wasm` import and
//! export what a WIT world or a WITX document says?
//!
//! [`CompiledModule`] reads a module with wasmparser (validated with every
//! feature wasmparser knows) into its function imports and exports with
//! their core signatures, and its memory imports. [`check_module`]
//! compares it with any number of models:
//! - every function import whose core module one of the models covers
//!   (has some import from) must be in that model, with the same core
//!   signature; imports of modules no model covers are listed, not faulted;
//! - every export of a WIT world must be exported with its core signature;
//! - for the wasi-threads world (a model that exports `wasi_thread_start`)
//!   the module must import its memory, and the memory must be shared.

use std::fmt;
use std::path::Path;

use wasmparser::{CompositeInnerType, ExternalKind, Parser, Payload, TypeRef, Validator};

use crate::core::{wat_func_type, wat_string, ValType};
use crate::error::{LoadError, LoadErrorKind};
use crate::model::Model;

/// A core signature as the module declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signature {
    /// Parameters and results of the four number types.
    Core {
        params: Vec<ValType>,
        results: Vec<ValType>,
    },
    /// A signature with other types (vectors, references), in WAT.
    Other(String),
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signature::Core { params, results } => f.write_str(&wat_func_type(params, results)),
            Signature::Other(text) => f.write_str(text),
        }
    }
}

/// A function the module imports (with its module) or exports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleFunc {
    pub module: Option<String>,
    pub name: String,
    pub signature: Signature,
}

impl ModuleFunc {
    fn wat(&self) -> String {
        match &self.module {
            Some(m) => format!("import {} {}", wat_string(m), wat_string(&self.name)),
            None => format!("export {}", wat_string(&self.name)),
        }
    }
}

/// A memory the module imports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryImport {
    pub module: String,
    pub name: String,
    pub shared: bool,
    pub memory64: bool,
    pub minimum: u64,
    pub maximum: Option<u64>,
}

impl MemoryImport {
    fn wat(&self) -> String {
        format!(
            "(import {} {} (memory{} {}{}{}))",
            wat_string(&self.module),
            wat_string(&self.name),
            if self.memory64 { " i64" } else { "" },
            self.minimum,
            self.maximum.map(|m| format!(" {m}")).unwrap_or_default(),
            if self.shared { " shared" } else { "" }
        )
    }
}

/// The imports and exports of a compiled core module.
#[derive(Clone, Debug, Default)]
pub struct CompiledModule {
    /// What it was read from, for messages.
    pub origin: String,
    pub imports: Vec<ModuleFunc>,
    pub exports: Vec<ModuleFunc>,
    pub memories: Vec<MemoryImport>,
    /// Whether the module defines a memory of its own.
    pub defines_memory: bool,
}

fn val_type(ty: &wasmparser::ValType) -> Option<ValType> {
    match ty {
        wasmparser::ValType::I32 => Some(ValType::I32),
        wasmparser::ValType::I64 => Some(ValType::I64),
        wasmparser::ValType::F32 => Some(ValType::F32),
        wasmparser::ValType::F64 => Some(ValType::F64),
        _ => None,
    }
}

fn signature(ty: &wasmparser::FuncType) -> Signature {
    let params: Option<Vec<ValType>> = ty.params().iter().map(val_type).collect();
    let results: Option<Vec<ValType>> = ty.results().iter().map(val_type).collect();
    match (params, results) {
        (Some(params), Some(results)) => Signature::Core { params, results },
        _ => Signature::Other(format!("(func {ty})")),
    }
}

impl CompiledModule {
    /// Reads a `.wasm` file (or WAT text, which is assembled first).
    pub fn load(path: &Path) -> Result<CompiledModule, LoadError> {
        let bytes = std::fs::read(path)
            .map_err(|e| LoadError::new(LoadErrorKind::Io, path, e.to_string()))?;
        let wasm = wat::parse_bytes(&bytes)
            .map_err(|e| LoadError::new(LoadErrorKind::Parse, path, e.to_string()))?;
        CompiledModule::read(&wasm, &path.display().to_string())
            .map_err(|m| LoadError::new(LoadErrorKind::Parse, path, m))
    }

    /// Reads the bytes of a core module; `origin` names it in messages.
    pub fn read(wasm: &[u8], origin: &str) -> Result<CompiledModule, String> {
        if wasmparser::Parser::is_component(wasm) {
            return Err("a component, not a core module".to_string());
        }
        if !wasmparser::Parser::is_core_wasm(wasm) {
            return Err("not a WebAssembly module (no `\\0asm` header)".to_string());
        }
        let mut validator = Validator::new_with_features(wasmparser::WasmFeatures::all());
        let types = validator
            .validate_all(wasm)
            .map_err(|e| format!("invalid module: {e}"))?;
        let types = types.as_ref();
        let func_type = |id: wasmparser::types::CoreTypeId| match &types[id].composite_type.inner {
            CompositeInnerType::Func(f) => signature(f),
            other => Signature::Other(format!("{other:?}")),
        };
        let mut module = CompiledModule {
            origin: origin.to_string(),
            ..CompiledModule::default()
        };
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.map_err(|e| format!("invalid module: {e}"))? {
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        let import = import.map_err(|e| format!("invalid module: {e}"))?;
                        match import.ty {
                            TypeRef::Func(index) | TypeRef::FuncExact(index) => {
                                module.imports.push(ModuleFunc {
                                    module: Some(import.module.to_string()),
                                    name: import.name.to_string(),
                                    signature: func_type(types.core_type_at_in_module(index)),
                                });
                            }
                            TypeRef::Memory(m) => module.memories.push(MemoryImport {
                                module: import.module.to_string(),
                                name: import.name.to_string(),
                                shared: m.shared,
                                memory64: m.memory64,
                                minimum: m.initial,
                                maximum: m.maximum,
                            }),
                            TypeRef::Table(_) | TypeRef::Global(_) | TypeRef::Tag(_) => {}
                        }
                    }
                }
                Payload::MemorySection(reader) => module.defines_memory |= reader.count() > 0,
                Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export.map_err(|e| format!("invalid module: {e}"))?;
                        if export.kind == ExternalKind::Func {
                            module.exports.push(ModuleFunc {
                                module: None,
                                name: export.name.to_string(),
                                signature: func_type(types.core_function_at(export.index)),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(module)
    }
}

/// What [`check_module`] found.
#[derive(Clone, Debug, Default)]
pub struct ModuleReport {
    pub origin: String,
    /// Imports checked against a model and found the same.
    pub imports_matched: usize,
    /// Exports of WIT worlds found with their signatures.
    pub exports_matched: usize,
    /// Mismatches and missing exports: each makes the module fail.
    pub findings: Vec<String>,
    /// Imports of modules no model covers.
    pub uncovered: Vec<String>,
}

impl ModuleReport {
    pub fn is_match(&self) -> bool {
        self.findings.is_empty()
    }
}

impl fmt::Display for ModuleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_match() {
            writeln!(
                f,
                "matches: {} import{} and {} export{} of {} agree with the interfaces",
                self.imports_matched,
                if self.imports_matched == 1 { "" } else { "s" },
                self.exports_matched,
                if self.exports_matched == 1 { "" } else { "s" },
                self.origin
            )?;
        } else {
            writeln!(
                f,
                "does not match: {} finding{} in {}",
                self.findings.len(),
                if self.findings.len() == 1 { "" } else { "s" },
                self.origin
            )?;
        }
        for line in &self.findings {
            writeln!(f, "{line}")?;
        }
        for line in &self.uncovered {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

fn model_signature(f: &crate::model::CoreFunc) -> Signature {
    Signature::Core {
        params: f.param_types(),
        results: f.result_types(),
    }
}

/// Compares a compiled module with the models of its interfaces.
pub fn check_module(module: &CompiledModule, models: &[&Model]) -> ModuleReport {
    let mut report = ModuleReport {
        origin: module.origin.clone(),
        ..ModuleReport::default()
    };
    for import in &module.imports {
        let covering: Vec<&Model> = models
            .iter()
            .copied()
            .filter(|m| m.imports.iter().any(|f| f.module == import.module))
            .collect();
        if covering.is_empty() {
            report.uncovered.push(format!(
                "not covered: {} {} (no interface given has core module {})",
                import.wat(),
                import.signature,
                wat_string(import.module.as_deref().unwrap_or_default())
            ));
            continue;
        }
        let found: Vec<(&Model, &crate::model::CoreFunc)> = covering
            .iter()
            .filter_map(|m| {
                m.imports
                    .iter()
                    .find(|f| f.module == import.module && f.name == import.name)
                    .map(|f| (*m, f))
            })
            .collect();
        if found.is_empty() {
            report.findings.push(format!(
                "{}: the module has {}; {} has no such import",
                import.wat(),
                import.signature,
                covering
                    .iter()
                    .map(|m| m.origin.as_str())
                    .collect::<Vec<_>>()
                    .join(" nor ")
            ));
            continue;
        }
        let mut same = true;
        for (model, f) in found {
            let expected = model_signature(f);
            if expected != import.signature {
                same = false;
                report.findings.push(format!(
                    "{}: the module has {}; {} has {}",
                    import.wat(),
                    import.signature,
                    model.origin,
                    expected
                ));
            }
        }
        if same {
            report.imports_matched += 1;
        }
    }
    for model in models {
        for export in &model.exports {
            let expected = model_signature(export);
            let wat = format!("export {}", wat_string(&export.name));
            match module.exports.iter().find(|e| e.name == export.name) {
                None => report.findings.push(format!(
                    "{wat}: the module does not export it; {} has {expected}",
                    model.origin
                )),
                Some(e) if e.signature != expected => report.findings.push(format!(
                    "{wat}: the module has {}; {} has {expected}",
                    e.signature, model.origin
                )),
                Some(_) => report.exports_matched += 1,
            }
        }
        if model.exports.iter().any(|e| e.name == "wasi_thread_start") {
            memory_findings(module, model, &mut report.findings);
        }
    }
    report
}

/// A wasi-threads module imports one shared memory.
fn memory_findings(module: &CompiledModule, model: &Model, findings: &mut Vec<String>) {
    match module.memories.as_slice() {
        [] => findings.push(format!(
            "memory: the module imports none{}; {} needs an imported shared memory, which every thread's instance shares",
            if module.defines_memory {
                " (it defines its own)"
            } else {
                ""
            },
            model.origin
        )),
        memories => {
            for m in memories.iter().filter(|m| !m.shared) {
                findings.push(format!(
                    "memory: the module has {}, not shared; {} needs a shared memory",
                    m.wat(),
                    model.origin
                ));
            }
        }
    }
}

/// The same for file paths, as `wasi-threads check-module` calls it.
pub fn check_module_path(path: &Path, models: &[&Model]) -> Result<ModuleReport, LoadError> {
    Ok(check_module(&CompiledModule::load(path)?, models))
}
