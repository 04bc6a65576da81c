//! Rust bindings: the types of a world in Rust, shared by the wasmtime host
//! glue ([`host`]) and the guest glue ([`guest`]).
//!
//! Every interface becomes a module `namespace::package::interface`, as
//! `wasmtime::component::bindgen!` lays them out; the world's own types and
//! functions sit at the root, beside an `_rt` module of support code.

pub(crate) mod func;
pub(crate) mod guest;
pub(crate) mod host;

use std::collections::BTreeMap;
use std::fmt::Write;

use heck::{ToSnakeCase, ToUpperCamelCase};
use wit_parser::{
    Docs, Function, FunctionKind, Handle, InterfaceId, Resolve, Type, TypeDefKind, TypeId,
    TypeOwner,
};

use wasi_threads_abi::{WitItem, WitModel};

/// Which side of the ABI the code is for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Side {
    Host,
    Guest,
}

/// The module tree of the generated code.
#[derive(Default)]
pub(crate) struct ModTree {
    pub body: String,
    pub children: BTreeMap<String, ModTree>,
}

impl ModTree {
    pub fn at(&mut self, path: &[String]) -> &mut ModTree {
        let mut node = self;
        for part in path {
            node = node.children.entry(part.clone()).or_default();
        }
        node
    }

    /// Renders the tree, with `allow` (lint allowances) on every module.
    pub fn render(&self, allow: &str, out: &mut String) {
        out.push_str(&self.body);
        for (name, child) in &self.children {
            let _ = writeln!(out, "{allow}\npub mod {name} {{");
            // Nested modules inherit the allowances.
            child.render("", out);
            out.push_str("}\n");
        }
    }
}

/// The runtime crate of host bindings, by its absolute path.
pub(crate) const HOST_RT: &str = "::wasi_threads_bindgen_rt";

/// What the generators share about a world: the resolve, and where every
/// interface's module is.
pub(crate) struct RustGen<'a> {
    pub wm: &'a WitModel,
    pub side: Side,
    /// Options of host bindings (`None` for guests).
    pub host: Option<&'a crate::HostOptions>,
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// A WIT name as a Rust value or function name.
pub(crate) fn snake(name: &str) -> String {
    let s = name.to_snake_case();
    if KEYWORDS.contains(&s.as_str()) {
        format!("{s}_")
    } else {
        s
    }
}

/// A WIT name as a Rust type or case name.
pub(crate) fn camel(name: &str) -> String {
    let s = name.to_upper_camel_case();
    if KEYWORDS.contains(&s.as_str()) {
        format!("{s}_")
    } else {
        s
    }
}

/// Doc comments from WIT docs, without their directive lines.
pub(crate) fn docs(out: &mut String, docs: &Docs) {
    if let Some(text) = wasi_threads_abi::naming::strip_directives(docs.contents.as_deref()) {
        for line in text.lines() {
            let _ = writeln!(out, "/// {line}");
        }
    }
}

