//! WIT types written as WITX types with the same memory layout.
//!
//! Named WIT types become `(typename ...)` definitions, emitted once, after
//! the types they use (WITX refers to earlier definitions only). Anonymous
//! WIT types are written inline where WITX allows it.

use std::collections::{BTreeSet, HashMap};

use wit_parser::{Handle, Int, Resolve, Type, TypeDefKind, TypeId};

use crate::names::{self, Scope};

/// Why a type has no WITX form.
#[derive(Clone, Debug)]
pub struct Reject {
    pub construct: String,
    pub reason: String,
}

/// A `(typename ...)` definition, with the definitions it uses and the
/// lowerings it took.
pub struct Typedef {
    pub name: String,
    pub text: String,
    deps: BTreeSet<usize>,
    notes: Vec<String>,
}

/// The typenames of one derivation, and the WITX names they take.
pub struct Types<'a> {
    resolve: &'a Resolve,
    pub defs: Vec<Typedef>,
    by_key: HashMap<Key, usize>,
    pub names: Scope,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Wit(TypeId),
    Helper(String),
}

/// What translating one function collects: the typedefs it uses and how
/// it was lowered.
#[derive(Default)]
pub struct Use {
    pub defs: BTreeSet<usize>,
    pub notes: Vec<String>,
}

impl Use {
    pub fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    fn merge(&mut self, defs: &BTreeSet<usize>, notes: &[String]) {
        self.defs.extend(defs.iter().copied());
        for n in notes {
            self.note(n.clone());
        }
    }
}

pub fn int_repr(int: Int) -> &'static str {
    match int {
        Int::U8 => "u8",
        Int::U16 => "u16",
        Int::U32 => "u32",
        Int::U64 => "u64",
    }
}

/// Follows type aliases to the type they name.
pub fn underlying(resolve: &Resolve, ty: &Type) -> Type {
    let mut ty = *ty;
    while let Type::Id(id) = ty {
        match resolve.types[id].kind {
            TypeDefKind::Type(t) => ty = t,
            _ => break,
        }
    }
    ty
}

/// Why a type has no WITX form: it belongs to the async ABI.
fn async_value(construct: &str) -> Reject {
    Reject {
        construct: construct.to_string(),
        reason: "it belongs to the component model's async ABI, which WITX has no form for"
            .to_string(),
    }
}

