//! C guest bindings in the style of wasi-libc's `wasi/api.h`: typedefs for
//! the world's types, laid out exactly as the canonical ABI lays them out in
//! memory (so every list is passed as it is, without copying), a raw import
//! `__imported_<prefix>_<function>` per core import, and a typed wrapper
//! `__<prefix>_<function>` that lowers its arguments and lifts its result
//! as wit-bindgen-core's instruction stream says. `<prefix>` is the snake
//! case of the interface's core module as [`naming::interface_module`]
//! gives it (`wasi` for the canonical WIT), so names of two interfaces
//! never meet; where two different types would still get one C name, the
//! generator refuses rather than merge them.
//!
//! Exports of scalars only are declared for the program to define under
//! their core names (`wasi_thread_start`); any other export gets glue from
//! the same instruction stream, as wit-bindgen's C bindings have: the core
//! export lifts its values and calls the program's typed
//! `exports_<prefix>_<function>`, lowers the result into a per-thread return
//! area, and `cabi_post_<export>` frees what the result owns. Types owning
//! memory get `_free` functions, and a weak `cabi_realloc` is defined where
//! the host hands the guest memory. For a world exporting
//! `wasi_thread_start`, an assembly entry sets up each thread's stack and
//! thread-local block for programs without wasi-libc.
//!
//! A resource of an exported interface is bound as wit-bindgen's C binds
//! one: the program defines the struct of its representation; an owned
//! handle is a struct of its own (`__<prefix>_own_r_t`), a borrow the
//! exports receive a pointer to the representation; `[resource-new]`,
//! `[resource-rep]` and `[resource-drop]` are `__<prefix>_r_new`, `_rep`
//! and `_drop_own`, and the `[dtor]` export calls the program's
//! `exports_<prefix>_r_destructor`.
//!
//! C has no pointer type in WIT; a 32-bit integer type alias whose doc
//! comment has a line `C type: void *` (any pointer type) is written as that
//! pointer, which on wasm32 has the same ABI. The canonical WIT's
//! `start-arg` says so, which gives a declaration one translation unit
//! accepts beside wasi-libc's `int32_t __wasi_thread_spawn(void *start_arg)`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use heck::{ToShoutySnakeCase, ToSnakeCase};
use wit_bindgen_core::abi::{self, AbiVariant, Bindgen, Bitcast, Instruction, LiftLower, WasmType};
use wit_parser::{
    Alignment, ArchitectureSize, Docs, Function, FunctionKind, Handle, Int, InterfaceId, Resolve,
    SizeAlign, Type, TypeDefKind, TypeId, TypeOwner,
};

use wasi_threads_abi::layout::LayoutKind;
use wasi_threads_abi::{naming, Intrinsic, ValType, WitItem, WitModel};

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
    /// `wasi`: the prefix of the names shared by the world's interfaces
    /// (strings, anonymous types, helpers), from the first import's module.
    /// Each interface's own types and functions take the prefix of its own
    /// core module ([`CGen::owner_prefix`]).
    prefix: String,
    /// Typedefs, in dependency order.
    typedefs: String,
    defined: BTreeSet<String>,
    /// What each C type name stands for: a second, different type given
    /// the same name is an error, never a silent merge.
    claimed: BTreeMap<String, String>,
    /// Declarations and definitions of the `_free` functions.
    free_decls: String,
    free_defs: String,
    /// The resources of the interfaces the world exports: the program
    /// defines their representation, the host holds their handles.
    exported: BTreeSet<TypeId>,
    /// For each resource whose owned handles the bindings can drop, the
    /// function that drops one (`__wasi_r_drop`, `__p_r_drop_own`).
    drops: BTreeMap<TypeId, String>,
    /// What each generated function name stands for: two functions under
    /// one name are an error.
    functions: BTreeMap<String, String>,
    errors: Vec<String>,
}