impl<'a> RustGen<'a> {
    pub fn resolve(&self) -> &'a Resolve {
        &self.wm.resolve
    }

    /// The module path of an interface.
    pub fn interface_path(&self, id: InterfaceId) -> Vec<String> {
        let iface = &self.resolve().interfaces[id];
        let name = iface
            .name
            .clone()
            .unwrap_or_else(|| format!("interface{}", id.index()));
        match iface.package {
            Some(p) => {
                let pkg = &self.resolve().packages[p].name;
                vec![snake(&pkg.namespace), snake(&pkg.name), snake(&name)]
            }
            None => vec![snake(&name)],
        }
    }

    /// The path from a module `depth` levels deep to the root.
    pub fn root(depth: usize) -> String {
        "super::".repeat(depth)
    }

    /// The path of a named type, seen from a module `depth` levels deep.
    pub fn type_path(&self, id: TypeId, depth: usize) -> String {
        let def = &self.resolve().types[id];
        let name = camel(def.name.as_deref().unwrap_or("anonymous"));
        let root = Self::root(depth);
        match def.owner {
            TypeOwner::Interface(i) => {
                format!("{root}{}::{name}", self.interface_path(i).join("::"))
            }
            TypeOwner::World(_) | TypeOwner::None => format!("{root}{name}"),
        }
    }

    /// The Rust type of a WIT type. `param` is true for an argument the
    /// guest passes (borrowed handles are references there).
    pub fn ty(&self, ty: &Type, depth: usize, param: bool) -> String {
        let rt = format!("{}_rt", Self::root(depth));
        match ty {
            Type::Bool => "bool".into(),
            Type::U8 => "u8".into(),
            Type::S8 => "i8".into(),
            Type::U16 => "u16".into(),
            Type::S16 => "i16".into(),
            Type::U32 => "u32".into(),
            Type::S32 => "i32".into(),
            Type::U64 => "u64".into(),
            Type::S64 => "i64".into(),
            Type::F32 => "f32".into(),
            Type::F64 => "f64".into(),
            Type::Char => "char".into(),
            Type::String => match self.side {
                Side::Host => "String".into(),
                Side::Guest => format!("{rt}::String"),
            },
            Type::ErrorContext => "()".into(),
            Type::Id(id) => {
                let def = &self.resolve().types[*id];
                if def.name.is_some() {
                    return self.type_path(*id, depth);
                }
                match &def.kind {
                    TypeDefKind::List(t) => {
                        let vec = match self.side {
                            Side::Host => "Vec".to_string(),
                            Side::Guest => format!("{rt}::Vec"),
                        };
                        format!("{vec}<{}>", self.ty(t, depth, false))
                    }
                    TypeDefKind::Option(t) => format!("Option<{}>", self.ty(t, depth, param)),
                    TypeDefKind::Result(r) => format!(
                        "Result<{}, {}>",
                        self.opt_ty(r.ok.as_ref(), depth),
                        self.opt_ty(r.err.as_ref(), depth)
                    ),
                    TypeDefKind::Tuple(t) => {
                        let mut s = String::from("(");
                        for t in &t.types {
                            s.push_str(&self.ty(t, depth, param));
                            s.push_str(", ");
                        }
                        s.push(')');
                        s
                    }
                    TypeDefKind::Handle(h) if self.is_exported_on_host(h) => {
                        self.exported_handle(h, depth)
                    }
                    TypeDefKind::Handle(Handle::Own(r)) => self.resource(*r, depth),
                    TypeDefKind::Handle(Handle::Borrow(r))
                        if self.side == Side::Guest && self.exported_resource_id(*r).is_some() =>
                    {
                        self.exported_borrow(*r, depth)
                    }
                    TypeDefKind::Handle(Handle::Borrow(r)) => match self.side {
                        Side::Guest if param => format!("&{}", self.resource(*r, depth)),
                        _ => self.resource(*r, depth),
                    },
                    TypeDefKind::Type(t) => self.ty(t, depth, param),
                    _ => "()".into(),
                }
            }
        }
    }

    fn opt_ty(&self, ty: Option<&Type>, depth: usize) -> String {
        ty.map_or_else(|| "()".to_string(), |t| self.ty(t, depth, false))
    }

    /// A resource handle: `_rt::Resource<R>` on the host (the host owns the
    /// table), the resource's own type in the guest.
    fn resource(&self, r: TypeId, depth: usize) -> String {
        let path = self.type_path(r, depth);
        match self.side {
            Side::Host => format!("{HOST_RT}::Resource<{path}>"),
            Side::Guest => path,
        }
    }

    /// Whether the guest exports any resource.
    pub fn has_exported_resources(&self) -> bool {
        self.wm
            .import_items
            .iter()
            .any(|item| matches!(item, WitItem::ExportedResource { .. }))
    }

    /// Whether resource `r` is one the guest exports: its handles live in
    /// the guest's table, answered by the host's `[export]` intrinsics.
    pub fn is_exported_resource(&self, r: TypeId) -> bool {
        self.exported_resource_id(r).is_some()
    }

    /// An exported resource's interface (as the model's `[export]` module
    /// names it) and its destructor export; `r` may name it through `use`
    /// or a type alias.
    pub fn exported_resource(&self, r: TypeId) -> Option<(&'a str, &'a str)> {
        let r = self.exported_resource_id(r)?;
        let interface = self
            .wm
            .import_items
            .iter()
            .zip(&self.wm.model.imports)
            .find_map(|(item, core)| match item {
                WitItem::ExportedResource { resource, .. } if *resource == r => {
                    let module = core.module.as_deref().unwrap_or_default();
                    Some(module.strip_prefix("[export]").unwrap_or(module))
                }
                _ => None,
            })?;
        let dtor = self
            .wm
            .export_items
            .iter()
            .zip(&self.wm.model.exports)
            .find_map(|(item, core)| match item {
                WitItem::ExportedResource { resource, .. } if *resource == r => {
                    Some(core.name.as_str())
                }
                _ => None,
            })?;
        Some((interface, dtor))
    }

    /// Whether `h` is, in host code, a handle to a resource the guest
    /// exports.
    fn is_exported_on_host(&self, h: &Handle) -> bool {
        let (Handle::Own(r) | Handle::Borrow(r)) = h;
        self.side == Side::Host && self.is_exported_resource(*r)
    }

    /// A handle to an exported resource in host code: an owned
    /// `GuestResource`, or a `GuestBorrow` lent to the guest.
    fn exported_handle(&self, h: &Handle, depth: usize) -> String {
        match h {
            Handle::Own(r) => format!("{HOST_RT}::GuestResource<{}>", self.type_path(*r, depth)),
            Handle::Borrow(r) => format!("{HOST_RT}::GuestBorrow<{}>", self.type_path(*r, depth)),
        }
    }

    /// Whether values of a type own a guest resource (and so are neither
    /// `Clone` nor comparable in guest code).
    /// On the host, an owned handle to a resource the guest exports (a
    /// `GuestResource`) is such a value.
    fn has_guest_resource(&self, ty: &Type) -> bool {
        let Type::Id(id) = ty else { return false };
        match &self.resolve().types[*id].kind {
            TypeDefKind::Handle(Handle::Own(r)) if self.side == Side::Host => {
                self.is_exported_resource(*r)
            }
            _ if self.side == Side::Host && !self.has_exported_resources() => false,
            TypeDefKind::Handle(_) | TypeDefKind::Resource => self.side == Side::Guest,
            TypeDefKind::Record(r) => r.fields.iter().any(|f| self.has_guest_resource(&f.ty)),
            TypeDefKind::Tuple(t) => t.types.iter().any(|t| self.has_guest_resource(t)),
            TypeDefKind::Variant(v) => v
                .cases
                .iter()
                .any(|c| c.ty.as_ref().is_some_and(|t| self.has_guest_resource(t))),
            TypeDefKind::Option(t) | TypeDefKind::List(t) | TypeDefKind::Type(t) => {
                self.has_guest_resource(t)
            }
            TypeDefKind::Result(r) => {
                r.ok.iter()
                    .chain(r.err.iter())
                    .any(|t| self.has_guest_resource(t))
            }
            _ => false,
        }
    }

    /// Emits the definition of a named type into a module `depth` deep.
    /// `drop` is the core import that drops a guest's resource handle.
    pub fn define_type(
        &self,
        out: &mut String,
        id: TypeId,
        depth: usize,
        drop: Option<(&str, &str)>,
    ) {
        let def = &self.resolve().types[id];
        let Some(wit_name) = def.name.as_deref() else {
            return;
        };
        // A type the bindings cannot express is left out: every function
        // that uses it was refused.
        let generator = match self.side {
            Side::Host => wasi_threads_abi::Generator::Host,
            Side::Guest => wasi_threads_abi::Generator::Rust,
        };
        if wasi_threads_abi::support::unsupported_in_type(self.resolve(), &Type::Id(id), generator)
            .is_some()
        {
            return;
        }
        let name = camel(wit_name);
        // `with`: the user's type stands for this one.
        if let Some(path) = self.with_type(id) {
            docs(out, &def.docs);
            let _ = writeln!(out, "pub use {} as {name};", user_path(&path, depth));
            return;
        }
        let derive = if self.has_guest_resource(&Type::Id(id)) {
            "#[derive(Debug)]".to_string()
        } else {
            self.derive(&["Clone", "Debug", "PartialEq"])
        };
        match &def.kind {
            TypeDefKind::Record(r) => {
                docs(out, &def.docs);
                let _ = writeln!(out, "{derive}\npub struct {name} {{");
                for f in &r.fields {
                    docs(out, &f.docs);
                    let _ = writeln!(
                        out,
                        "pub {}: {},",
                        snake(&f.name),
                        self.ty(&f.ty, depth, false)
                    );
                }
                out.push_str("}\n");
            }
            TypeDefKind::Variant(v) => {
                docs(out, &def.docs);
                let _ = writeln!(out, "{derive}\npub enum {name} {{");
                for c in &v.cases {
                    docs(out, &c.docs);
                    match &c.ty {
                        Some(t) => {
                            let _ =
                                writeln!(out, "{}({}),", camel(&c.name), self.ty(t, depth, false));
                        }
                        None => {
                            let _ = writeln!(out, "{},", camel(&c.name));
                        }
                    }
                }
                out.push_str("}\n");
            }
            TypeDefKind::Enum(e) => {
                docs(out, &def.docs);
                let repr = match e.tag() {
                    wit_parser::Int::U8 => "u8",
                    wit_parser::Int::U16 => "u16",
                    wit_parser::Int::U32 => "u32",
                    wit_parser::Int::U64 => "u64",
                };
                let _ = writeln!(
                    out,
                    "#[repr({repr})]\n{}\npub enum {name} {{",
                    self.derive(&["Clone", "Copy", "Debug", "PartialEq", "Eq", "Hash"])
                );
                for c in &e.cases {
                    docs(out, &c.docs);
                    let _ = writeln!(out, "{},", camel(&c.name));
                }
                out.push_str("}\n");
            }
            TypeDefKind::Flags(f) => {
                docs(out, &def.docs);
                let repr = flags_repr(f.flags.len());
                let _ = writeln!(
                    out,
                    "{}\npub struct {name} {{\nbits: {repr},\n}}",
                    self.derive(&[
                        "Clone",
                        "Copy",
                        "Debug",
                        "PartialEq",
                        "Eq",
                        "Hash",
                        "Default"
                    ])
                );
                let _ = writeln!(out, "impl {name} {{");
                for (i, flag) in f.flags.iter().enumerate() {
                    docs(out, &flag.docs);
                    let _ = writeln!(
                        out,
                        "pub const {}: Self = Self {{ bits: 1 << {i} }};",
                        flag.name.to_snake_case().to_uppercase()
                    );
                }
                let all = if f.flags.len() == 64 {
                    format!("{repr}::MAX")
                } else {
                    format!("(1 << {}) - 1", f.flags.len())
                };
                let _ = writeln!(
                    out,
                    "/// No flag set.
pub const fn empty() -> Self {{ Self {{ bits: 0 }} }}
/// Every flag set.
pub const fn all() -> Self {{ Self {{ bits: {all} }} }}
/// The flags as bits, the first flag lowest.
pub const fn bits(&self) -> {repr} {{ self.bits }}
/// The flags of `bits`, ignoring bits no flag has.
pub const fn from_bits_truncate(bits: {repr}) -> Self {{ Self {{ bits: bits & Self::all().bits }} }}
/// Whether every flag of `other` is set.
pub const fn contains(&self, other: Self) -> bool {{ self.bits & other.bits == other.bits }}
}}
impl core::ops::BitOr for {name} {{
type Output = Self;
fn bitor(self, other: Self) -> Self {{ Self {{ bits: self.bits | other.bits }} }}
}}"
                );
            }
            TypeDefKind::Resource => {
                docs(out, &def.docs);
                match self.side {
                    Side::Host if self.is_exported_resource(id) => {
                        let (interface, dtor) = self.exported_resource(id).unwrap_or_default();
                        let _ = writeln!(
                            out,
                            "/// A marker for this resource, which the guest exports: the host holds it as a [`{HOST_RT}::GuestResource`], the guest's handles are in a [`{HOST_RT}::GuestResourceTable`].
pub enum {name} {{}}
impl {HOST_RT}::ExportedResource for {name} {{
const INTERFACE: &'static str = {interface:?};
const NAME: &'static str = {wit_name:?};
const DTOR: &'static str = {dtor:?};
}}"
                        );
                    }
                    Side::Host => {
                        let _ = writeln!(
                            out,
                            "/// A marker for handles to this resource: the host keeps the values in a table of its own.\npub enum {name} {{}}"
                        );
                    }
                    Side::Guest => {
                        let _ = writeln!(
                            out,
                            "#[derive(Debug)]
#[repr(transparent)]
pub struct {name} {{
handle: i32,
}}
impl {name} {{
/// Takes ownership of a handle the host gave out.
///
/// # Safety
/// `handle` must be an owned handle to this resource, not used elsewhere.
pub unsafe fn from_handle(handle: i32) -> Self {{ Self {{ handle }} }}
/// The handle, still owned by `self`.
pub fn handle(&self) -> i32 {{ self.handle }}
/// Gives up ownership of the handle, without dropping the resource.
pub fn take_handle(self) -> i32 {{ let handle = self.handle; core::mem::forget(self); handle }}
}}"
                        );
                        if let Some((module, import)) = drop {
                            let _ = writeln!(
                                out,
                                "impl Drop for {name} {{
fn drop(&mut self) {{
#[cfg(target_arch = \"wasm32\")]
#[link(wasm_import_module = {module:?})]
unsafe extern \"C\" {{
#[link_name = {import:?}]
fn drop(_: i32);
}}
#[cfg(not(target_arch = \"wasm32\"))]
unsafe extern \"C\" fn drop(_: i32) {{ unreachable!() }}
unsafe {{ drop(self.handle) }}
}}
}}"
                            );
                        }
                    }
                }
            }
            TypeDefKind::Type(t) => {
                docs(out, &def.docs);
                let _ = writeln!(out, "pub type {name} = {};", self.ty(t, depth, false));
            }
            TypeDefKind::Tuple(_)
            | TypeDefKind::Result(_)
            | TypeDefKind::Handle(_)
            | TypeDefKind::List(_)
            | TypeDefKind::Option(_) => {
                docs(out, &def.docs);
                let _ = writeln!(out, "pub type {name} = {};", self.anonymous(id, depth));
            }
            TypeDefKind::Future(_)
            | TypeDefKind::Stream(_)
            | TypeDefKind::Map(..)
            | TypeDefKind::FixedLengthList(..)
            | TypeDefKind::Unknown => {}
        }
    }

    /// The names `with` and `trappable_error_type` may give type `id`:
    /// `ns:pkg/iface.name` (with or without the version), or a world's
    /// own type by its name.
    pub fn type_keys(&self, id: TypeId) -> Vec<String> {
        let def = &self.resolve().types[id];
        let name = def.name.as_deref().unwrap_or_default();
        match def.owner {
            TypeOwner::Interface(i) => {
                let mut keys = crate::options::lookup_keys(self.resolve(), Some(i), name);
                keys.truncate(2);
                keys
            }
            _ => vec![name.to_string()],
        }
    }

    /// The user's type `with` gives for `id`.
    pub fn with_type(&self, id: TypeId) -> Option<String> {
        let keys = self.type_keys(id);
        self.host?
            .with
            .iter()
            .find(|(k, _)| keys.contains(k))
            .map(|(_, path)| path.clone())
    }

    /// `#[derive(...)]` of `base` and the `additional_derives` not in it.
    fn derive(&self, base: &[&str]) -> String {
        let mut all: Vec<&str> = base.to_vec();
        for extra in self.host.iter().flat_map(|h| &h.additional_derives) {
            if !all.contains(&extra.as_str()) {
                all.push(extra);
            }
        }
        format!("#[derive({})]", all.join(", "))
    }

    /// The structural Rust type of a named type that is a list, option,
    /// result, tuple or handle.
    fn anonymous(&self, id: TypeId, depth: usize) -> String {
        let def = &self.resolve().types[id];
        StructuralRender { gen: self, depth }.kind(&def.kind)
    }

    /// The Rust name of the function's method in traits and wrappers.
    pub fn func_name(&self, func: &Function) -> String {
        match &func.kind {
            FunctionKind::Freestanding | FunctionKind::AsyncFreestanding => snake(&func.name),
            FunctionKind::Method(r)
            | FunctionKind::AsyncMethod(r)
            | FunctionKind::Static(r)
            | FunctionKind::AsyncStatic(r) => format!(
                "{}_{}",
                self.resource_name(*r).to_snake_case(),
                func.item_name().to_snake_case()
            ),
            FunctionKind::Constructor(r) => {
                format!("{}_new", self.resource_name(*r).to_snake_case())
            }
        }
    }

    pub fn resource_name(&self, r: TypeId) -> String {
        self.resolve().types[r].name.clone().unwrap_or_default()
    }

    /// The interfaces whose types the generated code names: those of the
    /// world, and those their types come from.
    pub fn interfaces(&self) -> Vec<InterfaceId> {
        let mut out: Vec<InterfaceId> = Vec::new();
        let items = self.wm.import_items.iter().chain(&self.wm.export_items);
        for item in items {
            let iface = item.interface();
            if let Some(i) = iface {
                if !out.contains(&i) {
                    out.push(i);
                }
            }
        }
        if let Some(w) = self.wm.world {
            let world = &self.resolve().worlds[w];
            for item in world.imports.values().chain(world.exports.values()) {
                if let wit_parser::WorldItem::Interface { id, .. } = item {
                    if !out.contains(id) {
                        out.push(*id);
                    }
                }
            }
        }
        // Interfaces reached through `use`.
        let mut i = 0;
        while i < out.len() {
            let types: Vec<TypeId> = self.resolve().interfaces[out[i]]
                .types
                .values()
                .copied()
                .collect();
            for t in types {
                self.collect_owners(&Type::Id(t), &mut out);
            }
            i += 1;
        }
        if let Some(w) = self.wm.world {
            for item in self.resolve().worlds[w].imports.values() {
                if let wit_parser::WorldItem::Type { id, .. } = item {
                    self.collect_owners(&Type::Id(*id), &mut out);
                }
            }
        }
        out
    }

    fn collect_owners(&self, ty: &Type, out: &mut Vec<InterfaceId>) {
        let Type::Id(id) = ty else { return };
        let def = &self.resolve().types[*id];
        if let TypeOwner::Interface(i) = def.owner {
            if !out.contains(&i) {
                out.push(i);
            }
        }
        if let TypeDefKind::Type(t) = &def.kind {
            self.collect_owners(t, out);
        }
    }

    /// The world's own named types (those `use`d into it or defined there).
    pub fn world_types(&self) -> Vec<TypeId> {
        let Some(w) = self.wm.world else {
            return Vec::new();
        };
        let world = &self.resolve().worlds[w];
        world
            .imports
            .values()
            .chain(world.exports.values())
            .filter_map(|item| match item {
                wit_parser::WorldItem::Type { id, .. } => Some(*id),
                _ => None,
            })
            .collect()
    }

    /// The resource `r` names (through `use` aliases), if the world
    /// exports it: the guest defines it, the host holds handles to it.
    pub fn exported_resource_id(&self, r: TypeId) -> Option<TypeId> {
        let id = wit_bindgen_core::dealias(self.resolve(), r);
        self.wm.export_items.iter().find_map(|item| match item {
            WitItem::ExportedResource { resource, .. } if *resource == id => Some(id),
            _ => None,
        })
    }

    /// A guest's borrow of a resource it exports: `RBorrow<'_>`, built from
    /// the representation, as wit-bindgen names it.
    pub fn exported_borrow(&self, r: TypeId, depth: usize) -> String {
        let id = self.exported_resource_id(r).unwrap_or(r);
        format!("{}Borrow<'_>", self.type_path(id, depth))
    }

    /// The core import that drops handles of resource `r`, if imported.
    pub fn drop_import(&self, r: TypeId) -> Option<(&'a str, &'a str)> {
        self.wm
            .import_items
            .iter()
            .zip(&self.wm.model.imports)
            .find_map(|(item, core)| match item {
                WitItem::ResourceDrop { resource, .. } if *resource == r => Some((
                    core.module.as_deref().unwrap_or_default(),
                    core.name.as_str(),
                )),
                _ => None,
            })
    }
}

