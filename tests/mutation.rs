//! The differential test of `check`: WIT from wit-smith (every feature it
//! has) and from a hand-written corpus of what wit-smith never makes is
//! derived to WITX, then the WITX is mutated. Each mutation's kind is fixed
//! before `check` runs: one that changes what a core value means (a value
//! made a pointer, a scalar or a field order changed, an enum or flags
//! widened, a list's element changed, a result moved to a return pointer)
//! must be reported not equivalent; one that does not (a type or parameter
//! renamed, a string written as a list of `u8`, a `u32` as a `usize`) must
//! be reported equivalent.
//!
//! `MUTATION_CASES=N` sets how many wit-smith seeds are tried (default
//! 300); `MUTATION_SEED=N` runs one seed alone; `MUTATION_SECONDS=N` ends a
//! long run after N seconds, with its summary.

mod support;

use std::collections::BTreeMap;
use std::fmt::Write;

use support::smith;
use wasi_threads_abi::{check, witx, WitModel, WitOptions};

/// What a mutation does, and whether it must be detected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    ValueToPointer,
    ScalarChanged,
    FieldsSwapped,
    EnumOrFlagsWidened,
    ListElementChanged,
    ResultToPointer,
    TypeRenamed,
    ParamRenamed,
    StringAsBytes,
    U32AsUsize,
}

impl Kind {
    const ALL: [Kind; 10] = [
        Kind::ValueToPointer,
        Kind::ScalarChanged,
        Kind::FieldsSwapped,
        Kind::EnumOrFlagsWidened,
        Kind::ListElementChanged,
        Kind::ResultToPointer,
        Kind::TypeRenamed,
        Kind::ParamRenamed,
        Kind::StringAsBytes,
        Kind::U32AsUsize,
    ];

    fn changes_meaning(self) -> bool {
        !matches!(
            self,
            Kind::TypeRenamed | Kind::ParamRenamed | Kind::StringAsBytes | Kind::U32AsUsize
        )
    }
}

/// A small deterministic generator for choosing sites.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

const SCALARS: [&str; 12] = [
    "u8", "s8", "u16", "s16", "u32", "s32", "u64", "s64", "f32", "f64", "char", "bool",
];

/// A token of a line: its byte range.
fn tokens(line: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        if c.is_whitespace() || c == '(' || c == ')' {
            if let Some(s) = start.take() {
                out.push((s, i));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push((s, line.len()));
    }
    out
}

fn code_lines(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with(";;"))
        .collect()
}

