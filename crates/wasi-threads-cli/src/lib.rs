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
use wasi_threads_host::{Outcome, SpawnRefusal};

pub mod flags;

use flags::Flags;

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
    after_help = "Exit codes: 0 success or equivalent; 1 not equivalent, some function could not be derived or bound, or a module does not match; 2 bad input. Each command's --help gives its own; `run` exits with the program's code."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the core imports and exports of a WIT package or WITX document, one WAT line each.
    #[command(
        after_help = "Exit codes: 0 printed; 2 bad input (an unreadable file, a parse error with its file:line:col, an unknown world, interface or package, bad arguments)."
    )]
    Abi {
        /// A WIT file or directory, or a .witx file.
        path: PathBuf,
        #[command(flatten)]
        select: Select,
    },
    /// Print the WITX derived from a WIT package, with the same core ABI.
    #[command(
        after_help = "Exit codes: 0 every function derived; 1 some function could not be derived (each is named on stderr, the rest is still printed); 2 bad input."
    )]
    Witx {
        /// A WIT file or directory.
        path: PathBuf,
        #[command(flatten)]
        select: Select,
    },
    /// Print (or write to -o DIR) bindings generated from a WIT world.
    #[command(
        after_help = "Exit codes: 0 the bindings were printed or written; 1 some function uses a construct core-wasm bindings cannot express (named on stderr; nothing is written); 2 bad input, or an output file that cannot be written."
    )]
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
    #[command(after_help = RUN_HELP)]
    Run {
        /// Set an environment variable of the program: NAME=VAL, or NAME to pass on the host's value (left unset when the host has none).
        #[arg(long = "env", value_name = "NAME[=VAL]")]
        env: Vec<String>,
        /// The most threads started with thread-spawn alive at once [default: 8192].
        #[arg(long, value_name = "N")]
        max_threads: Option<usize>,
        /// Preopen a host directory, as GUEST_DIR (by default the same path) in the program.
        #[arg(long = "dir", value_name = "HOST_DIR[::GUEST_DIR]", value_parser = parse_dir)]
        dirs: Vec<(PathBuf, String)>,
        /// Preopen a host directory read-only; these get descriptors after the --dir ones.
        #[arg(long = "dir-readonly", value_name = "HOST_DIR[::GUEST_DIR]", value_parser = parse_dir)]
        readonly_dirs: Vec<(PathBuf, String)>,
        /// Listen on a TCP address and preopen the listener; listeners get the descriptors after the directories, in the order given.
        #[arg(long = "tcplisten", value_name = "HOST:PORT")]
        listen: Vec<String>,
        /// wasmtime's wasm options: threads[=y|n], shared-memory[=y|n], fuel=N, timeout=N|Ns|Nms|Nus|Nns, max-memory-size=N (bytes), epoch-interruption[=y|n] (stop threads one by one at the end instead of ending the process).
        #[arg(short = 'W', value_name = "KEY[=VAL][,...]")]
        wasm: Vec<String>,
        /// wasmtime's WASI options: threads[=y|n], cli, common, preview2=n, tcplisten=HOST:PORT, inherit-env, inherit-stdin[=y|n], inherit-stdout[=y|n], inherit-stderr[=y|n].
        #[arg(short = 'S', value_name = "KEY[=VAL][,...]")]
        wasi: Vec<String>,
        /// Keep compiled modules in DIR [default: $WASI_THREADS_CACHE, else $XDG_CACHE_HOME/wasi-threads, else ~/.cache/wasi-threads].
        #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
        cache_dir: Option<PathBuf>,
        /// Compile the module every time, without the cache.
        #[arg(long)]
        no_cache: bool,
        /// The module to run.
        module: PathBuf,
        /// Arguments of the program (after the module's own name).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Check a compiled module's imports and exports against WIT worlds and WITX documents.
    #[command(
        after_help = "Exit codes: 0 every import the interfaces cover and every export of the WIT worlds match (imports no interface covers are listed, without changing the code); 1 a mismatch, a missing export, or a memory threads cannot share; 2 bad input (a module that is not wasm or cannot be read, an interface that does not load)."
    )]
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
    #[command(
        after_help = "Exit codes: 0 equivalent; 1 some function or value means something else on the two sides (one line each on stdout); 2 bad input."
    )]
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
    ExitCode::from(dispatch(cli, &mut stdout, &mut stderr, Ending::Process))
}

/// Runs a parsed command, writing to the given streams; returns the exit code.
/// A program run by `run` is stopped thread by thread when it ends, and
/// this function returns.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    dispatch(cli, out, err, Ending::Graceful)
}

/// How the end of a program run by `run` is carried out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The first outcome ends the process (as wasmtime 46 did), so
    /// compiled code needs no epoch checks: the command line's way.
    Process,
    /// Threads are stopped and the call returns: the library's way.
    Graceful,
}

