//! Loading WIT into the model, with wit-parser computing the canonical ABI.
//!
//! Naming, from WIT names to core names, is a rule of this module and is
//! recorded on every [`CoreFunc`] (`source_name` beside `name`):
//! - an imported function keeps its WIT name as the core import name
//!   (`thread-spawn`, `[method]file.read`, `[resource-drop]file`, as
//!   wit-parser's legacy mangling spells them); its core module is the
//!   `module` option, or by default the namespace of the package that
//!   defines the interface (`wasi` for `wasi:threads/thread-spawn`), the
//!   convention WASI preview 1 and wasi-threads use;
//! - a function a world exports is exported under its WIT name in snake
//!   case, the convention of core entry points (`wasi-thread-start` is
//!   exported as `wasi_thread_start`, like `_start` and `cabi_realloc`);
//! - a function of an interface a world exports keeps wit-parser's legacy
//!   export name (`wasi:foo/bar#baz`).

use std::collections::HashMap;
use std::path::Path;

use heck::ToSnakeCase;
use wit_parser::abi::{AbiVariant, FlatTypes, WasmType};
use wit_parser::{
    Function, FunctionKind, Handle, Int, InterfaceId, LiftLowerAbi, ManglingAndAbi, PackageId,
    Resolve, SizeAlign, Type, TypeDefKind, TypeId, WasmExport, WasmExportKind, WasmImport, WorldId,
    WorldItem, WorldKey,
};

use crate::core::ValType;
use crate::error::{LoadError, LoadErrorKind};
use crate::layout::{Case, Field, Layout, LayoutKind};
use crate::model::{CoreFunc, CoreParam, Model, Pointee};

/// What to model from a WIT package.
#[derive(Clone, Debug, Default)]
pub struct WitOptions {
    /// A world of the package; by default its only world, if it has one.
    pub world: Option<String>,
    /// One interface of the package, imported alone (no world).
    pub interface: Option<String>,
    /// The core module of every import, instead of the default rule.
    pub module: Option<String>,
}

/// Where a model function came from in the WIT.
#[derive(Clone, Debug)]
pub enum WitItem {
    /// A WIT function, of an interface or of the world itself.
    Function {
        interface: Option<InterfaceId>,
        func: Box<Function>,
    },
    /// The drop of an imported resource's handle.
    ResourceDrop {
        interface: Option<InterfaceId>,
        resource: TypeId,
    },
}

/// A WIT package together with its model.
pub struct WitModel {
    pub resolve: Resolve,
    pub package: PackageId,
    /// The world modelled, when the model is of a world.
    pub world: Option<WorldId>,
    pub sizes: SizeAlign,
    pub model: Model,
    /// Parallel to `model.imports`.
    pub import_items: Vec<WitItem>,
    /// Parallel to `model.exports`.
    pub export_items: Vec<WitItem>,
}

/// Maximum number of flat values used by the canonical ABI's flattening.
const FLAT_STORAGE: usize = 1024;

impl WitModel {
    /// Loads a WIT file or a directory of WIT files (with `deps/`).
    pub fn load(path: &Path, options: &WitOptions) -> Result<WitModel, LoadError> {
        if let Err(e) = std::fs::metadata(path) {
            return Err(LoadError::new(LoadErrorKind::Io, path, e.to_string()));
        }
        let mut resolve = Resolve::default();
        let (package, _) = resolve
            .push_path(path)
            .map_err(|e| LoadError::new(LoadErrorKind::Parse, path, resolve.render_error(&e)))?;
        WitModel::from_resolve(resolve, package, options)
            .map_err(|message| LoadError::new(LoadErrorKind::Selection, path, message))
    }

    /// Loads WIT source text; `name` stands for the file in messages.
    pub fn parse(name: &str, text: &str, options: &WitOptions) -> Result<WitModel, LoadError> {
        let mut resolve = Resolve::default();
        let package = resolve
            .push_str(name, text)
            .map_err(|e| LoadError::new(LoadErrorKind::Parse, name, resolve.render_error(&e)))?;
        WitModel::from_resolve(resolve, package, options)
            .map_err(|message| LoadError::new(LoadErrorKind::Selection, name, message))
    }

