//! C guest bindings in the style of wasi-libc's `wasi/api.h`: typedefs for
//! the world's types, laid out exactly as the canonical ABI lays them out in
//! memory (so every list is passed as it is, without copying), a raw import
//! `__imported_<module>_<function>` per core import, and a typed wrapper
//! `__<module>_<function>` that lowers its arguments and lifts its result
//! as wit-bindgen-core's instruction stream says.
//!
//! C has no pointer type in WIT; a 32-bit integer type alias whose doc
//! comment has a line `C type: void *` (any pointer type) is written as that
//! pointer, which on wasm32 has the same ABI. The canonical WIT's
//! `start-arg` says so, which gives wasi-libc's
//! `int32_t __wasi_thread_spawn(void *start_arg)`.

use std::collections::BTreeSet;
use std::fmt::Write;

use heck::{ToShoutySnakeCase, ToSnakeCase};
use wit_bindgen_core::abi::{self, AbiVariant, Bindgen, Bitcast, Instruction, LiftLower, WasmType};
use wit_parser::{
    Alignment, ArchitectureSize, Docs, Function, FunctionKind, Handle, Int, Resolve, SizeAlign,
    Type, TypeDefKind, TypeId,
};

use wasi_threads_abi::layout::LayoutKind;
use wasi_threads_abi::{WitItem, WitModel};

use crate::{BindgenError, Generated};

const KEYWORDS: &[&str] = &[
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef",
    "union", "unsigned", "void", "volatile", "while", "bool", "true", "false",
];

fn ident(name: &str) -> String {
    let s = name.to_snake_case();
    if KEYWORDS.contains(&s.as_str()) {
        format!("{s}_")
    } else {
        s
    }
}

struct CGen<'a> {
    wm: &'a WitModel,
    /// `wasi`: the prefix of every C name (`__wasi_fd_t`).
    prefix: String,
    /// Typedefs, in dependency order.
    typedefs: String,
    defined: BTreeSet<String>,
    errors: Vec<String>,
}

