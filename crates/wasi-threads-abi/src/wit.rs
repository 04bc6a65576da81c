//! Loading WIT into the model, with wit-parser computing the canonical ABI.
//!
//! Core names are the canonical ABI's (see [`crate::naming`]): module
//! `ns:pkg/iface@version` and the function's WIT name for imports, `$root`
//! for a world's own functions, the WIT name for a world's exports and
//! `ns:pkg/iface#func` for functions of exported interfaces. A
//! `Core module:` or `Core name:` doc-comment line overrides them; the
//! `module` option overrides every import's module.
//!
//! Every core value gets its [`Meaning`]: the model walks each type as the
//! canonical ABI flattens it, beside wit-parser's own signature, and checks
//! the two agree on every core type.

use std::collections::HashMap;
use std::path::Path;

use wit_parser::abi::{AbiVariant, FlatTypes, WasmType};
use wit_parser::{
    Docs, Function, FunctionKind, Handle, Int, InterfaceId, LiftLowerAbi, ManglingAndAbi,
    PackageId, Resolve, SizeAlign, Type, TypeDefKind, TypeId, TypeOwner, WasmExport,
    WasmExportKind, WasmImport, WorldId, WorldItem, WorldKey,
};

use crate::core::ValType;
use crate::error::{LoadError, LoadErrorKind};
use crate::layout::{Case, Field, Layout, LayoutKind, MAX_CELLS};
use crate::meaning::{HandleType, Meaning, Ownership, Scalar};
use crate::model::{CoreFunc, CoreValue, Model};
use crate::naming;

/// What to model from a WIT package.
#[derive(Clone, Debug, Default)]
pub struct WitOptions {
    /// A package of the resolve other than the main one (one of its
    /// dependencies), by name: `wasi:clocks` or `wasi:clocks@0.2.12`.
    pub package: Option<String>,
    /// A world of the package; by default its only world, if it has one.
    pub world: Option<String>,
    /// One interface of the package, imported alone (no world).
    pub interface: Option<String>,
    /// The core module of every import, instead of the canonical names
    /// and `Core module:` directives.
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
    /// An intrinsic of a resource of an interface the world exports.
    ExportedResource {
        interface: Option<InterfaceId>,
        resource: TypeId,
        intrinsic: Intrinsic,
    },
}

/// The intrinsics through which a guest exports a resource: the host keeps
/// the handles, the guest the representations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Intrinsic {
    /// Import `[export]iface` `[resource-new]r`: a new owned handle for a
    /// representation, `(rep) -> handle`.
    New,
    /// Import `[export]iface` `[resource-rep]r`: the representation behind
    /// one of the guest's handles, `(handle) -> rep`.
    Rep,
    /// Import `[export]iface` `[resource-drop]r`: drops an owned handle; the
    /// host calls the destructor when it was the last.
    Drop,
    /// Export `iface#[dtor]r`: the guest frees a representation, `(rep)`.
    Dtor,
}

impl WitItem {
    /// The interface the item belongs to; `None` for a world's own.
    pub fn interface(&self) -> Option<InterfaceId> {
        match self {
            WitItem::Function { interface, .. }
            | WitItem::ResourceDrop { interface, .. }
            | WitItem::ExportedResource { interface, .. } => *interface,
        }
    }
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
    /// The WIT files read ([`WitModel::load`]; none for source text).
    pub sources: Vec<std::path::PathBuf>,
}

/// One flat core value of a WIT type, and where in the type it comes from.
#[derive(Clone, Debug)]
pub struct FlatValue {
    pub value: CoreValue,
    pub source: Source,
}

/// The part of a WIT type a flat value carries.
#[derive(Clone, Debug)]
pub enum Source {
    /// A value of this type: a scalar, enum, flags of up to 32 members or
    /// handle; for the two values of a pair, the string or list.
    Type(Type),
    /// The discriminant of this variant, option or result.
    Discriminant(Type),
    /// Word `n` of flags of more than 32 members.
    FlagsWord(Type, usize),
    /// A joined variant payload, or a value of no known type.
    Joined,
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
        let (package, sources) = resolve
            .push_path(path)
            .map_err(|e| LoadError::new(LoadErrorKind::Parse, path, resolve.render_error(&e)))?;
        let mut model = WitModel::from_resolve(resolve, package, options)
            .map_err(|message| LoadError::new(LoadErrorKind::Selection, path, message))?;
        model.sources = sources.paths().map(Path::to_path_buf).collect();
        Ok(model)
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

