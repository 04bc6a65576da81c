//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

pub mod corpus;
pub mod golden;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// What a run of the `wasi-threads` binary gave.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the `wasi-threads` binary with `args`, from the repository root.
pub fn wasi_threads(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_wasi-threads"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run wasi-threads");
    Run {
        code: out.status.code().expect("exit code, not a signal"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("wasi-threads-tests-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
