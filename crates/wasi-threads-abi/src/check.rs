//! The equivalence check: does a WITX document give the same core ABI as
//! a WIT package — the same core types, and the same *meaning* for every
//! core value?
//!
//! Functions are matched by core import module and name. Every difference
//! is reported in plain words with both sides: a different module or name
//! (`get-output` against `get_output`), parameter or result types, a core
//! value that means something else (a value against a pointer, a `u32`
//! against an `s32`), the layout a pointer points at, and functions only
//! one side has. Exports are not compared: WITX describes imports only
//! (and so neither are the `[export]` intrinsics of exported resources).
//!
//! The rules, for two core values of the same core type:
//! - scalars agree when they are the same scalar: integers by width and
//!   signedness, floats by width; a `bool` only with a `bool`, a `char` only
//!   with a `char`; enums by tag width and number of cases, flags by word
//!   width and number of members (names never count);
//! - handles agree when their resources correspond (the first meeting of
//!   two resources pairs them, one to one, whatever their names) and their
//!   ownership is the same where both sides state it (WITX handles state
//!   none);
//! - pointers to one value, (pointer, length) pairs and return areas agree
//!   when the layouts behind them agree all the way down
//!   ([`crate::Layout::compare`]); a string and a `list<u8>` agree at any
//!   depth, and so does a WITX pointer followed by a `u32`/`usize` length;
//!   a return area also agrees with a WITX `pointer` (not a
//!   `const_pointer`, which the callee cannot write through);
//! - where preview-1 WITX has no way to say a WIT meaning, exactly one
//!   spelling agrees with it: a `bool` result is returned as `u8`, an enum
//!   result (or a result of a variant with no payloads) as the unsigned
//!   integer of its tag width, and a joined variant payload as `u32`,
//!   `u64`, `f32` or `f64` of its core type.

use std::fmt;

use crate::layout::Pairing;
use crate::meaning::{Meaning, Scalar};
use crate::model::{CoreFunc, CoreValue, Model};

/// One difference between the two sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The function, by its WIT name (or its WITX name when only WITX has it).
    pub function: String,
    pub message: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.function, self.message)
    }
}

/// The outcome of a check.
#[derive(Clone, Debug)]
pub struct Report {
    pub wit_origin: String,
    pub witx_origin: String,
    /// Functions present on both sides and compared.
    pub compared: usize,
    pub differences: Vec<Difference>,
}