    /// Models a package already resolved.
    pub fn from_resolve(
        resolve: Resolve,
        package: PackageId,
        options: &WitOptions,
    ) -> Result<WitModel, String> {
        let mut sizes = SizeAlign::default();
        sizes.fill(&resolve);
        let mut builder = Builder {
            resolve: &resolve,
            sizes: &sizes,
            module: options.module.clone(),
            model: Model::default(),
            import_items: Vec::new(),
            export_items: Vec::new(),
        };
        let mut world_id = None;
        let pkg = &resolve.packages[package];
        if let Some(name) = &options.interface {
            let id = find_interface(&resolve, package, name)?;
            builder.model.origin =
                format!("WIT interface {}", resolve.id_of(id).unwrap_or_default());
            builder.import_interface(id, WorldKey::Interface(id));
        } else if options.world.is_some() || pkg.worlds.len() == 1 {
            let world = resolve
                .select_world(&[package], options.world.as_deref())
                .map_err(|e| format!("{e:#}"))?;
            builder.model.origin = format!("WIT world {}/{}", pkg.name, resolve.worlds[world].name);
            builder.world(world);
            world_id = Some(world);
        } else if pkg.worlds.is_empty() {
            builder.model.origin = format!("WIT package {}", pkg.name);
            for (_, id) in pkg.interfaces.iter() {
                builder.import_interface(*id, WorldKey::Interface(*id));
            }
        } else {
            let names: Vec<&str> = pkg.worlds.keys().map(|s| s.as_str()).collect();
            return Err(format!(
                "package {} has {} worlds ({}); choose one with --world",
                pkg.name,
                names.len(),
                names.join(", ")
            ));
        }
        builder.check_unique()?;
        let Builder {
            model,
            import_items,
            export_items,
            ..
        } = builder;
        Ok(WitModel {
            resolve,
            package,
            world: world_id,
            sizes,
            model,
            import_items,
            export_items,
        })
    }

    /// The memory layout of a WIT type, as `SizeAlign` computes it.
    pub fn layout(&self, ty: &Type) -> Layout {
        layout_of(&self.resolve, &self.sizes, ty)
    }

    /// The canonical ABI's flat core types of a WIT type (`None` past 1024).
    pub fn flat(&self, ty: &Type) -> Option<Vec<WasmType>> {
        flat_types(&self.resolve, ty)
    }

    /// How many flat core values a function's parameters take.
    pub fn flat_param_count(&self, func: &Function) -> usize {
        func.params
            .iter()
            .map(|p| self.flat(&p.ty).map_or(FLAT_STORAGE, |f| f.len()))
            .sum()
    }
}

fn find_interface(
    resolve: &Resolve,
    package: PackageId,
    name: &str,
) -> Result<InterfaceId, String> {
    let pkg = &resolve.packages[package];
    if let Some(id) = pkg.interfaces.get(name) {
        return Ok(*id);
    }
    if let Some((_, id)) = pkg
        .interfaces
        .iter()
        .find(|(_, id)| resolve.id_of(**id).as_deref() == Some(name))
    {
        return Ok(*id);
    }
    let known: Vec<&str> = pkg.interfaces.keys().map(|s| s.as_str()).collect();
    Err(format!(
        "unknown interface `{name}` in package {} (it has: {})",
        pkg.name,
        if known.is_empty() {
            "no interfaces".to_string()
        } else {
            known.join(", ")
        }
    ))
}

struct Builder<'a> {
    resolve: &'a Resolve,
    sizes: &'a SizeAlign,
    module: Option<String>,
    model: Model,
    import_items: Vec<WitItem>,
    export_items: Vec<WitItem>,
}

