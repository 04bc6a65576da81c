//! Links the archive holding the weak `cabi_realloc` when building for
//! wasm32; on any other target the crate links nothing.

use std::path::PathBuf;

fn main() {
    let archive = "src/libwasi_threads_guest_rt_cabi.a";
    println!("cargo:rerun-if-changed={archive}");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("wasm32") {
        return;
    }
    // A name per version: two versions of this crate in one program each
    // link their own archive, calling their own versioned allocator.
    let name = format!(
        "wasi_threads_guest_rt_cabi_{}",
        env!("CARGO_PKG_VERSION").replace(['.', '-', '+'], "_")
    );
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::copy(archive, out.join(format!("lib{name}.a")))
        .unwrap_or_else(|e| panic!("copying {archive}: {e}"));
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static={name}");
}
