//! The equivalence check: does a WITX document give the same core ABI as
//! a WIT package?
//!
//! Functions are matched by core import module and name. Every difference
//! is reported in plain words with both sides: a different module or name
//! (`get-output` against `get_output`), parameter or result types, the
//! layout a pointer parameter points at, and functions only one side has.
//! Exports are not compared: WITX describes imports only.

use std::fmt;

use crate::model::{CoreFunc, Model, Pointee};

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

/// Compares the imports of a WIT model with those of a WITX model:
/// first by module and name, then by name alone, then by name with `-`
/// and `_` taken as the same, so that near misses are compared too.
pub fn check(wit: &Model, witx: &Model) -> Report {
    let mut report = Report {
        wit_origin: wit.origin.clone(),
        witx_origin: witx.origin.clone(),
        compared: 0,
        differences: Vec::new(),
    };
    let mut wit_left: Vec<&CoreFunc> = wit.imports.iter().collect();
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
                compare(w, x, &mut report.differences);
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

fn compare(w: &CoreFunc, x: &CoreFunc, out: &mut Vec<Difference>) {
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
    let results_differ = w.results != x.results;
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
    for (i, (wp, xp)) in w.params.iter().zip(&x.params).enumerate() {
        let (Some(a), Some(b)) = (&wp.pointee, &xp.pointee) else {
            continue;
        };
        let same = match (a, b) {
            (Pointee::Elements(a), Pointee::Elements(b))
            | (Pointee::Value(a), Pointee::Value(b)) => a.abi_eq(b),
            _ => false,
        };
        if !same {
            push(format!(
                "param {i} points to different layouts: WIT {}; WITX {}",
                describe(a),
                describe(b)
            ));
        }
    }
}

fn describe(p: &Pointee) -> String {
    match p {
        Pointee::Elements(l) => format!("elements {l}"),
        Pointee::Value(l) => l.to_string(),
    }
}
