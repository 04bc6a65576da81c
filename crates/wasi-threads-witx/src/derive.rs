//! Deriving the WITX functions of a WIT model, and checking them.

use std::collections::BTreeSet;
use std::fmt;

use wasi_threads_abi::{check, witx, CoreFunc, Model, WitItem, WitModel};
use wit_parser::abi::WasmType;
use wit_parser::{Function, Handle, Type, TypeDefKind};

use crate::names::{self, Scope};
use crate::types::{int_repr, underlying, unsupported, Reject, Types, Use};

/// The WITX derived from a WIT model.
#[derive(Clone, Debug)]
pub struct Derivation {
    /// The WITX document: every function that derived.
    pub text: String,
    pub functions: Vec<DerivedFunction>,
    pub failures: Vec<Failure>,
}

/// A function that derived.
#[derive(Clone, Debug)]
pub struct DerivedFunction {
    /// The WIT function name.
    pub name: String,
    pub interface: Option<String>,
    /// How the function was lowered; empty when the WITX is type-faithful.
    pub lowerings: Vec<String>,
}

impl DerivedFunction {
    pub fn is_faithful(&self) -> bool {
        self.lowerings.is_empty()
    }
}

/// A function with no ABI-identical WITX form.
#[derive(Clone, Debug)]
pub struct Failure {
    pub function: String,
    pub interface: Option<String>,
    /// The WIT construct at fault (`future<u32>`, `async func`, ...).
    pub construct: String,
    pub reason: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.function)?;
        if let Some(i) = &self.interface {
            write!(f, " of {i}")?;
        }
        write!(f, ": {}: {}", self.construct, self.reason)
    }
}

/// A problem with the derivation as a whole.
#[derive(Clone, Debug)]
pub struct DeriveError(pub String);

impl fmt::Display for DeriveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeriveError {}

/// One derived `(@interface func)`.
struct FuncText {
    module: String,
    text: String,
    used: Use,
    core: CoreFunc,
    memory: bool,
}

/// Derives WITX for every import of `wit`.
pub fn derive(wit: &WitModel) -> Result<Derivation, DeriveError> {
    let mut types = Types::new(&wit.resolve);
    let mut modules: Vec<String> = Vec::new();
    for f in &wit.model.imports {
        let module = f.module.clone().unwrap_or_default();
        if !names::is_id(&module) {
            return Err(DeriveError(format!(
                "core module {module:?} cannot be a WITX module name (a WITX identifier); choose another with --module"
            )));
        }
        if !modules.contains(&module) {
            types.names.reserve(&module);
            modules.push(module);
        }
    }

    let mut derived = Vec::new();
    let mut functions = Vec::new();
    let mut failures = Vec::new();
    for (core, item) in wit.model.imports.iter().zip(&wit.import_items) {
        let fail = |r: Reject| Failure {
            function: core.source_name.clone(),
            interface: core.source_interface.clone(),
            construct: r.construct,
            reason: r.reason,
        };
        let result = function(wit, &mut types, core, item).and_then(|f| {
            verify(&types, &f)?;
            Ok(f)
        });
        match result {
            Ok(f) => {
                functions.push(DerivedFunction {
                    name: core.source_name.clone(),
                    interface: core.source_interface.clone(),
                    lowerings: f.used.notes.clone(),
                });
                derived.push(f);
            }
            Err(r) => failures.push(fail(r)),
        }
    }

    let text = document(wit, &types, &modules, &derived);
    // The whole document, parsed back, must be what the WIT says.
    let parsed = witx::parse("derived.witx", &text)
        .map_err(|e| DeriveError(format!("the derived WITX does not parse: {}", e.message)))?;
    let expected = Model {
        origin: wit.model.origin.clone(),
        imports: derived.iter().map(|f| f.core.clone()).collect(),
        exports: Vec::new(),
    };
    let report = check(&expected, &parsed);
    if !report.is_equivalent() {
        return Err(DeriveError(format!(
            "the derived WITX is not equivalent to the WIT:\n{report}"
        )));
    }
    Ok(Derivation {
        text,
        functions,
        failures,
    })
}