pub(crate) fn generate(wm: &WitModel) -> Result<Generated, BindgenError> {
    let prefix = wm
        .model
        .imports
        .first()
        .and_then(|f| f.module.clone())
        .unwrap_or_else(|| wm.resolve.packages[wm.package].name.namespace.clone())
        .to_snake_case();
    let mut gen = CGen {
        wm,
        prefix,
        typedefs: String::new(),
        defined: BTreeSet::new(),
        errors: Vec::new(),
    };
    let base = match wm.world {
        Some(w) => wm.resolve.worlds[w].name.to_snake_case(),
        None => wm.resolve.packages[wm.package].name.name.to_snake_case(),
    };
    let p = gen.prefix.clone();

    // Named types of every interface the world uses, then of the world.
    let mut ids: Vec<TypeId> = Vec::new();
    for item in wm.import_items.iter().chain(&wm.export_items) {
        let iface = item.interface();
        if let Some(i) = iface {
            for t in wm.resolve.interfaces[i].types.values() {
                if !ids.contains(t) {
                    ids.push(*t);
                }
            }
        }
    }
    if let Some(w) = wm.world {
        let world = &wm.resolve.worlds[w];
        for item in world.imports.values().chain(world.exports.values()) {
            if let wit_parser::WorldItem::Type { id, .. } = item {
                if !ids.contains(id) {
                    ids.push(*id);
                }
            }
        }
    }
    for id in &ids {
        gen.define(*id);
    }

    let mut decls = String::new();
    let mut defs = String::new();
    let mut raw = String::new();
    for (core, item) in wm.model.imports.iter().zip(&wm.import_items) {
        let module = core.module.clone().unwrap_or_default();
        let qualified = crate::qualified(core);
        let fname = match item {
            WitItem::Function { func, .. } => func_ident(&wm.resolve, func),
            WitItem::ResourceDrop { resource, .. } => format!(
                "{}_drop",
                ident(
                    wm.resolve.types[*resource]
                        .name
                        .as_deref()
                        .unwrap_or_default()
                )
            ),
            // Exported resources are refused before generation (the
            // support table); their intrinsics have no C binding yet.
            WitItem::ExportedResource { .. } => continue,
        };
        let raw_name = format!("__imported_{}_{fname}", module.to_snake_case());
        let wrapper = format!("__{}_{fname}", module.to_snake_case());
        let params: Vec<String> = core
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{} arg{i}", c_core(p.ty.as_str())))
            .collect();
        let ret = match core.result_types().as_slice() {
            [] => "void".to_string(),
            [one] => c_core(one.as_str()).to_string(),
            _ => {
                return Err(BindgenError::Invalid {
                    function: qualified,
                    message: "a core import returns more than one value".into(),
                })
            }
        };
        let _ = writeln!(
            raw,
            "{ret} {raw_name}({}) __attribute__((\n    __import_module__({module:?}),\n    __import_name__({:?})\n));\n",
            if params.is_empty() { "void".to_string() } else { params.join(", ") },
            core.name
        );
        match item {
            WitItem::Function { func, .. } => {
                let mut sig_params = Vec::new();
                let mut prologue = String::new();
                let mut operands = Vec::new();
                for param in &func.params {
                    let name = ident(&param.name);
                    match gen.top_level(&param.ty) {
                        TopLevel::String => {
                            sig_params.push(format!("const char *{name}"));
                            let string = gen.string_type();
                            let _ = writeln!(
                                prologue,
                                "    {string} {name}_str = {{ (uint8_t *) {name}, __builtin_strlen({name}) }};"
                            );
                            operands.push(format!("{name}_str"));
                        }
                        TopLevel::List(elem, list) => {
                            let elem_ty = gen.ty(&elem);
                            sig_params.push(format!("const {elem_ty} *{name}, size_t {name}_len"));
                            let _ = writeln!(
                                prologue,
                                "    {list} {name}_list = {{ ({elem_ty} *) {name}, {name}_len }};"
                            );
                            operands.push(format!("{name}_list"));
                        }
                        TopLevel::Value => {
                            let ty = gen.param_ty(&param.ty);
                            sig_params.push(join_decl(&ty, &name));
                            if wm.flat(&param.ty).is_some_and(|f| f.is_empty()) {
                                // An empty tuple or record: no core value.
                                let _ = writeln!(prologue, "    (void) {name};");
                            }
                            operands.push(name);
                        }
                    }
                }
                let ret = func
                    .result
                    .as_ref()
                    .map_or("void".to_string(), |t| gen.param_ty(t));
                let sig = format!(
                    "{}({})",
                    join_decl(&ret, &wrapper),
                    if sig_params.is_empty() {
                        "void".to_string()
                    } else {
                        sig_params.join(", ")
                    }
                );
                doc(&mut decls, &func.docs, "");
                let attr = if func.result.is_some() {
                    " __attribute__((__warn_unused_result__))"
                } else {
                    ""
                };
                let _ = writeln!(decls, "{sig}{attr};\n");

                let mut fg = CFunc::new(
                    &mut gen,
                    raw_name.clone(),
                    operands,
                    func.result.as_ref().map(|_| ret.clone()),
                );
                abi::call(
                    &wm.resolve,
                    AbiVariant::GuestImport,
                    LiftLower::LowerArgsLiftResults,
                    func,
                    &mut fg,
                    false,
                );
                if let Some(message) = fg.error.take() {
                    return Err(BindgenError::Invalid {
                        function: qualified,
                        message,
                    });
                }
                let body = fg.src;
                let _ = writeln!(defs, "{sig} {{\n{prologue}{body}}}\n");
            }
            WitItem::ResourceDrop { resource, .. } => {
                let ty = gen.named(*resource);
                let _ = writeln!(
                    decls,
                    "/**\n * Drops the guest's handle to a `{}`.\n */\nvoid {wrapper}({ty} handle);\n",
                    wm.resolve.types[*resource].name.as_deref().unwrap_or_default()
                );
                let _ = writeln!(
                    defs,
                    "void {wrapper}({ty} handle) {{\n    {raw_name}((int32_t) handle);\n}}\n"
                );
            }
            WitItem::ExportedResource { .. } => {}
        }
    }

    // Exports: declared for the program (or libc) to define.
    for (core, item) in wm.model.exports.iter().zip(&wm.export_items) {
        let WitItem::Function { func, .. } = item else {
            continue;
        };
        let name = ident(&core.name.replace(['#', ':', '/', '.', '[', ']', '-'], "_"));
        let direct = !core.indirect_params
            && !core.retptr
            && func.params.iter().all(|p| gen.is_scalar(&p.ty))
            && func.result.as_ref().is_none_or(|t| gen.is_scalar(t));
        let (params, ret) = if direct {
            let params: Vec<String> = func
                .params
                .iter()
                .map(|p| join_decl(&gen.param_ty(&p.ty), &ident(&p.name)))
                .collect();
            let ret = func
                .result
                .as_ref()
                .map_or("void".to_string(), |t| gen.param_ty(t));
            (params, ret)
        } else {
            let params = core
                .params
                .iter()
                .enumerate()
                .map(|(i, p)| format!("{} arg{i}", c_core(p.ty.as_str())))
                .collect();
            let ret = core
                .results
                .first()
                .map_or("void".to_string(), |t| c_core(t.ty.as_str()).to_string());
            (params, ret)
        };
        doc(&mut decls, &func.docs, "");
        if !direct {
            let _ = writeln!(
                decls,
                "/* Declared with its core signature: its values cross as the canonical ABI flattens them. */"
            );
        }
        let _ = writeln!(
            decls,
            "{}({}) __attribute__((__export_name__({:?})));\n",
            join_decl(&ret, &name),
            if params.is_empty() {
                "void".to_string()
            } else {
                params.join(", ")
            },
            core.name
        );
    }

    if let Some(e) = gen.errors.first() {
        return Err(BindgenError::unsupported(&wm.model.origin, e.clone()));
    }

    let guard = format!("__{p}_{base}_h").to_shouty_snake_case();
    let mut header = String::new();
    let _ = writeln!(
        header,
        "/**
 * C bindings generated by wasi-threads bindgen from {}.
 *
 * Every type is laid out as the canonical ABI lays it out in wasm32 linear
 * memory.
 */

#ifndef {guard}
#define {guard}

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern \"C\" {{
#endif

{}{decls}#ifdef __cplusplus
}}
#endif

#endif",
        wm.model.origin, gen.typedefs
    );
    let helpers = if !defs.contains("_bindgen_") {
        String::new()
    } else {
        format!(
        "__attribute__((__unused__)) static inline int32_t __{p}_bindgen_f32_to_i32(float value) {{
    int32_t bits;
    __builtin_memcpy(&bits, &value, sizeof bits);
    return bits;
}}

__attribute__((__unused__)) static inline float __{p}_bindgen_i32_to_f32(int32_t bits) {{
    float value;
    __builtin_memcpy(&value, &bits, sizeof value);
    return value;
}}

__attribute__((__unused__)) static inline int64_t __{p}_bindgen_f64_to_i64(double value) {{
    int64_t bits;
    __builtin_memcpy(&bits, &value, sizeof bits);
    return bits;
}}

__attribute__((__unused__)) static inline double __{p}_bindgen_i64_to_f64(int64_t bits) {{
    double value;
    __builtin_memcpy(&value, &bits, sizeof value);
    return value;
}}

"
        )
    };
    let source = format!(
        "/*
 * C bindings generated by wasi-threads bindgen from {}.
 */

#include \"{base}.h\"

{helpers}{raw}{defs}",
        wm.model.origin
    );
    Ok(Generated {
        files: vec![
            (format!("{base}.h"), header),
            (format!("{base}.c"), source.trim_end().to_string() + "\n"),
        ],
    })
}

/// `int32_t` for `i32` and so on.
fn c_core(ty: &str) -> &'static str {
    match ty {
        "i32" => "int32_t",
        "i64" => "int64_t",
        "f32" => "float",
        _ => "double",
    }
}

fn wasm_c(ty: WasmType) -> &'static str {
    match ty {
        WasmType::I32 | WasmType::Pointer | WasmType::Length => "int32_t",
        WasmType::I64 | WasmType::PointerOrI64 => "int64_t",
        WasmType::F32 => "float",
        WasmType::F64 => "double",
    }
}