impl Builder<'_> {
    fn world(&mut self, world: WorldId) {
        let w = &self.resolve.worlds[world];
        let world_ns = w
            .package
            .map(|p| self.resolve.packages[p].name.namespace.clone())
            .unwrap_or_default();
        for (key, item) in w.imports.iter() {
            match item {
                WorldItem::Interface { id, .. } => self.import_interface(*id, key.clone()),
                WorldItem::Function(func) => {
                    self.import_function(None, &world_ns, func);
                }
                WorldItem::Type { id, .. } => {
                    if matches!(self.resolve.types[*id].kind, TypeDefKind::Resource) {
                        self.import_resource_drop(None, &world_ns, *id);
                    }
                }
            }
        }
        for (key, item) in w.exports.iter() {
            match item {
                WorldItem::Function(func) => self.export_function(None, func),
                WorldItem::Interface { id, .. } => {
                    for func in self.resolve.interfaces[*id].functions.values() {
                        self.export_function(Some((key, *id)), func);
                    }
                }
                WorldItem::Type { .. } => {}
            }
        }
    }

    fn namespace_of(&self, id: InterfaceId) -> String {
        self.resolve.interfaces[id]
            .package
            .map(|p| self.resolve.packages[p].name.namespace.clone())
            .unwrap_or_default()
    }

    /// Imports every function and resource drop of an interface; `key` is
    /// how the world names it (`WorldKey::Name` for an inline interface).
    fn import_interface(&mut self, id: InterfaceId, key: WorldKey) {
        let ns = self.namespace_of(id);
        let iface = &self.resolve.interfaces[id];
        for func in iface.functions.values() {
            self.import_function(Some((id, &key)), &ns, func);
        }
        for ty in iface.types.values() {
            if matches!(self.resolve.types[*ty].kind, TypeDefKind::Resource) {
                self.import_resource_drop(Some((id, &key)), &ns, *ty);
            }
        }
    }

    fn module_for(&self, default_ns: &str) -> String {
        self.module
            .clone()
            .unwrap_or_else(|| default_ns.to_string())
    }

    fn interface_name(&self, id: Option<InterfaceId>) -> Option<String> {
        id.map(|id| {
            self.resolve
                .id_of(id)
                .or_else(|| self.resolve.interfaces[id].name.clone())
                .unwrap_or_else(|| "<anonymous interface>".to_string())
        })
    }

    fn import_function(
        &mut self,
        owner: Option<(InterfaceId, &WorldKey)>,
        ns: &str,
        func: &Function,
    ) {
        let interface = owner.map(|(id, _)| id);
        let is_async = is_async(func);
        let abi = if is_async {
            LiftLowerAbi::AsyncCallback
        } else {
            LiftLowerAbi::Sync
        };
        let (_, name) = self.resolve.wasm_import_name(
            ManglingAndAbi::Legacy(abi),
            WasmImport::Func {
                interface: owner.map(|(_, key)| key),
                func,
            },
        );
        let variant = if is_async {
            AbiVariant::GuestImportAsync
        } else {
            AbiVariant::GuestImport
        };
        let core = self.core_func(func, variant, Some(self.module_for(ns)), name, interface);
        self.model.imports.push(core);
        self.import_items.push(WitItem::Function {
            interface,
            func: Box::new(func.clone()),
        });
    }

    fn import_resource_drop(
        &mut self,
        owner: Option<(InterfaceId, &WorldKey)>,
        ns: &str,
        resource: TypeId,
    ) {
        let interface = owner.map(|(id, _)| id);
        let (_, name) = self.resolve.wasm_import_name(
            ManglingAndAbi::Legacy(LiftLowerAbi::Sync),
            WasmImport::ResourceIntrinsic {
                interface: owner.map(|(_, key)| key),
                resource,
                intrinsic: wit_parser::ResourceIntrinsic::ImportedDrop,
            },
        );
        self.model.imports.push(CoreFunc {
            source_name: name.clone(),
            source_interface: self.interface_name(interface),
            module: Some(self.module_for(ns)),
            name,
            params: vec![CoreParam::plain(ValType::I32)],
            results: Vec::new(),
            indirect_params: false,
            retptr: false,
        });
        self.import_items.push(WitItem::ResourceDrop {
            interface,
            resource,
        });
    }

    fn export_function(&mut self, interface: Option<(&WorldKey, InterfaceId)>, func: &Function) {
        let name = match interface {
            None => func.name.to_snake_case(),
            Some((key, _)) => self.resolve.wasm_export_name(
                ManglingAndAbi::Legacy(LiftLowerAbi::Sync),
                WasmExport::Func {
                    interface: Some(key),
                    func,
                    kind: WasmExportKind::Normal,
                },
            ),
        };
        let variant = if is_async(func) {
            AbiVariant::GuestExportAsync
        } else {
            AbiVariant::GuestExport
        };
        let iface = interface.map(|(_, id)| id);
        let core = self.core_func(func, variant, None, name, iface);
        self.model.exports.push(core);
        self.export_items.push(WitItem::Function {
            interface: iface,
            func: Box::new(func.clone()),
        });
    }

    fn core_func(
        &self,
        func: &Function,
        variant: AbiVariant,
        module: Option<String>,
        name: String,
        interface: Option<InterfaceId>,
    ) -> CoreFunc {
        let sig = self.resolve.wasm_signature(variant, func);
        let mut pointees: Vec<Option<Pointee>> = if sig.indirect_params {
            let types: Vec<&Type> = func.params.iter().map(|p| &p.ty).collect();
            vec![Some(Pointee::Value(record_layout(
                self.resolve,
                self.sizes,
                func.params.iter().map(|p| p.name.clone()),
                types,
            )))]
        } else {
            func.params
                .iter()
                .flat_map(|p| flat_pointees(self.resolve, self.sizes, &p.ty))
                .collect()
        };
        if sig.retptr && module.is_some() {
            let area = func
                .result
                .as_ref()
                .map(|ty| layout_of(self.resolve, self.sizes, ty));
            pointees.push(area.map(Pointee::Value));
        }
        pointees.resize(sig.params.len(), None);
        let params = sig
            .params
            .iter()
            .zip(pointees)
            .map(|(ty, pointee)| CoreParam {
                ty: ValType::from(*ty),
                pointee,
            })
            .collect();
        CoreFunc {
            source_name: func.name.clone(),
            source_interface: self.interface_name(interface),
            module,
            name,
            params,
            results: sig.results.iter().map(|t| ValType::from(*t)).collect(),
            indirect_params: sig.indirect_params,
            retptr: sig.retptr,
        }
    }

    fn check_unique(&self) -> Result<(), String> {
        let mut seen: HashMap<(&Option<String>, &str), &CoreFunc> = HashMap::new();
        for f in self.model.imports.iter().chain(&self.model.exports) {
            if let Some(prev) = seen.insert((&f.module, &f.name), f) {
                let owner = |f: &CoreFunc| match &f.source_interface {
                    Some(i) => format!("`{}` of {i}", f.source_name),
                    None => format!("world function `{}`", f.source_name),
                };
                return Err(format!(
                    "{} and {} would both be core {}; model one interface at a time (--interface) or give another --module",
                    owner(prev),
                    owner(f),
                    f.wat()
                ));
            }
        }
        Ok(())
    }
}