impl<'a> Types<'a> {
    pub fn new(resolve: &'a Resolve) -> Types<'a> {
        Types {
            resolve,
            defs: Vec::new(),
            by_key: HashMap::new(),
            names: Scope::default(),
        }
    }

    /// Defines a helper record (a parameter area) and returns its name.
    pub fn helper_record(
        &mut self,
        base: &str,
        fields: &[(String, Type)],
        used: &mut Use,
    ) -> Result<String, Reject> {
        let mut inner = Use::default();
        let mut body = String::from("(record");
        for (name, ty) in fields {
            let t = self.mem(ty, &mut inner)?;
            body.push_str(&format!("\n    (field ${name} {t})"));
        }
        body.push(')');
        let name = self.names.unique(base);
        self.push(Key::Helper(name.clone()), &name, None, &body, inner, used);
        Ok(format!("${name}"))
    }

    /// A helper definition (not a WIT type) made once per `key`.
    fn helper(
        &mut self,
        key: String,
        base: &str,
        body: impl FnOnce(&mut Self, &mut Use) -> Result<String, Reject>,
        used: &mut Use,
    ) -> Result<String, Reject> {
        let key = Key::Helper(key);
        if let Some(idx) = self.by_key.get(&key) {
            return Ok(self.reuse(*idx, used));
        }
        let mut inner = Use::default();
        let body = body(self, &mut inner)?;
        let name = self.names.unique(base);
        self.push(key, &name, None, &body, inner, used);
        Ok(format!("${name}"))
    }

    /// The canonical one-byte `bool` in memory: WITX's own `bool` takes
    /// four bytes, and witx reads any variant with cases `false` and
    /// `true` as a bool.
    fn bool8(&mut self, used: &mut Use) -> Result<String, Reject> {
        self.helper(
            "bool8".to_string(),
            "bool8",
            |_, _| Ok("(variant (@witx tag u8) (case $false) (case $true))".to_string()),
            used,
        )
    }

    /// The enum of a variant's cases: the discriminant of a variant,
    /// option or result passed as flattened values.
    pub fn discriminant(&mut self, ty: &Type, used: &mut Use) -> Result<String, Reject> {
        let resolve = self.resolve;
        let Type::Id(id) = underlying(resolve, ty) else {
            return Err(Reject {
                construct: "discriminant".to_string(),
                reason: "it is not of a variant".to_string(),
            });
        };
        let def = &resolve.types[id];
        let (base, tag, cases): (String, Int, Vec<String>) = match &def.kind {
            TypeDefKind::Variant(v) => (
                def.name.clone().unwrap_or_else(|| "variant".to_string()),
                v.tag(),
                v.cases.iter().map(|c| c.name.clone()).collect(),
            ),
            TypeDefKind::Option(_) => (
                "option".to_string(),
                Int::U8,
                vec!["none".to_string(), "some".to_string()],
            ),
            TypeDefKind::Result(_) => (
                "result".to_string(),
                Int::U8,
                vec!["ok".to_string(), "err".to_string()],
            ),
            _ => {
                return Err(Reject {
                    construct: "discriminant".to_string(),
                    reason: "it is not of a variant".to_string(),
                })
            }
        };
        let cases: Vec<String> = cases
            .iter()
            .map(|c| format!("${}", names::snake(c)))
            .collect();
        let body = format!("(enum (@witx tag {}) {})", int_repr(tag), cases.join(" "));
        self.helper(
            body.clone(),
            &format!("{}_tag", names::snake(&base)),
            |_, _| Ok(body),
            used,
        )
    }

    /// Word `word` of flags of more than 32 members: flags of up to 32.
    pub fn flags_word(&mut self, ty: &Type, word: usize, used: &mut Use) -> Result<String, Reject> {
        let resolve = self.resolve;
        let Type::Id(id) = underlying(resolve, ty) else {
            return Err(Reject {
                construct: "flags word".to_string(),
                reason: "it is not of flags".to_string(),
            });
        };
        let def = &resolve.types[id];
        let TypeDefKind::Flags(f) = &def.kind else {
            return Err(Reject {
                construct: "flags word".to_string(),
                reason: "it is not of flags".to_string(),
            });
        };
        let base = def.name.clone().unwrap_or_else(|| "flags".to_string());
        let members: Vec<String> = f
            .flags
            .iter()
            .skip(32 * word)
            .take(32)
            .map(|m| format!("\n    ${}", names::snake(&m.name)))
            .collect();
        self.helper(
            format!("flags word {} {word}", id.index()),
            &format!("{}_word{word}", names::snake(&base)),
            |_, _| Ok(format!("(flags (@witx repr u32){})", members.concat())),
            used,
        )
    }

    /// Adds a definition whose body used `inner`, and records its use.
    fn push(
        &mut self,
        key: Key,
        name: &str,
        docs: Option<&str>,
        body: &str,
        inner: Use,
        used: &mut Use,
    ) {
        let mut text = String::new();
        names::docs(&mut text, "", docs);
        text.push_str(&format!("(typename ${name} {body})\n"));
        self.defs.push(Typedef {
            name: name.to_string(),
            text,
            deps: inner.defs,
            notes: inner.notes,
        });
        let idx = self.defs.len() - 1;
        self.by_key.insert(key, idx);
        self.reuse(idx, used);
    }

    /// Records the use of definition `idx` and of everything it uses.
    fn reuse(&self, idx: usize, used: &mut Use) -> String {
        let def = &self.defs[idx];
        used.defs.insert(idx);
        used.merge(&def.deps, &def.notes);
        format!("${}", def.name)
    }

    /// The WITX type of `ty` in memory (a list element, a field, a return
    /// area): its layout is the canonical one.
    pub fn mem(&mut self, ty: &Type, used: &mut Use) -> Result<String, Reject> {
        Ok(match ty {
            Type::Bool => self.bool8(used)?,
            Type::U8 => "u8".to_string(),
            Type::S8 => "s8".to_string(),
            Type::U16 => "u16".to_string(),
            Type::S16 => "s16".to_string(),
            Type::U32 => "u32".to_string(),
            Type::S32 => "s32".to_string(),
            Type::U64 => "u64".to_string(),
            Type::S64 => "s64".to_string(),
            Type::F32 => "f32".to_string(),
            Type::F64 => "f64".to_string(),
            Type::Char => "char".to_string(),
            Type::String => "string".to_string(),
            Type::ErrorContext => return Err(async_value("error-context")),
            Type::Id(id) => self.id(*id, used)?,
        })
    }

    fn id(&mut self, id: TypeId, used: &mut Use) -> Result<String, Reject> {
        let resolve = self.resolve;
        let def = &resolve.types[id];
        if let TypeDefKind::Handle(Handle::Own(r) | Handle::Borrow(r)) = def.kind {
            return self.resource(r, used);
        }
        let Some(name) = &def.name else {
            if let TypeDefKind::FixedLengthList(_, n) = def.kind {
                // Written out as a tuple of `n`, a fixed-length list is named
                // once, so nested ones do not multiply the text.
                if let Some(idx) = self.by_key.get(&Key::Wit(id)) {
                    return Ok(self.reuse(*idx, used));
                }
                let mut inner = Use::default();
                let body = self.body(id, &mut inner)?;
                let witx_name = self.names.unique(&format!("array{n}"));
                self.push(Key::Wit(id), &witx_name, None, &body, inner, used);
                return Ok(format!("${witx_name}"));
            }
            return self.body(id, used);
        };
        if matches!(def.kind, TypeDefKind::Resource) {
            return self.resource(id, used);
        }
        if let Some(idx) = self.by_key.get(&Key::Wit(id)) {
            return Ok(self.reuse(*idx, used));
        }
        let mut inner = Use::default();
        let body = self.body(id, &mut inner)?;
        let witx_name = self.names.unique(&names::snake(name));
        self.push(
            Key::Wit(id),
            &witx_name,
            def.docs.contents.as_deref(),
            &body,
            inner,
            used,
        );
        Ok(format!("${witx_name}"))
    }

    fn resource(&mut self, mut id: TypeId, used: &mut Use) -> Result<String, Reject> {
        while let TypeDefKind::Type(Type::Id(next)) = self.resolve.types[id].kind {
            id = next;
        }
        if let Some(idx) = self.by_key.get(&Key::Wit(id)) {
            return Ok(self.reuse(*idx, used));
        }
        let def = &self.resolve.types[id];
        let name = self
            .names
            .unique(&names::snake(def.name.as_deref().unwrap_or("resource")));
        self.push(
            Key::Wit(id),
            &name,
            def.docs.contents.as_deref(),
            "(handle)",
            Use::default(),
            used,
        );
        Ok(format!("${name}"))
    }

    fn cases(
        &mut self,
        tag: Int,
        cases: &[(String, Option<Type>)],
        used: &mut Use,
    ) -> Result<String, Reject> {
        let mut out = format!("(variant (@witx tag {})", int_repr(tag));
        for (name, ty) in cases {
            match ty {
                Some(ty) => {
                    let t = self.mem(ty, used)?;
                    out.push_str(&format!(" (case ${} {t})", names::snake(name)));
                }
                None => out.push_str(&format!(" (case ${})", names::snake(name))),
            }
        }
        out.push(')');
        Ok(out)
    }

    /// The WITX text of a type definition's body.
    fn body(&mut self, id: TypeId, used: &mut Use) -> Result<String, Reject> {
        let resolve = self.resolve;
        let def = &resolve.types[id];
        let what = def
            .name
            .clone()
            .map(|n| format!(" `{n}`"))
            .unwrap_or_default();
        Ok(match &def.kind {
            TypeDefKind::Type(t) => self.mem(t, used)?,
            TypeDefKind::Record(r) => {
                if r.fields.is_empty() {
                    return Err(Reject {
                        construct: format!("record{what}"),
                        reason: "witx cannot lay out a record without fields".to_string(),
                    });
                }
                let mut out = String::from("(record");
                for f in &r.fields {
                    let t = self.mem(&f.ty, used)?;
                    out.push_str(&format!("\n    (field ${} {t})", names::snake(&f.name)));
                }
                out.push(')');
                out
            }
            TypeDefKind::Tuple(t) => {
                if t.types.is_empty() {
                    return Err(Reject {
                        construct: "tuple<>".to_string(),
                        reason: "witx cannot lay out a tuple without members".to_string(),
                    });
                }
                let mut out = String::from("(tuple");
                for ty in &t.types {
                    out.push(' ');
                    out.push_str(&self.mem(ty, used)?);
                }
                out.push(')');
                out
            }
            TypeDefKind::Flags(f) => match f.repr() {
                wit_parser::FlagsRepr::U32(n) if n > 1 => {
                    used.note(format!(
                        "flags{what} of {} members are {n} words of up to 32 flags, as the canonical ABI stores them (WITX flags are one integer)",
                        f.flags.len()
                    ));
                    let mut out = String::from("(record");
                    for i in 0..n {
                        let word = self.flags_word(&Type::Id(id), i, used)?;
                        out.push_str(&format!(" (field $word{i} {word})"));
                    }
                    out.push(')');
                    out
                }
                repr => {
                    let repr = match repr {
                        wit_parser::FlagsRepr::U8 => "u8",
                        wit_parser::FlagsRepr::U16 => "u16",
                        wit_parser::FlagsRepr::U32(_) => "u32",
                    };
                    let mut out = format!("(flags (@witx repr {repr})");
                    for flag in &f.flags {
                        out.push_str(&format!("\n    ${}", names::snake(&flag.name)));
                    }
                    out.push(')');
                    out
                }
            },
            TypeDefKind::Enum(e) => {
                let mut out = format!("(enum (@witx tag {})", int_repr(e.tag()));
                for c in &e.cases {
                    out.push_str(&format!("\n    ${}", names::snake(&c.name)));
                }
                out.push(')');
                out
            }
            TypeDefKind::Variant(v) => {
                let cases: Vec<_> = v.cases.iter().map(|c| (c.name.clone(), c.ty)).collect();
                self.cases(v.tag(), &cases, used)?
            }
            TypeDefKind::Option(t) => self.cases(
                Int::U8,
                &[("none".into(), None), ("some".into(), Some(*t))],
                used,
            )?,
            TypeDefKind::Result(r) => {
                self.cases(Int::U8, &[("ok".into(), r.ok), ("err".into(), r.err)], used)?
            }
            TypeDefKind::List(elem) => {
                if underlying(resolve, elem) == Type::Char {
                    used.note(
                        "list<char> is written (list (tuple char)): WITX reads (list char) as a string"
                            .to_string(),
                    );
                    "(list (tuple char))".to_string()
                } else {
                    format!("(list {})", self.mem(elem, used)?)
                }
            }
            TypeDefKind::FixedLengthList(elem, n) => {
                used.note(format!(
                    "a fixed-length list of {n} is written as a tuple of {n}"
                ));
                let t = self.mem(elem, used)?;
                let mut out = String::from("(tuple");
                for _ in 0..*n {
                    out.push(' ');
                    out.push_str(&t);
                }
                out.push(')');
                out
            }
            TypeDefKind::Map(k, v) => {
                used.note("a map is written as a list of (key, value) tuples, as the canonical ABI stores it".to_string());
                format!(
                    "(list (tuple {} {}))",
                    self.mem(k, used)?,
                    self.mem(v, used)?
                )
            }
            TypeDefKind::Handle(Handle::Own(r) | Handle::Borrow(r)) => self.resource(*r, used)?,
            TypeDefKind::Resource => self.resource(id, used)?,
            TypeDefKind::Future(_) => return Err(async_value("future")),
            TypeDefKind::Stream(_) => return Err(async_value("stream")),
            TypeDefKind::Unknown => {
                return Err(Reject {
                    construct: format!("type{what}"),
                    reason: "it is not resolved".to_string(),
                })
            }
        })
    }
}