pub(crate) fn generate(wm: &WitModel) -> Result<Generated, BindgenError> {
    // The `[export]` intrinsics of exported resources are imports too, but
    // their module names no interface the program uses.
    let prefix = wm
        .model
        .imports
        .iter()
        .zip(&wm.import_items)
        .find(|(_, item)| !matches!(item, WitItem::ExportedResource { .. }))
        .and_then(|(f, _)| f.module.clone())
        .unwrap_or_else(|| wm.resolve.packages[wm.package].name.namespace.clone())
        .to_snake_case();
    let mut gen = CGen {
        wm,
        prefix,
        typedefs: String::new(),
        defined: BTreeSet::new(),
        claimed: BTreeMap::new(),
        free_decls: String::new(),
        free_defs: String::new(),
        exported: BTreeSet::new(),
        drops: BTreeMap::new(),
        functions: BTreeMap::new(),
        errors: Vec::new(),
    };
    for item in &wm.import_items {
        match item {
            WitItem::ResourceDrop {
                interface,
                resource,
            } => {
                let name = format!(
                    "__{}_{}_drop",
                    gen.item_prefix(*interface),
                    resource_ident(&wm.resolve, *resource)
                );
                gen.drops.insert(*resource, name);
            }
            WitItem::ExportedResource {
                interface,
                resource,
                ..
            } => {
                gen.exported.insert(*resource);
                let name = format!(
                    "__{}_{}_drop_own",
                    gen.item_prefix(*interface),
                    resource_ident(&wm.resolve, *resource)
                );
                gen.drops.insert(*resource, name);
            }
            WitItem::Function { .. } => {}
        }
    }
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
            WitItem::ResourceDrop { resource, .. } => {
                format!("{}_drop", resource_ident(&wm.resolve, *resource))
            }
            WitItem::ExportedResource {
                resource,
                intrinsic,
                ..
            } => format!(
                "{}_{}",
                resource_ident(&wm.resolve, *resource),
                match intrinsic {
                    Intrinsic::New => "new",
                    Intrinsic::Rep => "rep",
                    Intrinsic::Drop | Intrinsic::Dtor => "drop_own",
                }
            ),
        };
        let ip = gen.item_prefix(item.interface());
        let raw_name = format!("__imported_{ip}_{fname}");
        let wrapper = format!("__{ip}_{fname}");
        gen.claim_function(&wrapper, &qualified);
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
                crate::emit(
                    &wm.resolve,
                    AbiVariant::GuestImport,
                    LiftLower::LowerArgsLiftResults,
                    func,
                    &mut fg,
                    &qualified,
                )?;
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
            WitItem::ExportedResource {
                resource,
                intrinsic,
                ..
            } => {
                let (decl, def) = gen.intrinsic(*resource, *intrinsic, &wrapper, &raw_name);
                decls.push_str(&decl);
                defs.push_str(&def);
            }
        }
    }

    // Exports. One of scalars only is declared for the program (or libc)
    // to define under its core name, as wasi-libc declares
    // `wasi_thread_start`; any other gets glue that lifts its core values,
    // calls the program's typed `exports_<prefix>_<name>`, lowers the
    // result into a return area, and a `cabi_post_*` freeing what the
    // result owns, as wit-bindgen's C bindings have.
    let mut glue = String::new();
    let mut needs_realloc = false;
    for (core, item) in wm.model.exports.iter().zip(&wm.export_items) {
        let (func, interface) = match item {
            WitItem::Function { func, interface } => (func, interface),
            WitItem::ExportedResource {
                interface,
                resource,
                intrinsic: Intrinsic::Dtor,
            } => {
                let (decl, def) = gen.destructor(*interface, *resource, &core.name);
                decls.push_str(&decl);
                glue.push_str(&def);
                continue;
            }
            WitItem::ExportedResource { .. } | WitItem::ResourceDrop { .. } => continue,
        };
        // A function of an exported resource, or one passing its handles,
        // always gets glue: its handles and representations have C types
        // of their own.
        let direct = matches!(func.kind, FunctionKind::Freestanding)
            && !func
                .params
                .iter()
                .map(|p| &p.ty)
                .chain(&func.result)
                .any(|t| gen.exported_handle(t).is_some())
            && !core.indirect_params
            && !core.retptr
            && func.params.iter().all(|p| gen.is_scalar(&p.ty))
            && func.result.as_ref().is_none_or(|t| gen.is_scalar(t));
        if direct {
            let name = ident(&core.name.replace(['#', ':', '/', '.', '[', ']', '-'], "_"));
            let params: Vec<String> = func
                .params
                .iter()
                .map(|p| join_decl(&gen.param_ty(&p.ty), &ident(&p.name)))
                .collect();
            let ret = func
                .result
                .as_ref()
                .map_or("void".to_string(), |t| gen.param_ty(t));
            gen.claim_function(&name, &core.name);
            doc(&mut decls, &func.docs, "");
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
            continue;
        }
        needs_realloc |=
            core.indirect_params || abi::guest_export_params_have_allocations(&wm.resolve, func);
        let ip = gen.item_prefix(*interface);
        // `__p_r_new` is the resource's `[resource-new]`: the program's
        // constructor is `exports_p_r_constructor`.
        let fname = match func.kind {
            FunctionKind::Constructor(r) => {
                format!("{}_constructor", resource_ident(&wm.resolve, r))
            }
            _ => func_ident(&wm.resolve, func),
        };
        let user = format!("exports_{ip}_{fname}");
        gen.claim_function(&user, &core.name);
        let mut sig_params = Vec::new();
        let mut by_ptr = Vec::new();
        let mut param_tys = Vec::new();
        let mut casts = Vec::new();
        let mut handed = Vec::new();
        for p in &func.params {
            let name = ident(&p.name);
            if gen.is_scalar(&p.ty) {
                let ty = gen.param_ty(&p.ty);
                sig_params.push(join_decl(&ty, &name));
                by_ptr.push(false);
                // An owned handle of an exported resource is a struct:
                // lifted as one, never cast.
                match gen.exported_handle(&p.ty) {
                    Some((r, true)) => {
                        casts.push(false);
                        handed.push(format!("`{name}` (`{}`)", gen.drops[&r]));
                    }
                    _ => casts.push(true),
                }
                param_tys.push(ty);
            } else {
                let ty = gen.ty(&p.ty);
                sig_params.push(format!("{ty} *{name}"));
                by_ptr.push(true);
                casts.push(false);
                param_tys.push(ty);
            }
        }
        let (ret, result) = match &func.result {
            None => ("void".to_string(), None),
            Some(t) if gen.is_scalar(t) => {
                let ty = gen.param_ty(t);
                (ty.clone(), Some((ty, false)))
            }
            Some(t) => {
                let ty = gen.ty(t);
                sig_params.push(format!("{ty} *ret"));
                ("void".to_string(), Some((ty, true)))
            }
        };
        let mut docs = func.docs.clone();
        let mut note = format!(
            "Defined by the program; the export `{}` calls it.",
            core.name
        );
        if func
            .params
            .iter()
            .any(|p| gen.own_drop(&p.ty).is_none() && gen.needs_free(&p.ty))
        {
            note.push_str("\nIt owns its arguments: their `_free` functions free them.");
        }
        if !handed.is_empty() {
            let _ = write!(
                note,
                "\nIt owns the handle{} {}: it keeps or drops {}.",
                if handed.len() == 1 { "" } else { "s" },
                handed.join(", "),
                if handed.len() == 1 { "it" } else { "them" }
            );
        }
        if core.retptr && abi::guest_export_needs_post_return(&wm.resolve, func) {
            let _ = write!(
                note,
                "\nThe strings and lists of its result must come from `malloc`:\n`cabi_post_{}` frees them once the host has read them.",
                core.name
            );
        }
        docs.contents = Some(match naming::strip_directives(docs.contents.as_deref()) {
            Some(text) => format!("{text}\n\n{note}"),
            None => note,
        });
        doc(&mut decls, &docs, "");
        let _ = writeln!(
            decls,
            "{}({});\n",
            join_decl(&ret, &user),
            if sig_params.is_empty() {
                "void".to_string()
            } else {
                sig_params.join(", ")
            }
        );

        let core_params: Vec<String> = core
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{} arg{i}", c_core(p.ty.as_str())))
            .collect();
        let core_ret = match core.result_types().as_slice() {
            [] => "void",
            [one] => c_core(one.as_str()),
            _ => {
                return Err(BindgenError::Invalid {
                    function: core.name.clone(),
                    message: "a core export returns more than one value".into(),
                })
            }
        };
        let args = (0..core.params.len()).map(|i| format!("arg{i}")).collect();
        let mut fg = CFunc::new(&mut gen, String::new(), args, None);
        fg.export = Some(ExportCall {
            callee: user.clone(),
            by_ptr,
            casts,
            param_tys,
            result,
            core_ret: core_ret.to_string(),
        });
        crate::emit(
            &wm.resolve,
            AbiVariant::GuestExport,
            LiftLower::LiftArgsLowerResults,
            func,
            &mut fg,
            &core.name,
        )?;
        let body = fg.src;
        let _ = writeln!(
            glue,
            "__attribute__((__export_name__({:?})))\n{core_ret} __wasm_export_{ip}_{fname}({}) {{\n{body}}}\n",
            core.name,
            if core_params.is_empty() {
                "void".to_string()
            } else {
                core_params.join(", ")
            }
        );
        if core.retptr && abi::guest_export_needs_post_return(&wm.resolve, func) {
            let mut fg = CFunc::new(&mut gen, String::new(), vec!["arg0".to_string()], None);
            fg.export = Some(ExportCall {
                callee: String::new(),
                by_ptr: Vec::new(),
                casts: Vec::new(),
                param_tys: Vec::new(),
                result: None,
                core_ret: "void".to_string(),
            });
            abi::post_return(&wm.resolve, func, &mut fg);
            if let Some(message) = fg.error.take() {
                return Err(BindgenError::Invalid {
                    function: core.name.clone(),
                    message,
                });
            }
            let _ = writeln!(
                glue,
                "__attribute__((__export_name__(\"cabi_post_{}\")))\nvoid __wasm_export_{ip}_{fname}_post_return(int32_t arg0) {{\n{}}}\n",
                core.name, fg.src
            );
        }
    }
    for (core, item) in wm.model.imports.iter().zip(&wm.import_items) {
        if let WitItem::Function { func, .. } = item {
            needs_realloc |= core.retptr && func.result.as_ref().is_some_and(|t| gen.owns(t));
        }
    }

    // A `_free` function for every type that owns memory.
    let mut used: Vec<Type> = Vec::new();
    for item in wm.import_items.iter().chain(&wm.export_items) {
        if let WitItem::Function { func, .. } = item {
            used.extend(func.params.iter().map(|p| p.ty));
            used.extend(func.result);
        }
    }
    used.extend(ids.iter().map(|id| Type::Id(*id)));
    for ty in &used {
        if wasi_threads_abi::support::unsupported_in_type(
            &wm.resolve,
            ty,
            wasi_threads_abi::Generator::C,
        )
        .is_none()
        {
            gen.free_fn(ty);
        }
    }
    let mut uses_stdlib = !gen.free_defs.is_empty() || glue.contains("free(");
    let mut realloc_decl = String::new();
    let mut realloc_def = String::new();
    if needs_realloc {
        uses_stdlib = true;
        realloc_decl = "/**
 * The allocator through which the host places strings, lists and
 * parameter areas in this module's memory (the canonical ABI's
 * `cabi_realloc`). These bindings define it weakly, with `realloc`: a
 * program may define its own, compatible with `free`, which the bindings
 * use to free what the host allocated.
 */
