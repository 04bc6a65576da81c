//! Loading WITX into the model, with the witx crate computing the
//! preview-1 ABI (`InterfaceFunc::wasm_signature`) and layouts
//! (`witx::Layout`).
//!
//! A WITX module is a core import module: its name is the module, each
//! `(@interface func (export "name"))` one core import of that name.
//!
//! What each core value means follows the preview-1 ABI: records and
//! variants with payloads are passed by pointer, a `bool` (any variant with
//! cases `false` and `true`, witx's own reading) is a bool, an enum its
//! index, a `(@witx pointer T)` or `(@witx const_pointer T)` the address of
//! one `T` — except when the next parameter (or field) is a `u32` or
//! `(@witx usize)`: then the two are a (pointer, length) pair of `T`
//! elements, as preview 1 passes buffers.

use std::path::{Path, PathBuf};

use ::witx::{BuiltinType, Document, IntRepr, Layout as _, Type, TypeRef};

use crate::core::ValType;
use crate::error::{LoadError, LoadErrorKind};
use crate::layout::{Case, Field, Layout, LayoutKind};
use crate::meaning::{HandleType, Meaning, Scalar};
use crate::model::{CoreFunc, CoreValue, Model};

/// Loads a `.witx` file, or every `.witx` file of a directory, as one
/// document.
pub fn load(path: &Path) -> Result<Model, LoadError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| LoadError::new(LoadErrorKind::Io, path, e.to_string()))?;
    let files: Vec<PathBuf> = if meta.is_dir() {
        let mut files = Vec::new();
        let entries = std::fs::read_dir(path)
            .map_err(|e| LoadError::new(LoadErrorKind::Io, path, e.to_string()))?;
        for entry in entries {
            let entry =
                entry.map_err(|e| LoadError::new(LoadErrorKind::Io, path, e.to_string()))?;
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "witx") {
                files.push(p);
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(LoadError::new(
                LoadErrorKind::Io,
                path,
                "the directory holds no .witx file",
            ));
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    let doc = ::witx::load(&files).map_err(|e| witx_error(path, &e))?;
    from_document(&doc, &path.display().to_string())
        .map_err(|m| LoadError::new(LoadErrorKind::Parse, path, m))
}

/// Parses WITX source text (no `use`); `name` stands for the file in
/// messages.
pub fn parse(name: &str, text: &str) -> Result<Model, LoadError> {
    let doc = ::witx::parse(text).map_err(|e| {
        let io = ::witx::MockFs::new(&[("-", text)]);
        LoadError::new(LoadErrorKind::Parse, name, e.report_with(&io))
    })?;
    from_document(&doc, name).map_err(|m| LoadError::new(LoadErrorKind::Parse, name, m))
}

fn witx_error(path: &Path, e: &::witx::WitxError) -> LoadError {
    let kind = match e {
        ::witx::WitxError::Io(..) => LoadErrorKind::Io,
        _ => LoadErrorKind::Parse,
    };
    LoadError::new(kind, path, e.report())
}

/// Refuses what witx validates but cannot lay out (its layout code fails
/// on a record or tuple without members), naming the type.
fn layable(doc: &Document) -> Result<(), String> {
    // Each named type is walked once: the checks do not depend on where
    // it is used.
    fn walk(
        tref: &TypeRef,
        owner: &str,
        seen: &mut std::collections::HashSet<String>,
    ) -> Result<(), String> {
        if let TypeRef::Name(named) = tref {
            if !seen.insert(named.name.as_str().to_string()) {
                return Ok(());
            }
        }
        match &**tref.type_() {
            Type::Record(r) if r.bitflags_repr().is_none() && r.members.is_empty() => Err(format!(
                "{owner}: a record or tuple without members, which witx cannot lay out"
            )),
            Type::Record(r) => r
                .members
                .iter()
                .try_for_each(|m| walk(&m.tref, owner, seen)),
            Type::Variant(v) => v
                .cases
                .iter()
                .filter_map(|c| c.tref.as_ref())
                .try_for_each(|t| walk(t, owner, seen)),
            Type::List(t) | Type::Pointer(t) | Type::ConstPointer(t) => walk(t, owner, seen),
            Type::Builtin(_) | Type::Handle(_) => Ok(()),
        }
    }
    let mut seen = std::collections::HashSet::new();
    for t in doc.typenames() {
        walk(&t.tref, &format!("type ${}", t.name.as_str()), &mut seen)?;
    }
    for module in doc.modules() {
        for func in module.funcs() {
            let owner = format!(
                "function `{}` of module ${}",
                func.name.as_str(),
                module.name.as_str()
            );
            for p in func.params.iter().chain(&func.results) {
                walk(&p.tref, &owner, &mut seen)?;
            }
        }
    }
    Ok(())
}

/// Models a validated WITX document; refuses one witx cannot lay out.
pub fn from_document(doc: &Document, origin: &str) -> Result<Model, String> {
    layable(doc)?;
    let mut layouts = Layouts::default();
    let mut model = Model {
        origin: format!("WITX {origin}"),
        ..Model::default()
    };
    for module in doc.modules() {
        for func in module.funcs() {
            let (param_types, result_types) = func.wasm_signature();
            let mut params: Vec<CoreValue> = Vec::new();
            let trefs: Vec<(&str, &TypeRef)> = func
                .params
                .iter()
                .map(|p| (p.name.as_str(), &p.tref))
                .collect();
            let mut i = 0;
            while i < trefs.len() {
                let (name, tref) = trefs[i];
                if let (Some(target), Some((len_name, len))) = (pointee(tref), trefs.get(i + 1)) {
                    if is_length(len) {
                        params.push(CoreValue::new(
                            ValType::I32,
                            Meaning::Elements {
                                element: layouts.of(target),
                                text: false,
                            },
                            name,
                        ));
                        params.push(CoreValue::new(ValType::I32, Meaning::Length, *len_name));
                        i += 2;
                        continue;
                    }
                }
                param_values(&mut layouts, name, tref, &mut params);
                i += 1;
            }
            let mut results: Vec<CoreValue> = Vec::new();
            for r in &func.results {
                result_values(
                    &mut layouts,
                    r.name.as_str(),
                    &r.tref,
                    &mut params,
                    &mut results,
                );
            }
            // witx computed the core types; the meanings must follow them.
            let fit = |values: &mut Vec<CoreValue>, types: Vec<::witx::WasmType>| {
                let types: Vec<ValType> = types.into_iter().map(ValType::from).collect();
                let same = values.len() == types.len()
                    && values.iter().zip(&types).all(|(v, t)| v.ty == *t);
                if !same {
                    *values = types
                        .into_iter()
                        .map(|t| CoreValue::new(t, Meaning::Opaque, ""))
                        .collect();
                }
            };
            fit(&mut params, param_types);
            fit(&mut results, result_types);
            model.imports.push(CoreFunc {
                source_name: func.name.as_str().to_string(),
                source_interface: Some(module.name.as_str().to_string()),
                module: Some(module.name.as_str().to_string()),
                name: func.name.as_str().to_string(),
                params,
                results,
                indirect_params: false,
                retptr: false,
            });
        }
    }
    Ok(model)
}

/// What a `(@witx pointer T)` or `(@witx const_pointer T)` points at.
fn pointee(tref: &TypeRef) -> Option<&TypeRef> {
    match &**tref.type_() {
        Type::Pointer(t) | Type::ConstPointer(t) => Some(t),
        _ => None,
    }
}

/// Whether a type can be the length of a pointer before it: `u32` or
/// `(@witx usize)`.
fn is_length(tref: &TypeRef) -> bool {
    matches!(&**tref.type_(), Type::Builtin(BuiltinType::U32 { .. }))
}

fn repr_bits(repr: IntRepr) -> u8 {
    match repr {
        IntRepr::U8 => 8,
        IntRepr::U16 => 16,
        IntRepr::U32 => 32,
        IntRepr::U64 => 64,
    }
}

/// The meaning of a WITX type that is a scalar, if it is one.
fn scalar(tref: &TypeRef) -> Option<Scalar> {
    let int = |bits, signed| Some(Scalar::Int { bits, signed });
    match &**tref.type_() {
        Type::Builtin(b) => match b {
            BuiltinType::U8 { .. } => int(8, false),
            BuiltinType::S8 => int(8, true),
            BuiltinType::U16 => int(16, false),
            BuiltinType::S16 => int(16, true),
            BuiltinType::U32 { .. } => int(32, false),
            BuiltinType::S32 => int(32, true),
            BuiltinType::U64 => int(64, false),
            BuiltinType::S64 => int(64, true),
            BuiltinType::F32 => Some(Scalar::Float { bits: 32 }),
            BuiltinType::F64 => Some(Scalar::Float { bits: 64 }),
            BuiltinType::Char => Some(Scalar::Char),
        },
        Type::Variant(v) if v.is_bool() => Some(Scalar::Bool),
        Type::Variant(v) if v.is_enum() => Some(Scalar::Enum {
            cases: v.cases.len() as u32,
            tag_bits: repr_bits(v.tag_repr),
        }),
        Type::Record(r) => r.bitflags_repr().map(|repr| Scalar::Flags {
            members: r.members.len() as u32,
            bits: repr_bits(repr),
        }),
        _ => None,
    }
}

/// A handle: its resource is the name of the type that says `(handle)`.
fn handle(tref: &TypeRef) -> Option<HandleType> {
    let mut tref = tref.clone();
    loop {
        match &tref {
            TypeRef::Name(named) => match &named.tref {
                TypeRef::Name(_) => tref = named.tref.clone(),
                TypeRef::Value(v) => {
                    return matches!(&**v, Type::Handle(_)).then(|| HandleType {
                        resource: named.name.as_str().to_string(),
                        ownership: None,
                    })
                }
            },
            TypeRef::Value(v) => {
                return matches!(&**v, Type::Handle(_)).then(|| HandleType {
                    resource: "(handle)".to_string(),
                    ownership: None,
                })
            }
        }
    }
}

fn scalar_type(s: Scalar) -> ValType {
    match s {
        Scalar::Int { bits: 64, .. } | Scalar::Flags { bits: 64, .. } => ValType::I64,
        Scalar::Enum { tag_bits: 64, .. } => ValType::I64,
        Scalar::Float { bits: 32 } => ValType::F32,
        Scalar::Float { .. } => ValType::F64,
        _ => ValType::I32,
    }
}

/// The core values of one parameter, in the order `wasm_signature` lists
/// them.
fn param_values(layouts: &mut Layouts, name: &str, tref: &TypeRef, out: &mut Vec<CoreValue>) {
    if let Some(s) = scalar(tref) {
        out.push(CoreValue::new(scalar_type(s), Meaning::Scalar(s), name));
        return;
    }
    if let Some(h) = handle(tref) {
        out.push(CoreValue::new(ValType::I32, Meaning::Handle(h), name));
        return;
    }
    match &**tref.type_() {
        Type::List(elem) => {
            out.push(CoreValue::new(
                ValType::I32,
                Meaning::Elements {
                    element: layouts.element(elem),
                    text: is_string(elem),
                },
                name,
            ));
            out.push(CoreValue::new(ValType::I32, Meaning::Length, name));
        }
        Type::Pointer(t) => out.push(CoreValue::new(
            ValType::I32,
            Meaning::Pointer {
                target: layouts.of(t),
                writable: true,
            },
            name,
        )),
        Type::ConstPointer(t) => out.push(CoreValue::new(
            ValType::I32,
            Meaning::Pointer {
                target: layouts.of(t),
                writable: false,
            },
            name,
        )),
        // Records and variants with payloads are passed by pointer.
        _ => out.push(CoreValue::new(
            ValType::I32,
            Meaning::Pointer {
                target: layouts.of(tref),
                writable: false,
            },
            name,
        )),
    }
}

/// The core result of a result type, and the out-pointers an `expected`
/// result appends to the parameters.
fn result_values(
    layouts: &mut Layouts,
    name: &str,
    tref: &TypeRef,
    params: &mut Vec<CoreValue>,
    results: &mut Vec<CoreValue>,
) {
    if let Type::Variant(v) = &**tref.type_() {
        if !v.is_enum() || v.as_expected().is_some() {
            let error = v.as_expected().and_then(|(_, err)| err).and_then(scalar);
            let ty = if v.tag_repr == IntRepr::U64 {
                ValType::I64
            } else {
                ValType::I32
            };
            results.push(CoreValue::new(ty, Meaning::Status { error }, name));
            if let Some((Some(ok), _)) = v.as_expected() {
                match &**ok.type_() {
                    Type::Record(r) if r.is_tuple() => {
                        for (i, m) in r.members.iter().enumerate() {
                            params.push(CoreValue::new(
                                ValType::I32,
                                Meaning::ReturnArea(layouts.of(&m.tref)),
                                format!("{name}.{i}"),
                            ));
                        }
                    }
                    _ => params.push(CoreValue::new(
                        ValType::I32,
                        Meaning::ReturnArea(layouts.of(ok)),
                        name,
                    )),
                }
            }
            return;
        }
    }
    param_values(layouts, name, tref, results);
}

fn is_string(elem: &TypeRef) -> bool {
    matches!(&**elem.type_(), Type::Builtin(BuiltinType::Char))
}

/// The layout of a WITX type, as `witx::Layout` computes it.
pub fn layout(tref: &TypeRef) -> Layout {
    Layouts::default().of(tref)
}

/// Layouts of named types, computed once per document walk (witx's own
/// `mem_size_align` recomputes every nested type each time it is asked).
#[derive(Default)]
struct Layouts {
    named: std::collections::HashMap<String, Layout>,
    cells: std::collections::HashMap<String, u64>,
}

impl Layouts {
    /// How many cells the layout of `tref` has written out (saturating).
    fn count(&mut self, tref: &TypeRef, depth: usize) -> u64 {
        if depth > 256 {
            return 1;
        }
        if let TypeRef::Name(named) = tref {
            if let Some(n) = self.cells.get(named.name.as_str()) {
                return *n;
            }
        }
        let n = match &**tref.type_() {
            Type::Record(r) if r.bitflags_repr().is_none() => {
                r.members.iter().fold(0u64, |a, m| {
                    a.saturating_add(self.count(&m.tref, depth + 1))
                })
            }
            Type::Variant(v) => v.cases.iter().fold(1u64, |a, c| {
                a.saturating_add(c.tref.as_ref().map_or(0, |t| self.count(t, depth + 1)))
            }),
            Type::List(t) | Type::Pointer(t) | Type::ConstPointer(t) => {
                self.count(t, depth + 1).saturating_add(1)
            }
            _ => 1,
        };
        if let TypeRef::Name(named) = tref {
            self.cells.insert(named.name.as_str().to_string(), n);
        }
        n
    }

    /// A list's element layout; a WITX `string` is a list of `char` whose
    /// length counts UTF-8 bytes.
    fn element(&mut self, elem: &TypeRef) -> Layout {
        if is_string(elem) {
            Layout::byte()
        } else {
            self.of(elem)
        }
    }

    fn of(&mut self, tref: &TypeRef) -> Layout {
        if let TypeRef::Name(named) = tref {
            if let Some(l) = self.named.get(named.name.as_str()) {
                return l.clone();
            }
            let l = self.compute(tref);
            self.named
                .insert(named.name.as_str().to_string(), l.clone());
            return l;
        }
        self.compute(tref)
    }

    fn compute(&mut self, tref: &TypeRef) -> Layout {
        let cells = self.count(tref, 0);
        let kind = if cells > crate::layout::MAX_CELLS {
            LayoutKind::Unmodelled { cells }
        } else if let Some(s) = scalar(tref) {
            LayoutKind::Scalar(s)
        } else if let Some(h) = handle(tref) {
            LayoutKind::Handle(h)
        } else {
            match &**tref.type_() {
                Type::Pointer(t) | Type::ConstPointer(t) => {
                    LayoutKind::Pointer(Box::new(self.of(t)))
                }
                Type::List(elem) => LayoutKind::Sequence {
                    element: Box::new(if is_string(elem) {
                        Layout::byte()
                    } else {
                        self.of(elem)
                    }),
                    text: is_string(elem),
                },
                Type::Record(r) => LayoutKind::Record {
                    fields: r
                        .member_layout()
                        .into_iter()
                        .map(|m| Field {
                            name: m.member.name.as_str().to_string(),
                            offset: m.offset as u32,
                            layout: self.of(&m.member.tref),
                        })
                        .collect(),
                },
                Type::Variant(v) => LayoutKind::Variant {
                    discriminant: v.tag_repr.mem_size_align().size as u32,
                    payload_offset: v.payload_offset() as u32,
                    cases: v
                        .cases
                        .iter()
                        .map(|c| Case {
                            name: c.name.as_str().to_string(),
                            payload: c.tref.as_ref().map(|t| self.of(t)),
                        })
                        .collect(),
                },
                // Scalars and handles are above.
                Type::Builtin(_) | Type::Handle(_) => LayoutKind::Scalar(Scalar::Int {
                    bits: 32,
                    signed: false,
                }),
            }
        };
        let sa = tref.mem_size_align();
        let (size, align) = (sa.size as u32, sa.align as u32);
        Layout { size, align, kind }
    }
}