    /// Models a package already resolved (or, with the `package` option,
    /// another package of the resolve).
    pub fn from_resolve(
        resolve: Resolve,
        package: PackageId,
        options: &WitOptions,
    ) -> Result<WitModel, String> {
        let package = match &options.package {
            Some(name) => find_package(&resolve, name)?,
            None => package,
        };
        let mut sizes = SizeAlign::default();
        sizes.fill(&resolve);
        let mut builder = Builder {
            resolve: &resolve,
            sizes: &sizes,
            module: options.module.clone(),
            model: Model::default(),
            import_items: Vec::new(),
            export_items: Vec::new(),
            exported_resources: Vec::new(),
            errors: Vec::new(),
        };
        let mut world_id = None;
        let pkg = &resolve.packages[package];
        if let Some(name) = &options.interface {
            let id = find_interface(&resolve, package, name)?;
            builder.model.origin =
                format!("WIT interface {}", resolve.id_of(id).unwrap_or_default());
            builder.import_interface(id, WorldKey::Interface(id));
        } else if options.world.is_some() || pkg.worlds.len() == 1 {
            let world = match &options.world {
                Some(name) => find_world(&resolve, package, name)?,
                None => resolve
                    .select_world(&[package], None)
                    .map_err(|e| format!("{e:#}"))?,
            };
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
        if let Some(e) = builder.errors.first() {
            return Err(e.clone());
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
            sources: Vec::new(),
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

    /// The flat core values of a WIT type with their meanings, labelled
    /// from `label`, each with the WIT type it comes from (`None` past 1024
    /// values).
    pub fn flat_values(&self, ty: &Type, label: &str) -> Option<Vec<FlatValue>> {
        let mut out = Vec::new();
        Flattener {
            resolve: &self.resolve,
            sizes: &self.sizes,
        }
        .push(ty, label, &mut out)
        .then_some(out)
    }

    /// How many flat core values a function's parameters take.
    pub fn flat_param_count(&self, func: &Function) -> usize {
        func.params
            .iter()
            .map(|p| self.flat(&p.ty).map_or(FLAT_STORAGE, |f| f.len()))
            .sum()
    }
}

fn find_package(resolve: &Resolve, name: &str) -> Result<PackageId, String> {
    let matches: Vec<PackageId> = resolve
        .packages
        .iter()
        .filter(|(_, p)| {
            p.name.to_string() == name || format!("{}:{}", p.name.namespace, p.name.name) == name
        })
        .map(|(id, _)| id)
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => {
            let mut known: Vec<String> = resolve
                .packages
                .iter()
                .map(|(_, p)| p.name.to_string())
                .collect();
            known.sort();
            Err(format!(
                "unknown package `{name}` (the WIT has: {})",
                known.join(", ")
            ))
        }
        many => Err(format!(
            "package `{name}` is ambiguous: {}; give its version",
            many.iter()
                .map(|id| resolve.packages[*id].name.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn find_world(resolve: &Resolve, package: PackageId, name: &str) -> Result<WorldId, String> {
    let pkg = &resolve.packages[package];
    if let Some(id) = pkg.worlds.get(name) {
        return Ok(*id);
    }
    resolve.select_world(&[package], Some(name)).map_err(|_| {
        let known: Vec<&str> = pkg.worlds.keys().map(|s| s.as_str()).collect();
        format!(
            "unknown world `{name}` in package {} (it has: {})",
            pkg.name,
            if known.is_empty() {
                "no worlds".to_string()
            } else {
                known.join(", ")
            }
        )
    })
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
    /// The resources of the interfaces the world exports, by
    /// [`resource_name`]: a `borrow` of one reaches its exporter as a rep.
    exported_resources: Vec<String>,
    errors: Vec<String>,
}

impl Builder<'_> {
    fn world(&mut self, world: WorldId) {
        let w = &self.resolve.worlds[world];
        let world_module =
            self.directive(&w.docs, naming::CORE_MODULE, &format!("world `{}`", w.name));
        for (key, item) in w.imports.iter() {
            match item {
                WorldItem::Interface { id, .. } => self.import_interface(*id, key.clone()),
                WorldItem::Function(func) => {
                    self.import_function(None, world_module.clone(), func);
                }
                WorldItem::Type { id, .. } => {
                    if matches!(self.resolve.types[*id].kind, TypeDefKind::Resource) {
                        self.import_resource_drop(None, world_module.clone(), *id);
                    }
                }
            }
        }
        for item in w.exports.values() {
            if let WorldItem::Interface { id, .. } = item {
                let resources = self.resources(*id);
                self.exported_resources
                    .extend(resources.iter().map(|r| resource_name(self.resolve, *r)));
            }
        }
        for (key, item) in w.exports.iter() {
            match item {
                WorldItem::Function(func) => self.export_function(None, func),
                WorldItem::Interface { id, .. } => {
                    for func in self.resolve.interfaces[*id].functions.values() {
                        self.export_function(Some((key, *id)), func);
                    }
                    for resource in self.resources(*id) {
                        self.exported_resource(key, *id, resource);
                    }
                }
                WorldItem::Type { .. } => {}
            }
        }
    }

    /// The resources an interface defines, in source order.
    fn resources(&self, id: InterfaceId) -> Vec<TypeId> {
        self.resolve.interfaces[id]
            .types
            .values()
            .copied()
            .filter(|ty| matches!(self.resolve.types[*ty].kind, TypeDefKind::Resource))
            .collect()
    }

    /// The `[export]` intrinsics of an exported resource (imports) and its
    /// destructor (an export). Their module is always the canonical one:
    /// the host answers them from its table of the guest's handles, not
    /// from an interface, so the `module` option does not move them.
    fn exported_resource(&mut self, key: &WorldKey, id: InterfaceId, resource: TypeId) {
        let name = resource_name(self.resolve, resource);
        let value = |ownership: Ownership, label: &str| {
            CoreValue::new(
                ValType::I32,
                Meaning::Handle(HandleType {
                    resource: name.clone(),
                    ownership: Some(ownership),
                }),
                label,
            )
        };
        let source_interface = self.interface_name(Some(id));
        for (intrinsic, kind, params, results) in [
            (
                Intrinsic::New,
                wit_parser::ResourceIntrinsic::ExportedNew,
                vec![value(Ownership::Rep, "rep")],
                vec![value(Ownership::Own, "result")],
            ),
            (
                Intrinsic::Rep,
                wit_parser::ResourceIntrinsic::ExportedRep,
                vec![value(Ownership::Own, "self")],
                vec![value(Ownership::Rep, "result")],
            ),
            (
                Intrinsic::Drop,
                wit_parser::ResourceIntrinsic::ExportedDrop,
                vec![value(Ownership::Own, "self")],
                Vec::new(),
            ),
        ] {
            let (module, core_name) = self.resolve.wasm_import_name(
                ManglingAndAbi::Legacy(LiftLowerAbi::Sync),
                WasmImport::ResourceIntrinsic {
                    interface: Some(key),
                    resource,
                    intrinsic: kind,
                },
            );
            self.model.imports.push(CoreFunc {
                source_name: core_name.clone(),
                source_interface: source_interface.clone(),
                module: Some(module),
                name: core_name,
                params,
                results,
                indirect_params: false,
                retptr: false,
            });
            self.import_items.push(WitItem::ExportedResource {
                interface: Some(id),
                resource,
                intrinsic,
            });
        }
        let dtor = self.resolve.wasm_export_name(
            ManglingAndAbi::Legacy(LiftLowerAbi::Sync),
            WasmExport::ResourceDtor {
                interface: key,
                resource,
            },
        );
        let source_name = format!(
            "[dtor]{}",
            self.resolve.types[resource]
                .name
                .as_deref()
                .unwrap_or("resource")
        );
        self.model.exports.push(CoreFunc {
            source_name,
            source_interface,
            module: None,
            name: dtor,
            params: vec![value(Ownership::Rep, "rep")],
            results: Vec::new(),
            indirect_params: false,
            retptr: false,
        });
        self.export_items.push(WitItem::ExportedResource {
            interface: Some(id),
            resource,
            intrinsic: Intrinsic::Dtor,
        });
    }

    /// A directive of some docs; an error in it is recorded against `what`.
    fn directive(&mut self, docs: &Docs, key: &str, what: &str) -> Option<String> {
        match naming::directive(docs.contents.as_deref(), key) {
            Ok(v) => v,
            Err(e) => {
                self.errors.push(format!("{what}: {e}"));
                None
            }
        }
    }

    /// Imports every function and resource drop of an interface; `key` is
    /// how the world names it (`WorldKey::Name` for an inline interface).
    fn import_interface(&mut self, id: InterfaceId, key: WorldKey) {
        let iface = &self.resolve.interfaces[id];
        let what = format!(
            "interface `{}`",
            self.interface_name(Some(id)).unwrap_or_default()
        );
        let module = self.directive(&iface.docs, naming::CORE_MODULE, &what);
        for func in iface.functions.values() {
            self.import_function(Some((id, &key)), module.clone(), func);
        }
        for ty in iface.types.values() {
            if matches!(self.resolve.types[*ty].kind, TypeDefKind::Resource) {
                self.import_resource_drop(Some((id, &key)), module.clone(), *ty);
            }
        }
    }

    /// The core module: the `module` option, else the directive, else the
    /// canonical module.
    fn module_for(&self, directive: Option<String>, canonical: String) -> String {
        self.module.clone().or(directive).unwrap_or(canonical)
    }

    fn interface_name(&self, id: Option<InterfaceId>) -> Option<String> {
        id.map(|id| {
            self.resolve
                .id_of(id)
                .or_else(|| self.resolve.interfaces[id].name.clone())
                .unwrap_or_else(|| "<anonymous interface>".to_string())
        })
    }

    fn function_what(&self, interface: Option<InterfaceId>, func: &Function) -> String {
        match self.interface_name(interface) {
            Some(i) => format!("function `{}` of {i}", func.name),
            None => format!("world function `{}`", func.name),
        }
    }

    fn import_function(
        &mut self,
        owner: Option<(InterfaceId, &WorldKey)>,
        module: Option<String>,
        func: &Function,
    ) {
        let interface = owner.map(|(id, _)| id);
        let is_async = is_async(func);
        let abi = if is_async {
            LiftLowerAbi::AsyncCallback
        } else {
            LiftLowerAbi::Sync
        };
        let (canonical_module, canonical_name) = self.resolve.wasm_import_name(
            ManglingAndAbi::Legacy(abi),
            WasmImport::Func {
                interface: owner.map(|(_, key)| key),
                func,
            },
        );
        let what = self.function_what(interface, func);
        let name = self
            .directive(&func.docs, naming::CORE_NAME, &what)
            .unwrap_or(canonical_name);
        let variant = if is_async {
            AbiVariant::GuestImportAsync
        } else {
            AbiVariant::GuestImport
        };
        let module = self.module_for(module, canonical_module);
        let core = self.core_func(func, variant, Some(module), name, interface);
        self.model.imports.push(core);
        self.import_items.push(WitItem::Function {
            interface,
            func: Box::new(func.clone()),
        });
    }

    fn import_resource_drop(
        &mut self,
        owner: Option<(InterfaceId, &WorldKey)>,
        module: Option<String>,
        resource: TypeId,
    ) {
        let interface = owner.map(|(id, _)| id);
        let (canonical_module, name) = self.resolve.wasm_import_name(
            ManglingAndAbi::Legacy(LiftLowerAbi::Sync),
            WasmImport::ResourceIntrinsic {
                interface: owner.map(|(_, key)| key),
                resource,
                intrinsic: wit_parser::ResourceIntrinsic::ImportedDrop,
            },
        );
        let handle = HandleType {
            resource: resource_name(self.resolve, resource),
            ownership: Some(Ownership::Own),
        };
        self.model.imports.push(CoreFunc {
            source_name: name.clone(),
            source_interface: self.interface_name(interface),
            module: Some(self.module_for(module, canonical_module)),
            name,
            params: vec![CoreValue::new(
                ValType::I32,
                Meaning::Handle(handle),
                "self",
            )],
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
        let canonical = self.resolve.wasm_export_name(
            ManglingAndAbi::Legacy(LiftLowerAbi::Sync),
            WasmExport::Func {
                interface: interface.map(|(key, _)| key),
                func,
                kind: WasmExportKind::Normal,
            },
        );
        let iface = interface.map(|(_, id)| id);
        let what = self.function_what(iface, func);
        let name = self
            .directive(&func.docs, naming::CORE_NAME, &what)
            .unwrap_or(canonical);
        let variant = if is_async(func) {
            AbiVariant::GuestExportAsync
        } else {
            AbiVariant::GuestExport
        };
        let mut core = self.core_func(func, variant, None, name, iface);
        self.borrows_as_reps(&mut core);
        self.model.exports.push(core);
        self.export_items.push(WitItem::Function {
            interface: iface,
            func: Box::new(func.clone()),
        });
    }

    /// The canonical ABI passes a `borrow` of a resource to its exporter
    /// as the resource's rep, at any depth of the parameters.
    fn borrows_as_reps(&self, core: &mut CoreFunc) {
        let exported = &self.exported_resources;
        let mut to_rep = |h: &mut HandleType| {
            if h.ownership == Some(Ownership::Borrow) && exported.contains(&h.resource) {
                h.ownership = Some(Ownership::Rep);
            }
        };
        for value in &mut core.params {
            match &mut value.meaning {
                Meaning::Handle(h) => to_rep(h),
                Meaning::Pointer { target: layout, .. }
                | Meaning::Elements {
                    element: layout, ..
                } => layout.handles_mut(&mut to_rep),
                _ => {}
            }
        }
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
        let param_types: Vec<ValType> = sig.params.iter().map(|t| ValType::from(*t)).collect();
        let result_types: Vec<ValType> = sig.results.iter().map(|t| ValType::from(*t)).collect();
        let flattener = Flattener {
            resolve: self.resolve,
            sizes: self.sizes,
        };
        let sync = matches!(variant, AbiVariant::GuestImport | AbiVariant::GuestExport);
        let mut params: Vec<CoreValue> = Vec::new();
        let flat = |ty: &Type, label: &str, out: &mut Vec<CoreValue>| {
            let mut values = Vec::new();
            flattener.push(ty, label, &mut values);
            out.extend(values.into_iter().map(|v| v.value));
        };
        if sig.indirect_params {
            let types: Vec<&Type> = func.params.iter().map(|p| &p.ty).collect();
            let area = record_layout(
                self.resolve,
                self.sizes,
                func.params.iter().map(|p| p.name.clone()),
                types,
            );
            let meaning = if sync {
                Meaning::Pointer {
                    target: area,
                    writable: false,
                }
            } else {
                Meaning::Opaque
            };
            params.push(CoreValue::new(ValType::I32, meaning, "parameters"));
        } else {
            for p in &func.params {
                flat(&p.ty, &p.name, &mut params);
            }
        }
        let mut results: Vec<CoreValue> = Vec::new();
        let result_area = || {
            func.result.as_ref().map_or(Meaning::Opaque, |ty| {
                Meaning::ReturnArea(layout_of(self.resolve, self.sizes, ty))
            })
        };
        if sync && sig.retptr {
            let area = CoreValue::new(ValType::I32, result_area(), "result");
            if module.is_some() {
                params.push(area);
            } else {
                results.push(area);
            }
        } else if sync {
            if let Some(ty) = &func.result {
                flat(ty, "result", &mut results);
            }
        } else {
            if sig.retptr {
                params.push(CoreValue::new(ValType::I32, result_area(), "result"));
            }
            results = result_types
                .iter()
                .map(|t| CoreValue::new(*t, Meaning::Opaque, "status"))
                .collect();
        }
        // The meanings follow wit-parser's flattening value for value; if
        // they ever did not, the model says it does not know.
        let fit = |values: &mut Vec<CoreValue>, types: &[ValType], label: &str| {
            let same =
                values.len() == types.len() && values.iter().zip(types).all(|(v, t)| v.ty == *t);
            if !same {
                *values = types
                    .iter()
                    .map(|t| CoreValue::new(*t, Meaning::Opaque, label))
                    .collect();
            }
        };
        fit(&mut params, &param_types, "parameter");
        fit(&mut results, &result_types, "result");
        CoreFunc {
            source_name: func.name.clone(),
            source_interface: self.interface_name(interface),
            module,
            name,
            params,
            results,
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
                    "{} and {} would both be core {}; give one of them another name (a `Core name:` or `Core module:` line in its doc comment), or model one interface at a time (--interface)",
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

/// Follows type aliases to the type they name.
fn underlying(resolve: &Resolve, ty: &Type) -> Type {
    let mut ty = *ty;
    for _ in 0..resolve.types.len() + 1 {
        match ty {
            Type::Id(id) => match resolve.types[id].kind {
                TypeDefKind::Type(t) => ty = t,
                _ => break,
            },
            _ => break,
        }
    }
    ty
}

/// How a resource is named on the WIT side of a comparison:
/// `wasi:io/poll@0.2.12#pollable`, `world-name#res` for a world's own, and
/// `world-name/import-name#res` for one of an interface a world declares
/// inline (such interfaces have no name, and two of them may each have a
/// resource of the same name).
pub fn resource_name(resolve: &Resolve, resource: TypeId) -> String {
    let id = match underlying(resolve, &Type::Id(resource)) {
        Type::Id(id) => id,
        _ => resource,
    };
    let def = &resolve.types[id];
    let name = def.name.clone().unwrap_or_else(|| "resource".to_string());
    match def.owner {
        TypeOwner::Interface(i) => {
            let iface = resolve
                .id_of(i)
                .or_else(|| resolve.interfaces[i].name.clone())
                .or_else(|| inline_interface_name(resolve, i))
                .unwrap_or_else(|| format!("interface {}", i.index()));
            format!("{iface}#{name}")
        }
        TypeOwner::World(w) => format!("{}#{name}", resolve.worlds[w].name),
        TypeOwner::None => name,
    }
}

/// `world-name/import-name` for an interface a world declares inline.
fn inline_interface_name(resolve: &Resolve, iface: InterfaceId) -> Option<String> {
    resolve.worlds.iter().find_map(|(_, world)| {
        world
            .imports
            .iter()
            .chain(&world.exports)
            .find_map(|(key, item)| match (key, item) {
                (WorldKey::Name(n), WorldItem::Interface { id, .. }) if *id == iface => {
                    Some(format!("{}/{n}", world.name))
                }
                _ => None,
            })
    })
}

fn int_bits(int: Int) -> u8 {
    match int {
        Int::U8 => 8,
        Int::U16 => 16,
        Int::U32 => 32,
        Int::U64 => 64,
    }
}

/// The meaning of a WIT scalar type (`None` for types that are not one).
fn scalar_of(resolve: &Resolve, ty: &Type) -> Option<Scalar> {
    let int = |bits, signed| Some(Scalar::Int { bits, signed });
    match underlying(resolve, ty) {
        Type::Bool => Some(Scalar::Bool),
        Type::U8 => int(8, false),
        Type::S8 => int(8, true),
        Type::U16 => int(16, false),
        Type::S16 => int(16, true),
        Type::U32 => int(32, false),
        Type::S32 => int(32, true),
        Type::U64 => int(64, false),
        Type::S64 => int(64, true),
        Type::F32 => Some(Scalar::Float { bits: 32 }),
        Type::F64 => Some(Scalar::Float { bits: 64 }),
        Type::Char => Some(Scalar::Char),
        Type::Id(id) => match &resolve.types[id].kind {
            TypeDefKind::Enum(e) => Some(Scalar::Enum {
                cases: e.cases.len() as u32,
                tag_bits: int_bits(e.tag()),
            }),
            TypeDefKind::Flags(f) => match f.repr() {
                wit_parser::FlagsRepr::U8 => Some(Scalar::Flags {
                    members: f.flags.len() as u32,
                    bits: 8,
                }),
                wit_parser::FlagsRepr::U16 => Some(Scalar::Flags {
                    members: f.flags.len() as u32,
                    bits: 16,
                }),
                wit_parser::FlagsRepr::U32(1) => Some(Scalar::Flags {
                    members: f.flags.len() as u32,
                    bits: 32,
                }),
                wit_parser::FlagsRepr::U32(_) => None,
            },
            _ => None,
        },
        Type::String | Type::ErrorContext => None,
    }
}

/// The words of flags of more than 32 members: flags of up to 32 each.
fn flag_words(members: usize, words: usize) -> impl Iterator<Item = Scalar> {
    (0..words).map(move |i| Scalar::Flags {
        members: members.saturating_sub(32 * i).min(32) as u32,
        bits: 32,
    })
}

fn scalar_type(s: Scalar) -> ValType {
    match s {
        Scalar::Int { bits: 64, .. } => ValType::I64,
        Scalar::Float { bits: 32 } => ValType::F32,
        Scalar::Float { .. } => ValType::F64,
        Scalar::Flags { bits: 64, .. } => ValType::I64,
        _ => ValType::I32,
    }
}

fn handle_of(resolve: &Resolve, ty: &Type) -> Option<HandleType> {
    let Type::Id(id) = underlying(resolve, ty) else {
        return match ty {
            Type::ErrorContext => Some(HandleType {
                resource: "error-context".to_string(),
                ownership: Some(Ownership::Own),
            }),
            _ => None,
        };
    };
    let (resource, ownership) = match &resolve.types[id].kind {
        TypeDefKind::Handle(Handle::Own(r)) => (resource_name(resolve, *r), Ownership::Own),
        TypeDefKind::Handle(Handle::Borrow(r)) => (resource_name(resolve, *r), Ownership::Borrow),
        TypeDefKind::Resource => (resource_name(resolve, id), Ownership::Own),
        TypeDefKind::Future(_) => ("future".to_string(), Ownership::Own),
        TypeDefKind::Stream(_) => ("stream".to_string(), Ownership::Own),
        _ => return None,
    };
    Some(HandleType {
        resource,
        ownership: Some(ownership),
    })
}

/// Walks a type as the canonical ABI flattens it, giving each flat value
/// its meaning.
struct Flattener<'a> {
    resolve: &'a Resolve,
    sizes: &'a SizeAlign,
}

impl Flattener<'_> {
    /// Appends the flat values of `ty`; false past [`FLAT_STORAGE`].
    fn push(&self, ty: &Type, label: &str, out: &mut Vec<FlatValue>) -> bool {
        if out.len() > FLAT_STORAGE {
            return false;
        }
        let mut value = |ty: ValType, meaning: Meaning, label: String, source: Source| {
            out.push(FlatValue {
                value: CoreValue::new(ty, meaning, label),
                source,
            })
        };
        if let Some(s) = scalar_of(self.resolve, ty) {
            value(
                scalar_type(s),
                Meaning::Scalar(s),
                label.to_string(),
                Source::Type(*ty),
            );
            return true;
        }
        if let Some(h) = handle_of(self.resolve, ty) {
            value(
                ValType::I32,
                Meaning::Handle(h),
                label.to_string(),
                Source::Type(*ty),
            );
            return true;
        }
        let whole = *ty;
        let ty = underlying(self.resolve, ty);
        let mut pair = |element: Layout, text: bool| {
            value(
                ValType::I32,
                Meaning::Elements { element, text },
                label.to_string(),
                Source::Type(whole),
            );
            value(
                ValType::I32,
                Meaning::Length,
                label.to_string(),
                Source::Type(whole),
            );
            true
        };
        let Type::Id(id) = ty else {
            // Strings are the only non-scalar, non-handle primitive.
            return pair(Layout::byte(), true);
        };
        match &self.resolve.types[id].kind {
            TypeDefKind::List(elem) => pair(layout_of(self.resolve, self.sizes, elem), false),
            TypeDefKind::Map(k, v) => pair(
                record_layout(
                    self.resolve,
                    self.sizes,
                    ["key".to_string(), "value".to_string()],
                    vec![k, v],
                ),
                false,
            ),
            TypeDefKind::Record(r) => r
                .fields
                .iter()
                .all(|f| self.push(&f.ty, &format!("{label}.{}", f.name), out)),
            TypeDefKind::Tuple(t) => t
                .types
                .iter()
                .enumerate()
                .all(|(i, t)| self.push(t, &format!("{label}.{i}"), out)),
            TypeDefKind::FixedLengthList(t, n) => {
                (0..*n).all(|i| self.push(t, &format!("{label}[{i}]"), out))
            }
            TypeDefKind::Flags(f) => {
                let words = f.repr().count();
                for (i, w) in flag_words(f.flags.len(), words).enumerate() {
                    out.push(FlatValue {
                        value: CoreValue::new(
                            ValType::I32,
                            Meaning::Scalar(w),
                            format!("{label} (word {i})"),
                        ),
                        source: Source::FlagsWord(whole, i),
                    });
                }
                out.len() <= FLAT_STORAGE
            }
            TypeDefKind::Variant(v) => self.variant(
                &whole,
                v.tag(),
                v.cases.iter().map(|c| c.ty.as_ref()).collect(),
                label,
                out,
            ),
            TypeDefKind::Option(t) => {
                self.variant(&whole, Int::U8, vec![None, Some(t)], label, out)
            }
            TypeDefKind::Result(r) => self.variant(
                &whole,
                Int::U8,
                vec![r.ok.as_ref(), r.err.as_ref()],
                label,
                out,
            ),
            // Resolved types never hold these here (scalars and handles
            // are above); an unresolved type means nothing known.
            TypeDefKind::Type(_)
            | TypeDefKind::Enum(_)
            | TypeDefKind::Handle(_)
            | TypeDefKind::Resource
            | TypeDefKind::Future(_)
            | TypeDefKind::Stream(_)
            | TypeDefKind::Unknown => {
                value(
                    ValType::I32,
                    Meaning::Opaque,
                    label.to_string(),
                    Source::Joined,
                );
                true
            }
        }
    }

    /// A variant: its discriminant, then each joined payload value, which
    /// keeps its case's meaning when every case that reaches it agrees
    /// (and needs no conversion), and is [`Meaning::Joined`] otherwise.
    fn variant(
        &self,
        ty: &Type,
        tag: Int,
        cases: Vec<Option<&Type>>,
        label: &str,
        out: &mut Vec<FlatValue>,
    ) -> bool {
        let Some(joined) = flat_types(self.resolve, ty) else {
            return false;
        };
        let mut case_values: Vec<Vec<FlatValue>> = Vec::new();
        for case in &cases {
            let mut values = Vec::new();
            if let Some(t) = case {
                if !self.push(t, &format!("{label} (payload)"), &mut values) {
                    return false;
                }
            }
            case_values.push(values);
        }
        let discriminant = Scalar::Enum {
            cases: cases.len() as u32,
            tag_bits: int_bits(tag),
        };
        out.push(FlatValue {
            value: CoreValue::new(
                ValType::I32,
                Meaning::Scalar(discriminant),
                if joined.len() > 1 {
                    format!("{label} (tag)")
                } else {
                    label.to_string()
                },
            ),
            source: Source::Discriminant(*ty),
        });
        let mut slots: Vec<FlatValue> = Vec::new();
        for (k, joined_ty) in joined.iter().enumerate().skip(1) {
            let joined_ty = ValType::from(*joined_ty);
            let mut first: Option<&FlatValue> = None;
            let mut agree = true;
            for values in &case_values {
                let Some(v) = values.get(k - 1) else {
                    continue;
                };
                agree &= v.value.ty == joined_ty;
                match first {
                    None => first = Some(v),
                    Some(f) => agree &= f.value.meaning == v.value.meaning,
                }
            }
            let label = format!("{label} (payload {})", k - 1);
            slots.push(match first {
                Some(f) if agree => FlatValue {
                    value: CoreValue::new(joined_ty, f.value.meaning.clone(), label),
                    source: f.source.clone(),
                },
                _ => FlatValue {
                    value: CoreValue::new(joined_ty, Meaning::Joined, label),
                    source: Source::Joined,
                },
            });
        }
        // A pointer and its length stay a pair only together.
        for k in 0..slots.len() {
            let paired = match slots[k].value.meaning {
                Meaning::Elements { .. } => matches!(
                    slots.get(k + 1).map(|s| &s.value.meaning),
                    Some(Meaning::Length)
                ),
                Meaning::Length => {
                    k > 0 && matches!(slots[k - 1].value.meaning, Meaning::Elements { .. })
                }
                _ => true,
            };
            if !paired {
                slots[k].value.meaning = Meaning::Joined;
                slots[k].source = Source::Joined;
            }
        }
        out.extend(slots);
        out.len() <= FLAT_STORAGE
    }
}

fn size_align(sizes: &SizeAlign, ty: &Type) -> (u32, u32) {
    (
        sizes.size(ty).size_wasm32() as u32,
        sizes.align(ty).align_wasm32() as u32,
    )
}

/// The layout of a record whose fields have the given names and types.
pub(crate) fn record_layout(
    resolve: &Resolve,
    sizes: &SizeAlign,
    names: impl IntoIterator<Item = String>,
    types: Vec<&Type>,
) -> Layout {
    let info = sizes.record(types.iter().copied());
    let mut memo = HashMap::new();
    let cells = types.iter().fold(0u64, |a, t| {
        a.saturating_add(cell_count(resolve, t, &mut memo, 0))
    });
    if cells > MAX_CELLS {
        return Layout {
            size: info.size.size_wasm32() as u32,
            align: info.align.align_wasm32() as u32,
            kind: LayoutKind::Unmodelled { cells },
        };
    }
    let fields = sizes
        .field_offsets(types.iter().copied())
        .into_iter()
        .zip(names)
        .map(|((offset, ty), name)| Field {
            name,
            offset: offset.size_wasm32() as u32,
            layout: expand(resolve, sizes, ty),
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
            discriminant: u32::from(int_bits(tag)) / 8,
            payload_offset,
            cases: cases
                .into_iter()
                .map(|(name, ty)| Case {
                    name,
                    payload: ty.map(|t| expand(resolve, sizes, t)),
                })
                .collect(),
        },
    }
}

/// The canonical memory layout of `ty` on wasm32; one of more than
/// [`MAX_CELLS`] cells is [`LayoutKind::Unmodelled`].
pub(crate) fn layout_of(resolve: &Resolve, sizes: &SizeAlign, ty: &Type) -> Layout {
    let cells = cell_count(resolve, ty, &mut HashMap::new(), 0);
    if cells > MAX_CELLS {
        let (size, align) = size_align(sizes, ty);
        return Layout {
            size,
            align,
            kind: LayoutKind::Unmodelled { cells },
        };
    }
    expand(resolve, sizes, ty)
}

/// How many cells the layout of `ty` has written out (saturating).
fn cell_count(resolve: &Resolve, ty: &Type, memo: &mut HashMap<TypeId, u64>, depth: usize) -> u64 {
    let Type::Id(id) = ty else {
        return 1;
    };
    if let Some(n) = memo.get(id) {
        return *n;
    }
    if depth > resolve.types.len() {
        return 1;
    }
    let mut count = |t: &Type| cell_count(resolve, t, memo, depth + 1);
    let n = match &resolve.types[*id].kind {
        TypeDefKind::Type(t) => count(t),
        TypeDefKind::Record(r) => r
            .fields
            .iter()
            .fold(0u64, |a, f| a.saturating_add(count(&f.ty))),
        TypeDefKind::Tuple(t) => t.types.iter().fold(0u64, |a, t| a.saturating_add(count(t))),
        TypeDefKind::FixedLengthList(t, n) => count(t).saturating_mul(u64::from(*n)),
        TypeDefKind::List(t) | TypeDefKind::Option(t) => count(t).saturating_add(1),
        TypeDefKind::Map(k, v) => count(k).saturating_add(count(v)).saturating_add(1),
        TypeDefKind::Variant(v) => v.cases.iter().fold(1u64, |a, c| {
            a.saturating_add(c.ty.as_ref().map_or(0, &mut count))
        }),
        TypeDefKind::Result(r) => [r.ok, r.err]
            .iter()
            .flatten()
            .fold(1u64, |a, t| a.saturating_add(count(t))),
        _ => 1,
    };
    memo.insert(*id, n);
    n
}

/// [`layout_of`] without the bound, for the parts of a bounded layout.
fn expand(resolve: &Resolve, sizes: &SizeAlign, ty: &Type) -> Layout {
    let (size, align) = size_align(sizes, ty);
    let with = |kind| Layout { size, align, kind };
    if let Some(s) = scalar_of(resolve, ty) {
        return with(LayoutKind::Scalar(s));
    }
    if let Some(h) = handle_of(resolve, ty) {
        return with(LayoutKind::Handle(h));
    }
    let Type::Id(id) = underlying(resolve, ty) else {
        return with(LayoutKind::Sequence {
            element: Box::new(Layout::byte()),
            text: true,
        });
    };
    match &resolve.types[id].kind {
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
        TypeDefKind::List(elem) => with(LayoutKind::Sequence {
            element: Box::new(expand(resolve, sizes, elem)),
            text: false,
        }),
        TypeDefKind::Map(k, v) => with(LayoutKind::Sequence {
            element: Box::new(record_layout(
                resolve,
                sizes,
                ["key".to_string(), "value".to_string()],
                vec![k, v],
            )),
            text: false,
        }),
        TypeDefKind::Flags(f) => {
            let words = f.repr().count();
            Layout {
                size,
                align,
                kind: LayoutKind::Record {
                    fields: flag_words(f.flags.len(), words)
                        .enumerate()
                        .map(|(i, w)| Field {
                            name: format!("word{i}"),
                            offset: 4 * i as u32,
                            layout: Layout::scalar(w),
                        })
                        .collect(),
                },
            }
        }
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
        TypeDefKind::Type(_)
        | TypeDefKind::Enum(_)
        | TypeDefKind::Handle(_)
        | TypeDefKind::Resource
        | TypeDefKind::Future(_)
        | TypeDefKind::Stream(_)
        | TypeDefKind::Unknown => with(LayoutKind::Scalar(Scalar::Int {
            bits: 32,
            signed: false,
        })),
    }
}