fn is_async(func: &Function) -> bool {
    matches!(
        func.kind,
        FunctionKind::AsyncFreestanding
            | FunctionKind::AsyncMethod(_)
            | FunctionKind::AsyncStatic(_)
    )
}

/// The canonical ABI's flat types of `ty`, or `None` past [`FLAT_STORAGE`].
pub(crate) fn flat_types(resolve: &Resolve, ty: &Type) -> Option<Vec<WasmType>> {
    let mut storage = [WasmType::I32; FLAT_STORAGE];
    let mut flat = FlatTypes::new(&mut storage);
    if resolve.push_flat(ty, &mut flat) {
        Some(flat.to_vec())
    } else {
        None
    }
}

/// For each flat value of `ty`, what it points at when it is the pointer
/// of a string or list; `None` for scalars and for joined variant payloads,
/// whose target depends on the case.
fn flat_pointees(resolve: &Resolve, sizes: &SizeAlign, ty: &Type) -> Vec<Option<Pointee>> {
    let count = |ty: &Type| flat_types(resolve, ty).map_or(0, |f| f.len());
    match ty {
        Type::String => vec![Some(Pointee::Elements(text_bytes())), None],
        Type::Id(id) => match &resolve.types[*id].kind {
            TypeDefKind::Type(t) => flat_pointees(resolve, sizes, t),
            TypeDefKind::List(elem) => vec![
                Some(Pointee::Elements(layout_of(resolve, sizes, elem))),
                None,
            ],
            TypeDefKind::Map(k, v) => vec![
                Some(Pointee::Elements(record_layout(
                    resolve,
                    sizes,
                    ["key".to_string(), "value".to_string()],
                    vec![k, v],
                ))),
                None,
            ],
            TypeDefKind::Record(r) => r
                .fields
                .iter()
                .flat_map(|f| flat_pointees(resolve, sizes, &f.ty))
                .collect(),
            TypeDefKind::Tuple(t) => t
                .types
                .iter()
                .flat_map(|t| flat_pointees(resolve, sizes, t))
                .collect(),
            TypeDefKind::FixedLengthList(elem, n) => (0..*n)
                .flat_map(|_| flat_pointees(resolve, sizes, elem))
                .collect(),
            _ => vec![None; count(ty)],
        },
        _ => vec![None; count(ty)],
    }
}

fn text_bytes() -> Layout {
    Layout::int(1)
}

fn int_bytes(int: Int) -> u32 {
    match int {
        Int::U8 => 1,
        Int::U16 => 2,
        Int::U32 => 4,
        Int::U64 => 8,
    }
}

fn size_align(sizes: &SizeAlign, ty: &Type) -> (u32, u32) {
    (
        sizes.size(ty).size_wasm32() as u32,
        sizes.align(ty).align_wasm32() as u32,
    )
}

/// The layout of a record whose fields have the given names and types.
fn record_layout(
    resolve: &Resolve,
    sizes: &SizeAlign,
    names: impl IntoIterator<Item = String>,
    types: Vec<&Type>,
) -> Layout {
    let info = sizes.record(types.iter().copied());
    let fields = sizes
        .field_offsets(types.iter().copied())
        .into_iter()
        .zip(names)
        .map(|((offset, ty), name)| Field {
            name,
            offset: offset.size_wasm32() as u32,
            layout: layout_of(resolve, sizes, ty),
        })
        .collect();
    Layout {
        size: info.size.size_wasm32() as u32,
        align: info.align.align_wasm32() as u32,
        kind: LayoutKind::Record { fields },
    }
}

