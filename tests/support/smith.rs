//! Random WIT packages from `wit-smith`, made from fixed seeds so that a
//! failure names the seed that reproduces it.

use arbitrary::Unstructured;
use wasi_threads_abi::WitOptions;
use wit_parser::decoding::{decode, DecodedWasm};
use wit_parser::{PackageId, Resolve};

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
    Package(Box<Resolve>, PackageId),
    /// wit-smith made nothing of the bytes.
    Nothing,
    /// wit-smith encoded flags of more than 32 members, which the
    /// component binary format (and so wit-parser's decoder) refuses.
    WideFlags,
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
    match decode(&wasm) {
        Ok(DecodedWasm::WitPackage(resolve, pkg)) => Made::Package(Box::new(resolve), pkg),
        Ok(_) => panic!("seed {seed}: wit-smith gave a component, not a WIT package"),
        Err(e) if format!("{e:#}").contains("cannot have more than 32 flags") => Made::WideFlags,
        Err(e) => panic!("seed {seed}: wit-smith output does not decode: {e:#}"),
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
