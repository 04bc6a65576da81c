//! Bindings from a build script: generated into `OUT_DIR`, with cargo told
//! to run the script again when any WIT file read changes.
//!
//! ```no_run
//! // build.rs
//! use wasi_threads_bindgen::{build::Build, Target};
//!
//! fn main() {
//!     Build::new("wit", Target::Host).world("threads").generate().unwrap();
//! }
//! ```
//!
//! ```ignore
//! // src/lib.rs: the file is named for the target (`host.rs`, `guest.rs`,
//! // or the C header and source).
//! include!(concat!(env!("OUT_DIR"), "/host.rs"));
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use wasi_threads_abi::{WitModel, WitOptions};

#[cfg(test)]
use crate::generate;
use crate::{generate_with, BindgenError, HostOptions, Target};

/// What a build script asks for; [`Build::generate`] does it.
#[derive(Clone, Debug)]
pub struct Build {
    path: PathBuf,
    target: Target,
    options: WitOptions,
    host: HostOptions,
    out_dir: Option<PathBuf>,
}

/// Why a build script's bindings were not written.
#[derive(Debug)]
pub enum BuildError {
    Bindgen(BindgenError),
    /// Neither [`Build::out_dir`] nor `OUT_DIR` (cargo sets it for build
    /// scripts) says where to write.
    NoOutDir,
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Bindgen(e) => write!(f, "{e}"),
            BuildError::NoOutDir => {
                f.write_str("OUT_DIR is not set (is this a build script?) and no out_dir was given")
            }
            BuildError::Write { path, error } => {
                write!(f, "cannot write {}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for BuildError {}

impl From<BindgenError> for BuildError {
    fn from(e: BindgenError) -> Self {
        BuildError::Bindgen(e)
    }
}

impl Build {
    /// Bindings of `target` for the WIT at `path` (a file, or a directory
    /// with `deps/`), relative to the build script's working directory (the
    /// package's root).
    pub fn new(path: impl Into<PathBuf>, target: Target) -> Build {
        Build {
            path: path.into(),
            target,
            options: WitOptions::default(),
            host: HostOptions::default(),
            out_dir: None,
        }
    }

    /// The world to bind, when the package has several.
    pub fn world(mut self, name: impl Into<String>) -> Build {
        self.options.world = Some(name.into());
        self
    }

    /// Every option of the model (package, world, interface, module).
    pub fn options(mut self, options: WitOptions) -> Build {
        self.options = options;
        self
    }

    /// Options of host bindings (`imports`, `trappable_error_type`, ...),
    /// as `host!` takes them.
    pub fn host_options(mut self, options: HostOptions) -> Build {
        self.host = options;
        self
    }

    /// Where to write (default: `OUT_DIR`).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Build {
        self.out_dir = Some(dir.into());
        self
    }

    /// Generates, writes the files, prints `cargo:rerun-if-changed` for
    /// the WIT path and every WIT file read, and returns the files written.
    pub fn generate(self) -> Result<Vec<PathBuf>, BuildError> {
        self.generate_with(&mut std::io::stdout())
    }

    /// [`Build::generate`], with cargo's directives written to `directives`.
    pub fn generate_with(self, directives: &mut dyn Write) -> Result<Vec<PathBuf>, BuildError> {
        let out_dir = match self.out_dir {
            Some(dir) => dir,
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(BuildError::NoOutDir)?,
        };
        // Watch the path itself even when loading fails, so that fixing
        // the WIT runs the script again.
        let _ = writeln!(directives, "cargo:rerun-if-changed={}", self.path.display());
        let model = WitModel::load(&self.path, &self.options).map_err(BindgenError::Load)?;
        for source in &model.sources {
            let _ = writeln!(directives, "cargo:rerun-if-changed={}", source.display());
        }
        let generated = generate_with(&model, self.target, &self.host)?;
        let mut written = Vec::new();
        for (name, text) in &generated.files {
            let path = out_dir.join(file_name(name, self.target));
            std::fs::write(&path, text).map_err(|error| BuildError::Write {
                path: path.clone(),
                error,
            })?;
            written.push(path);
        }
        Ok(written)
    }
}

/// The name a generated file gets in `OUT_DIR`: the generator's own name
/// for C files, `host.rs` or `guest.rs` for Rust.
fn file_name(name: &str, target: Target) -> String {
    match target {
        Target::Host => "host.rs".to_string(),
        Target::Rust => "guest.rs".to_string(),
        Target::C => Path::new(name)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "wasi-threads-bindgen-build-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Every `.wit` file under `dir`, found by walking it (not by the
    /// parser), sorted.
    fn wit_files(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                found.extend(wit_files(&path));
            } else if path.extension().is_some_and(|e| e == "wit") {
                found.push(path);
            }
        }
        found.sort();
        found
    }

    #[test]
    fn writes_into_the_out_dir_and_watches_every_wit_file_read() {
        let wit = scratch("wit");
        std::fs::create_dir_all(wit.join("deps/dep")).unwrap();
        std::fs::write(
            wit.join("world.wit"),
            "package t:b;\nworld w { import t:dep/i; import local; }\n",
        )
        .unwrap();
        std::fs::write(
            wit.join("local.wit"),
            "package t:b;\ninterface local { f: func(x: u32) -> string; }\n",
        )
        .unwrap();
        std::fs::write(
            wit.join("deps/dep/i.wit"),
            "package t:dep;\ninterface i { g: func(); }\n",
        )
        .unwrap();
        let out = scratch("out");
        for (target, names) in [
            (Target::Host, vec!["host.rs"]),
            (Target::Rust, vec!["guest.rs"]),
            (Target::C, vec!["w.h", "w.c"]),
        ] {
            let mut directives = Vec::new();
            let written = Build::new(&wit, target)
                .out_dir(&out)
                .generate_with(&mut directives)
                .unwrap();
            let written: Vec<String> = written
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect();
            assert_eq!(written, names, "{target:?}");
            // The files are what `generate` gives.
            let expected = generate(
                &WitModel::load(&wit, &WitOptions::default()).unwrap(),
                target,
            )
            .unwrap();
            for ((_, text), name) in expected.files.iter().zip(&names) {
                assert_eq!(&std::fs::read_to_string(out.join(name)).unwrap(), text);
            }
            let directives = String::from_utf8(directives).unwrap();
            let mut watched: Vec<PathBuf> = directives
                .lines()
                .map(|l| PathBuf::from(l.strip_prefix("cargo:rerun-if-changed=").unwrap()))
                .collect();
            assert_eq!(watched.remove(0), wit);
            watched.sort();
            assert_eq!(watched, wit_files(&wit), "{directives}");
        }
    }

    #[test]
    fn host_options_reach_the_generator_and_bad_ones_are_named() {
        let wit = scratch("options");
        std::fs::write(
            wit.join("w.wit"),
            "package t:o;\ninterface i { f: func(x: u32) -> u32; }\nworld w { import i; }\n",
        )
        .unwrap();
        let out = scratch("options-out");
        let generate = |host: HostOptions| {
            Build::new(&wit, Target::Host)
                .out_dir(&out)
                .host_options(host)
                .generate_with(&mut Vec::new())
                .map(|_| std::fs::read_to_string(out.join("host.rs")).unwrap())
        };
        let plain = generate(HostOptions::default()).unwrap();
        assert!(plain.contains("fn f(&mut self, x: u32) -> u32;"), "{plain}");
        let mut trappable = HostOptions::default();
        trappable.imports.rules.push((
            "t:o/i.f".to_string(),
            crate::Flags {
                trappable: true,
                ..crate::Flags::default()
            },
        ));
        let text = generate(trappable).unwrap();
        assert!(
            text.contains("fn f(&mut self, x: u32) -> wasmtime::Result<u32>;"),
            "{text}"
        );
        let mut unused = HostOptions::default();
        unused
            .imports
            .rules
            .push(("t:o/i.g".to_string(), crate::Flags::default()));
        let e = generate(unused).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("the `imports` rule \"t:o/i.g\" names no imported function"),
            "{e}"
        );
        let mut with = HostOptions::default();
        with.with
            .push(("t:o/i.nothing".to_string(), "crate::X".to_string()));
        let e = generate(with).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("`with` names \"t:o/i.nothing\", which is no type"),
            "{e}"
        );
        let mut error = HostOptions::default();
        error
            .trappable_error_type
            .push(("t:o/i.nothing".to_string(), "E".to_string()));
        let e = generate(error).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("`trappable_error_type` names \"t:o/i.nothing\""),
            "{e}"
        );
    }

    #[test]
    fn errors_name_what_went_wrong() {
        let wit = scratch("bad");
        std::fs::write(
            wit.join("w.wit"),
            "package t:b;\nworld w { import f: func(x: nope); }\n",
        )
        .unwrap();
        let mut directives = Vec::new();
        let e = Build::new(&wit, Target::Host)
            .out_dir(scratch("bad-out"))
            .generate_with(&mut directives)
            .unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
        // The WIT is still watched, so fixing it reruns the script.
        assert_eq!(
            String::from_utf8(directives).unwrap(),
            format!("cargo:rerun-if-changed={}\n", wit.display())
        );
        std::fs::write(
            wit.join("w.wit"),
            "package t:b;\nworld w { import f: func(); }\n",
        )
        .unwrap();
        let e = Build::new(&wit, Target::Host)
            .out_dir(wit.join("missing"))
            .generate_with(&mut Vec::new())
            .unwrap_err();
        assert!(
            e.to_string().starts_with(&format!(
                "cannot write {}",
                wit.join("missing/host.rs").display()
            )),
            "{e}"
        );
    }
}