/// The end (exclusive) of the balanced expression starting at `start`.
fn expr_end(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    if bytes.get(start) != Some(&b'(') {
        return start + tokens(&text[start..]).first().map_or(0, |t| t.1);
    }
    let mut depth = 0i32;
    for (i, b) in bytes.iter().enumerate().skip(start) {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    text.len()
}

fn replace_line(text: &str, index: usize, new: &str) -> String {
    let mut out = String::new();
    for (i, l) in text.lines().enumerate() {
        out.push_str(if i == index { new } else { l });
        out.push('\n');
    }
    out
}

/// Applies a mutation of `kind` at a random site; `None` when the text has
/// no site for it.
fn mutate(text: &str, kind: Kind, rng: &mut Rng) -> Option<String> {
    let lines = code_lines(text);
    match kind {
        Kind::ValueToPointer => {
            let sites: Vec<(usize, &str, &str)> = lines
                .iter()
                .filter_map(|(i, l)| {
                    let rest = l.trim_start().strip_prefix("(param $")?;
                    let (_, ty) = rest.split_once(' ')?;
                    let ty = ty.strip_suffix(')')?;
                    (!ty.contains('(') && ty != "string").then_some((*i, *l, ty))
                })
                .collect();
            if sites.is_empty() {
                return None;
            }
            let (i, l, ty) = sites[rng.below(sites.len())];
            let new = l.replacen(&format!(" {ty})"), &format!(" (@witx pointer {ty}))"), 1);
            Some(replace_line(text, i, &new))
        }
        Kind::ScalarChanged => {
            let mut sites = Vec::new();
            for (i, l) in &lines {
                let toks = tokens(l);
                for (k, &(s, e)) in toks.iter().enumerate() {
                    let word = &l[s..e];
                    let after_tag =
                        k > 0 && matches!(&l[toks[k - 1].0..toks[k - 1].1], "tag" | "repr");
                    if SCALARS.contains(&word) && !after_tag {
                        let in_list = l[..s].trim_end().ends_with("(list");
                        sites.push((*i, s, e, in_list));
                    }
                }
            }
            if sites.is_empty() {
                return None;
            }
            let (i, s, e, in_list) = sites[rng.below(sites.len())];
            let line = text.lines().nth(i)?;
            let old = &line[s..e];
            // A WITX `bool` is a variant, which witx refuses as a result.
            let in_result = line.trim_start().starts_with("(result ");
            // `(list char)` is a string: a list of `u8` would still agree.
            let others: Vec<&str> = SCALARS
                .iter()
                .copied()
                .filter(|t| *t != old && !(in_list && *t == "char") && !(in_result && *t == "bool"))
                .collect();
            let new = others[rng.below(others.len())];
            Some(replace_line(
                text,
                i,
                &format!("{}{new}{}", &line[..s], &line[e..]),
            ))
        }
        Kind::FieldsSwapped => {
            let all: Vec<&str> = text.lines().collect();
            let field = |l: &str| -> Option<String> {
                let rest = l.trim_start().strip_prefix("(field $")?;
                let (_, ty) = rest.split_once(' ')?;
                let ty = ty.trim_end_matches(')');
                SCALARS.contains(&ty).then(|| ty.to_string())
            };
            let sites: Vec<usize> = (0..all.len().saturating_sub(1))
                .filter(|&i| {
                    // Both fields whole lines of one record, of different scalars.
                    let (a, b) = (field(all[i]), field(all[i + 1]));
                    a.is_some() && b.is_some() && a != b && !all[i].trim_end().ends_with("))")
                })
                .collect();
            if sites.is_empty() {
                return None;
            }
            let i = sites[rng.below(sites.len())];
            let (a, b) = (all[i], all[i + 1]);
            // The closing parentheses stay at the end of the record.
            let close = b.len() - b.trim_end_matches(')').len() - 1;
            let b_body = &b[..b.len() - close];
            let mut out = String::new();
            for (k, l) in all.iter().enumerate() {
                let l = if k == i {
                    b_body.to_string()
                } else if k == i + 1 {
                    format!("{a}{}", ")".repeat(close))
                } else {
                    l.to_string()
                };
                out.push_str(&l);
                out.push('\n');
            }
            Some(out)
        }
        Kind::EnumOrFlagsWidened => {
            let widen = |w: &str, flags: bool| match w {
                "u8" => Some("u16"),
                "u16" => Some("u32"),
                "u32" if flags => Some("u64"),
                _ => None,
            };
            let mut sites = Vec::new();
            for (i, l) in &lines {
                for (prefix, flags) in [("(enum (@witx tag ", false), ("(flags (@witx repr ", true)]
                {
                    let mut from = 0;
                    while let Some(p) = l[from..].find(prefix) {
                        let s = from + p + prefix.len();
                        let e = s + l[s..].find(')').unwrap_or(0);
                        if let Some(w) = widen(&l[s..e], flags) {
                            sites.push((*i, s, e, w));
                        }
                        from = e;
                    }
                }
            }
            if sites.is_empty() {
                return None;
            }
            let (i, s, e, w) = sites[rng.below(sites.len())];
            let line = text.lines().nth(i)?;
            Some(replace_line(
                text,
                i,
                &format!("{}{w}{}", &line[..s], &line[e..]),
            ))
        }
        Kind::ListElementChanged => {
            let mut sites = Vec::new();
            for (i, l) in &lines {
                let mut from = 0;
                while let Some(p) = l[from..].find("(list ") {
                    sites.push((*i, from + p));
                    from += p + 1;
                }
                for (s, e) in tokens(l) {
                    if &l[s..e] == "string" {
                        sites.push((*i, s));
                    }
                }
            }
            if sites.is_empty() {
                return None;
            }
            let (i, s) = sites[rng.below(sites.len())];
            let line = text.lines().nth(i)?;
            let new = if line[s..].starts_with("string") {
                format!("{}(list s8){}", &line[..s], &line[s + "string".len()..])
            } else {
                let elem_start = s + "(list ".len();
                let elem_end = expr_end(line, elem_start);
                let elem = &line[elem_start..elem_end];
                format!(
                    "{}(tuple {elem} {elem}){}",
                    &line[..elem_start],
                    &line[elem_end..]
                )
            };
            Some(replace_line(text, i, &new))
        }
        Kind::ResultToPointer => {
            let sites: Vec<(usize, &str)> = lines
                .iter()
                .filter(|(_, l)| l.trim_start().starts_with("(result $result "))
                .map(|(i, l)| (*i, *l))
                .collect();
            if sites.is_empty() {
                return None;
            }
            let (i, l) = sites[rng.below(sites.len())];
            let ty = l
                .trim()
                .strip_prefix("(result $result ")?
                .strip_suffix(')')?;
            let new = format!("    (param $moved_result (@witx pointer {ty}))");
            Some(replace_line(text, i, &new))
        }
        Kind::TypeRenamed => {
            let names: Vec<&str> = lines
                .iter()
                .filter_map(|(_, l)| l.strip_prefix("(typename $")?.split([' ', ')']).next())
                .collect();
            if names.is_empty() {
                return None;
            }
            let name = names[rng.below(names.len())];
            let from = format!("${name}");
            let to = format!("${name}_renamed");
            let mut out = String::new();
            for l in text.lines() {
                if l.trim_start().starts_with("(module ") || l.trim_start().starts_with(";;") {
                    out.push_str(l);
                } else {
                    let mut rest = l;
                    while let Some(p) = rest.find(&from) {
                        let end = p + from.len();
                        let whole = rest[end..]
                            .chars()
                            .next()
                            .is_none_or(|c| c == ')' || c == ' ');
                        out.push_str(&rest[..p]);
                        out.push_str(if whole { &to } else { &from });
                        rest = &rest[end..];
                    }
                    out.push_str(rest);
                }
                out.push('\n');
            }
            Some(out)
        }
        Kind::ParamRenamed => {
            let sites: Vec<(usize, &str)> = lines
                .iter()
                .filter(|(_, l)| l.trim_start().starts_with("(param $"))
                .map(|(i, l)| (*i, *l))
                .collect();
            if sites.is_empty() {
                return None;
            }
            let (i, l) = sites[rng.below(sites.len())];
            Some(replace_line(
                text,
                i,
                &l.replacen("(param $", "(param $renamed_", 1),
            ))
        }
        Kind::StringAsBytes | Kind::U32AsUsize => {
            let (word, new) = if kind == Kind::StringAsBytes {
                ("string", "(list u8)")
            } else {
                ("u32", "(@witx usize)")
            };
            let mut sites = Vec::new();
            for (i, l) in &lines {
                let toks = tokens(l);
                for (k, &(s, e)) in toks.iter().enumerate() {
                    let after_tag =
                        k > 0 && matches!(&l[toks[k - 1].0..toks[k - 1].1], "tag" | "repr");
                    if &l[s..e] == word && !after_tag {
                        sites.push((*i, s, e));
                    }
                }
            }
            if sites.is_empty() {
                return None;
            }
            let (i, s, e) = sites[rng.below(sites.len())];
            let line = text.lines().nth(i)?;
            Some(replace_line(
                text,
                i,
                &format!("{}{new}{}", &line[..s], &line[e..]),
            ))
        }
    }
}

#[derive(Default)]
struct Tally {
    packages: usize,
    smith_panics: usize,
    wide_flags: usize,
    models: usize,
    functions: usize,
    mutations: BTreeMap<Kind, usize>,
    unparsed: Vec<String>,
    findings: Vec<String>,
}

/// Derives a model, then checks every kind of mutation of its WITX.
fn exercise(wit: &WitModel, what: &str, rng: &mut Rng, tally: &mut Tally) {
    let Ok(derivation) = wasi_threads_witx::derive(wit) else {
        return;
    };
    if derivation.functions.is_empty() {
        return;
    }
    tally.models += 1;
    tally.functions += derivation.functions.len();
    let expected = smith::derived_part(wit, &derivation);
    for kind in Kind::ALL {
        // The kind is fixed here, before the mutation and the check.
        let Some(text) = mutate(&derivation.text, kind, rng) else {
            continue;
        };
        *tally.mutations.entry(kind).or_default() += 1;
        let mutated = match witx::parse("mutated.witx", &text) {
            Ok(m) => m,
            Err(e) => {
                tally
                    .unparsed
                    .push(format!("{what}, {kind:?}: {e}\n{text}"));
                continue;
            }
        };
        let report = check(&expected, &mutated);
        if report.is_equivalent() == kind.changes_meaning() {
            let mut f = format!(
                "{what}, {kind:?}: {} but the mutation {} the meaning\n",
                if report.is_equivalent() {
                    "equivalent"
                } else {
                    "not equivalent"
                },
                if kind.changes_meaning() {
                    "changes"
                } else {
                    "keeps"
                }
            );
            let _ = write!(
                f,
                "{report}--- derived\n{}--- mutated\n{text}",
                derivation.text
            );
            tally.findings.push(f);
        }
    }
}

/// WIT wit-smith 0.254 never makes: empty tuples and records, maps,
/// nested error-context, flags of 65 members and more, and the shapes the
/// derivation spells specially.
fn hand_corpus() -> String {
    let flags = |n: usize| {
        (0..n)
            .map(|i| format!("m{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "package test:edges;

interface edges {{
    record empty {{}}
    record holder {{ e: empty, n: u32, name: string, ok: bool }}
    record point {{ x: s32, y: f32, tag: u8 }}
    flags wide {{ {} }}
    flags wider {{ {} }}
    enum e3 {{ a, b, c }}
    variant v {{ none, num(u64), text(string), pt(point), many(list<point>) }}
    resource file {{
        read: func(n: u32) -> list<u8>;
        dup: func() -> file;
    }}
    empty-tuple: func(x: tuple<>, y: empty) -> tuple<>;
    empty-result: func() -> empty;
    holders: func(h: list<holder>, p: point) -> option<tuple<>>;
    maps: func(m: map<string, u32>, n: map<u8, list<point>>) -> map<u32, string>;
    nested-error: func(x: option<error-context>);
    wide-flags: func(a: wide, b: wider, c: list<wide>) -> wide;
    chars: func(c: list<char>, d: char) -> list<char>;
    bools: func(b: list<bool>, c: bool, d: option<bool>) -> bool;
    enums: func(e: e3, f: list<e3>, g: option<e3>) -> e3;
    variants: func(v: v, w: list<v>, r: result<v, e3>) -> v;
    joined: func(r: result<string, u32>, o: option<result<f32, u32>>);
    handles: func(a: borrow<file>, b: own<file>, c: list<file>, d: option<file>) -> file;
    fixed: func(x: list<u8, 4>, y: list<point, 2>) -> list<u16, 3>;
}}

world edges-world {{
    import edges;
    export run: func() -> tuple<>;
}}
",
        flags(40),
        flags(70)
    )
}

#[test]
fn mutations_that_change_meaning_are_reported_and_the_others_are_not() {
    let start = std::time::Instant::now();
    let cases = smith::cases("MUTATION_CASES", 300);
    let mut tally = Tally::default();
    let mut rng = Rng(0x5eed);

    let corpus = hand_corpus();
    for opts in [
        WitOptions::default(),
        WitOptions {
            interface: Some("edges".into()),
            ..Default::default()
        },
    ] {
        let wit = WitModel::parse("edges.wit", &corpus, &opts).unwrap();
        for round in 0..20 {
            exercise(
                &wit,
                &format!("hand corpus, round {round}"),
                &mut rng,
                &mut tally,
            );
        }
    }
    let corpus_models = tally.models;
    assert!(corpus_models > 0);

    // `MUTATION_SEED=N` runs that seed alone (to reproduce a finding).
    let seeds = match std::env::var("MUTATION_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => seed..seed + 1,
        None => 0..cases,
    };
    // `MUTATION_SECONDS=N` ends a long run after N seconds, with its summary.
    let budget = std::env::var("MUTATION_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(std::time::Duration::from_secs);
    let mut seeds_tried = 0;
    for seed in seeds {
        if budget.is_some_and(|b| start.elapsed() > b) {
            break;
        }
        seeds_tried += 1;
        let (resolve, pkg) = match smith::make(seed) {
            smith::Made::Package(resolve, pkg, wide) => {
                tally.wide_flags += wide;
                (*resolve, pkg)
            }
            smith::Made::SmithPanicked => {
                tally.smith_panics += 1;
                continue;
            }
            smith::Made::Nothing => continue,
        };
        tally.packages += 1;
        rng = Rng(seed);
        for opts in smith::selections(&resolve, pkg) {
            let Ok(wit) = WitModel::from_resolve(resolve.clone(), pkg, &opts) else {
                continue;
            };
            exercise(
                &wit,
                &format!("seed {seed}, {opts:?}"),
                &mut rng,
                &mut tally,
            );
        }
    }
    let total: usize = tally.mutations.values().sum();
    println!(
        "mutations: {seeds_tried} seeds, {} wit-smith packages ({} flags types of over 32 members; wit-smith itself panicked on {} seeds) and the hand corpus, {} models, {} functions, {total} mutations {:?}, {} unparsed, {} findings, {:.1?}",
        tally.packages,
        tally.wide_flags,
        tally.smith_panics,
        tally.models,
        tally.functions,
        tally.mutations,
        tally.unparsed.len(),
        tally.findings.len(),
        start.elapsed()
    );
    let heads = |v: &[String]| -> String {
        v.iter()
            .map(|f| f.lines().next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        tally.findings.is_empty(),
        "{} findings:\n{}\nthe first in full:\n{}",
        tally.findings.len(),
        heads(&tally.findings),
        tally.findings[0]
    );
    assert!(
        tally.unparsed.is_empty(),
        "{} mutations did not parse:\n{}\nthe first in full:\n{}",
        tally.unparsed.len(),
        heads(&tally.unparsed),
        tally.unparsed[0]
    );
    for kind in Kind::ALL {
        assert!(
            tally.mutations.get(&kind).copied().unwrap_or(0) > 0,
            "no mutation of kind {kind:?} was tried"
        );
    }
}