/// `void *start_arg` rather than `void * start_arg`.
fn join_decl(ty: &str, name: &str) -> String {
    if ty.ends_with('*') {
        format!("{ty}{name}")
    } else {
        format!("{ty} {name}")
    }
}

fn doc(out: &mut String, docs: &Docs, indent: &str) {
    let Some(text) = &docs.contents else { return };
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !wasi_threads_abi::naming::is_directive(l))
        .collect();
    let _ = writeln!(out, "{indent}/**");
    for line in lines
        .iter()
        .rev()
        .skip_while(|l| l.trim().is_empty())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        if line.is_empty() {
            let _ = writeln!(out, "{indent} *");
        } else {
            let _ = writeln!(out, "{indent} * {}", line.replace("*/", "* /"));
        }
    }
    let _ = writeln!(out, "{indent} */");
}

fn func_ident(resolve: &Resolve, func: &Function) -> String {
    match &func.kind {
        FunctionKind::Method(r) | FunctionKind::Static(r) => format!(
            "{}_{}",
            ident(resolve.types[*r].name.as_deref().unwrap_or_default()),
            ident(func.item_name())
        ),
        FunctionKind::Constructor(r) => format!(
            "{}_new",
            ident(resolve.types[*r].name.as_deref().unwrap_or_default())
        ),
        _ => ident(&func.name),
    }
}

enum TopLevel {
    String,
    List(Type, String),
    Value,
}

