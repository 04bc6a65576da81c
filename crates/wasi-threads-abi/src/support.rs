//! What each generator supports, decided once, here.
//!
//! Every generator (the WITX derivation, the wasmtime host bindings, the
//! Rust and C guest bindings) asks [`check_item`] before it emits anything
//! for a function; the walk over the function's types is the same for all,
//! and only the table of [`Generator::supports`] differs. A refusal names
//! where in the function the construct is and why it cannot be expressed.

use std::fmt;

use wit_parser::{Function, FunctionKind, Resolve, Type, TypeDefKind};

use crate::wit::WitItem;

/// A consumer of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generator {
    /// The WIT -> WITX derivation.
    Witx,
    /// wasmtime host bindings (Rust).
    Host,
    /// Rust guest bindings.
    Rust,
    /// C guest bindings.
    C,
}

/// A construct some generator may not express.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Construct {
    /// An `async func`.
    Async,
    /// `future<T>`.
    Future,
    /// `stream<T>`.
    Stream,
    /// `error-context`.
    ErrorContext,
    /// `map<K, V>`.
    Map,
    /// `list<T, N>`.
    FixedLengthList,
    /// Flags of more than 64 members.
    WideFlags,
    /// A function of an exported resource (constructor, method, static).
    ExportedResource,
    /// A resource of an interface the world both imports and exports.
    ImportedAndExportedResource,
}

impl Generator {
    /// Whether this generator can express `construct`.
    pub fn supports(self, construct: Construct) -> bool {
        use Construct::*;
        match construct {
            // The async ABI has no core-wasm form without the component
            // model's runtime (tasks, waitables, status codes).
            Async | Future | Stream | ErrorContext => false,
            // WITX writes them as the tuples and lists of (key, value)
            // tuples the canonical ABI lays them out as.
            Map | FixedLengthList => self == Generator::Witx,
            // Rust bindings keep flags in one integer of up to 64 bits.
            WideFlags => matches!(self, Generator::Witx | Generator::C),
            // Every generator binds the `[export]` resource intrinsics (WITX
            // leaves them out: it describes imports only): the host answers
            // them from the guest's handle table, the Rust and C guest
            // bindings call them as wit-bindgen's do.
            ExportedResource => true,
            // The bindings give an interface one set of names (wit-bindgen
            // has a second, `exports::`, for the exported side); WITX has
            // only the imported side.
            ImportedAndExportedResource => self == Generator::Witx,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Generator::Witx => "WITX",
            Generator::Host | Generator::Rust | Generator::C => "the bindings generators",
        }
    }
}

impl Construct {
    fn reason(self, generator: Generator) -> String {
        use Construct::*;
        match self {
            Async => "async functions have no core-wasm ABI without the component model".into(),
            Future | Stream | ErrorContext => format!(
                "{} values have no core-wasm ABI without the component model",
                self.name()
            ),
            Map => format!("maps are not supported by {}", generator.what()),
            FixedLengthList => format!(
                "fixed-length lists are not supported by {}",
                generator.what()
            ),
            WideFlags => format!(
                "flags of more than 64 members are not supported by {}",
                generator.what()
            ),
            ExportedResource => format!(
                "exported resources are not supported by {}",
                generator.what()
            ),
            ImportedAndExportedResource => format!(
                "the world imports and exports the interface that defines this resource, and {} give an interface one set of names, so its imported and exported handles cannot be told apart",
                generator.what()
            ),
        }
    }

    fn name(self) -> &'static str {
        use Construct::*;
        match self {
            Async => "async func",
            Future => "future",
            Stream => "stream",
            ErrorContext => "error-context",
            Map => "map",
            FixedLengthList => "fixed-length list",
            WideFlags => "flags of more than 64 members",
            ExportedResource => "exported resource",
            ImportedAndExportedResource => "resource both imported and exported",
        }
    }
}

/// Why a generator refuses a function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    pub construct: Construct,
    /// Where: `parameter `x``, `the result`, `the function`.
    pub place: String,
    /// The offending type as WIT spells it (`option<error-context>` names
    /// `error-context`); empty for the function itself.
    pub ty: String,
    pub reason: String,
}

impl Unsupported {
    /// `error-context in parameter `x` (option<error-context>)`.
    pub fn construct_text(&self) -> String {
        if self.place == "the function" {
            self.construct.name().to_string()
        } else if self.ty.is_empty() || self.ty == self.construct.name() {
            format!("{} in {}", self.construct.name(), self.place)
        } else {
            format!("{} in {} ({})", self.construct.name(), self.place, self.ty)
        }
    }
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.construct_text(), self.reason)
    }
}