void *cabi_realloc(void *ptr, size_t old_size, size_t align, size_t new_size);

"
        .to_string();
        realloc_def = "__attribute__((__weak__, __export_name__(\"cabi_realloc\")))
void *cabi_realloc(void *ptr, size_t old_size, size_t align, size_t new_size) {
    (void) old_size;
    if (new_size == 0) {
        return (void *) align;
    }
    void *ret = realloc(ptr, new_size);
    if (!ret) {
        abort();
    }
    return ret;
}

"
        .to_string();
    }
    let decls = format!("{}{realloc_decl}{decls}", gen.free_decls);
    let defs = format!("{}{defs}{glue}{realloc_def}", gen.free_defs);

    if let Some(e) = gen.errors.first() {
        return Err(BindgenError::unsupported(&wm.model.origin, e.clone()));
    }

    // The wasi-threads entry point: for programs without wasi-libc, an
    // assembly entry that gives each thread its own stack and TLS.
    let entry = wm.model.exports.iter().any(|e| {
        e.name == "wasi_thread_start"
            && e.param_types() == [ValType::I32, ValType::I32]
            && e.results.is_empty()
    });
    let mut entry_file = None;
    let decls = if entry {
        let file = format!("{base}_thread_start.s");
        let (text, asm) = thread_start(&p, &file);
        entry_file = Some((file, asm));
        format!("{text}{decls}")
    } else {
        decls
    };

    // Leading underscores keep the guard apart from every constant (which
    // starts with a letter) and every type and function (lower case).
    let guard = format!("__{}", format!("{p}_{base}_h").to_shouty_snake_case());
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
{}
{helpers}{raw}{defs}",
        wm.model.origin,
        if uses_stdlib {
            "\n#include <stdlib.h>\n"
        } else {
            ""
        }
    );
    let mut files = vec![
        (format!("{base}.h"), header),
        (format!("{base}.c"), source.trim_end().to_string() + "\n"),
    ];
    files.extend(entry_file);
    Ok(Generated { files })
}