impl<'a> CGen<'a> {
    fn resolve(&self) -> &'a Resolve {
        &self.wm.resolve
    }

    fn top_level(&mut self, ty: &Type) -> TopLevel {
        match ty {
            Type::String => TopLevel::String,
            Type::Id(id) => match &self.resolve().types[*id].kind {
                TypeDefKind::List(elem) if self.resolve().types[*id].name.is_none() => {
                    let list = self.ty(ty);
                    TopLevel::List(*elem, list)
                }
                _ => TopLevel::Value,
            },
            _ => TopLevel::Value,
        }
    }

    fn string_type(&mut self) -> String {
        let name = format!("__{}_string_t", self.prefix);
        if self.defined.insert(name.clone()) {
            let _ = writeln!(
                self.typedefs,
                "/**\n * A string: UTF-8 bytes, not NUL-terminated.\n */\ntypedef struct {name} {{\n    uint8_t *ptr;\n    size_t len;\n}} {name};\n"
            );
            let layout = self.wm.layout(&Type::String);
            let _ = writeln!(
                self.typedefs,
                "_Static_assert(sizeof({name}) == {}, \"canonical ABI size\");\n\
                 _Static_assert(_Alignof({name}) == {}, \"canonical ABI alignment\");\n\
                 _Static_assert(offsetof({name}, ptr) == 0, \"canonical ABI offset\");\n\
                 _Static_assert(offsetof({name}, len) == {}, \"canonical ABI offset\");\n",
                layout.size,
                layout.align,
                layout.size / 2
            );
        }
        name
    }

    /// A type as a parameter or result of a wrapper: integer aliases are
    /// written as their integer (or their `C type:` pointer), as wasi-libc
    /// writes `int32_t __wasi_thread_spawn(void *start_arg)`.
    fn param_ty(&mut self, ty: &Type) -> String {
        if let Type::Id(id) = ty {
            if let Some(p) = self.pointer_alias(*id) {
                return p;
            }
            if let TypeDefKind::Type(t) = &self.resolve().types[*id].kind {
                if self.is_primitive(t) {
                    let t = *t;
                    return self.param_ty(&t);
                }
            }
        }
        self.ty(ty)
    }

    fn is_primitive(&self, ty: &Type) -> bool {
        match ty {
            Type::Id(id) => match &self.resolve().types[*id].kind {
                TypeDefKind::Type(t) => self.is_primitive(t),
                _ => false,
            },
            Type::String | Type::ErrorContext => false,
            _ => true,
        }
    }

    fn is_scalar(&self, ty: &Type) -> bool {
        match ty {
            Type::Id(id) => match &self.resolve().types[*id].kind {
                TypeDefKind::Type(t) => self.is_scalar(t),
                TypeDefKind::Enum(_) | TypeDefKind::Handle(_) => true,
                _ => false,
            },
            Type::String | Type::ErrorContext => false,
            _ => true,
        }
    }

    /// The pointer type a `C type:` doc line gives an integer alias.
    fn pointer_alias(&mut self, id: TypeId) -> Option<String> {
        let def = &self.resolve().types[id];
        let TypeDefKind::Type(target) = &def.kind else {
            return None;
        };
        let name = def.name.clone().unwrap_or_default();
        let line = match wasi_threads_abi::naming::directive(
            def.docs.contents.as_deref(),
            wasi_threads_abi::naming::C_TYPE,
        ) {
            Ok(Some(line)) => line,
            Ok(None) => return None,
            Err(e) => {
                self.errors.push(format!("type `{name}`: {e}"));
                return None;
            }
        };
        if !line.ends_with('*') {
            self.errors.push(format!(
                "type `{name}`: its `C type: {line}` is not a pointer type; only pointers (32-bit on wasm32) may stand for an integer"
            ));
            return None;
        }
        if !matches!(target, Type::U32 | Type::S32) {
            self.errors.push(format!(
                "type `{name}`: `C type: {line}` needs a `u32` or `s32` alias (a wasm32 pointer), not another type"
            ));
            return None;
        }
        Some(line)
    }

    /// `__wasi_fd_t` for a named type.
    fn named(&self, id: TypeId) -> String {
        let name = self.resolve().types[id].name.as_deref().unwrap_or_default();
        format!("__{}_{}_t", self.prefix, ident(name))
    }

    /// The C type of a WIT type, defining anonymous types on first use.
    fn ty(&mut self, ty: &Type) -> String {
        match ty {
            Type::Bool => "bool".into(),
            Type::U8 => "uint8_t".into(),
            Type::S8 => "int8_t".into(),
            Type::U16 => "uint16_t".into(),
            Type::S16 => "int16_t".into(),
            Type::U32 | Type::Char => "uint32_t".into(),
            Type::S32 => "int32_t".into(),
            Type::U64 => "uint64_t".into(),
            Type::S64 => "int64_t".into(),
            Type::F32 => "float".into(),
            Type::F64 => "double".into(),
            Type::String => self.string_type(),
            Type::ErrorContext => "int32_t".into(),
            Type::Id(id) => {
                if self.resolve().types[*id].name.is_some() {
                    self.define(*id);
                    return self.named(*id);
                }
                let name = format!("__{}_{}_t", self.prefix, self.anon_name(ty));
                if !self.defined.contains(&name) {
                    let body = self.body(*id, &name);
                    let asserts = self.layout_asserts(*id, &name);
                    if self.defined.insert(name.clone()) {
                        self.typedefs.push_str(&body);
                        self.typedefs.push_str(&asserts);
                    }
                }
                name
            }
        }
    }

    /// A name for an anonymous type: `list_u8`, `option_string`.
    fn anon_name(&self, ty: &Type) -> String {
        match ty {
            Type::Bool => "bool".into(),
            Type::U8 => "u8".into(),
            Type::S8 => "s8".into(),
            Type::U16 => "u16".into(),
            Type::S16 => "s16".into(),
            Type::U32 => "u32".into(),
            Type::S32 => "s32".into(),
            Type::U64 => "u64".into(),
            Type::S64 => "s64".into(),
            Type::F32 => "f32".into(),
            Type::F64 => "f64".into(),
            Type::Char => "char".into(),
            Type::String => "string".into(),
            Type::ErrorContext => "error_context".into(),
            Type::Id(id) => {
                let def = &self.resolve().types[*id];
                if let Some(name) = &def.name {
                    return ident(name);
                }
                match &def.kind {
                    TypeDefKind::List(t) => format!("list_{}", self.anon_name(t)),
                    TypeDefKind::Option(t) => format!("option_{}", self.anon_name(t)),
                    TypeDefKind::Result(r) => format!(
                        "result_{}_{}",
                        r.ok.as_ref().map_or("void".into(), |t| self.anon_name(t)),
                        r.err.as_ref().map_or("void".into(), |t| self.anon_name(t))
                    ),
                    TypeDefKind::Tuple(t) => {
                        let mut s = format!("tuple{}", t.types.len());
                        for t in &t.types {
                            s.push('_');
                            s.push_str(&self.anon_name(t));
                        }
                        s
                    }
                    TypeDefKind::Handle(Handle::Own(r)) => {
                        format!("own_{}", self.anon_name(&Type::Id(*r)))
                    }
                    TypeDefKind::Handle(Handle::Borrow(r)) => {
                        format!("borrow_{}", self.anon_name(&Type::Id(*r)))
                    }
                    TypeDefKind::Type(t) => self.anon_name(t),
                    _ => "unsupported".into(),
                }
            }
        }
    }

    /// Defines a named type (and what it refers to) once; a type C bindings
    /// cannot express is left out (every function using it was refused).
    fn define(&mut self, id: TypeId) {
        if wasi_threads_abi::support::unsupported_in_type(
            self.resolve(),
            &Type::Id(id),
            wasi_threads_abi::Generator::C,
        )
        .is_some()
        {
            return;
        }
        let name = self.named(id);
        if self.defined.contains(&name) {
            return;
        }
        let body = self.body(id, &name);
        let asserts = self.layout_asserts(id, &name);
        if self.defined.insert(name) {
            let docs = self.resolve().types[id].docs.clone();
            doc(&mut self.typedefs, &docs, "");
            self.typedefs.push_str(&body);
            self.typedefs.push_str(&asserts);
        }
    }

    /// `_Static_assert`s, as wasi-libc's `wasi/api.h` has for every type,
    /// that the C compiler lays the typedef out as the model does (the
    /// canonical ABI's layout in wasm32 memory): size, alignment, and the
    /// offset of every field (and of a variant's payload).
    fn layout_asserts(&self, id: TypeId, name: &str) -> String {
        let kind = &self.resolve().types[id].kind;
        if matches!(kind, TypeDefKind::Resource) {
            return String::new();
        }
        let layout = self.wm.layout(&Type::Id(id));
        if layout.size == 0 || matches!(layout.kind, LayoutKind::Unmodelled { .. }) {
            return String::new();
        }
        let mut out = String::new();
        let _ = writeln!(
            out,
            "_Static_assert(sizeof({name}) == {}, \"canonical ABI size\");",
            layout.size
        );
        let _ = writeln!(
            out,
            "_Static_assert(_Alignof({name}) == {}, \"canonical ABI alignment\");",
            layout.align
        );
        match (kind, &layout.kind) {
            (TypeDefKind::Record(r), LayoutKind::Record { fields }) => {
                for (field, at) in r.fields.iter().zip(fields) {
                    let _ = writeln!(
                        out,
                        "_Static_assert(offsetof({name}, {}) == {}, \"canonical ABI offset\");",
                        ident(&field.name),
                        at.offset
                    );
                }
            }
            (TypeDefKind::Tuple(_), LayoutKind::Record { fields }) => {
                for (i, at) in fields.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "_Static_assert(offsetof({name}, f{i}) == {}, \"canonical ABI offset\");",
                        at.offset
                    );
                }
            }
            (
                TypeDefKind::Variant(_) | TypeDefKind::Option(_) | TypeDefKind::Result(_),
                LayoutKind::Variant {
                    payload_offset,
                    cases,
                    ..
                },
            ) if cases.iter().any(|c| c.payload.is_some()) => {
                let _ = writeln!(
                    out,
                    "_Static_assert(offsetof({name}, val) == {payload_offset}, \"canonical ABI offset\");"
                );
            }
            _ => {}
        }
        out.push('\n');
        out
    }

    /// The typedef (and constants) of type `id` named `name`.
    fn body(&mut self, id: TypeId, name: &str) -> String {
        let def = self.resolve().types[id].clone();
        let shout = name
            .trim_start_matches('_')
            .trim_end_matches("_t")
            .to_shouty_snake_case();
        let mut out = String::new();
        match &def.kind {
            TypeDefKind::Record(r) => {
                let fields: Vec<(String, String, Docs)> = r
                    .fields
                    .iter()
                    .map(|f| (self.ty(&f.ty), ident(&f.name), f.docs.clone()))
                    .collect();
                let _ = writeln!(out, "typedef struct {name} {{");
                for (ty, field, docs) in fields {
                    doc(&mut out, &docs, "    ");
                    let _ = writeln!(out, "    {};", join_decl(&ty, &field));
                }
                let _ = writeln!(out, "}} {name};\n");
            }
            TypeDefKind::Tuple(t) => {
                let fields: Vec<String> = t.types.iter().map(|t| self.ty(t)).collect();
                let _ = writeln!(out, "typedef struct {name} {{");
                for (i, ty) in fields.iter().enumerate() {
                    let _ = writeln!(out, "    {};", join_decl(ty, &format!("f{i}")));
                }
                let _ = writeln!(out, "}} {name};\n");
            }
            TypeDefKind::Variant(v) => {
                let tag = tag_type(v.tag());
                let cases: Vec<(String, Option<String>, Docs)> = v
                    .cases
                    .iter()
                    .map(|c| {
                        (
                            ident(&c.name),
                            c.ty.as_ref().map(|t| self.ty(t)),
                            c.docs.clone(),
                        )
                    })
                    .collect();
                for (i, (case, _, docs)) in cases.iter().enumerate() {
                    doc(&mut out, docs, "");
                    let _ = writeln!(
                        out,
                        "#define {shout}_{} (({tag}){i})",
                        case.to_shouty_snake_case()
                    );
                }
                let _ = writeln!(out, "\ntypedef struct {name} {{\n    {tag} tag;");
                if cases.iter().any(|(_, t, _)| t.is_some()) {
                    out.push_str("    union {\n");
                    for (case, ty, _) in &cases {
                        if let Some(ty) = ty {
                            let _ = writeln!(out, "        {};", join_decl(ty, case));
                        }
                    }
                    out.push_str("    } val;\n");
                }
                let _ = writeln!(out, "}} {name};\n");
            }
            TypeDefKind::Enum(e) => {
                let _ = writeln!(out, "typedef {} {name};\n", tag_type(e.tag()));
                for (i, c) in e.cases.iter().enumerate() {
                    doc(&mut out, &c.docs, "");
                    let _ = writeln!(
                        out,
                        "#define {shout}_{} (({name}){i})\n",
                        ident(&c.name).to_shouty_snake_case()
                    );
                }
            }
            TypeDefKind::Flags(f) => {
                let words = f.repr().count();
                if f.flags.len() > 32 {
                    let _ = writeln!(
                        out,
                        "typedef struct {name} {{\n    uint32_t words[{words}];\n}} {name};\n"
                    );
                    // A flag is a bit of one word: `_WORD` says which, so
                    // flags 0 and 32 differ (`words[X_WORD] & X`).
                    for (i, flag) in f.flags.iter().enumerate() {
                        doc(&mut out, &flag.docs, "");
                        let flag = ident(&flag.name).to_shouty_snake_case();
                        let _ = writeln!(
                            out,
                            "#define {shout}_{flag}_WORD {}\n#define {shout}_{flag} ((uint32_t)1 << {})\n",
                            i / 32,
                            i % 32
                        );
                    }
                } else {
                    let repr = match f.flags.len() {
                        0..=8 => "uint8_t",
                        9..=16 => "uint16_t",
                        _ => "uint32_t",
                    };
                    let _ = writeln!(out, "typedef {repr} {name};\n");
                    for (i, flag) in f.flags.iter().enumerate() {
                        doc(&mut out, &flag.docs, "");
                        let _ = writeln!(
                            out,
                            "#define {shout}_{} (({name})(1u << {i}))\n",
                            ident(&flag.name).to_shouty_snake_case()
                        );
                    }
                }
            }
            TypeDefKind::Option(t) => {
                let ty = self.ty(t);
                let _ = writeln!(
                    out,
                    "typedef struct {name} {{\n    bool is_some;\n    {};\n}} {name};\n",
                    join_decl(&ty, "val")
                );
            }
            TypeDefKind::Result(r) => {
                let ok = r.ok.as_ref().map(|t| self.ty(t));
                let err = r.err.as_ref().map(|t| self.ty(t));
                let _ = writeln!(out, "typedef struct {name} {{\n    bool is_err;");
                if ok.is_some() || err.is_some() {
                    out.push_str("    union {\n");
                    if let Some(ok) = ok {
                        let _ = writeln!(out, "        {};", join_decl(&ok, "ok"));
                    }
                    if let Some(err) = err {
                        let _ = writeln!(out, "        {};", join_decl(&err, "err"));
                    }
                    out.push_str("    } val;\n");
                }
                let _ = writeln!(out, "}} {name};\n");
            }
            TypeDefKind::List(t) => {
                let ty = self.ty(t);
                let _ = writeln!(
                    out,
                    "typedef struct {name} {{\n    {};\n    size_t len;\n}} {name};\n",
                    join_decl(&format!("{ty} *"), "ptr")
                );
            }
            TypeDefKind::Resource => {
                let _ = writeln!(out, "typedef int32_t {name};\n");
            }
            TypeDefKind::Handle(Handle::Own(r) | Handle::Borrow(r)) => {
                self.define(*r);
                let _ = writeln!(out, "typedef {} {name};\n", self.named(*r));
            }
            TypeDefKind::Type(t) => match self.pointer_alias(id) {
                Some(p) => {
                    let _ = writeln!(out, "typedef {};\n", join_decl(p.trim_end(), name));
                }
                None => {
                    let ty = self.ty(t);
                    let _ = writeln!(out, "typedef {ty} {name};\n");
                }
            },
            TypeDefKind::Future(_)
            | TypeDefKind::Stream(_)
            | TypeDefKind::Map(..)
            | TypeDefKind::FixedLengthList(..)
            | TypeDefKind::Unknown => {
                self.errors.push(format!(
                    "type `{}` is a {}, which has no core-wasm ABI without the component model",
                    def.name.as_deref().unwrap_or("<anonymous>"),
                    def.kind.as_str()
                ));
            }
        }
        out
    }

    /// The access path of case `i` of a variant-like value, and the
    /// expression of its discriminant.
    fn case_access(&self, kind: CaseKind<'_>, value: &str, i: usize) -> String {
        match kind {
            CaseKind::Variant(names) => format!("({value}).val.{}", names[i]),
            CaseKind::Option => format!("({value}).val"),
            CaseKind::Result => format!("({value}).val.{}", if i == 0 { "ok" } else { "err" }),
        }
    }
}

