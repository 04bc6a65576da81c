//! Random WIT packages from `wit-smith`, made from fixed seeds so that a
//! failure names the seed that reproduces it.

use std::collections::HashMap;

use arbitrary::Unstructured;
use wasi_threads_abi::WitOptions;
use wasm_encoder::reencode::{Error, Reencode, ReencodeComponent};
use wit_parser::decoding::{decode, DecodedWasm};
use wit_parser::{Flag, PackageId, Resolve, TypeDefKind};

/// What the WITX derived from `wit` must be equivalent to: the model's
/// imports the derivation covers (matched by core module and name), no
/// exports.
pub fn derived_part(
    wit: &wasi_threads_abi::WitModel,
    derivation: &wasi_threads_witx::Derivation,
) -> wasi_threads_abi::Model {
    wasi_threads_abi::Model {
        origin: wit.model.origin.clone(),
        imports: wit
            .model
            .imports
            .iter()
            .filter(|f| {
                derivation.functions.iter().any(|d| {
                    f.module.as_deref() == Some(d.module.as_str()) && f.name == d.core_name
                })
            })
            .cloned()
            .collect(),
        exports: Vec::new(),
    }
}

/// splitmix64: deterministic bytes for a seed.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x2545_f491_4f6c_dd1d;
    (0..len)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

/// Every feature wit-smith 0.254 has, with enough type parts for flags of
/// 65 members and more.
pub fn every_feature() -> wit_smith::Config {
    wit_smith::Config {
        async_: true,
        futures: true,
        streams: true,
        error_context: true,
        fixed_length_lists: true,
        world_include: true,
        implements: true,
        max_type_parts: 80,
        ..Default::default()
    }
}

/// The synchronous subset, so that more functions reach the generators.
pub fn synchronous() -> wit_smith::Config {
    wit_smith::Config {
        fixed_length_lists: true,
        world_include: true,
        max_type_parts: 80,
        ..Default::default()
    }
}

/// What became of a seed.
pub enum Made {
    /// A package; `wide_flags` counts its flags of more than 32 members.
    Package(Box<Resolve>, PackageId, usize),
    /// wit-smith made nothing of the bytes.
    Nothing,
    /// wit-smith itself panicked (it writes WIT its resolver refuses, as
    /// `no import or export kebab-name`, and panics on it).
    SmithPanicked,
}

/// The package of `seed`: odd seeds with every feature, even seeds with
/// the synchronous ones.
pub fn make(seed: u64) -> Made {
    let data = bytes(seed, 8192);
    let mut u = Unstructured::new(&data);
    let config = if seed % 2 == 1 {
        every_feature()
    } else {
        synchronous()
    };
    let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wit_smith::smith(&config, &mut u)
    }));
    let wasm = match made {
        Ok(Ok(wasm)) => wasm,
        Ok(Err(_)) => return Made::Nothing,
        Err(_) => return Made::SmithPanicked,
    };
    let original = wasm;
    let (wasm, wide) = narrow_flags(&original);
    match decode(&wasm) {
        Ok(DecodedWasm::WitPackage(mut resolve, pkg)) => {
            let widened = widen_flags(&mut resolve, &wide);
            Made::Package(Box::new(resolve), pkg, widened)
        }
        Ok(_) => panic!("seed {seed}: wit-smith gave a component, not a WIT package"),
        // wit-smith refuses what has `stream<char>` when validation gets
        // that far, which wide flags used to stop first.
        Err(e) if format!("{e:#}").contains("`stream<char>` is not valid") => Made::Nothing,
        // wit-smith's own output fails the same way, or, where the wide
        // flags stopped the decoder first, with a name the component
        // model's rules refuse (wit-parser accepts a resource `r` with a
        // static function `r`; the binary's validator does not). Narrowing
        // renames no import, export or function: wit-smith's failure.
        Err(e)
            if decode(&original).is_err_and(|o| same_error(&o, &e))
                || format!("{e:#}").contains("conflicts with previous name") =>
        {
            Made::SmithPanicked
        }
        Err(e) => panic!(
            "seed {seed}: wit-smith output does not decode once its flags are narrowed: {e:#} (as wit-smith wrote it: {})",
            match decode(&original) {
                Ok(_) => "it decodes".to_string(),
                Err(o) => format!("{o:#}"),
            }
        ),
    }
}