fn dispatch(cli: Cli, out: &mut dyn Write, err: &mut dyn Write, ending: Ending) -> u8 {
    match execute(cli, out, err, ending) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            EXIT_BAD_INPUT
        }
    }
}

/// The exit code of a trap in `run`, as a shell reports SIGABRT.
pub const EXIT_TRAP: u8 = 134;

const RUN_HELP: &str = "\
Exit codes: the program's proc_exit code (0 when _start returns; the operating system keeps the low 8 bits); \
134 when a thread traps, a host function fails or the time limit passes (the cause on stderr); \
2 when the module cannot run at all (unreadable, invalid, an import the host does not provide, a memory threads cannot share, a directory or address that cannot be opened, a bad option).

Defaults: no arguments but the module's name, no environment, the process's stdin, stdout and stderr, no preopens, \
8192 threads, no fuel or time limit, memories as large as they ask, compiled modules cached (see --cache-dir, --no-cache), \
the process ended as soon as the program ends (its exit, a trap or the time limit), as wasmtime 46 did, with no epoch checks in compiled code.

Scripts written for wasmtime 46 run unchanged: `wasi-threads run -W threads=y,shared-memory=y -S threads=y prog.wasm ARGS...`.";

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

/// What `run` was asked to do.
struct RunRequest<'a> {
    module: &'a Path,
    args: &'a [String],
    env: &'a [String],
    max_threads: Option<usize>,
    dirs: &'a [(PathBuf, String)],
    readonly_dirs: &'a [(PathBuf, String)],
    listen: &'a [String],
    flags: Flags,
    cache: Option<PathBuf>,
    ending: Ending,
}

/// The value of `--env NAME[=VAL]`: `None` when NAME is to be inherited
/// and the host has no such variable.
fn env_value(spec: &str) -> Result<Option<(String, String)>, String> {
    match spec.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok(Some((k.to_string(), v.to_string()))),
        Some(_) => Err(format!("`--env {spec}`: the name is empty")),
        None if spec.is_empty() => Err("`--env` needs NAME or NAME=VAL".to_string()),
        None => match std::env::var(spec) {
            Ok(v) => Ok(Some((spec.to_string(), v))),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(format!("`--env {spec}`: the host's value is not UTF-8"))
            }
        },
    }
}

fn run_module(req: RunRequest<'_>, err: &mut dyn Write) -> u8 {
    let fail = |err: &mut dyn Write, message: String| {
        let _ = writeln!(err, "error: {message}");
        EXIT_BAD_INPUT
    };
    let wasm = match std::fs::read(req.module) {
        Ok(bytes) => bytes,
        Err(e) => return fail(err, format!("cannot read {}: {e}", req.module.display())),
    };
    let flags = &req.flags;
    let mut runner = wasi_threads_host::Runner::new().arg(req.module.display().to_string());
    if req.ending == Ending::Process && !flags.epoch_interruption {
        runner =
            runner.exit_process(|report| i32::from(report_outcome(report, &mut std::io::stderr())));
    }
    if let Some(dir) = &req.cache {
        runner = runner.module_cache(wasi_threads_host::cache::ModuleCache::new(dir));
    }
    for a in req.args {
        runner = runner.arg(a.clone());
    }
    if flags.inherit_env {
        runner = runner.inherit_env();
    }
    for spec in req.env {
        match env_value(spec) {
            Ok(Some((k, v))) => runner = runner.env(&k, &v),
            Ok(None) => {}
            Err(e) => return fail(err, e),
        }
    }
    if let Some(n) = req.max_threads {
        runner = runner.max_threads(n);
    }
    let (wasm_threads, shared_memory) = (flags.wasm_threads, flags.shared_memory);
    if wasm_threads.is_some() || shared_memory.is_some() {
        runner = runner.configure_engine(move |config| {
            if let Some(on) = wasm_threads {
                config.wasm_threads(on);
            }
            if let Some(on) = shared_memory {
                config.shared_memory(on);
            }
        });
    }
    if let Some(on) = flags.wasi_threads {
        runner = runner.thread_spawn(on);
    }
    if let Some(fuel) = flags.fuel {
        runner = runner.fuel(fuel);
    }
    if let Some(limit) = flags.timeout {
        runner = runner.time_limit(limit);
    }
    if let Some(bytes) = flags.max_memory_size {
        runner = runner.memory_limit(bytes);
    }
    if flags.inherit_stdin == Some(false) {
        runner = runner.stdin_from(wasi_threads_host::Stdin::null());
    }
    if flags.inherit_stdout == Some(false) {
        runner = runner.stdout_to(wasi_threads_host::Output::null());
    }
    if flags.inherit_stderr == Some(false) {
        runner = runner.stderr_to(wasi_threads_host::Output::null());
    }
    for (host, guest) in req.dirs {
        runner = runner.preopen_dir(host, guest);
    }
    for (host, guest) in req.readonly_dirs {
        runner = runner.preopen_dir_readonly(host, guest);
    }
    for addr in req.listen.iter().chain(&flags.tcplisten) {
        match std::net::TcpListener::bind(addr.as_str()) {
            Ok(listener) => runner = runner.preopen_socket(listener),
            Err(e) => return fail(err, format!("cannot listen on {addr}: {e}")),
        }
    }
    let report = match runner.run(&wasm) {
        Ok(report) => report,
        Err(e) => return fail(err, format!("cannot run {}: {e}", req.module.display())),
    };
    report_outcome(&report, err)
}