#[derive(Clone, Copy)]
enum CaseKind<'n> {
    Variant(&'n [String]),
    Option,
    Result,
}

fn tag_type(int: Int) -> &'static str {
    match int {
        Int::U8 => "uint8_t",
        Int::U16 => "uint16_t",
        Int::U32 => "uint32_t",
        Int::U64 => "uint64_t",
    }
}

/// One wrapper's body.
struct CFunc<'g, 'a> {
    gen: &'g mut CGen<'a>,
    raw: String,
    params: Vec<String>,
    result_ty: Option<String>,
    src: String,
    blocks: Vec<String>,
    finished: Vec<(String, Vec<String>)>,
    payloads: Vec<String>,
    tmp: usize,
    sizes: &'a SizeAlign,
    /// An instruction this generator has no code for: the wrapper is refused.
    error: Option<String>,
}

impl<'g, 'a> CFunc<'g, 'a> {
    fn new(
        gen: &'g mut CGen<'a>,
        raw: String,
        params: Vec<String>,
        result_ty: Option<String>,
    ) -> Self {
        let sizes = &gen.wm.sizes;
        CFunc {
            gen,
            raw,
            params,
            result_ty,
            src: String::new(),
            blocks: Vec::new(),
            finished: Vec::new(),
            payloads: Vec::new(),
            tmp: 0,
            sizes,
            error: None,
        }
    }