/// Two decoding errors say the same, wherever in the binary they are.
fn same_error(a: &impl std::fmt::Display, b: &impl std::fmt::Display) -> bool {
    let text = |e: String| {
        e.split(" (at offset")
            .next()
            .unwrap_or_default()
            .to_string()
    };
    text(format!("{a:#}")) == text(format!("{b:#}"))
}

/// The member a narrowed flags type keeps: it names the entry of the
/// table of wide flags that holds its members.
const NARROWED: &str = "narrowed-flags-";

/// The component binary format (and so wit-parser's decoder) refuses flags
/// of more than 32 members, which wit-smith writes and WIT allows. Each
/// such flags type is re-encoded with one member naming its entry in the
/// returned table of member lists; [`widen_flags`] puts them back.
pub fn narrow_flags(wasm: &[u8]) -> (Vec<u8>, Vec<Vec<String>>) {
    let mut narrower = Narrower::default();
    let mut component = wasm_encoder::Component::new();
    narrower
        .parse_component(&mut component, wasmparser::Parser::new(0), wasm)
        .unwrap_or_else(|e| panic!("wit-smith output does not re-encode: {e:?}"));
    (component.finish(), narrower.wide)
}

/// Gives each narrowed flags type of `resolve` its members back; returns
/// how many it widened.
pub fn widen_flags(resolve: &mut Resolve, wide: &[Vec<String>]) -> usize {
    let mut widened = 0;
    for (_, ty) in resolve.types.iter_mut() {
        let TypeDefKind::Flags(flags) = &mut ty.kind else {
            continue;
        };
        let [only] = flags.flags.as_slice() else {
            continue;
        };
        let Some(entry) = only.name.strip_prefix(NARROWED) else {
            continue;
        };
        let span = only.span;
        flags.flags = wide[letters_index(entry)]
            .iter()
            .map(|name| Flag {
                name: name.clone(),
                docs: Default::default(),
                span,
            })
            .collect();
        widened += 1;
    }
    widened
}

/// A table index written in letters, as a kebab-case word allows.
fn index_letters(mut index: usize) -> String {
    let mut word = String::new();
    loop {
        word.push((b'a' + (index % 26) as u8) as char);
        index /= 26;
        if index == 0 {
            return word;
        }
    }
}

fn letters_index(word: &str) -> usize {
    word.bytes()
        .rev()
        .fold(0, |n, b| n * 26 + usize::from(b - b'a'))
}

/// Re-encodes a component as it is, but for its wide flags types.
#[derive(Default)]
struct Narrower {
    wide: Vec<Vec<String>>,
    entries: HashMap<Vec<String>, usize>,
}

impl Reencode for Narrower {
    type Error = std::convert::Infallible;
}

impl ReencodeComponent for Narrower {
    fn parse_component_defined_type(
        &mut self,
        defined: wasm_encoder::ComponentDefinedTypeEncoder<'_>,
        ty: wasmparser::ComponentDefinedType<'_>,
    ) -> Result<(), Error<Self::Error>> {
        match ty {
            wasmparser::ComponentDefinedType::Flags(names) if names.len() > 32 => {
                let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
                let next = self.wide.len();
                let entry = *self.entries.entry(names.clone()).or_insert(next);
                if entry == next {
                    self.wide.push(names);
                }
                let member = format!("{NARROWED}{}", index_letters(entry));
                defined.flags([member.as_str()]);
                Ok(())
            }
            ty => wasm_encoder::reencode::component_utils::parse_component_defined_type(
                self, defined, ty,
            ),
        }
    }
}

/// What to model of a package: each interface alone, each world, and the
/// default selection.
pub fn selections(resolve: &Resolve, pkg: PackageId) -> Vec<WitOptions> {
    let package = &resolve.packages[pkg];
    let mut out: Vec<WitOptions> = package
        .interfaces
        .keys()
        .map(|name| WitOptions {
            interface: Some(name.clone()),
            ..Default::default()
        })
        .collect();
    out.extend(package.worlds.keys().map(|name| WitOptions {
        world: Some(name.clone()),
        ..Default::default()
    }));
    out.push(WitOptions::default());
    out
}

/// How many cases to run: `var` in the environment, or `default`.
pub fn cases(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}
