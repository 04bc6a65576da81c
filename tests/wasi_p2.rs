//! Every WASI 0.2 package wasmtime-wasi 48.0.8 ships derives to WITX with
//! exit code 0, and every derived function's core signature equals the
//! core import `wit_component::dummy_module` gives for the same world (an
//! independent computation of names and signatures). The WIT is found
//! through `cargo metadata`, not copied into this repository.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{root, wasi_threads, Signatures};
use wit_parser::{LiftLowerAbi, ManglingAndAbi, Resolve};

/// The `src/p2/wit` directory of the wasmtime-wasi the lockfile names.
fn wasi_wit() -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let package = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "wasmtime-wasi" && p["version"] == "48.0.8")
        .expect("wasmtime-wasi 48.0.8 is a dev-dependency");
    let manifest = PathBuf::from(package["manifest_path"].as_str().unwrap());
    manifest.parent().unwrap().join("src/p2/wit")
}

/// The function imports of a core module: (module, name) -> signature.
fn module_imports(wasm: &[u8]) -> Signatures {
    let mut functions = support::module_functions(wasm);
    // Exports are under the module "".
    functions.retain(|(module, _), _| !module.is_empty());
    functions
}

/// The functions of a WITX document, as witx computes their signatures.
fn witx_functions(text: &str) -> Signatures {
    let doc = witx::parse(text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    let name = |t: witx::WasmType| format!("{t:?}").to_lowercase();
    let mut out = Signatures::new();
    for module in doc.modules() {
        for func in module.funcs() {
            let (params, results) = func.wasm_signature();
            out.insert(
                (
                    module.name.as_str().to_string(),
                    func.name.as_str().to_string(),
                ),
                (
                    params.into_iter().map(name).collect(),
                    results.into_iter().map(name).collect(),
                ),
            );
        }
    }
    out
}

#[test]
fn every_wasi_0_2_package_derives_with_dummy_module_signatures() {
    let wit = wasi_wit();
    let mut resolve = Resolve::default();
    resolve.push_path(&wit).unwrap();
    let mut functions = 0;
    for (package, world) in [
        ("wasi:clocks", None),
        ("wasi:random", None),
        ("wasi:io", None),
        ("wasi:filesystem", None),
        ("wasi:sockets", None),
        ("wasi:cli", Some("imports")),
    ] {
        let mut args = vec!["witx", wit.to_str().unwrap(), "--package", package];
        if let Some(w) = world {
            args.extend(["--world", w]);
        }
        let run = wasi_threads(&args);
        assert_eq!(run.code, 0, "{package}: {}", run.stderr);
        assert!(run.stderr.is_empty(), "{package}: {}", run.stderr);
        let derived = witx_functions(&run.stdout);

        let (pkg, _) = resolve
            .package_names
            .iter()
            .find(|(name, _)| format!("{}:{}", name.namespace, name.name) == package)
            .map(|(n, id)| (*id, n.clone()))
            .unwrap();
        let world_id = resolve
            .select_world(&[pkg], Some(world.unwrap_or("imports")))
            .unwrap();
        let dummy = wit_component::dummy_module(
            &resolve,
            world_id,
            ManglingAndAbi::Legacy(LiftLowerAbi::Sync),
        );
        let expected = module_imports(&dummy);
        assert!(!expected.is_empty(), "{package}");
        let missing: Vec<_> = expected
            .keys()
            .filter(|k| !derived.contains_key(*k))
            .collect();
        let extra: Vec<_> = derived
            .keys()
            .filter(|k| !expected.contains_key(*k))
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{package}: not derived {missing:?}; not imported by dummy_module {extra:?}"
        );
        for (key, sig) in &expected {
            assert_eq!(&derived[key], sig, "{package}: {key:?}");
        }
        functions += expected.len();
        // The module ids are the canonical core module names.
        assert!(
            run.stdout.contains(&format!("(module ${package}/")),
            "{package}:\n{}",
            run.stdout
        );
    }
    println!("WASI 0.2: {functions} functions derived with dummy_module's signatures");
    assert!(functions > 100, "{functions}");
}

#[test]
fn the_cli_package_asks_for_a_world_in_one_line() {
    let wit = wasi_wit();
    let run = wasi_threads(&["witx", wit.to_str().unwrap(), "--package", "wasi:cli"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("has 2 worlds (imports, command); choose one with --world"),
        "{}",
        run.stderr
    );
}