    fn tmp(&mut self) -> usize {
        self.tmp += 1;
        self.tmp
    }

    fn line(&mut self, s: impl AsRef<str>) {
        for l in s.as_ref().lines() {
            self.src.push_str("    ");
            self.src.push_str(l);
            self.src.push('\n');
        }
    }

    fn p(&self) -> String {
        self.gen.prefix.clone()
    }

    fn load(&mut self, ty: &str, addr: &str, offset: ArchitectureSize, results: &mut Vec<String>) {
        let n = self.tmp();
        let off = offset.size_wasm32();
        let widen = if matches!(ty, "uint8_t" | "int8_t" | "uint16_t" | "int16_t") {
            "(int32_t) "
        } else {
            ""
        };
        let target = match ty {
            "uint8_t" | "int8_t" | "uint16_t" | "int16_t" => "int32_t",
            t => t,
        };
        self.line(format!(
            "{target} l{n} = {widen}*(const {ty} *) (uintptr_t) ({addr} + {off});"
        ));
        results.push(format!("l{n}"));
    }

    fn store(&mut self, ty: &str, operands: &[String], offset: ArchitectureSize) {
        let off = offset.size_wasm32();
        self.line(format!(
            "*({ty} *) (uintptr_t) ({} + {off}) = ({ty}) ({});",
            operands[1], operands[0]
        ));
    }

    fn lower_arms(
        &mut self,
        value: &str,
        disc: &str,
        kind: CaseKind<'_>,
        payload_types: Vec<Option<String>>,
        types: &[WasmType],
        results: &mut Vec<String>,
    ) {
        let count = payload_types.len();
        let blocks = self
            .finished
            .split_off(self.finished.len().saturating_sub(count));
        let payloads = self
            .payloads
            .split_off(self.payloads.len().saturating_sub(count));
        let n = self.tmp();
        let names: Vec<String> = (0..types.len()).map(|i| format!("v{n}_{i}")).collect();
        for (name, ty) in names.iter().zip(types) {
            self.line(format!("{} {name} = 0;", wasm_c(*ty)));
        }
        let mut s = format!("switch ({disc}) {{\n");
        for (i, (((code, ops), payload), pty)) in blocks
            .into_iter()
            .zip(payloads)
            .zip(payload_types)
            .enumerate()
        {
            let _ = writeln!(s, "    case {i}: {{");
            if let Some(pty) = pty {
                let access = self.gen.case_access(kind, value, i);
                let _ = writeln!(
                    s,
                    "        {} = {access};",
                    join_decl(&format!("const {pty}"), &payload)
                );
            }
            for l in code.lines() {
                let _ = writeln!(s, "    {l}");
            }
            for (name, op) in names.iter().zip(&ops) {
                let _ = writeln!(s, "        {name} = {op};");
            }
            s.push_str("        break;\n    }\n");
        }
        s.push('}');
        self.line(s);
        results.extend(names);
    }

    /// Lifts a discriminant into a variant-like value: `set` gives, per
    /// case, the statements storing the tag and the payload operand.
    fn lift_arms(
        &mut self,
        disc: &str,
        ty: &str,
        sets: Vec<(String, Option<String>)>,
        results: &mut Vec<String>,
    ) {
        let blocks = self
            .finished
            .split_off(self.finished.len().saturating_sub(sets.len()));
        let n = self.tmp();
        self.line(format!(
            "{ty} v{n};\n__builtin_memset(&v{n}, 0, sizeof v{n});\nswitch ({disc}) {{"
        ));
        let mut s = String::new();
        for (i, ((tag, payload), (code, ops))) in sets.into_iter().zip(blocks).enumerate() {
            let _ = writeln!(s, "    case {i}: {{");
            for l in code.lines() {
                let _ = writeln!(s, "    {l}");
            }
            let _ = writeln!(s, "        v{n}.{tag};");
            if let (Some(field), Some(op)) = (payload, ops.first()) {
                let _ = writeln!(s, "        v{n}.{field} = {op};");
            }
            s.push_str("        break;\n    }\n");
        }
        s.push('}');
        self.line(s);
        results.push(format!("v{n}"));
    }
}