fn variant_layout<'a>(
    resolve: &Resolve,
    sizes: &SizeAlign,
    (size, align): (u32, u32),
    tag: Int,
    cases: impl IntoIterator<Item = (String, Option<&'a Type>)> + Clone,
) -> Layout {
    let payload_offset = sizes
        .payload_offset(tag, cases.clone().into_iter().map(|(_, t)| t))
        .size_wasm32() as u32;
    Layout {
        size,
        align,
        kind: LayoutKind::Variant {
            discriminant: int_bytes(tag),
            payload_offset,
            cases: cases
                .into_iter()
                .map(|(name, ty)| Case {
                    name,
                    payload: ty.map(|t| layout_of(resolve, sizes, t)),
                })
                .collect(),
        },
    }
}

/// The canonical memory layout of `ty` on wasm32.
pub(crate) fn layout_of(resolve: &Resolve, sizes: &SizeAlign, ty: &Type) -> Layout {
    let (size, align) = size_align(sizes, ty);
    let scalar = |kind| Layout { size, align, kind };
    match ty {
        Type::Bool
        | Type::U8
        | Type::S8
        | Type::U16
        | Type::S16
        | Type::U32
        | Type::S32
        | Type::U64
        | Type::S64
        | Type::Char
        | Type::ErrorContext => scalar(LayoutKind::Int),
        Type::F32 | Type::F64 => scalar(LayoutKind::Float),
        Type::String => scalar(LayoutKind::Sequence {
            element: Box::new(text_bytes()),
            text: true,
        }),
        Type::Id(id) => match &resolve.types[*id].kind {
            TypeDefKind::Type(t) => layout_of(resolve, sizes, t),
            TypeDefKind::Record(r) => record_layout(
                resolve,
                sizes,
                r.fields.iter().map(|f| f.name.clone()),
                r.fields.iter().map(|f| &f.ty).collect(),
            ),
            TypeDefKind::Tuple(t) => record_layout(
                resolve,
                sizes,
                (0..t.types.len()).map(|i| i.to_string()),
                t.types.iter().collect(),
            ),
            TypeDefKind::FixedLengthList(elem, n) => record_layout(
                resolve,
                sizes,
                (0..*n).map(|i| i.to_string()),
                (0..*n).map(|_| elem).collect(),
            ),
            TypeDefKind::List(elem) => scalar(LayoutKind::Sequence {
                element: Box::new(layout_of(resolve, sizes, elem)),
                text: false,
            }),
            TypeDefKind::Map(k, v) => scalar(LayoutKind::Sequence {
                element: Box::new(record_layout(
                    resolve,
                    sizes,
                    ["key".to_string(), "value".to_string()],
                    vec![k, v],
                )),
                text: false,
            }),
            TypeDefKind::Flags(f) => match f.repr() {
                wit_parser::FlagsRepr::U32(n) if n > 1 => record_layout(
                    resolve,
                    sizes,
                    (0..n).map(|i| format!("bits{i}")),
                    (0..n).map(|_| &Type::U32).collect(),
                ),
                _ => scalar(LayoutKind::Int),
            },
            TypeDefKind::Enum(e) => variant_layout(
                resolve,
                sizes,
                (size, align),
                e.tag(),
                e.cases.iter().map(|c| (c.name.clone(), None)),
            ),
            TypeDefKind::Variant(v) => variant_layout(
                resolve,
                sizes,
                (size, align),
                v.tag(),
                v.cases.iter().map(|c| (c.name.clone(), c.ty.as_ref())),
            ),
            TypeDefKind::Option(t) => variant_layout(
                resolve,
                sizes,
                (size, align),
                Int::U8,
                [("none".to_string(), None), ("some".to_string(), Some(t))],
            ),
            TypeDefKind::Result(r) => variant_layout(
                resolve,
                sizes,
                (size, align),
                Int::U8,
                [
                    ("ok".to_string(), r.ok.as_ref()),
                    ("err".to_string(), r.err.as_ref()),
                ],
            ),
            TypeDefKind::Handle(Handle::Own(_) | Handle::Borrow(_))
            | TypeDefKind::Future(_)
            | TypeDefKind::Stream(_)
            | TypeDefKind::Resource
            | TypeDefKind::Unknown => Layout::int(4),
        },
    }
}
