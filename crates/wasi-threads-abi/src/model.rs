//! The model: core imports and exports, with the layouts they point at.

use crate::core::{arrow_signature, wat_func_type, wat_string, ValType};
use crate::meaning::Meaning;

/// The core-wasm ABI of an interface or world.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// What the model was loaded from, for messages
    /// (e.g. `WIT world wasi:threads/threads`).
    pub origin: String,
    /// Functions the guest imports from the host, in source order.
    pub imports: Vec<CoreFunc>,
    /// Functions the guest exports to the host, in source order.
    pub exports: Vec<CoreFunc>,
}

/// One core function: an import (with its module) or an export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreFunc {
    /// The name the source gives the function: a WIT function name such as
    /// `thread-spawn` or `[method]file.read`, or a WITX export name.
    pub source_name: String,
    /// The WIT interface (`wasi:threads/thread-spawn`) or WITX module the
    /// function belongs to; `None` for functions declared in a world.
    pub source_interface: Option<String>,
    /// The core import module; `None` for exports.
    pub module: Option<String>,
    /// The core import or export name.
    pub name: String,
    pub params: Vec<CoreValue>,
    pub results: Vec<CoreValue>,
    /// All parameters are passed through one pointer (more than the
    /// canonical ABI's 16 flat values).
    pub indirect_params: bool,
    /// The result is written through a return pointer: the last parameter
    /// for imports, the single result for exports.
    pub retptr: bool,
}

/// One core parameter or result: its core type and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreValue {
    pub ty: ValType,
    pub meaning: Meaning,
    /// What the source calls it, for messages: `x`, `x.size`, `x (tag)`,
    /// `result`.
    pub label: String,
}

impl CoreValue {
    pub fn new(ty: ValType, meaning: Meaning, label: impl Into<String>) -> CoreValue {
        CoreValue {
            ty,
            meaning,
            label: label.into(),
        }
    }
}

/// The import module of the intrinsics through which a guest exports
/// resources starts with this: `[export]wasi:io/poll@0.2.12`.
pub const EXPORT_INTRINSICS: &str = "[export]";

impl CoreFunc {
    /// Whether this is an intrinsic of an exported resource (an import of
    /// an `[export]…` module): it serves the world's exports.
    pub fn serves_exports(&self) -> bool {
        self.module
            .as_deref()
            .is_some_and(|m| m.starts_with(EXPORT_INTRINSICS))
    }

    pub fn param_types(&self) -> Vec<ValType> {
        self.params.iter().map(|p| p.ty).collect()
    }

    pub fn result_types(&self) -> Vec<ValType> {
        self.results.iter().map(|r| r.ty).collect()
    }

    /// `(import "wasi" "thread-spawn" (func (param i32) (result i32)))` or
    /// `(export "wasi_thread_start" (func (param i32 i32)))`.
    pub fn wat(&self) -> String {
        let ty = wat_func_type(&self.param_types(), &self.result_types());
        match &self.module {
            Some(module) => format!(
                "(import {} {} {ty})",
                wat_string(module),
                wat_string(&self.name)
            ),
            None => format!("(export {} {ty})", wat_string(&self.name)),
        }
    }

    /// `(i32 i32) -> ()`, followed by how the values are passed when it is
    /// not plain.
    pub fn describe_signature(&self) -> String {
        let mut out = arrow_signature(&self.param_types(), &self.result_types());
        if self.indirect_params {
            out.push_str(" (parameters through a pointer)");
        }
        if self.retptr {
            out.push_str(" (result through a return pointer)");
        }
        out
    }
}

impl Model {
    /// One WAT line per core import, then per core export.
    pub fn wat_lines(&self) -> Vec<String> {
        self.imports
            .iter()
            .chain(self.exports.iter())
            .map(CoreFunc::wat)
            .collect()
    }
}
