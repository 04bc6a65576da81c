//! Property test over random WIT packages from `wit-smith`: modelling and
//! deriving never panic, and every derivation that succeeds is equivalent
//! to its WIT when parsed back with the witx crate.
//!
//! `WIT_SMITH_CASES` sets how many inputs are tried (default 1000); each is
//! made from a fixed seed, so a failure names the seed that reproduces it.

use arbitrary::Unstructured;
use wasi_threads_abi::{check, witx, Model, WitModel, WitOptions};
use wit_parser::decoding::{decode, DecodedWasm};

/// splitmix64: deterministic bytes for a seed.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
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

#[derive(Default)]
struct Tally {
    packages: usize,
    models: usize,
    derived: usize,
    rejected: usize,
}

/// Models one selection of the package, derives it, and checks the result.
fn exercise(
    resolve: &wit_parser::Resolve,
    pkg: wit_parser::PackageId,
    opts: WitOptions,
    seed: u64,
    tally: &mut Tally,
) {
    let Ok(wit) = WitModel::from_resolve(resolve.clone(), pkg, &opts) else {
        return;
    };
    tally.models += 1;
    let derivation = match wasi_threads_witx::derive(&wit) {
        Ok(d) => d,
        // A module name WITX cannot spell is refused as a whole, by design.
        Err(e) if e.0.contains("cannot be a WITX module name") => return,
        Err(e) => panic!("seed {seed}, {opts:?}: derivation failed as a whole: {e}"),
    };
    tally.derived += derivation.functions.len();
    tally.rejected += derivation.failures.len();
    for f in &derivation.failures {
        assert!(
            !f.reason.is_empty() && !f.construct.is_empty(),
            "seed {seed}: {f}"
        );
        if std::env::var_os("WIT_SMITH_SHOW").is_some() {
            println!("REJECT {}: {}", f.construct, f.reason);
        }
    }
    let parsed = witx::parse("derived.witx", &derivation.text).unwrap_or_else(|e| {
        panic!(
            "seed {seed}, {opts:?}: derived WITX does not parse: {e}\n{}",
            derivation.text
        )
    });
    let expected = Model {
        origin: wit.model.origin.clone(),
        imports: wit
            .model
            .imports
            .iter()
            .filter(|f| {
                derivation
                    .functions
                    .iter()
                    .any(|d| d.name == f.source_name && d.interface == f.source_interface)
            })
            .cloned()
            .collect(),
        exports: Vec::new(),
    };
    let report = check(&expected, &parsed);
    assert!(
        report.is_equivalent(),
        "seed {seed}, {opts:?}:\n{report}\n{}",
        derivation.text
    );
}

#[test]
fn random_wit_packages_derive_to_equivalent_witx() {
    let cases: u64 = std::env::var("WIT_SMITH_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    // Odd seeds include the async constructs WITX cannot express; even
    // seeds leave them out, so more functions reach the derivation.
    let with_async = wit_smith::Config {
        async_: true,
        futures: true,
        streams: true,
        error_context: true,
        fixed_length_lists: true,
        ..Default::default()
    };
    let without_async = wit_smith::Config {
        fixed_length_lists: true,
        ..Default::default()
    };
    let mut tally = Tally::default();
    for seed in 0..cases {
        let data = bytes(seed, 8192);
        let mut u = Unstructured::new(&data);
        let config = if seed % 2 == 1 {
            &with_async
        } else {
            &without_async
        };
        let Ok(wasm) = wit_smith::smith(config, &mut u) else {
            continue;
        };
        let DecodedWasm::WitPackage(resolve, pkg) =
            decode(&wasm).expect("wit-smith output decodes")
        else {
            panic!("seed {seed}: wit-smith gave a component, not a WIT package");
        };
        tally.packages += 1;
        let package = &resolve.packages[pkg];
        for name in package.interfaces.keys() {
            let opts = WitOptions {
                interface: Some(name.clone()),
                ..Default::default()
            };
            exercise(&resolve, pkg, opts, seed, &mut tally);
        }
        for name in package.worlds.keys() {
            let opts = WitOptions {
                world: Some(name.clone()),
                ..Default::default()
            };
            exercise(&resolve, pkg, opts, seed, &mut tally);
        }
        exercise(&resolve, pkg, WitOptions::default(), seed, &mut tally);
    }
    println!(
        "wit-smith: {} packages, {} models, {} functions derived, {} rejected",
        tally.packages, tally.models, tally.derived, tally.rejected
    );
    assert!(
        tally.packages > cases as usize / 4,
        "too few packages generated: {}",
        tally.packages
    );
    assert!(
        tally.derived > 0 && tally.rejected > 0,
        "both outcomes are exercised"
    );
}