/// Renders a type definition's kind structurally.
struct StructuralRender<'b, 'a> {
    gen: &'b RustGen<'a>,
    depth: usize,
}

impl StructuralRender<'_, '_> {
    fn kind(&mut self, kind: &TypeDefKind) -> String {
        let g = self.gen;
        let d = self.depth;
        let rt = format!("{}_rt", RustGen::root(d));
        match kind {
            TypeDefKind::List(t) => match g.side {
                Side::Host => format!("Vec<{}>", g.ty(t, d, false)),
                Side::Guest => format!("{rt}::Vec<{}>", g.ty(t, d, false)),
            },
            TypeDefKind::Option(t) => format!("Option<{}>", g.ty(t, d, false)),
            TypeDefKind::Result(r) => format!(
                "Result<{}, {}>",
                g.opt_ty(r.ok.as_ref(), d),
                g.opt_ty(r.err.as_ref(), d)
            ),
            TypeDefKind::Tuple(t) => {
                let mut s = String::from("(");
                for t in &t.types {
                    s.push_str(&g.ty(t, d, false));
                    s.push_str(", ");
                }
                s.push(')');
                s
            }
            TypeDefKind::Handle(h) if g.is_exported_on_host(h) => g.exported_handle(h, d),
            TypeDefKind::Handle(Handle::Borrow(r))
                if g.side == Side::Guest && g.exported_resource_id(*r).is_some() =>
            {
                g.exported_borrow(*r, d)
            }
            TypeDefKind::Handle(Handle::Own(r)) | TypeDefKind::Handle(Handle::Borrow(r)) => {
                g.resource(*r, d)
            }
            TypeDefKind::Type(t) => g.ty(t, d, false),
            _ => "()".into(),
        }
    }
}

/// A path the user gave (`with`, `trappable_error_type`), seen from a
/// module `depth` levels below the invocation: relative paths are relative
/// to the invocation, as in `bindgen!`.
pub(crate) fn user_path(path: &str, depth: usize) -> String {
    if path.starts_with("::") || path.starts_with("crate::") || path.starts_with("$crate::") {
        path.to_string()
    } else {
        format!("{}{path}", RustGen::root(depth))
    }
}

/// The Rust integer that holds a flags value.
pub(crate) fn flags_repr(n: usize) -> &'static str {
    match n {
        0..=8 => "u8",
        9..=16 => "u16",
        17..=32 => "u32",
        _ => "u64",
    }
}