/// The first construct of a model item that `generator` cannot express.
/// `export` tells a function the world exports from one it imports.
pub fn check_item(
    resolve: &Resolve,
    item: &WitItem,
    export: bool,
    generator: Generator,
) -> Result<(), Unsupported> {
    match item {
        WitItem::Function { func, .. } => check_function(resolve, func, export, generator),
        WitItem::ResourceDrop { .. } => Ok(()),
        WitItem::ExportedResource { .. } if generator.supports(Construct::ExportedResource) => {
            Ok(())
        }
        WitItem::ExportedResource { .. } => Err(Unsupported {
            construct: Construct::ExportedResource,
            place: "the function".into(),
            ty: String::new(),
            reason: Construct::ExportedResource.reason(generator),
        }),
    }
}

/// A resource the world both imports and exports (both of the interface
/// that defines it), where `generator` cannot express that: `Err` holds the
/// index in `import_items` of the imported resource's drop, and why.
pub fn check_resource_roles(
    import_items: &[WitItem],
    generator: Generator,
) -> Result<(), (usize, Unsupported)> {
    if generator.supports(Construct::ImportedAndExportedResource) {
        return Ok(());
    }
    for (index, item) in import_items.iter().enumerate() {
        let WitItem::ResourceDrop { resource, .. } = item else {
            continue;
        };
        let exported = import_items.iter().any(
            |other| matches!(other, WitItem::ExportedResource { resource: r, .. } if r == resource),
        );
        if exported {
            let construct = Construct::ImportedAndExportedResource;
            return Err((
                index,
                Unsupported {
                    construct,
                    place: "the function".into(),
                    ty: String::new(),
                    reason: construct.reason(generator),
                },
            ));
        }
    }
    Ok(())
}

/// The first construct of `func` that `generator` cannot express.
pub fn check_function(
    resolve: &Resolve,
    func: &Function,
    export: bool,
    generator: Generator,
) -> Result<(), Unsupported> {
    let refuse = |construct: Construct, place: String, ty: String| Unsupported {
        construct,
        place,
        ty,
        reason: construct.reason(generator),
    };
    if matches!(
        func.kind,
        FunctionKind::AsyncFreestanding
            | FunctionKind::AsyncMethod(_)
            | FunctionKind::AsyncStatic(_)
    ) && !generator.supports(Construct::Async)
    {
        return Err(refuse(
            Construct::Async,
            "the function".into(),
            String::new(),
        ));
    }
    if export
        && !matches!(
            func.kind,
            FunctionKind::Freestanding | FunctionKind::AsyncFreestanding
        )
        && !generator.supports(Construct::ExportedResource)
    {
        return Err(refuse(
            Construct::ExportedResource,
            "the function".into(),
            String::new(),
        ));
    }
    let places = func
        .params
        .iter()
        .map(|p| (format!("parameter `{}`", p.name), &p.ty))
        .chain(func.result.iter().map(|t| ("the result".to_string(), t)));
    for (place, ty) in places {
        if let Some(construct) = first_unsupported(resolve, ty, generator, 0) {
            return Err(refuse(construct, place, wit_type(resolve, ty)));
        }
    }
    Ok(())
}

/// The first construct inside a type the generator cannot express: a
/// generator leaves out the definitions of such types (no function that
/// uses them is bound).
pub fn unsupported_in_type(
    resolve: &Resolve,
    ty: &Type,
    generator: Generator,
) -> Option<Construct> {
    first_unsupported(resolve, ty, generator, 0)
}

/// The first construct inside `ty` the generator cannot express.
fn first_unsupported(
    resolve: &Resolve,
    ty: &Type,
    generator: Generator,
    depth: usize,
) -> Option<Construct> {
    let check = |c: Construct| (!generator.supports(c)).then_some(c);
    // WIT types are not recursive; the bound only guards a malformed
    // resolve.
    if depth > resolve.types.len() {
        return None;
    }
    let inner = |t: &Type| first_unsupported(resolve, t, generator, depth + 1);
    match ty {
        Type::ErrorContext => check(Construct::ErrorContext),
        Type::Id(id) => match &resolve.types[*id].kind {
            TypeDefKind::Future(t) => {
                check(Construct::Future).or_else(|| t.as_ref().and_then(inner))
            }
            TypeDefKind::Stream(t) => {
                check(Construct::Stream).or_else(|| t.as_ref().and_then(inner))
            }
            TypeDefKind::Map(k, v) => check(Construct::Map)
                .or_else(|| inner(k))
                .or_else(|| inner(v)),
            TypeDefKind::FixedLengthList(t, _) => {
                check(Construct::FixedLengthList).or_else(|| inner(t))
            }
            TypeDefKind::Flags(f) if f.flags.len() > 64 => check(Construct::WideFlags),
            TypeDefKind::Type(t) | TypeDefKind::List(t) | TypeDefKind::Option(t) => inner(t),
            TypeDefKind::Record(r) => r.fields.iter().find_map(|f| inner(&f.ty)),
            TypeDefKind::Tuple(t) => t.types.iter().find_map(inner),
            TypeDefKind::Variant(v) => v.cases.iter().find_map(|c| c.ty.as_ref().and_then(inner)),
            TypeDefKind::Result(r) => {
                r.ok.as_ref()
                    .and_then(inner)
                    .or_else(|| r.err.as_ref().and_then(inner))
            }
            TypeDefKind::Flags(_)
            | TypeDefKind::Enum(_)
            | TypeDefKind::Handle(_)
            | TypeDefKind::Resource
            | TypeDefKind::Unknown => None,
        },
        _ => None,
    }
}

