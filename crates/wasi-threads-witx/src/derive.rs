//! Deriving the WITX functions of a WIT model, and checking them.

use std::collections::BTreeSet;
use std::fmt;

use wasi_threads_abi::support::{self, Generator};
use wasi_threads_abi::{
    check, witx, CoreFunc, Meaning, Model, Scalar, Source, ValType, WitItem, WitModel,
};
use wit_parser::Type;

use crate::names::{self, Scope};
use crate::types::{Reject, Types, Use};

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
    /// The core import it derived: the WITX module and function name.
    pub module: String,
    pub core_name: String,
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

/// The imports WITX describes: every one but the `[export]` intrinsics of
/// exported resources, which serve the world's exports (WITX describes
/// imports only).
fn described(wit: &WitModel) -> impl Iterator<Item = (&CoreFunc, &WitItem)> {
    wit.model
        .imports
        .iter()
        .zip(&wit.import_items)
        .filter(|(_, item)| !matches!(item, WitItem::ExportedResource { .. }))
}

/// Derives WITX for every import of `wit`.
pub fn derive(wit: &WitModel) -> Result<Derivation, DeriveError> {
    let mut types = Types::new(&wit.resolve);
    let mut modules: Vec<String> = Vec::new();
    for (f, _) in described(wit) {
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
    for (core, item) in described(wit) {
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
                    module: core.module.clone().unwrap_or_default(),
                    core_name: core.name.clone(),
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
    let memory = core.params.iter().any(|p| {
        matches!(
            p.meaning,
            Meaning::Pointer { .. } | Meaning::Elements { .. } | Meaning::ReturnArea(_)
        )
    });
    support::check_item(&wit.resolve, item, false, Generator::Witx).map_err(|e| Reject {
        construct: e.construct_text(),
        reason: e.reason,
    })?;
    match item {
        WitItem::ResourceDrop { resource, .. } => {
            let ty = types.mem(&Type::Id(*resource), &mut used)?;
            params.push((scope.unique("self"), ty));
        }
        WitItem::ExportedResource { .. } => {
            return Err(Reject {
                construct: "exported resource".into(),
                reason: "WITX describes imports only".into(),
            })
        }
        WitItem::Function { func, .. } => {
            docs = wasi_threads_abi::naming::strip_directives(func.docs.contents.as_deref());
            if core.indirect_params {
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
                    param(
                        wit,
                        types,
                        &p.name,
                        &p.ty,
                        &mut scope,
                        &mut params,
                        &mut used,
                    )?;
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
                    result = direct_result(wit, types, ty, &mut used)?;
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

/// Whether a value of `ty` holds a string or list the callee allocates.
fn contains_allocation(wit: &WitModel, ty: &Type) -> bool {
    fn has_sequence(layout: &wasi_threads_abi::Layout) -> bool {
        use wasi_threads_abi::LayoutKind;
        match &layout.kind {
            LayoutKind::Sequence { .. } => true,
            LayoutKind::Record { fields } => fields.iter().any(|f| has_sequence(&f.layout)),
            LayoutKind::Variant { cases, .. } => cases
                .iter()
                .any(|c| c.payload.as_ref().is_some_and(has_sequence)),
            _ => false,
        }
    }
    has_sequence(&wit.layout(ty))
}

/// The WITX type of a core value type, for joined variant payloads.
fn core_name(ty: ValType) -> &'static str {
    match ty {
        ValType::I32 => "u32",
        ValType::I64 => "u64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
    }
}

/// Adds the WITX parameters of one WIT parameter: the same type where
/// WITX passes it the way the canonical ABI does (scalars, enums, flags,
/// handles, strings and lists), else one WITX parameter per flat core
/// value, each spelled with what that value means.
fn param(
    wit: &WitModel,
    types: &mut Types,
    wit_name: &str,
    ty: &Type,
    scope: &mut Scope,
    out: &mut Vec<(String, String)>,
    used: &mut Use,
) -> Result<(), Reject> {
    let name = names::snake(wit_name);
    let values = wit.flat_values(ty, &name).ok_or_else(|| Reject {
        construct: format!("parameter `{wit_name}`"),
        reason: "it flattens to more core values than the canonical ABI allows".to_string(),
    })?;
    let own = |i: usize| matches!(&values[i].source, Source::Type(t) if t == ty);
    let whole = match values.as_slice() {
        [v] => own(0) && !matches!(v.value.meaning, Meaning::Joined | Meaning::Opaque),
        [v, _] => own(0) && matches!(v.value.meaning, Meaning::Elements { .. }),
        _ => false,
    };
    if whole {
        let t = if *ty == Type::Bool {
            // WITX passes its bool as an i32, like the canonical ABI.
            "bool".to_string()
        } else {
            types.mem(ty, used)?
        };
        out.push((scope.unique(&name), t));
        return Ok(());
    }
    if !values.is_empty() {
        used.note(format!(
            "parameter `{wit_name}` is passed as its flattened core values, as the canonical ABI flattens it"
        ));
    }
    let mut i = 0;
    while i < values.len() {
        let v = &values[i].value;
        let pname = scope.unique(&names::snake(&v.label));
        let t = match (&v.meaning, &values[i].source) {
            (Meaning::Elements { .. }, Source::Type(t)) => {
                // A string or list parameter stands for its pointer and length.
                i += 1;
                types.mem(t, used)?
            }
            (Meaning::Scalar(Scalar::Bool), Source::Type(Type::Bool)) => "bool".to_string(),
            (Meaning::Scalar(_) | Meaning::Handle(_), Source::Type(t)) => types.mem(t, used)?,
            (Meaning::Scalar(_), Source::Discriminant(t)) => types.discriminant(t, used)?,
            (Meaning::Scalar(_), Source::FlagsWord(t, word)) => types.flags_word(t, *word, used)?,
            (Meaning::Joined, _) => core_name(v.ty).to_string(),
            (other, _) => {
                return Err(Reject {
                    construct: format!("parameter `{wit_name}`"),
                    reason: format!("its core value `{}` ({other}) has no WITX form", v.label),
                })
            }
        };
        out.push((pname, t));
        i += 1;
    }
    Ok(())
}

/// The WITX result type of a result that is at most one flat value
/// (`None` when it is none: an empty tuple or record).
fn direct_result(
    wit: &WitModel,
    types: &mut Types,
    ty: &Type,
    used: &mut Use,
) -> Result<Option<String>, Reject> {
    let values = wit.flat_values(ty, "result").unwrap_or_default();
    let [v] = values.as_slice() else {
        if !values.is_empty() {
            return Err(Reject {
                construct: "the result".to_string(),
                reason: "it is more than one flat value but not returned through a pointer"
                    .to_string(),
            });
        }
        used.note(
            "the result has no core value (an empty tuple or record), so the function returns nothing".to_string(),
        );
        return Ok(None);
    };
    let lowered = |used: &mut Use, what: &str, t: &str| {
        used.note(format!(
            "the {what} result is returned as {t}: WITX returns a variant only as `expected`"
        ));
        Some(t.to_string())
    };
    Ok(match (&v.value.meaning, &v.source) {
        (Meaning::Scalar(Scalar::Bool), _) => lowered(used, "bool", "u8"),
        (Meaning::Scalar(Scalar::Enum { tag_bits, .. }), source) => {
            let what = match source {
                Source::Type(_) => "enum",
                _ => "variant",
            };
            lowered(used, what, &format!("u{tag_bits}"))
        }
        (Meaning::Scalar(_) | Meaning::Handle(_), Source::Type(t)) => {
            if t != ty {
                used.note(format!(
                    "the result is returned as its one flat value, {}",
                    support::wit_type(&wit.resolve, t)
                ));
            }
            Some(types.mem(t, used)?)
        }
        (other, _) => {
            return Err(Reject {
                construct: "the result".to_string(),
                reason: format!("its core value ({other}) has no WITX form"),
            })
        }
    })
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
