//! The `wasi-threads` command line.
//!
//! Exit codes of `abi`, `witx` and `check`:
//! - 0: success; for `check`, the two sides are equivalent;
//! - 1: `check` found differences, or `witx` could not derive some function
//!   (the rest is still printed);
//! - 2: bad input: an unreadable file, a parse error (shown with the
//!   parser's file:line:col), an unknown world or interface, bad arguments.
//!
//! Exit codes of `bindgen`: 0 when the bindings were written; 1 when some
//! function uses a construct core-wasm bindings cannot express (async
//! functions, futures, streams; nothing is written); 2 on bad input or when
//! an output file cannot be written.
//!
//! Exit codes of `check-module`: 0 when every import the interfaces cover
//! and every export of the WIT worlds match; 1 on any mismatch, missing
//! export or memory that threads cannot share; 2 on bad input (a module
//! that is not wasm or cannot be read, an interface that does not load).
//!
//! Exit codes of `run`: the program's `proc_exit` code (0 when `_start`
//! returns), as the low 8 bits the operating system keeps; 134 when a thread
//! traps (the message and the thread id go to stderr); 2 when the module
//! cannot run at all (unreadable, invalid, unsupported imports, a
//! `--dir` that cannot be opened, a `--tcplisten` address that cannot be
//! listened on).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use wasi_threads_abi::{check, witx, LoadError, Model, WitModel, WitOptions};
use wasi_threads_bindgen::{BindgenError, Target};

/// Success, or equivalent.
pub const EXIT_OK: u8 = 0;
/// Not equivalent, or some function could not be derived.
pub const EXIT_DIFFERENT: u8 = 1;
/// Bad input.
pub const EXIT_BAD_INPUT: u8 = 2;

#[derive(Parser)]
#[command(
    name = "wasi-threads",
    version,
    about = "WIT/WITX tooling and a reference host for wasi-threads: core ABI, WITX derivation, equivalence check, bindings, run",
    after_help = "Exit codes: 0 success or equivalent; 1 not equivalent, or some function could not be derived; 2 bad input."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the core imports and exports of a WIT package or WITX document, one WAT line each.
    Abi {
        /// A WIT file or directory, or a .witx file.
        path: PathBuf,
        #[command(flatten)]
        select: Select,
    },
    /// Print the WITX derived from a WIT package, with the same core ABI.
    Witx {
        /// A WIT file or directory.
        path: PathBuf,
        #[command(flatten)]
        select: Select,
    },
    /// Print (or write to -o DIR) bindings generated from a WIT world.
    Bindgen {
        /// What to generate: wasmtime host glue, C guest code, Rust guest code.
        #[arg(value_enum)]
        target: BindgenTarget,
        /// A WIT file or directory.
        path: PathBuf,
        /// Write the files into this directory instead of printing them.
        #[arg(short = 'o', long = "out-dir", value_name = "DIR")]
        out_dir: Option<PathBuf>,
        #[command(flatten)]
        select: Select,
    },
    /// Run a wasi-threads module (.wasm or .wat) to its end.
    Run {
        /// Set an environment variable of the program (NAME=VAL).
        #[arg(long = "env", value_name = "NAME=VAL", value_parser = parse_env)]
        env: Vec<(String, String)>,
        /// The most threads started with thread-spawn alive at once.
        #[arg(long, value_name = "N")]
        max_threads: Option<usize>,
        /// Preopen a host directory, as GUEST_DIR (by default the same path) in the program.
        #[arg(long = "dir", value_name = "HOST_DIR[::GUEST_DIR]", value_parser = parse_dir)]
        dirs: Vec<(PathBuf, String)>,
        /// Listen on a TCP address and preopen the listener; listeners get the descriptors after the directories, in the order given.
        #[arg(long = "tcplisten", value_name = "HOST:PORT")]
        listen: Vec<String>,
        /// The module to run.
        module: PathBuf,
        /// Arguments of the program (after the module's own name).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Check a compiled module's imports and exports against WIT worlds and WITX documents.
    CheckModule {
        /// The module (.wasm, or .wat text).
        #[arg(value_name = "MODULE")]
        wasm: PathBuf,
        /// WIT files or directories, .witx files or directories of them (e.g. `wit/` and `witx/preview1/`).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        select: Select,
    },
    /// Compare the core ABI of a WIT package with a WITX document.
    Check {
        /// A WIT file or directory.
        wit: PathBuf,
        /// A .witx file, or a directory of them.
        witx: PathBuf,
        #[command(flatten)]
        select: Select,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum BindgenTarget {
    /// Rust glue for wasmtime hosts of core modules (what `host!` expands to).
    Host,
    /// A wasi-libc-style C header and source file.
    C,
    /// Rust guest code (what `guest!` expands to).
    Rust,
}

impl BindgenTarget {
    fn target(self) -> Target {
        match self {
            BindgenTarget::Host => Target::Host,
            BindgenTarget::C => Target::C,
            BindgenTarget::Rust => Target::Rust,
        }
    }
}

#[derive(Args)]
struct Select {
    /// Model this package of the WIT (one of its dependencies, e.g. `wasi:clocks` or `wasi:clocks@0.2.12`) instead of the main one.
    #[arg(long, value_name = "NAME")]
    package: Option<String>,
    /// Core module of every import [default: the canonical one, e.g.
    /// `wasi:clocks/wall-clock@0.2.12`, or the interface's `Core module:` line].
    #[arg(long, value_name = "NAME")]
    module: Option<String>,
    /// Model one interface of the package alone.
    #[arg(long, value_name = "NAME", conflicts_with = "world")]
    interface: Option<String>,
    /// Model this world of the package [default: its only world].
    #[arg(long, value_name = "NAME")]
    world: Option<String>,
}

impl Select {
    fn options(&self) -> WitOptions {
        WitOptions {
            package: self.package.clone(),
            world: self.world.clone(),
            interface: self.interface.clone(),
            module: self.module.clone(),
        }
    }
}

/// Runs the command line with the process's arguments.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                EXIT_BAD_INPUT
            } else {
                EXIT_OK
            });
        }
    };
    // Not locked: a program run by `run` writes to the same streams from
    // its own threads.
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    ExitCode::from(run(cli, &mut stdout, &mut stderr))
}