/// The header's part on starting threads (the start-argument layout and
/// the program's `__<p>_thread_start`), and the assembly entry
/// `wasi_thread_start` that reads that layout, as wasi-libc's own
/// `wasi_thread_start.s` reads its `struct start_args`.
fn thread_start(p: &str, file: &str) -> (String, String) {
    let arg = format!("__{p}_thread_start_arg_t");
    let user = format!("__{p}_thread_start");
    let header = format!(
        "/**
 * Starting threads without wasi-libc.
 *
 * The wasm `__stack_pointer` and `__tls_base` globals are per instance, and
 * every thread is a new instance: a thread's code needs them set to memory
 * of its own before it runs any C code that uses the shadow stack (locals
 * whose address is taken, large locals, most calls) or thread-local
 * variables. `{file}`, generated beside this header, is
 * that entry: it defines and exports `wasi_thread_start`, which treats the
 * start argument as a `{arg} *`, sets `__stack_pointer` to its `stack`,
 * initialises the thread-local block at its `tls_base` (with the linker's
 * `__wasm_init_tls`, which also sets `__tls_base`) unless that is NULL, and
 * only then calls the program's `{user}(thread_id, arg)`.
 * Pass `__{p}_thread_spawn` the address of such a block; it must stay valid
 * until the thread ends.
 *
 * With wasi-libc linked for threads (`-pthread`), wasi-libc's own
 * `wasi_thread_start` is the entry (threads start with `pthread_create`):
 * do not link `{file}` then. A program that defines
 * `wasi_thread_start` itself in C (declared below) runs on whatever
 * `__stack_pointer` the new instance starts with, shared by every thread:
 * such code must not touch the shadow stack.
 */
typedef struct {arg} {{
    /**
     * The top of the thread's stack (stacks grow down), 16-byte aligned.
     */
    void *stack;
    /**
     * The thread's thread-local block, `__builtin_wasm_tls_size()` bytes
     * aligned to `__builtin_wasm_tls_align()`; NULL when the program has
     * no thread-local variables.
     */
    void *tls_base;
    /**
     * The argument `{user}` receives.
     */
    void *arg;
}} {arg};

_Static_assert(sizeof({arg}) == 12, \"the entry's layout\");
_Static_assert(offsetof({arg}, stack) == 0, \"the entry's layout\");
_Static_assert(offsetof({arg}, tls_base) == 4, \"the entry's layout\");
_Static_assert(offsetof({arg}, arg) == 8, \"the entry's layout\");

/**
 * Defined by a program linking `{file}`: the body of a thread, on the
 * stack and thread-local block its start argument gave. `thread_id` is the
 * id `__{p}_thread_spawn` returned, `arg` the start argument's `arg`.
 */
void {user}(int32_t thread_id, void *arg);

"
    );
    let asm = format!(
        "# The wasi-threads entry point for programs without wasi-libc, generated
# by wasi-threads bindgen (see the header): sets up the thread's stack and
# thread-local block from the start argument, then calls {user}.
# wasi-libc's libc-top-half/musl/src/thread/wasm32/wasi_thread_start.s
# does the same for pthreads; never link both.

\t.text

\t.export_name\twasi_thread_start, wasi_thread_start

\t.globaltype\t__stack_pointer, i32
\t.functype\t__wasm_init_tls (i32) -> ()
\t.functype\t{user} (i32, i32) -> ()

\t.globl\twasi_thread_start
\t.type\twasi_thread_start,@function

wasi_thread_start:
\t.functype\twasi_thread_start (i32, i32) -> ()

\t# __stack_pointer = start_arg->stack
\tlocal.get\t1
\ti32.load\t0
\tglobal.set\t__stack_pointer

\t# if (start_arg->tls_base) __wasm_init_tls(start_arg->tls_base)
\tblock
\tlocal.get\t1
\ti32.load\t4
\ti32.eqz
\tbr_if\t0
\tlocal.get\t1
\ti32.load\t4
\tcall\t__wasm_init_tls
\tend_block

\t# {user}(thread_id, start_arg->arg)
\tlocal.get\t0
\tlocal.get\t1
\ti32.load\t8
\tcall\t{user}

\tend_function
"
    );
    (header, asm)
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
/// Whether `code` mentions the identifier `name` (not merely a longer
/// identifier that starts or ends with it).
fn uses_ident(code: &str, name: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    code.match_indices(name).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + name.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

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

/// `counter` for a resource `counter`, as C names take it.
fn resource_ident(resolve: &Resolve, id: TypeId) -> String {
    ident(resolve.types[id].name.as_deref().unwrap_or_default())
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

    /// The C prefix of an interface's items (`wasi` in `__wasi_thread_spawn`
    /// and `__wasi_start_arg_t`), from the core module the naming rules give
    /// the interface, so two interfaces never share a name; of the world's
    /// own items (`None`), the world's.
    fn item_prefix(&self, interface: Option<InterfaceId>) -> String {
        match (interface, self.wm.world) {
            (Some(i), _) => naming::interface_module(self.resolve(), i).to_snake_case(),
            (None, Some(w)) => naming::world_module(self.resolve(), w).to_snake_case(),
            (None, None) => self.prefix.clone(),
        }
    }

    /// The C prefix of a named type: its interface's (or world's).
    fn owner_prefix(&self, id: TypeId) -> String {
        match self.resolve().types[id].owner {
            TypeOwner::Interface(i) => self.item_prefix(Some(i)),
            TypeOwner::World(_) => self.item_prefix(None),
            TypeOwner::None => self.prefix.clone(),
        }
    }

    /// Records that C function `name` is generated for `what`; a second,
    /// different function under that name is an error.
    fn claim_function(&mut self, name: &str, what: &str) {
        match self.functions.get(name) {
            Some(prev) if prev != what => self.errors.push(format!(
                "`{prev}` and `{what}` would both be named `{name}` in C"
            )),
            Some(_) => {}
            None => {
                self.functions.insert(name.to_string(), what.to_string());
            }
        }
    }

    /// The resource of a handle type (`own<r>`, `borrow<r>`, or an alias
    /// of one) when the world exports `r`, and whether it is owned.
    fn exported_handle(&self, ty: &Type) -> Option<(TypeId, bool)> {
        let Type::Id(id) = ty else { return None };
        let (r, own) = match &self.resolve().types[*id].kind {
            TypeDefKind::Type(t) => return self.exported_handle(t),
            TypeDefKind::Handle(Handle::Own(r)) => (*r, true),
            TypeDefKind::Handle(Handle::Borrow(r)) => (*r, false),
            _ => return None,
        };
        let r = wit_bindgen_core::dealias(self.resolve(), r);
        self.exported.contains(&r).then_some((r, own))
    }

    /// The C types of an exported resource's handles, as wit-bindgen's C
    /// names them: `__p_own_r_t` (a struct holding the handle) and
    /// `__p_borrow_r_t` (a pointer to the representation, which is what
    /// an export receives for a `borrow<r>`).
    fn handle_names(&self, resource: TypeId) -> (String, String) {
        let p = self.owner_prefix(resource);
        let r = resource_ident(self.resolve(), resource);
        (format!("__{p}_own_{r}_t"), format!("__{p}_borrow_{r}_t"))
    }

    /// The typedefs of an exported resource `name`: the representation
    /// (declared only; the program defines the struct), its owned handle
    /// and its borrow.
    fn exported_resource_types(&mut self, id: TypeId, name: &str) -> String {
        let (own, borrow) = self.handle_names(id);
        let r = self.resolve().types[id].name.clone().unwrap_or_default();
        self.claim(&own, format!("`own<{r}>`"));
        self.claim(&borrow, format!("`borrow<{r}>`"));
        let p = self.owner_prefix(id);
        let snake = resource_ident(self.resolve(), id);
        // A handle is laid out as the `u32` indexing the host's table.
        let layout = self.wm.layout(&Type::U32);
        format!(
            "typedef struct {name} {name};

/**
 * An owned handle to a `{r}`: `__{p}_{snake}_new` gives one for a
 * representation, `__{p}_{snake}_drop_own` drops one.
 */
typedef struct {own} {{
    int32_t __handle;
}} {own};

_Static_assert(sizeof({own}) == {}, \"canonical ABI size\");
_Static_assert(_Alignof({own}) == {}, \"canonical ABI alignment\");

/**
 * A `borrow<{r}>` as the program's exports receive it: the representation.
 */
typedef {name} *{borrow};

",
            layout.size, layout.align
        )
    }

    /// The declaration and definition of an `[export]` intrinsic of an
    /// exported resource: `__p_r_new`, `__p_r_rep` or `__p_r_drop_own`,
    /// as wit-bindgen's C bindings have them.
    fn intrinsic(
        &mut self,
        resource: TypeId,
        which: Intrinsic,
        wrapper: &str,
        raw: &str,
    ) -> (String, String) {
        self.define(resource);
        let rep = self.named(resource);
        let (own, _) = self.handle_names(resource);
        let r = self.resolve().types[resource]
            .name
            .clone()
            .unwrap_or_default();
        let dtor = format!(
            "exports_{}_{}_destructor",
            self.owner_prefix(resource),
            resource_ident(self.resolve(), resource)
        );
        let drop = self.drops.get(&resource).cloned().unwrap_or_default();
        match which {
            Intrinsic::New => (
                format!(
                    "/**
 * A new owned handle to the `{r}` whose representation is `rep` (the
 * canonical ABI's `resource.new`). Once its handle is dropped (by the host,
 * or by the program with `{drop}`), the host calls
 * `{dtor}(rep)`.
 */
{own} {wrapper}({rep} *rep) __attribute__((__warn_unused_result__));

"
                ),
                format!(
                    "{own} {wrapper}({rep} *rep) {{
    return ({own}) {{ {raw}((int32_t) (uintptr_t) rep) }};
}}

"
                ),
            ),
            Intrinsic::Rep => (
                format!(
                    "/**
 * The representation behind an owned handle to a `{r}` (the canonical
 * ABI's `resource.rep`); the handle stays owned.
 */
{rep} *{wrapper}({own} handle) __attribute__((__warn_unused_result__));

"
                ),
                format!(
                    "{rep} *{wrapper}({own} handle) {{
    return ({rep} *) (uintptr_t) {raw}(handle.__handle);
}}

"
                ),
            ),
            Intrinsic::Drop | Intrinsic::Dtor => (
                format!(
                    "/**
 * Drops an owned handle to a `{r}` (the canonical ABI's `resource.drop`):
 * the host calls `{dtor}`
 * on its representation before this returns.
 */
void {wrapper}({own} handle);

"
                ),
                format!(
                    "void {wrapper}({own} handle) {{
    {raw}(handle.__handle);
}}

"
                ),
            ),
        }
    }

    /// The program's destructor of an exported resource, and the `[dtor]`
    /// export `core` calling it.
    fn destructor(
        &mut self,
        interface: Option<InterfaceId>,
        resource: TypeId,
        core: &str,
    ) -> (String, String) {
        self.define(resource);
        let rep = self.named(resource);
        let ip = self.item_prefix(interface);
        let snake = resource_ident(self.resolve(), resource);
        let r = self.resolve().types[resource]
            .name
            .clone()
            .unwrap_or_default();
        let user = format!("exports_{ip}_{snake}_destructor");
        let glue = format!("__wasm_export_{ip}_{snake}_dtor");
        self.claim_function(&user, core);
        self.claim_function(&glue, core);
        (
            format!(
                "/**
 * Defined by the program: frees the representation of a `{r}` once its
 * last handle is dropped. The export `{core}` calls it.
 */
void {user}({rep} *rep);

"
            ),
            format!(
                "__attribute__((__export_name__({core:?})))
void {glue}(int32_t arg0) {{
    {user}(({rep} *) (uintptr_t) arg0);
}}

"
            ),
        )
    }

    /// A world's `use` of an interface's type names that type itself.
    fn resolve_use(&self, id: TypeId) -> TypeId {
        let def = &self.resolve().types[id];
        match (&def.kind, def.owner) {
            (TypeDefKind::Type(Type::Id(target)), TypeOwner::World(_))
                if self.resolve().types[*target].name == def.name =>
            {
                self.resolve_use(*target)
            }
            _ => id,
        }
    }

    /// Records that C name `name` stands for `what`; a different type under
    /// a name already taken is an error.
    fn claim(&mut self, name: &str, what: String) {
        match self.claimed.get(name) {
            Some(prev) if *prev != what => self.errors.push(format!(
                "two different types would both be named `{name}` in C ({prev}; {what})"
            )),
            Some(_) => {}
            None => {
                self.claimed.insert(name.to_string(), what);
            }
        }
    }

    /// A description of a type that tells different types apart: named
    /// types by their definition, anonymous ones by their structure.
    fn type_key(&self, ty: &Type) -> String {
        let Type::Id(id) = ty else {
            return self.anon_name(ty);
        };
        let id = self.resolve_use(*id);
        let def = &self.resolve().types[id];
        if let Some(name) = &def.name {
            let owner = match def.owner {
                TypeOwner::Interface(i) => naming::interface_module(self.resolve(), i),
                TypeOwner::World(w) => format!("world {}", self.resolve().worlds[w].name),
                TypeOwner::None => String::new(),
            };
            return format!("`{name}` of {owner}");
        }
        let inner = |t: &Type| self.type_key(t);
        match &def.kind {
            TypeDefKind::List(t) => format!("list<{}>", inner(t)),
            TypeDefKind::Option(t) => format!("option<{}>", inner(t)),
            TypeDefKind::Result(r) => format!(
                "result<{}, {}>",
                r.ok.as_ref().map_or("_".into(), inner),
                r.err.as_ref().map_or("_".into(), inner)
            ),
            TypeDefKind::Tuple(t) => format!(
                "tuple<{}>",
                t.types.iter().map(inner).collect::<Vec<_>>().join(", ")
            ),
            TypeDefKind::Handle(Handle::Own(r)) => format!("own<{}>", inner(&Type::Id(*r))),
            TypeDefKind::Handle(Handle::Borrow(r)) => {
                format!("borrow<{}>", inner(&Type::Id(*r)))
            }
            TypeDefKind::Type(t) => inner(t),
            other => other.as_str().to_string(),
        }
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

    /// A type as a parameter or result of a function: aliases by their
    /// typedef, as wasi-libc writes `__wasi_fd_t fd`, except that an alias
    /// with a `C type:` pointer is that pointer, as wasi-libc writes
    /// `__wasi_thread_spawn(void *start_arg)`.
    fn param_ty(&mut self, ty: &Type) -> String {
        if let Type::Id(id) = ty {
            if let Some(p) = self.pointer_alias(*id) {
                return p;
            }
        }
        self.ty(ty)
    }

    fn is_scalar(&self, ty: &Type) -> bool {
        match ty {
            Type::Id(id) => match &self.resolve().types[*id].kind {
                TypeDefKind::Type(t) => self.is_scalar(t),
                TypeDefKind::Enum(_) | TypeDefKind::Handle(_) => true,
                TypeDefKind::Flags(f) => f.flags.len() <= 32,
                _ => false,
            },
            Type::String | Type::ErrorContext => false,
            _ => true,
        }
    }

    /// The pointer type a `C type:` doc line gives an integer alias.
    fn pointer_alias(&mut self, id: TypeId) -> Option<String> {
        let id = self.resolve_use(id);
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
        let id = self.resolve_use(id);
        let name = self.resolve().types[id].name.as_deref().unwrap_or_default();
        format!("__{}_{}_t", self.owner_prefix(id), ident(name))
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
                if let Some((r, own)) = self.exported_handle(ty) {
                    self.define(r);
                    let (own_ty, borrow_ty) = self.handle_names(r);
                    return if own { own_ty } else { borrow_ty };
                }
                let name = format!("__{}_{}_t", self.prefix, self.anon_name(ty));
                let key = self.type_key(ty);
                self.claim(&name, key);
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
                let id = self.resolve_use(*id);
                let def = &self.resolve().types[id];
                if let Some(name) = &def.name {
                    // A type of another interface than the shared prefix's
                    // carries its own prefix: `list_a_point`, `list_b_point`.
                    let prefix = self.owner_prefix(id);
                    return if prefix == self.prefix {
                        ident(name)
                    } else {
                        format!("{prefix}_{}", ident(name))
                    };
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
        let target = self.resolve_use(id);
        if target != id {
            self.define(target);
            return;
        }
        let name = self.named(id);
        let key = self.type_key(&Type::Id(id));
        self.claim(&name, key);
        if self.defined.contains(&name) {
            return;
        }
        let body = self.body(id, &name);
        let asserts = self.layout_asserts(id, &name);
        if self.defined.insert(name.clone()) {
            let mut docs = self.resolve().types[id].docs.clone();
            if self.exported.contains(&id) {
                let r = self.resolve().types[id].name.clone().unwrap_or_default();
                let note = format!(
                    "The representation of a `{r}` this module exports: the program\ndefines `struct {name}`; the host holds handles to it."
                );
                docs.contents = Some(match naming::strip_directives(docs.contents.as_deref()) {
                    Some(text) => format!("{text}\n\n{note}"),
                    None => note,
                });
            }
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
        // A resource (or an alias of one) is not a value of the canonical
        // ABI: only its handles are.
        let target = wit_bindgen_core::dealias(self.resolve(), id);
        if matches!(self.resolve().types[target].kind, TypeDefKind::Resource) {
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
            TypeDefKind::Resource if self.exported.contains(&id) => {
                out.push_str(&self.exported_resource_types(id, name));
            }
            TypeDefKind::Resource => {
                let _ = writeln!(out, "typedef int32_t {name};\n");
            }
            TypeDefKind::Handle(h @ (Handle::Own(r) | Handle::Borrow(r))) => {
                self.define(*r);
                let target = match self.exported_handle(&Type::Id(id)) {
                    Some((r, _)) => {
                        let (own, borrow) = self.handle_names(r);
                        if matches!(h, Handle::Own(_)) {
                            own
                        } else {
                            borrow
                        }
                    }
                    None => self.named(*r),
                };
                let _ = writeln!(out, "typedef {target} {name};\n");
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

    /// Whether a value of the type owns memory: strings and lists, at any
    /// depth.
    fn owns(&self, ty: &Type) -> bool {
        let Type::Id(id) = ty else {
            return matches!(ty, Type::String);
        };
        match &self.resolve().types[*id].kind {
            TypeDefKind::List(_) => true,
            TypeDefKind::Type(t) | TypeDefKind::Option(t) => self.owns(t),
            TypeDefKind::Record(r) => r.fields.iter().any(|f| self.owns(&f.ty)),
            TypeDefKind::Tuple(t) => t.types.iter().any(|t| self.owns(t)),
            TypeDefKind::Variant(v) => v
                .cases
                .iter()
                .filter_map(|c| c.ty.as_ref())
                .any(|t| self.owns(t)),
            TypeDefKind::Result(r) => [&r.ok, &r.err].into_iter().flatten().any(|t| self.owns(t)),
            _ => false,
        }
    }

    /// Whether a value of the type owns memory or owned handles the
    /// bindings can drop, at any depth: what a `_free` function frees.
    fn needs_free(&self, ty: &Type) -> bool {
        self.frees(ty, true)
    }

    /// Whether a value of the type holds owned handles the bindings can
    /// drop (with `memory`: or owns memory), at any depth.
    fn frees(&self, ty: &Type, memory: bool) -> bool {
        let Type::Id(id) = ty else {
            return memory && matches!(ty, Type::String);
        };
        match &self.resolve().types[*id].kind {
            TypeDefKind::List(t) => memory || self.frees(t, memory),
            TypeDefKind::Handle(Handle::Own(_)) => self.own_drop(ty).is_some(),
            TypeDefKind::Type(t) | TypeDefKind::Option(t) => self.frees(t, memory),
            TypeDefKind::Record(r) => r.fields.iter().any(|f| self.frees(&f.ty, memory)),
            TypeDefKind::Tuple(t) => t.types.iter().any(|t| self.frees(t, memory)),
            TypeDefKind::Variant(v) => v
                .cases
                .iter()
                .filter_map(|c| c.ty.as_ref())
                .any(|t| self.frees(t, memory)),
            TypeDefKind::Result(r) => [&r.ok, &r.err]
                .into_iter()
                .flatten()
                .any(|t| self.frees(t, memory)),
            _ => false,
        }
    }

    /// The function dropping an owned handle of type `ty` (an `own<r>`,
    /// or an alias of one), where the bindings have one.
    fn own_drop(&self, ty: &Type) -> Option<String> {
        let Type::Id(id) = ty else { return None };
        match &self.resolve().types[*id].kind {
            TypeDefKind::Type(t) => self.own_drop(t),
            TypeDefKind::Handle(Handle::Own(r)) => self
                .drops
                .get(&wit_bindgen_core::dealias(self.resolve(), *r))
                .cloned(),
            _ => None,
        }
    }

    /// The statement freeing what the value at `place` (an lvalue of type
    /// `ty`) owns: its `_free` function, or the drop of an owned handle.
    fn free_stmt(&mut self, ty: &Type, place: &str) -> Option<String> {
        if let Some(drop) = self.own_drop(ty) {
            return Some(format!("{drop}({place});"));
        }
        self.free_fn(ty).map(|f| format!("{f}(&{place});"))
    }

    /// The `_free` function of a type that owns memory or owned handles,
    /// declared and defined on first use (as wit-bindgen's C bindings have
    /// one per type); `None` for a type that owns neither, and for an
    /// owned handle itself (its drop function frees it).
    fn free_fn(&mut self, ty: &Type) -> Option<String> {
        if !self.needs_free(ty) || self.own_drop(ty).is_some() {
            return None;
        }
        let c = self.ty(ty);
        let name = format!("{}_free", c.strip_suffix("_t").unwrap_or(&c));
        if !self.defined.insert(name.clone()) {
            return Some(name);
        }
        let mut body = String::new();
        let free_memory = "    if (ptr->len > 0) {\n        free(ptr->ptr);\n    }\n";
        match ty {
            Type::String => body.push_str(free_memory),
            Type::Id(id) => {
                let id = self.resolve_use(*id);
                match self.resolve().types[id].kind.clone() {
                    TypeDefKind::Type(t) => {
                        if let Some(f) = self.free_stmt(&t, "*ptr") {
                            let _ = writeln!(body, "    {f}");
                        }
                    }
                    TypeDefKind::List(t) => {
                        if let Some(f) = self.free_stmt(&t, "ptr->ptr[i]") {
                            let _ = writeln!(
                                body,
                                "    for (size_t i = 0; i < ptr->len; i++) {{\n        {f}\n    }}"
                            );
                        }
                        body.push_str(free_memory);
                    }
                    TypeDefKind::Record(r) => {
                        for field in &r.fields {
                            let place = format!("ptr->{}", ident(&field.name));
                            if let Some(f) = self.free_stmt(&field.ty, &place) {
                                let _ = writeln!(body, "    {f}");
                            }
                        }
                    }
                    TypeDefKind::Tuple(t) => {
                        for (i, t) in t.types.iter().enumerate() {
                            if let Some(f) = self.free_stmt(t, &format!("ptr->f{i}")) {
                                let _ = writeln!(body, "    {f}");
                            }
                        }
                    }
                    TypeDefKind::Variant(v) => {
                        body.push_str("    switch (ptr->tag) {\n");
                        for (i, case) in v.cases.iter().enumerate() {
                            let place = format!("ptr->val.{}", ident(&case.name));
                            if let Some(f) =
                                case.ty.as_ref().and_then(|t| self.free_stmt(t, &place))
                            {
                                let _ =
                                    writeln!(body, "    case {i}:\n        {f}\n        break;");
                            }
                        }
                        body.push_str("    default:\n        break;\n    }\n");
                    }
                    TypeDefKind::Option(t) => {
                        if let Some(f) = self.free_stmt(&t, "ptr->val") {
                            let _ = writeln!(body, "    if (ptr->is_some) {{\n        {f}\n    }}");
                        }
                    }
                    TypeDefKind::Result(r) => {
                        if let Some(f) =
                            r.ok.as_ref().and_then(|t| self.free_stmt(t, "ptr->val.ok"))
                        {
                            let _ = writeln!(body, "    if (!ptr->is_err) {{\n        {f}\n    }}");
                        }
                        if let Some(f) = r
                            .err
                            .as_ref()
                            .and_then(|t| self.free_stmt(t, "ptr->val.err"))
                        {
                            let _ = writeln!(body, "    if (ptr->is_err) {{\n        {f}\n    }}");
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        let what = if self.frees(ty, false) {
            format!(
                "Frees what a `{c}` owns: its strings and lists (with `free`)\n * and its owned handles (dropped), not `*ptr` itself."
            )
        } else {
            format!(
                "Frees the memory a `{c}` owns (its strings and lists, with `free`),\n * not `*ptr` itself."
            )
        };
        let _ = writeln!(
            self.free_decls,
            "/**\n * {what}\n */\nvoid {name}({c} *ptr);\n"
        );
        let _ = writeln!(self.free_defs, "void {name}({c} *ptr) {{\n{body}}}\n");
        Some(name)
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
    /// For an export's glue (or its `cabi_post_*`): how it calls the
    /// program's function.
    export: Option<ExportCall>,
    /// The element addresses of the list loops being generated.
    iter_bases: Vec<String>,
}

/// How an export's glue calls the program's typed function.
struct ExportCall {
    callee: String,
    /// Per WIT parameter: passed by pointer (strings, lists, records,
    /// variants...), or by value (scalars).
    by_ptr: Vec<bool>,
    /// Per WIT parameter passed by value: whether the lifted value is cast
    /// to the parameter's C type (not a struct: an owned handle).
    casts: Vec<bool>,
    param_tys: Vec<String>,
    /// The result's C type, and whether it is written through `ret`.
    result: Option<(String, bool)>,
    /// The core export's result type (`void`, `int32_t`...).
    core_ret: String,
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
            export: None,
            iter_bases: Vec::new(),
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
            // A payload no operation reads (an empty tuple or record) is
            // not declared, so that `-Wunused-variable` stays quiet.
            let used = uses_ident(&code, &payload) || ops.iter().any(|op| uses_ident(op, &payload));
            if let Some(pty) = pty.filter(|_| used) {
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

impl crate::Glue for CFunc<'_, '_> {
    fn take_error(&mut self) -> Option<String> {
        self.error.take()
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
            Instruction::HandleLower { ty, .. } => {
                // An exported resource's owned handle is a struct; its
                // borrow is a pointer to the representation.
                results.push(match self.gen.exported_handle(&Type::Id(*ty)) {
                    Some((_, true)) => format!("({}).__handle", operands[0]),
                    Some((_, false)) => format!("(int32_t) (uintptr_t) ({})", operands[0]),
                    None => format!("(int32_t) ({})", operands[0]),
                })
            }
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
            Instruction::HandleLift { ty, .. }
                if self.gen.exported_handle(&Type::Id(*ty)).is_some() =>
            {
                // What an export receives for a `borrow` of the module's
                // own resource is the representation (a pointer); for an
                // `own`, a handle.
                let name = self.gen.ty(&Type::Id(*ty));
                results.push(match self.gen.exported_handle(&Type::Id(*ty)) {
                    Some((_, true)) => format!("(({name}) {{ {} }})", operands[0]),
                    _ => format!("(({name}) (uintptr_t) ({}))", operands[0]),
                });
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
            Instruction::CallInterface { func, .. } => {
                let Some(call) = self.export.take() else {
                    self.error = Some("a call of the program's function outside an export".into());
                    return;
                };
                let mut args = Vec::new();
                for (((op, by_ptr), ty), cast) in operands
                    .iter()
                    .zip(&call.by_ptr)
                    .zip(&call.param_tys)
                    .zip(&call.casts)
                {
                    if *by_ptr {
                        let n = self.tmp();
                        self.line(format!("{ty} a{n} = {op};"));
                        args.push(format!("&a{n}"));
                    } else if !cast {
                        args.push(op.clone());
                    } else {
                        args.push(format!("({ty}) ({op})"));
                    }
                }
                let n = self.tmp();
                match &call.result {
                    None => self.line(format!("{}({});", call.callee, args.join(", "))),
                    Some((ty, false)) => {
                        self.line(format!("{ty} r{n} = {}({});", call.callee, args.join(", ")));
                        results.push(format!("r{n}"));
                    }
                    Some((ty, true)) => {
                        args.push(format!("&r{n}"));
                        self.line(format!("{ty} r{n};\n{}({});", call.callee, args.join(", ")));
                        results.push(format!("r{n}"));
                    }
                }
                let _ = func;
                self.export = Some(call);
            }
            Instruction::Return { amt, .. } if self.export.is_some() => {
                if *amt == 1 {
                    let ty = self
                        .export
                        .as_ref()
                        .map(|c| c.core_ret.clone())
                        .unwrap_or_default();
                    self.line(format!("return ({ty}) ({});", operands[0]));
                }
            }
            Instruction::GuestDeallocate { .. } => {
                self.line(format!("free((void *) (uintptr_t) ({}));", operands[0]));
            }
            Instruction::GuestDeallocateString => {
                self.line(format!(
                    "if (({}) > 0) {{\n    free((void *) (uintptr_t) ({}));\n}}",
                    operands[1], operands[0]
                ));
            }
            Instruction::IterBasePointer => {
                let n = self.tmp();
                let base = format!("base{n}");
                self.iter_bases.push(base.clone());
                results.push(base);
            }
            Instruction::GuestDeallocateList { element } => {
                let (code, _) = self.finished.pop().unwrap_or_default();
                let base = self.iter_bases.pop().unwrap_or_default();
                let size = self.sizes.size(element).size_wasm32();
                let n = self.tmp();
                let mut s = format!(
                    "int32_t ptr{n} = {};\nint32_t len{n} = {};\nfor (int32_t i{n} = 0; i{n} < len{n}; i{n}++) {{\n    int32_t {base} = ptr{n} + i{n} * {size};\n    (void) {base};\n",
                    operands[0], operands[1]
                );
                for l in code.lines() {
                    let _ = writeln!(s, "{l}");
                }
                let _ = write!(
                    s,
                    "}}\nif (len{n} > 0) {{\n    free((void *) (uintptr_t) ptr{n});\n}}"
                );
                self.line(s);
            }
            Instruction::GuestDeallocateVariant { blocks } => {
                let arms = self
                    .finished
                    .split_off(self.finished.len().saturating_sub(*blocks));
                let mut s = format!("switch ((int32_t) ({})) {{\n", operands[0]);
                for (i, (code, _)) in arms.into_iter().enumerate() {
                    let _ = writeln!(s, "    case {i}: {{");
                    for l in code.lines() {
                        let _ = writeln!(s, "    {l}");
                    }
                    s.push_str("        break;\n    }\n");
                }
                s.push('}');
                self.line(s);
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
        if self.export.is_some() {
            // The host reads it after the call returns (and calls
            // `cabi_post_*`), on the same thread: one area per thread.
            self.line(format!(
                "static _Thread_local _Alignas({}) uint8_t ret_area[{}];\nint32_t ptr{n} = (int32_t) (uintptr_t) ret_area;",
                align.align_wasm32(),
                size.size_wasm32().max(1)
            ));
            return format!("ptr{n}");
        }
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