impl Bindgen for CFunc<'_, '_> {
    type Operand = String;

    fn emit(
        &mut self,
        resolve: &Resolve,
        inst: &Instruction<'_>,
        operands: &mut Vec<String>,
        results: &mut Vec<String>,
    ) {
        let p = self.p();
        match inst {
            Instruction::GetArg { nth } => results.push(self.params[*nth].clone()),
            Instruction::I32Const { val } => results.push(format!("{val}")),
            Instruction::ConstZero { tys } => {
                for ty in tys.iter() {
                    results.push(format!("({}) 0", wasm_c(*ty)));
                }
            }
            Instruction::Bitcasts { casts } => {
                for (cast, op) in casts.iter().zip(operands.iter()) {
                    results.push(bitcast(&p, cast, op));
                }
            }
            Instruction::I32Load { offset }
            | Instruction::PointerLoad { offset }
            | Instruction::LengthLoad { offset } => {
                self.load("int32_t", &operands[0], *offset, results)
            }
            Instruction::I32Load8U { offset } => {
                self.load("uint8_t", &operands[0], *offset, results)
            }
            Instruction::I32Load8S { offset } => {
                self.load("int8_t", &operands[0], *offset, results)
            }
            Instruction::I32Load16U { offset } => {
                self.load("uint16_t", &operands[0], *offset, results)
            }
            Instruction::I32Load16S { offset } => {
                self.load("int16_t", &operands[0], *offset, results)
            }
            Instruction::I64Load { offset } => self.load("int64_t", &operands[0], *offset, results),
            Instruction::F32Load { offset } => self.load("float", &operands[0], *offset, results),
            Instruction::F64Load { offset } => self.load("double", &operands[0], *offset, results),
            Instruction::I32Store { offset }
            | Instruction::PointerStore { offset }
            | Instruction::LengthStore { offset } => self.store("int32_t", operands, *offset),
            Instruction::I32Store8 { offset } => self.store("uint8_t", operands, *offset),
            Instruction::I32Store16 { offset } => self.store("uint16_t", operands, *offset),
            Instruction::I64Store { offset } => self.store("int64_t", operands, *offset),
            Instruction::F32Store { offset } => self.store("float", operands, *offset),
            Instruction::F64Store { offset } => self.store("double", operands, *offset),

            Instruction::I32FromChar
            | Instruction::I32FromU32
            | Instruction::I32FromS32
            | Instruction::I32FromU16
            | Instruction::I32FromS16
            | Instruction::I32FromU8
            | Instruction::I32FromS8
            | Instruction::I32FromBool
            | Instruction::EnumLower { .. } => results.push(format!("(int32_t) ({})", operands[0])),
            Instruction::HandleLower { .. } => results.push(format!("(int32_t) ({})", operands[0])),
            Instruction::I64FromU64 | Instruction::I64FromS64 => {
                results.push(format!("(int64_t) ({})", operands[0]))
            }
            Instruction::CoreF32FromF32
            | Instruction::CoreF64FromF64
            | Instruction::F32FromCoreF32
            | Instruction::F64FromCoreF64
            | Instruction::S32FromI32
            | Instruction::S64FromI64 => results.push(operands[0].clone()),
            Instruction::S8FromI32 => results.push(format!("(int8_t) ({})", operands[0])),
            Instruction::U8FromI32 => results.push(format!("(uint8_t) ({})", operands[0])),
            Instruction::S16FromI32 => results.push(format!("(int16_t) ({})", operands[0])),
            Instruction::U16FromI32 => results.push(format!("(uint16_t) ({})", operands[0])),
            Instruction::U32FromI32 | Instruction::CharFromI32 => {
                results.push(format!("(uint32_t) ({})", operands[0]))
            }
            Instruction::U64FromI64 => results.push(format!("(uint64_t) ({})", operands[0])),
            Instruction::BoolFromI32 => results.push(format!("({} != 0)", operands[0])),

            Instruction::StringLower { .. } | Instruction::ListCanonLower { .. } => {
                results.push(format!("(int32_t) (uintptr_t) ({}).ptr", operands[0]));
                results.push(format!("(int32_t) ({}).len", operands[0]));
            }
            Instruction::StringLift => {
                let ty = self.gen.string_type();
                results.push(format!(
                    "({ty}) {{ (uint8_t *) (uintptr_t) ({}), (size_t) ({}) }}",
                    operands[0], operands[1]
                ));
            }
            Instruction::ListCanonLift { element, ty } => {
                let list = self.gen.ty(&Type::Id(*ty));
                let elem = self.gen.ty(element);
                results.push(format!(
                    "({list}) {{ ({elem} *) (uintptr_t) ({}), (size_t) ({}) }}",
                    operands[0], operands[1]
                ));
            }
            Instruction::RecordLower { record, .. } => {
                for f in &record.fields {
                    results.push(format!("({}).{}", operands[0], ident(&f.name)));
                }
            }
            Instruction::RecordLift { ty, .. } | Instruction::TupleLift { ty, .. } => {
                let name = self.gen.ty(&Type::Id(*ty));
                results.push(format!("({name}) {{ {} }}", operands.join(", ")));
            }
            Instruction::TupleLower { tuple, .. } => {
                for i in 0..tuple.types.len() {
                    results.push(format!("({}).f{i}", operands[0]));
                }
            }
            Instruction::FlagsLower { flags, .. } => {
                if flags.flags.len() > 32 {
                    for i in 0..flags.repr().count() {
                        results.push(format!("(int32_t) ({}).words[{i}]", operands[0]));
                    }
                } else {
                    results.push(format!("(int32_t) ({})", operands[0]));
                }
            }
            Instruction::FlagsLift { flags, ty, .. } => {
                let name = self.gen.ty(&Type::Id(*ty));
                if flags.flags.len() > 32 {
                    let words: Vec<String> = operands
                        .iter()
                        .map(|o| format!("(uint32_t) ({o})"))
                        .collect();
                    results.push(format!("({name}) {{ {{ {} }} }}", words.join(", ")));
                } else {
                    results.push(format!("({name}) ({})", operands[0]));
                }
            }
            Instruction::HandleLift { ty, .. } | Instruction::EnumLift { ty, .. } => {
                let name = self.gen.ty(&Type::Id(*ty));
                results.push(format!("({name}) ({})", operands[0]));
            }
            Instruction::VariantPayloadName => {
                let n = self.tmp();
                self.payloads.push(format!("payload{n}"));
                results.push(format!("payload{n}"));
            }
            Instruction::VariantLower {
                variant,
                results: types,
                ..
            } => {
                let names: Vec<String> = variant.cases.iter().map(|c| ident(&c.name)).collect();
                let ptys: Vec<Option<String>> = variant
                    .cases
                    .iter()
                    .map(|c| c.ty.as_ref().map(|t| self.gen.ty(t)))
                    .collect();
                let disc = format!("({}).tag", operands[0]);
                self.lower_arms(
                    &operands[0],
                    &disc,
                    CaseKind::Variant(&names),
                    ptys,
                    types,
                    results,
                );
            }
            Instruction::OptionLower {
                payload,
                results: types,
                ..
            } => {
                let ptys = vec![None, Some(self.gen.ty(payload))];
                let disc = format!("(int) ({}).is_some", operands[0]);
                self.lower_arms(&operands[0], &disc, CaseKind::Option, ptys, types, results);
            }
            Instruction::ResultLower {
                result,
                results: types,
                ..
            } => {
                let ptys = vec![
                    result.ok.as_ref().map(|t| self.gen.ty(t)),
                    result.err.as_ref().map(|t| self.gen.ty(t)),
                ];
                let disc = format!("(int) ({}).is_err", operands[0]);
                self.lower_arms(&operands[0], &disc, CaseKind::Result, ptys, types, results);
            }
            Instruction::VariantLift { variant, ty, .. } => {
                let name = self.gen.ty(&Type::Id(*ty));
                let sets = variant
                    .cases
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        (
                            format!("tag = {i}"),
                            c.ty.as_ref().map(|_| format!("val.{}", ident(&c.name))),
                        )
                    })
                    .collect();
                self.lift_arms(&operands[0], &name, sets, results);
            }
            Instruction::OptionLift { ty, .. } => {
                let name = self.gen.ty(&Type::Id(*ty));
                let sets = vec![
                    ("is_some = false".to_string(), None),
                    ("is_some = true".to_string(), Some("val".to_string())),
                ];
                self.lift_arms(&operands[0], &name, sets, results);
            }
            Instruction::ResultLift { result, ty, .. } => {
                let name = self.gen.ty(&Type::Id(*ty));
                let sets = vec![
                    (
                        "is_err = false".to_string(),
                        result.ok.as_ref().map(|_| "val.ok".to_string()),
                    ),
                    (
                        "is_err = true".to_string(),
                        result.err.as_ref().map(|_| "val.err".to_string()),
                    ),
                ];
                self.lift_arms(&operands[0], &name, sets, results);
            }
            Instruction::CallWasm { sig, .. } => {
                let call = format!("{}({})", self.raw, operands.join(", "));
                match sig.results.first() {
                    Some(t) => {
                        let n = self.tmp();
                        self.line(format!("{} ret{n} = {call};", wasm_c(*t)));
                        results.push(format!("ret{n}"));
                    }
                    None => self.line(format!("{call};")),
                }
            }
            Instruction::Return { amt, .. } => {
                if *amt == 1 {
                    let ty = self.result_ty.clone().unwrap_or_default();
                    self.line(format!("return ({ty}) ({});", operands[0]));
                }
            }
            Instruction::Flush { .. } => results.extend(operands.iter().cloned()),
            other => {
                // Refused before any wrapper is emitted; should another
                // instruction come, the wrapper is refused, not output.
                let _ = resolve;
                self.error
                    .get_or_insert_with(|| format!("no C for the instruction {other:?}"));
                for _ in 0..other.results_len() {
                    results.push("0".to_string());
                }
            }
        }
    }

    fn return_pointer(&mut self, size: ArchitectureSize, align: Alignment) -> String {
        let n = self.tmp();
        self.line(format!(
            "_Alignas({}) uint8_t ret_area{n}[{}];\nint32_t ptr{n} = (int32_t) (uintptr_t) ret_area{n};",
            align.align_wasm32(),
            size.size_wasm32().max(1)
        ));
        format!("ptr{n}")
    }

    fn push_block(&mut self) {
        let outer = std::mem::take(&mut self.src);
        self.blocks.push(outer);
    }

    fn finish_block(&mut self, operands: &mut Vec<String>) {
        let code = std::mem::replace(&mut self.src, self.blocks.pop().unwrap_or_default());
        self.finished.push((code, std::mem::take(operands)));
    }

    fn sizes(&self) -> &SizeAlign {
        self.sizes
    }

    fn is_list_canonical(&self, _: &Resolve, _: &Type) -> bool {
        // Every C type here is laid out as the canonical ABI lays it out.
        true
    }
}

fn bitcast(p: &str, cast: &Bitcast, op: &str) -> String {
    match cast {
        Bitcast::I32ToF32 => format!("__{p}_bindgen_i32_to_f32({op})"),
        Bitcast::F32ToI32 => format!("__{p}_bindgen_f32_to_i32({op})"),
        Bitcast::I64ToF64 => format!("__{p}_bindgen_i64_to_f64({op})"),
        Bitcast::F64ToI64 => format!("__{p}_bindgen_f64_to_i64({op})"),
        Bitcast::I32ToI64 | Bitcast::PToP64 | Bitcast::LToI64 => format!("(int64_t) ({op})"),
        Bitcast::I64ToI32 | Bitcast::P64ToP | Bitcast::I64ToL => format!("(int32_t) ({op})"),
        Bitcast::F32ToI64 => format!("(int64_t) (uint32_t) __{p}_bindgen_f32_to_i32({op})"),
        Bitcast::I64ToF32 => format!("__{p}_bindgen_i32_to_f32((int32_t) ({op}))"),
        Bitcast::Sequence(seq) => bitcast(p, &seq[1], &bitcast(p, &seq[0], op)),
        _ => op.to_string(),
    }
}