/// Runs a parsed command, writing to the given streams; returns the exit code.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match execute(cli, out, err) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            EXIT_BAD_INPUT
        }
    }
}

/// The exit code of a trap in `run`, as a shell reports SIGABRT.
pub const EXIT_TRAP: u8 = 134;

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not NAME=VAL")),
    }
}

/// `HOST_DIR[::GUEST_DIR]`, as wasmtime spells it.
fn parse_dir(s: &str) -> Result<(PathBuf, String), String> {
    let (host, guest) = match s.split_once("::") {
        Some((host, guest)) => (host, guest),
        None => (s, s),
    };
    if host.is_empty() || guest.is_empty() {
        return Err(format!("`{s}` is not HOST_DIR[::GUEST_DIR]"));
    }
    Ok((PathBuf::from(host), guest.to_string()))
}

fn run_module(
    module: &Path,
    args: &[String],
    env: &[(String, String)],
    max_threads: Option<usize>,
    dirs: &[(PathBuf, String)],
    listen: &[String],
    err: &mut dyn Write,
) -> u8 {
    let wasm = match std::fs::read(module) {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = writeln!(err, "error: cannot read {}: {e}", module.display());
            return EXIT_BAD_INPUT;
        }
    };
    let mut runner = wasi_threads_host::Runner::new().arg(module.display().to_string());
    for a in args {
        runner = runner.arg(a.clone());
    }
    for (k, v) in env {
        runner = runner.env(k, v);
    }
    if let Some(n) = max_threads {
        runner = runner.max_threads(n);
    }
    for (host, guest) in dirs {
        runner = runner.preopen_dir(host, guest);
    }
    for addr in listen {
        match std::net::TcpListener::bind(addr.as_str()) {
            Ok(listener) => runner = runner.preopen_socket(listener),
            Err(e) => {
                let _ = writeln!(err, "error: cannot listen on {addr}: {e}");
                return EXIT_BAD_INPUT;
            }
        }
    }
    match runner.run(&wasm) {
        Ok(report) => match report.outcome {
            wasi_threads_host::Outcome::Exit(code) => code as u8,
            wasi_threads_host::Outcome::Trap { tid, message } => {
                let _ = writeln!(err, "error: thread {tid} trapped: {message}");
                EXIT_TRAP
            }
            wasi_threads_host::Outcome::TimedOut => EXIT_TRAP,
        },
        Err(e) => {
            let _ = writeln!(err, "error: cannot run {}: {e}", module.display());
            EXIT_BAD_INPUT
        }
    }
}