/// Parses one function's WITX with the definitions it uses and compares it
/// with the WIT model.
fn verify(types: &Types, f: &FuncText) -> Result<(), Reject> {
    let mut text = String::new();
    for idx in &f.used.defs {
        text.push_str(&types.defs[*idx].text);
    }
    text.push_str(&module_text(&f.module, std::slice::from_ref(&f)));
    let parsed = witx::parse("derived.witx", &text).map_err(|e| Reject {
        construct: "the derived WITX".to_string(),
        reason: format!("witx rejects it: {}", e.message),
    })?;
    let expected = Model {
        origin: String::new(),
        imports: vec![f.core.clone()],
        exports: Vec::new(),
    };
    let report = check(&expected, &parsed);
    if report.is_equivalent() {
        return Ok(());
    }
    Err(Reject {
        construct: "memory layout".to_string(),
        reason: format!(
            "no ABI-identical WITX form: {}",
            report
                .differences
                .iter()
                .map(|d| d.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    })
}

fn function(
    wit: &WitModel,
    types: &mut Types,
    core: &CoreFunc,
    item: &WitItem,
) -> Result<FuncText, Reject> {
    let module = core.module.clone().unwrap_or_default();
    let mut used = Use::default();
    let mut params: Vec<(String, String)> = Vec::new();
    let mut scope = Scope::default();
    let mut result: Option<String> = None;
    let mut docs = None;
    let mut memory = core.params.iter().any(|p| p.pointee.is_some());
    match item {
        WitItem::ResourceDrop { resource, .. } => {
            let ty = types.mem(&Type::Id(*resource), &mut used)?;
            params.push((scope.unique("self"), ty));
        }
        WitItem::Function { func, .. } => {
            docs = func.docs.contents.clone();
            check_supported(wit, func)?;
            if core.indirect_params {
                memory = true;
                let fields: Vec<(String, Type)> = func
                    .params
                    .iter()
                    .map(|p| (names::snake(&p.name), p.ty))
                    .collect();
                let helper = format!("{}_params", names::snake(&func.name));
                let record = types.helper_record(&helper, &fields, &mut used)?;
                used.note(format!(
                    "its {} flat parameter values are more than the canonical ABI's 16, so they are passed through a pointer to one record",
                    wit.flat_param_count(func)
                ));
                params.push((
                    scope.unique("params"),
                    format!("(@witx const_pointer {record})"),
                ));
            } else {
                for p in &func.params {
                    let mut lowered = false;
                    param(
                        wit,
                        types,
                        &names::snake(&p.name),
                        &p.ty,
                        &mut scope,
                        &mut params,
                        &mut used,
                        &mut lowered,
                    )?;
                    if lowered {
                        memory = true;
                        used.note(format!(
                            "parameter `{}` is passed as its flattened core values, as the canonical ABI flattens it",
                            p.name
                        ));
                    }
                }
            }
            if let Some(ty) = &func.result {
                if core.retptr {
                    let t = types.mem(ty, &mut used)?;
                    let mut note =
                        "the result is written through a return pointer (the last parameter), as the canonical ABI returns more than one flat value".to_string();
                    if contains_allocation(wit, ty) {
                        note.push_str("; the callee allocates the strings and lists in it");
                    }
                    used.note(note);
                    params.push((scope.unique("result_ptr"), format!("(@witx pointer {t})")));
                } else {
                    result = Some(direct_result(wit, types, ty, &mut used)?);
                }
            }
        }
    }
    let mut text = String::new();
    names::docs(&mut text, "  ", docs.as_deref());
    for note in &used.notes {
        text.push_str(&format!("  ;; Lowered: {note}.\n"));
    }
    text.push_str(&format!(
        "  (@interface func (export {})\n",
        names::string(&core.name)
    ));
    for (name, ty) in &params {
        text.push_str(&format!("    (param ${name} {ty})\n"));
    }
    if let Some(r) = &result {
        text.push_str(&format!("    (result $result {r})\n"));
    }
    text.push_str("  )\n");
    Ok(FuncText {
        module,
        text,
        used,
        core: core.clone(),
        memory,
    })
}

fn check_supported(wit: &WitModel, func: &Function) -> Result<(), Reject> {
    if matches!(
        func.kind,
        wit_parser::FunctionKind::AsyncFreestanding
            | wit_parser::FunctionKind::AsyncMethod(_)
            | wit_parser::FunctionKind::AsyncStatic(_)
    ) {
        return Err(Reject {
            construct: "async func".to_string(),
            reason: "WITX has no async ABI (status codes, subtasks, waitables)".to_string(),
        });
    }
    for ty in func
        .params
        .iter()
        .map(|p| &p.ty)
        .chain(func.result.as_ref())
    {
        if let Some(r) = unsupported(&wit.resolve, ty) {
            return Err(r);
        }
    }
    Ok(())
}

/// Whether a value of `ty` holds a string or list the callee allocates.
fn contains_allocation(wit: &WitModel, ty: &Type) -> bool {
    let resolve = &wit.resolve;
    match ty {
        Type::String => true,
        Type::Id(id) => match &resolve.types[*id].kind {
            TypeDefKind::List(_) | TypeDefKind::Map(..) => true,
            TypeDefKind::Type(t) | TypeDefKind::Option(t) | TypeDefKind::FixedLengthList(t, _) => {
                contains_allocation(wit, t)
            }
            TypeDefKind::Record(r) => r.fields.iter().any(|f| contains_allocation(wit, &f.ty)),
            TypeDefKind::Tuple(t) => t.types.iter().any(|t| contains_allocation(wit, t)),
            TypeDefKind::Variant(v) => v
                .cases
                .iter()
                .any(|c| c.ty.as_ref().is_some_and(|t| contains_allocation(wit, t))),
            TypeDefKind::Result(r) => [r.ok, r.err]
                .iter()
                .flatten()
                .any(|t| contains_allocation(wit, t)),
            _ => false,
        },
        _ => false,
    }
}

/// The WITX type of a core value type, for flattened values.
fn core_name(ty: WasmType) -> &'static str {
    match ty {
        WasmType::I32 | WasmType::Pointer | WasmType::Length => "u32",
        WasmType::I64 | WasmType::PointerOrI64 => "u64",
        WasmType::F32 => "f32",
        WasmType::F64 => "f64",
    }
}

/// Adds the WITX parameters of one WIT parameter: the same type where
/// WITX passes it the way the canonical ABI does, else its flattened core
/// values (`lowered` is set).
#[allow(clippy::too_many_arguments)]
fn param(
    wit: &WitModel,
    types: &mut Types,
    name: &str,
    ty: &Type,
    scope: &mut Scope,
    out: &mut Vec<(String, String)>,
    used: &mut Use,
    lowered: &mut bool,
) -> Result<(), Reject> {
    let resolve = &wit.resolve;
    let flat_count = |ty: &Type| wit.flat(ty).map_or(0, |f| f.len());
    let kind = match underlying(resolve, ty) {
        Type::Bool => {
            // WITX passes its bool as an i32, like the canonical ABI.
            let t = if matches!(ty, Type::Id(_)) {
                types.mem(ty, used)?
            } else {
                "bool".to_string()
            };
            out.push((scope.unique(name), t));
            return Ok(());
        }
        Type::Id(id) => &resolve.types[id].kind,
        _ => {
            out.push((scope.unique(name), types.mem(ty, used)?));
            return Ok(());
        }
    };
    match kind {
        TypeDefKind::List(_)
        | TypeDefKind::Map(..)
        | TypeDefKind::Enum(_)
        | TypeDefKind::Handle(Handle::Own(_) | Handle::Borrow(_)) => {
            out.push((scope.unique(name), types.mem(ty, used)?));
        }
        TypeDefKind::Flags(_) if flat_count(ty) == 1 => {
            out.push((scope.unique(name), types.mem(ty, used)?));
        }
        TypeDefKind::Flags(_) => {
            *lowered = true;
            for i in 0..flat_count(ty) {
                out.push((scope.unique(&format!("{name}_bits{i}")), "u32".to_string()));
            }
        }
        TypeDefKind::Record(r) => {
            *lowered = true;
            for f in &r.fields {
                let n = format!("{name}_{}", names::snake(&f.name));
                param(wit, types, &n, &f.ty, scope, out, used, lowered)?;
            }
        }
        TypeDefKind::Tuple(t) => {
            *lowered = true;
            for (i, t) in t.types.iter().enumerate() {
                param(
                    wit,
                    types,
                    &format!("{name}_{i}"),
                    t,
                    scope,
                    out,
                    used,
                    lowered,
                )?;
            }
        }
        TypeDefKind::FixedLengthList(elem, n) => {
            *lowered = true;
            for i in 0..*n {
                param(
                    wit,
                    types,
                    &format!("{name}_{i}"),
                    elem,
                    scope,
                    out,
                    used,
                    lowered,
                )?;
            }
        }
        TypeDefKind::Variant(_) | TypeDefKind::Option(_) | TypeDefKind::Result(_) => {
            *lowered = true;
            // Check the payloads have a WITX form at all, then pass the
            // discriminant and the joined payload values.
            types.mem(ty, used)?;
            let flat = wit.flat(ty).unwrap_or_default();
            out.push((scope.unique(&format!("{name}_tag")), "u32".to_string()));
            for (i, t) in flat.iter().skip(1).enumerate() {
                out.push((
                    scope.unique(&format!("{name}_payload{i}")),
                    core_name(*t).to_string(),
                ));
            }
        }
        TypeDefKind::Type(_)
        | TypeDefKind::Resource
        | TypeDefKind::Future(_)
        | TypeDefKind::Stream(_)
        | TypeDefKind::Unknown => {
            return Err(unsupported(resolve, ty).unwrap_or(Reject {
                construct: "parameter type".to_string(),
                reason: "it has no WITX form".to_string(),
            }))
        }
    }
    Ok(())
}

/// The WITX result type of a result that is one flat value.
fn direct_result(
    wit: &WitModel,
    types: &mut Types,
    ty: &Type,
    used: &mut Use,
) -> Result<String, Reject> {
    let resolve = &wit.resolve;
    let lowered = |used: &mut Use, what: &str, t: &str| {
        used.note(format!(
            "the {what} result is returned as {t}: WITX returns a variant only as `expected`"
        ));
        t.to_string()
    };
    match underlying(resolve, ty) {
        Type::Bool => Ok(lowered(used, "bool", "u8")),
        Type::Id(id) => match &resolve.types[id].kind {
            TypeDefKind::Enum(e) => Ok(lowered(used, "enum", int_repr(e.tag()))),
            TypeDefKind::Flags(_) | TypeDefKind::Handle(_) => types.mem(ty, used),
            _ => {
                let flat = wit.flat(ty).unwrap_or_default();
                let t = core_name(flat[0]);
                used.note(format!("the result is returned as its one flat value, {t}"));
                Ok(t.to_string())
            }
        },
        _ => types.mem(ty, used),
    }
}

fn module_text(module: &str, funcs: &[&FuncText]) -> String {
    let mut text = format!("(module ${module}\n");
    if funcs.iter().any(|f| f.memory) {
        text.push_str("  (import \"memory\" (memory))\n");
    }
    for f in funcs {
        text.push_str(&f.text);
    }
    text.push_str(")\n");
    text
}

fn document(wit: &WitModel, types: &Types, modules: &[String], funcs: &[FuncText]) -> String {
    let mut text = format!(
        ";; WITX derived from {} by `wasi-threads witx`.\n\
         ;; Every function has the same core-wasm ABI as in the WIT under the\n\
         ;; canonical ABI; a comment on a function says where it was lowered to an\n\
         ;; ABI-identical form because WITX has no equal construct.\n",
        wit.model.origin
    );
    if !wit.model.exports.is_empty() {
        text.push_str(";;\n;; WITX describes imports only; the world also exports:\n");
        for e in &wit.model.exports {
            text.push_str(&format!(";;   {}\n", e.wat()));
        }
    }
    let used: BTreeSet<usize> = funcs
        .iter()
        .flat_map(|f| f.used.defs.iter().copied())
        .collect();
    if !used.is_empty() {
        text.push('\n');
    }
    for idx in used {
        text.push_str(&types.defs[idx].text);
    }
    for module in modules {
        let in_module: Vec<&FuncText> = funcs.iter().filter(|f| &f.module == module).collect();
        if in_module.is_empty() {
            continue;
        }
        text.push('\n');
        text.push_str(&module_text(module, &in_module));
    }
    text
}