impl Report {
    pub fn is_equivalent(&self) -> bool {
        self.differences.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_equivalent() {
            return writeln!(
                f,
                "equivalent: {} function{} with the same core ABI in {} and {}",
                self.compared,
                if self.compared == 1 { "" } else { "s" },
                self.wit_origin,
                self.witx_origin
            );
        }
        writeln!(
            f,
            "not equivalent: {} difference{} between {} and {}",
            self.differences.len(),
            if self.differences.len() == 1 { "" } else { "s" },
            self.wit_origin,
            self.witx_origin
        )?;
        for d in &self.differences {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Whether a WIT and a WITX function are taken to be the same function.
type Matcher<'a> = dyn Fn(&CoreFunc, &CoreFunc) -> bool + 'a;

/// Compares the imports of a WIT model with those of a WITX model (all but
/// the `[export]` intrinsics of exported resources, which serve exports):
/// first by module and name, then by name alone, then by name with `-`
/// and `_` taken as the same, so that near misses are compared too.
pub fn check(wit: &Model, witx: &Model) -> Report {
    let mut report = Report {
        wit_origin: wit.origin.clone(),
        witx_origin: witx.origin.clone(),
        compared: 0,
        differences: Vec::new(),
    };
    let mut pairing = Pairing::default();
    let mut wit_left: Vec<&CoreFunc> = wit.imports.iter().filter(|f| !f.serves_exports()).collect();
    let mut witx_left: Vec<&CoreFunc> = witx.imports.iter().collect();
    let normalize = |s: &str| s.replace('-', "_").to_lowercase();
    let passes: [&Matcher<'_>; 3] = [
        &|a, b| a.module == b.module && a.name == b.name,
        &|a, b| a.name == b.name,
        &|a, b| normalize(&a.name) == normalize(&b.name),
    ];
    for matches in passes {
        let mut i = 0;
        while i < wit_left.len() {
            let w = wit_left[i];
            if let Some(j) = witx_left.iter().position(|x| matches(w, x)) {
                let x = witx_left.remove(j);
                wit_left.remove(i);
                compare(w, x, &mut pairing, &mut report.differences);
                report.compared += 1;
            } else {
                i += 1;
            }
        }
    }
    for w in wit_left {
        report.differences.push(Difference {
            function: w.source_name.clone(),
            message: format!("missing from WITX: WIT has {}", w.wat()),
        });
    }
    for x in witx_left {
        report.differences.push(Difference {
            function: x.source_name.clone(),
            message: format!("only in WITX: WITX has {}", x.wat()),
        });
    }
    report
}

/// Panics with the report unless the two models are equivalent. For test
/// authors: `assert_equivalent(&wit_model, &witx_model)`.
#[track_caller]
pub fn assert_equivalent(wit: &Model, witx: &Model) {
    let report = check(wit, witx);
    if !report.is_equivalent() {
        panic!("{report}");
    }
}

fn compare(w: &CoreFunc, x: &CoreFunc, pairing: &mut Pairing, out: &mut Vec<Difference>) {
    let mut push = |message: String| {
        out.push(Difference {
            function: w.source_name.clone(),
            message,
        })
    };
    let quote = |s: &Option<String>| match s {
        Some(s) => format!("{s:?}"),
        None => "(export)".to_string(),
    };
    if w.module != x.module {
        push(format!(
            "import module differs: WIT {}; WITX {}",
            quote(&w.module),
            quote(&x.module)
        ));
    }
    if w.name != x.name {
        push(format!(
            "import name differs: WIT {:?}; WITX {:?}",
            w.name, x.name
        ));
    }
    let params_differ = w.param_types() != x.param_types();
    let results_differ = w.result_types() != x.result_types();
    let what = match (params_differ, results_differ) {
        (true, true) => Some("params and results differ"),
        (true, false) => Some("params differ"),
        (false, true) => Some("results differ"),
        (false, false) => None,
    };
    if let Some(what) = what {
        push(format!(
            "{what}: WIT {}; WITX {}",
            w.describe_signature(),
            x.describe_signature()
        ));
        return;
    }
    let sides = w
        .params
        .iter()
        .zip(&x.params)
        .map(|v| (v, false))
        .chain(w.results.iter().zip(&x.results).map(|v| (v, true)));
    let mut index = [0usize; 2];
    for ((a, b), result) in sides {
        let i = index[usize::from(result)];
        index[usize::from(result)] += 1;
        if !values_agree(a, b, result, pairing) {
            let what = if result { "result" } else { "param" };
            let label = if a.label.is_empty() {
                String::new()
            } else {
                format!(" (`{}`)", a.label)
            };
            push(format!(
                "{what} {i}{label} means something else: WIT {}; WITX {}{}",
                a.meaning,
                b.meaning,
                handle_note(a, b, pairing)
            ));
        }
    }
}

/// Why two handles that look alike do not agree: their resources are
/// paired with others.
fn handle_note(a: &CoreValue, b: &CoreValue, pairing: &Pairing) -> String {
    let (Meaning::Handle(x), Meaning::Handle(y)) = (&a.meaning, &b.meaning) else {
        return String::new();
    };
    let mut notes = Vec::new();
    if let Some(p) = pairing
        .left_partner(&x.resource)
        .filter(|p| *p != y.resource)
    {
        notes.push(format!("WIT's {} is WITX's {p} elsewhere", x.resource));
    }
    if let Some(p) = pairing
        .right_partner(&y.resource)
        .filter(|p| *p != x.resource)
    {
        notes.push(format!("WITX's {} is WIT's {p} elsewhere", y.resource));
    }
    if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join("; "))
    }
}

/// Whether two core values of the same core type mean the same thing.
fn values_agree(a: &CoreValue, b: &CoreValue, result: bool, pairing: &mut Pairing) -> bool {
    spelled_as(&a.meaning, a, &b.meaning, result)
        || spelled_as(&b.meaning, b, &a.meaning, result)
        || meanings_agree(&a.meaning, &b.meaning, pairing)
}

fn meanings_agree(a: &Meaning, b: &Meaning, pairing: &mut Pairing) -> bool {
    match (a, b) {
        (Meaning::Scalar(x), Meaning::Scalar(y)) => x == y,
        (Meaning::Handle(x), Meaning::Handle(y)) => pairing.handles(x, y),
        (Meaning::Pointer { target: x, .. }, Meaning::Pointer { target: y, .. })
        | (Meaning::Elements { element: x, .. }, Meaning::Elements { element: y, .. })
        | (Meaning::ReturnArea(x), Meaning::ReturnArea(y)) => x.compare(y, pairing),
        (
            Meaning::ReturnArea(x),
            Meaning::Pointer {
                target: y,
                writable: true,
            },
        )
        | (
            Meaning::Pointer {
                target: x,
                writable: true,
            },
            Meaning::ReturnArea(y),
        ) => x.compare(y, pairing),
        (Meaning::Length, Meaning::Length) | (Meaning::Joined, Meaning::Joined) => true,
        (Meaning::Status { error: x }, Meaning::Status { error: y }) => x == y,
        _ => false,
    }
}

/// Whether `other` is the one spelling preview-1 WITX has for `meaning`,
/// which it cannot say: a `bool` or enum result, a joined payload.
fn spelled_as(meaning: &Meaning, value: &CoreValue, other: &Meaning, result: bool) -> bool {
    let Meaning::Scalar(Scalar::Int {
        bits,
        signed: false,
    }) = other
    else {
        return matches!(
            (meaning, other, value.ty),
            (
                Meaning::Joined,
                Meaning::Scalar(Scalar::Float { bits: 32 }),
                crate::ValType::F32
            ) | (
                Meaning::Joined,
                Meaning::Scalar(Scalar::Float { bits: 64 }),
                crate::ValType::F64
            )
        );
    };
    match meaning {
        Meaning::Scalar(Scalar::Bool) => result && *bits == 8,
        Meaning::Scalar(Scalar::Enum { tag_bits, .. }) => result && tag_bits == bits,
        Meaning::Joined => match value.ty {
            crate::ValType::I32 => *bits == 32,
            crate::ValType::I64 => *bits == 64,
            _ => false,
        },
        _ => false,
    }
}