/// A `.witx` file, or a directory of `.witx` files and no `.wit` file.
fn is_witx(path: &Path) -> bool {
    if path.extension().is_some_and(|e| e == "witx") {
        return true;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return false;
    };
    let exts: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            e.path()
                .extension()
                .map(|x| x.to_string_lossy().into_owned())
        })
        .collect();
    exts.iter().any(|e| e == "witx") && !exts.iter().any(|e| e == "wit")
}

fn execute(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, LoadError> {
    match cli.command {
        Command::Run {
            env,
            max_threads,
            dirs,
            listen,
            module,
            args,
        } => Ok(run_module(
            &module,
            &args,
            &env,
            max_threads,
            &dirs,
            &listen,
            err,
        )),
        Command::Bindgen {
            target,
            path,
            out_dir,
            select,
        } => {
            let wit = WitModel::load(&path, &select.options())?;
            let generated = match wasi_threads_bindgen::generate(&wit, target.target()) {
                Ok(g) => g,
                Err(e @ (BindgenError::Unsupported { .. } | BindgenError::Invalid { .. })) => {
                    let _ = writeln!(err, "error: {e}");
                    return Ok(EXIT_DIFFERENT);
                }
                Err(BindgenError::Load(e)) => return Err(e),
            };
            match out_dir {
                None => {
                    let _ = out.write_all(generated.concatenated().as_bytes());
                }
                Some(dir) => {
                    for (name, text) in &generated.files {
                        let file = dir.join(name);
                        let written =
                            std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&file, text));
                        if let Err(e) = written {
                            let _ = writeln!(err, "error: cannot write {}: {e}", file.display());
                            return Ok(EXIT_BAD_INPUT);
                        }
                        let _ = writeln!(out, "{}", file.display());
                    }
                }
            }
            Ok(EXIT_OK)
        }
        Command::Abi { path, select } => {
            let model: Model = if is_witx(&path) {
                witx::load(&path)?
            } else {
                WitModel::load(&path, &select.options())?.model
            };
            for line in model.wat_lines() {
                let _ = writeln!(out, "{line}");
            }
            Ok(EXIT_OK)
        }
        Command::Witx { path, select } => {
            let wit = WitModel::load(&path, &select.options())?;
            let derivation = wasi_threads_witx::derive(&wit).map_err(|e| {
                LoadError::new(wasi_threads_abi::LoadErrorKind::Selection, &path, e.0)
            })?;
            let _ = out.write_all(derivation.text.as_bytes());
            for f in &derivation.failures {
                let _ = writeln!(err, "error: cannot derive {f}");
            }
            Ok(if derivation.failures.is_empty() {
                EXIT_OK
            } else {
                EXIT_DIFFERENT
            })
        }
        Command::CheckModule {
            wasm,
            paths,
            select,
        } => {
            let compiled = wasi_threads_abi::CompiledModule::load(&wasm)?;
            let mut models = Vec::new();
            for path in &paths {
                models.push(if is_witx(path) {
                    witx::load(path)?
                } else {
                    WitModel::load(path, &select.options())?.model
                });
            }
            let refs: Vec<&Model> = models.iter().collect();
            let report = wasi_threads_abi::check_module(&compiled, &refs);
            let _ = write!(out, "{report}");
            Ok(if report.is_match() {
                EXIT_OK
            } else {
                EXIT_DIFFERENT
            })
        }
        Command::Check {
            wit,
            witx: witx_path,
            select,
        } => {
            let wit = WitModel::load(&wit, &select.options())?;
            let witx = witx::load(&witx_path)?;
            let report = check(&wit.model, &witx);
            let _ = write!(out, "{report}");
            Ok(if report.is_equivalent() {
                EXIT_OK
            } else {
                EXIT_DIFFERENT
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