/// What `run` says of a report on stderr, and its exit code.
fn report_outcome(report: &wasi_threads_host::RunReport, err: &mut dyn Write) -> u8 {
    if let Some(refusal) = &report.refused_spawn {
        let hint = match refusal {
            SpawnRefusal::ThreadLimit { .. } => "; raise it with --max-threads N",
            _ => "",
        };
        let _ = writeln!(err, "warning: thread-spawn failed: {refusal}{hint}");
    }
    let code = match &report.outcome {
        Outcome::Exit(code) => *code as u8,
        Outcome::Trap(trap) => {
            let _ = writeln!(err, "error: thread {} trapped: {}", trap.tid, trap.message);
            EXIT_TRAP
        }
        Outcome::TimedOut => {
            let _ = writeln!(err, "error: the time limit was reached");
            EXIT_TRAP
        }
        other => {
            let _ = writeln!(err, "error: {other}");
            EXIT_TRAP
        }
    };
    if report.abandoned > 0 {
        let _ = writeln!(
            err,
            "warning: {} threads could not be stopped",
            report.abandoned
        );
    }
    code
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

fn execute(
    cli: Cli,
    out: &mut dyn Write,
    err: &mut dyn Write,
    ending: Ending,
) -> Result<u8, LoadError> {
    match cli.command {
        Command::Run {
            env,
            max_threads,
            dirs,
            readonly_dirs,
            listen,
            wasm,
            wasi,
            cache_dir,
            no_cache,
            module,
            args,
        } => {
            let flags = match Flags::parse(&wasm, &wasi) {
                Ok(flags) => flags,
                Err(e) => {
                    let _ = writeln!(err, "error: {e}");
                    return Ok(EXIT_BAD_INPUT);
                }
            };
            Ok(run_module(
                RunRequest {
                    module: &module,
                    args: &args,
                    env: &env,
                    max_threads,
                    dirs: &dirs,
                    readonly_dirs: &readonly_dirs,
                    listen: &listen,
                    flags,
                    cache: if no_cache {
                        None
                    } else {
                        cache_dir.or_else(wasi_threads_host::cache::ModuleCache::default_dir)
                    },
                    ending,
                },
                err,
            ))
        }
        Command::Bindgen {
            target,
            path,
            out_dir,
            select,
        } => {
            let wit = WitModel::load(&path, &select.options())?;
            let generated = match wasi_threads_bindgen::generate(&wit, target.target()) {
                Ok(g) => g,
                Err(BindgenError::Several(errors)) => {
                    for e in errors {
                        let _ = writeln!(err, "error: {e}");
                    }
                    return Ok(EXIT_DIFFERENT);
                }
                Err(
                    e @ (BindgenError::Unsupported { .. }
                    | BindgenError::Invalid { .. }
                    | BindgenError::Options(_)),
                ) => {
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
    use super::*;
    use clap::CommandFactory;
    use wasi_threads_host::RunReport;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }

    fn said(report: RunReport) -> (u8, String) {
        let mut err = Vec::new();
        let code = report_outcome(&report, &mut err);
        (code, String::from_utf8(err).unwrap())
    }

    #[test]
    fn threads_that_could_not_be_stopped_are_reported_and_the_code_stays() {
        let (code, err) = said(RunReport::new(Outcome::Exit(3), 2, None));
        assert_eq!(code, 3);
        assert_eq!(err, "warning: 2 threads could not be stopped\n");
        let (code, err) = said(RunReport::new(Outcome::Exit(0), 0, None));
        assert_eq!((code, err.as_str()), (0, ""));
    }

    #[test]
    fn the_first_refused_spawn_is_named_with_its_flag() {
        let refusal = SpawnRefusal::ThreadLimit { limit: 4 };
        let (code, err) = said(RunReport::new(Outcome::Exit(1), 0, Some(refusal)));
        assert_eq!(code, 1);
        assert_eq!(
            err,
            "warning: thread-spawn failed: the limit of 4 live threads was reached; raise it with --max-threads N\n"
        );
    }
}
