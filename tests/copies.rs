//! The host crate builds on its own (as a package): it carries copies of
//! the canonical WIT and of the preview-1 WITX its glue is generated from.
//! They must stay identical to the originals.

use std::path::Path;

mod support;

fn same_files(original: &Path, copy: &Path) {
    let names = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names(original),
        names(copy),
        "{} vs {}",
        original.display(),
        copy.display()
    );
    for name in names(original) {
        let (a, b) = (original.join(&name), copy.join(&name));
        assert!(
            std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
            "{} differs from {}: copy the original over it",
            b.display(),
            a.display()
        );
    }
}

#[test]
fn the_host_crates_copies_of_wit_and_witx_are_the_originals() {
    let root = support::root();
    same_files(
        &root.join("wit"),
        &root.join("crates/wasi-threads-host/wit"),
    );
    same_files(
        &root.join("witx/preview1"),
        &root.join("crates/wasi-threads-host/witx/preview1"),
    );
}
