//! Loading WITX into the model, with the witx crate computing the
//! preview-1 ABI (`InterfaceFunc::wasm_signature`) and layouts
//! (`witx::Layout`).
//!
//! A WITX module is a core import module: its name is the module, each
//! `(@interface func (export "name"))` one core import of that name.

use std::path::{Path, PathBuf};

use ::witx::{BuiltinType, Document, Layout as _, RecordDatatype, Type, TypeRef, Variant};

use crate::core::ValType;
use crate::error::{LoadError, LoadErrorKind};
use crate::layout::{Case, Field, Layout, LayoutKind};
use crate::model::{CoreFunc, CoreParam, Model, Pointee};

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
    Ok(from_document(&doc, &path.display().to_string()))
}

/// Parses WITX source text (no `use`); `name` stands for the file in
/// messages.
pub fn parse(name: &str, text: &str) -> Result<Model, LoadError> {
    let doc = ::witx::parse(text).map_err(|e| {
        let io = ::witx::MockFs::new(&[("-", text)]);
        LoadError::new(LoadErrorKind::Parse, name, e.report_with(&io))
    })?;
    Ok(from_document(&doc, name))
}

fn witx_error(path: &Path, e: &::witx::WitxError) -> LoadError {
    let kind = match e {
        ::witx::WitxError::Io(..) => LoadErrorKind::Io,
        _ => LoadErrorKind::Parse,
    };
    LoadError::new(kind, path, e.report())
}

/// Models a validated WITX document.
pub fn from_document(doc: &Document, origin: &str) -> Model {
    let mut model = Model {
        origin: format!("WITX {origin}"),
        ..Model::default()
    };
    for module in doc.modules() {
        for func in module.funcs() {
            let (params, results) = func.wasm_signature();
            let mut pointees: Vec<Option<Pointee>> = Vec::new();
            for p in &func.params {
                pointees.extend(param_pointees(&p.tref));
            }
            for r in &func.results {
                pointees.extend(result_pointees(&r.tref));
            }
            pointees.resize(params.len(), None);
            model.imports.push(CoreFunc {
                source_name: func.name.as_str().to_string(),
                source_interface: Some(module.name.as_str().to_string()),
                module: Some(module.name.as_str().to_string()),
                name: func.name.as_str().to_string(),
                params: params
                    .into_iter()
                    .zip(pointees)
                    .map(|(ty, pointee)| CoreParam {
                        ty: ValType::from(ty),
                        pointee,
                    })
                    .collect(),
                results: results.into_iter().map(ValType::from).collect(),
                indirect_params: false,
                retptr: false,
            });
        }
    }
    model
}

/// What each core value of a parameter points at, in the order
/// `wasm_signature` lists them.
fn param_pointees(tref: &TypeRef) -> Vec<Option<Pointee>> {
    match &**tref.type_() {
        Type::List(elem) => vec![Some(Pointee::Elements(element_layout(elem))), None],
        Type::Pointer(t) | Type::ConstPointer(t) => vec![Some(Pointee::Value(layout(t)))],
        Type::Record(r) if r.bitflags_repr().is_none() => vec![Some(Pointee::Value(layout(tref)))],
        Type::Variant(v) if !v.is_enum() => vec![Some(Pointee::Value(layout(tref)))],
        _ => vec![None],
    }
}

/// The out-pointers an `expected` result appends to the parameters.
fn result_pointees(tref: &TypeRef) -> Vec<Option<Pointee>> {
    let Type::Variant(v) = &**tref.type_() else {
        return Vec::new();
    };
    if v.is_enum() {
        return Vec::new();
    }
    match v.as_expected() {
        Some((Some(ok), _)) => match &**ok.type_() {
            Type::Record(r) if r.is_tuple() => r
                .members
                .iter()
                .map(|m| Some(Pointee::Value(layout(&m.tref))))
                .collect(),
            _ => vec![Some(Pointee::Value(layout(ok)))],
        },
        _ => Vec::new(),
    }
}

fn is_string(elem: &TypeRef) -> bool {
    matches!(&**elem.type_(), Type::Builtin(BuiltinType::Char))
}

/// A list's element layout; a WITX `string` is a list of `char` whose
/// length counts UTF-8 bytes.
fn element_layout(elem: &TypeRef) -> Layout {
    if is_string(elem) {
        Layout::int(1)
    } else {
        layout(elem)
    }
}

/// The layout of a WITX type, as `witx::Layout` computes it.
pub fn layout(tref: &TypeRef) -> Layout {
    let sa = tref.mem_size_align();
    let (size, align) = (sa.size as u32, sa.align as u32);
    let kind = match &**tref.type_() {
        Type::Builtin(BuiltinType::F32 | BuiltinType::F64) => LayoutKind::Float,
        Type::Builtin(_) | Type::Handle(_) | Type::Pointer(_) | Type::ConstPointer(_) => {
            LayoutKind::Int
        }
        Type::List(elem) => LayoutKind::Sequence {
            element: Box::new(element_layout(elem)),
            text: is_string(elem),
        },
        Type::Record(r) => record_kind(r),
        Type::Variant(v) => variant_kind(v),
    };
    Layout { size, align, kind }
}

fn record_kind(r: &RecordDatatype) -> LayoutKind {
    if r.bitflags_repr().is_some() {
        return LayoutKind::Int;
    }
    LayoutKind::Record {
        fields: r
            .member_layout()
            .into_iter()
            .map(|m| Field {
                name: m.member.name.as_str().to_string(),
                offset: m.offset as u32,
                layout: layout(&m.member.tref),
            })
            .collect(),
    }
}

fn variant_kind(v: &Variant) -> LayoutKind {
    LayoutKind::Variant {
        discriminant: v.tag_repr.mem_size_align().size as u32,
        payload_offset: v.payload_offset() as u32,
        cases: v
            .cases
            .iter()
            .map(|c| Case {
                name: c.name.as_str().to_string(),
                payload: c.tref.as_ref().map(layout),
            })
            .collect(),
    }
}