/// A type as WIT spells it: its name if it has one, else its structure.
pub fn wit_type(resolve: &Resolve, ty: &Type) -> String {
    wit_type_at(resolve, ty, 0)
}

fn wit_type_at(resolve: &Resolve, ty: &Type, depth: usize) -> String {
    let name = |t: &Type| wit_type_at(resolve, t, depth + 1);
    let opt = |t: &Option<Type>| t.as_ref().map_or("_".to_string(), name);
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
        Type::ErrorContext => "error-context".into(),
        Type::Id(id) => {
            let def = &resolve.types[*id];
            if let Some(n) = &def.name {
                return n.clone();
            }
            if depth > resolve.types.len() {
                return "...".into();
            }
            match &def.kind {
                TypeDefKind::List(t) => format!("list<{}>", name(t)),
                TypeDefKind::FixedLengthList(t, n) => format!("list<{}, {n}>", name(t)),
                TypeDefKind::Map(k, v) => format!("map<{}, {}>", name(k), name(v)),
                TypeDefKind::Option(t) => format!("option<{}>", name(t)),
                TypeDefKind::Result(r) => match (&r.ok, &r.err) {
                    (None, None) => "result".into(),
                    (ok, err) => format!("result<{}, {}>", opt(ok), opt(err)),
                },
                TypeDefKind::Tuple(t) => format!(
                    "tuple<{}>",
                    t.types.iter().map(name).collect::<Vec<_>>().join(", ")
                ),
                TypeDefKind::Future(t) => match t {
                    Some(t) => format!("future<{}>", name(t)),
                    None => "future".into(),
                },
                TypeDefKind::Stream(t) => match t {
                    Some(t) => format!("stream<{}>", name(t)),
                    None => "stream".into(),
                },
                TypeDefKind::Handle(wit_parser::Handle::Own(r)) => {
                    format!("own<{}>", name(&Type::Id(*r)))
                }
                TypeDefKind::Handle(wit_parser::Handle::Borrow(r)) => {
                    format!("borrow<{}>", name(&Type::Id(*r)))
                }
                TypeDefKind::Type(t) => name(t),
                other => other.as_str().to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn func(wit: &str) -> (Resolve, Function) {
        let mut resolve = Resolve::default();
        let pkg = resolve.push_str("t.wit", wit).unwrap();
        let iface = resolve.packages[pkg].interfaces["i"];
        let func = resolve.interfaces[iface].functions["f"].clone();
        (resolve, func)
    }

    #[test]
    fn nested_constructs_are_found_and_named() {
        let (r, f) = func("package t:t; interface i { f: func(x: option<error-context>); }");
        let e = check_function(&r, &f, false, Generator::Rust).unwrap_err();
        assert_eq!(
            e.to_string(),
            "error-context in parameter `x` (option<error-context>): error-context values have no core-wasm ABI without the component model"
        );
        let (r, f) = func("package t:t; interface i { f: func() -> list<map<string, u32>>; }");
        assert!(check_function(&r, &f, false, Generator::Witx).is_ok());
        let e = check_function(&r, &f, false, Generator::C).unwrap_err();
        assert_eq!(e.construct, Construct::Map);
        assert_eq!(e.place, "the result");
        assert_eq!(e.ty, "list<map<string, u32>>");
    }

    #[test]
    fn the_table_differs_only_where_generators_do() {
        for g in [
            Generator::Witx,
            Generator::Host,
            Generator::Rust,
            Generator::C,
        ] {
            assert!(!g.supports(Construct::Async));
            assert!(!g.supports(Construct::ErrorContext));
        }
        assert!(Generator::C.supports(Construct::WideFlags));
        assert!(!Generator::Host.supports(Construct::WideFlags));
    }
}
