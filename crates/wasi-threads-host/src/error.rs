//! What can go wrong before a program runs: a typed error per cause.

use std::fmt;
use std::path::PathBuf;

/// A problem found before anything runs: the module, the Engine, or what
/// the embedder asked for cannot work.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The Engine lacks a setting these parts need; `setting` names the
    /// `wasmtime::Config` method that turns it on
    /// ([`crate::configure`] sets them all).
    EngineSetting {
        setting: &'static str,
        why: &'static str,
    },
    /// The module is not valid wasm, or wasmtime cannot compile it.
    Compile(wasmtime::Error),
    /// The module imports `wasi` `thread-spawn` with another type.
    SpawnType { found: String },
    /// The module imports `thread-spawn` and a memory that is not shared.
    MemoryNotShared { module: String, name: String },
    /// The module imports `thread-spawn` but defines memories of its own
    /// (exported under these names, or not at all): every thread would get
    /// a private copy.
    OwnMemory { count: u32, exported: Vec<String> },
    /// The module imports `thread-spawn` but no memory at all.
    NoMemory,
    /// The memory import's minimum is above the memory limit.
    MemoryLimit {
        module: String,
        name: String,
        needed: u64,
        limit: u64,
    },
    /// wasmtime refused to create the memory.
    CreateMemory {
        module: String,
        name: String,
        source: wasmtime::Error,
    },
    /// Defining the imports or resolving them against the module failed
    /// (an import nobody defines, a type that does not match).
    Link(wasmtime::Error),
    /// The module exports no `_start` to run.
    NoStart,
    /// Instantiating the main thread's instance failed.
    Instantiate(wasmtime::Error),
    /// A directory to preopen cannot be opened.
    Preopen {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A socket to preopen cannot be used.
    Socket(String),
    /// The system refused a resource the run needs (a pipe, a thread).
    Io {
        what: &'static str,
        source: std::io::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::EngineSetting { setting, why } => write!(
                f,
                "the Engine was created without `Config::{setting}(true)`, which {why}"
            ),
            Error::Compile(e) => write!(f, "{e:#}"),
            Error::SpawnType { found } => write!(
                f,
                "the import \"wasi\" \"thread-spawn\" has type {found}, not (func (param i32) (result i32))"
            ),
            Error::MemoryNotShared { module, name } => write!(
                f,
                "the module imports thread-spawn but its memory import \"{module}\" \"{name}\" is not shared; threads need a shared memory"
            ),
            Error::OwnMemory { count, exported } => {
                let which = if exported.is_empty() {
                    format!("{count} not exported")
                } else {
                    format!(
                        "{count}, exported as {}",
                        exported
                            .iter()
                            .map(|n| format!("\"{n}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                write!(
                    f,
                    "the module imports thread-spawn but defines its own memory ({which}): every thread would get a memory of its own; wasi-threads modules import a shared memory"
                )
            }
            Error::NoMemory => f.write_str(
                "the module imports thread-spawn but no memory; wasi-threads modules import a shared memory",
            ),
            Error::MemoryLimit {
                module,
                name,
                needed,
                limit,
            } => write!(
                f,
                "the memory import \"{module}\" \"{name}\" needs {needed} bytes, over the memory limit of {limit}"
            ),
            Error::CreateMemory {
                module,
                name,
                source,
            } => write!(f, "cannot create the memory \"{module}\" \"{name}\": {source:#}"),
            Error::Link(e) => write!(f, "{e:#}"),
            Error::NoStart => f.write_str("the module exports no `_start`"),
            Error::Instantiate(e) => write!(f, "cannot instantiate the module: {e:#}"),
            Error::Preopen { path, source } => write!(
                f,
                "cannot open the directory {} to preopen: {source}",
                path.display()
            ),
            Error::Socket(message) => f.write_str(message),
            Error::Io { what, source } => write!(f, "cannot {what}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Compile(e) | Error::Link(e) | Error::Instantiate(e) => Some(e.as_ref()),
            Error::CreateMemory { source, .. } => Some(source.as_ref()),
            Error::Preopen { source, .. } | Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
