//! Generates host bindings for the repository's canonical WIT into
//! `OUT_DIR`; cargo reruns this when any of its WIT files changes.

use wasi_threads_bindgen::{build::Build, Target};

fn main() {
    if let Err(e) = Build::new("../../wit", Target::Host).generate() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
