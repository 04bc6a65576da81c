//! Bindings generated from the ABI model of a WIT world.
//!
//! One generator serves the CLI (`wasi-threads bindgen`), build scripts and
//! the `host!`/`guest!` macros of `wasi-threads-macros`:
//! - [`Target::Host`]: Rust glue for wasmtime hosts of core modules, in the
//!   style of `wasmtime::component::bindgen!`;
//! - [`Target::Rust`]: Rust guest code, in the style of wit-bindgen's;
//! - [`Target::C`]: a wasi-libc-style header and source file.
//!
//! Every core import and export is declared with the module, name and
//! signature the model ([`wasi_threads_abi::WitModel`]) gives; the lifting
//! and lowering of values follows wit-bindgen-core's instruction stream for
//! the canonical ABI. Nothing here re-derives the ABI.
//!
//! ```
//! use wasi_threads_abi::{WitModel, WitOptions};
//! use wasi_threads_bindgen::{generate, Target};
//!
//! let wit = WitModel::parse(
//!     "threads.wit",
//!     "package wasi:threads;
//!      /// Core module: wasi
//!      interface thread-spawn { thread-spawn: func(start-arg: u32) -> s32; }
//!      world threads { import thread-spawn; }",
//!     &WitOptions::default(),
//! )?;
//! let c = generate(&wit, Target::C)?;
//! let header = &c.files[0].1;
//! assert!(header.contains("int32_t __wasi_thread_spawn(uint32_t start_arg)"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod build;
mod c;
pub mod macro_input;
pub mod options;
mod rust;

use std::fmt;
use std::path::Path;

use wasi_threads_abi::support::{self, Generator};
use wasi_threads_abi::{LoadError, WitModel, WitOptions};

pub use crate::options::{Flags, FunctionConfig, HostOptions};
use crate::rust::{RustGen, Side};

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Rust host glue for wasmtime.
    Host,
    /// Rust guest code.
    Rust,
    /// C guest code: a header and a source file.
    C,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Host => "host",
            Target::Rust => "rust",
            Target::C => "c",
        }
    }
}

/// Generated files: names and contents, in a fixed order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Generated {
    pub files: Vec<(String, String)>,
}

impl Generated {
    /// All files, each after a line naming it (for printing to stdout).
    pub fn concatenated(&self) -> String {
        if self.files.len() == 1 {
            return self.files[0].1.clone();
        }
        let mut out = String::new();
        for (name, text) in &self.files {
            out.push_str(&format!("// ---- {name} ----\n{text}"));
        }
        out
    }
}

/// Why bindings could not be generated.
#[derive(Debug)]
pub enum BindgenError {
    /// The WIT could not be loaded.
    Load(LoadError),
    /// A function uses a construct core-wasm bindings cannot express.
    Unsupported { function: String, reason: String },
    /// Several functions use constructs core-wasm bindings cannot express:
    /// one [`BindgenError::Unsupported`] each, in the world's order.
    Several(Vec<BindgenError>),
    /// The generator could not produce valid code for a function (for
    /// Rust: the code does not parse); nothing is output.
    Invalid { function: String, message: String },
    /// An option of the host bindings names nothing in the world, or
    /// something it cannot apply to.
    Options(String),
}

impl BindgenError {
    pub(crate) fn unsupported(function: &str, reason: String) -> BindgenError {
        BindgenError::Unsupported {
            function: function.to_string(),
            reason,
        }
    }
}

impl fmt::Display for BindgenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindgenError::Load(e) => write!(f, "{e}"),
            BindgenError::Unsupported { function, reason } => {
                write!(f, "cannot generate bindings for `{function}`: {reason}")
            }
            BindgenError::Invalid { function, message } => {
                write!(f, "cannot generate bindings for `{function}`: {message}")
            }
            BindgenError::Options(message) => write!(f, "{message}"),
            BindgenError::Several(errors) => {
                for (i, e) in errors.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for BindgenError {}

impl From<LoadError> for BindgenError {
    fn from(e: LoadError) -> Self {
        BindgenError::Load(e)
    }
}

/// `iface#func` (or `func` for a world's own): how messages name a function.
/// A generator of one function's glue from wit-bindgen-core's
/// instruction stream (the Rust and the C one).
pub(crate) trait Glue: wit_bindgen_core::abi::Bindgen {
    /// The first instruction it had no code for, if any.
    fn take_error(&mut self) -> Option<String>;
}

/// Runs the canonical ABI's instructions for `func` through `glue`; an
/// instruction it has no code for refuses the function, named `function`.
pub(crate) fn emit<G: Glue>(
    resolve: &wit_parser::Resolve,
    variant: wit_parser::abi::AbiVariant,
    lift_lower: wit_bindgen_core::abi::LiftLower,
    func: &wit_parser::Function,
    glue: &mut G,
    function: &str,
) -> Result<(), BindgenError> {
    wit_bindgen_core::abi::call(resolve, variant, lift_lower, func, glue, false);
    match glue.take_error() {
        Some(message) => Err(BindgenError::Invalid {
            function: function.to_string(),
            message,
        }),
        None => Ok(()),
    }
}

pub(crate) fn qualified(core: &wasi_threads_abi::CoreFunc) -> String {
    match &core.source_interface {
        Some(iface) => format!("{iface}#{}", core.source_name),
        None => core.source_name.clone(),
    }
}

impl Target {
    fn generator(self) -> Generator {
        match self {
            Target::Host => Generator::Host,
            Target::Rust => Generator::Rust,
            Target::C => Generator::C,
        }
    }
}

/// Refuses the first function of the model the target cannot bind, as the
/// ABI crate's support table decides.
/// Checks every function before any is generated, so that one run names
/// every refused function, as `witx` does.
fn check_support(model: &WitModel, target: Target) -> Result<(), BindgenError> {
    let imports = model
        .model
        .imports
        .iter()
        .zip(&model.import_items)
        .map(|(c, i)| (c, i, false));
    let exports = model
        .model
        .exports
        .iter()
        .zip(&model.export_items)
        .map(|(c, i)| (c, i, true));
    let mut refused: Vec<BindgenError> = imports
        .chain(exports)
        .filter_map(|(core, item, export)| {
            let e = support::check_item(&model.resolve, item, export, target.generator()).err()?;
            Some(BindgenError::unsupported(&qualified(core), e.to_string()))
        })
        .collect();
    if let Err((index, e)) = support::check_resource_roles(&model.import_items, target.generator())
    {
        let function = qualified(&model.model.imports[index]);
        refused.push(BindgenError::unsupported(&function, e.to_string()));
    }
    match refused.len() {
        0 => Ok(()),
        1 => Err(refused.remove(0)),
        _ => Err(BindgenError::Several(refused)),
    }
}

/// Checks that a snippet of generated Rust parses as a `T`; the error
/// names the function it is for.
pub(crate) fn parses<T: syn::parse::Parse>(code: &str, function: &str) -> Result<(), BindgenError> {
    syn::parse_str::<T>(code)
        .map(|_| ())
        .map_err(|e| BindgenError::Invalid {
            function: function.to_string(),
            message: format!("the generated Rust does not parse ({e}):\n{code}"),
        })
}

/// Generates bindings for a loaded model.
pub fn generate(model: &WitModel, target: Target) -> Result<Generated, BindgenError> {
    generate_with(model, target, &HostOptions::default())
}

/// Generates host bindings for a loaded model with `options`, as `host!`
/// does with the options of its input.
pub fn generate_host(model: &WitModel, options: &HostOptions) -> Result<Generated, BindgenError> {
    generate_with(model, Target::Host, options)
}

/// Generates bindings; `host` applies to [`Target::Host`] only.
pub fn generate_with(
    model: &WitModel,
    target: Target,
    host: &HostOptions,
) -> Result<Generated, BindgenError> {
    check_support(model, target)?;
    let mut generated = match target {
        Target::Host => rust::host::generate(&RustGen {
            wm: model,
            side: Side::Host,
            host: Some(host),
        }),
        Target::Rust => rust::guest::generate(&RustGen {
            wm: model,
            side: Side::Guest,
            host: None,
        }),
        Target::C => c::generate(model),
    }?;
    if target != Target::C {
        for (_, text) in &mut generated.files {
            *text = format_rust(text, &model.model.origin)?;
        }
    }
    Ok(generated)
}

/// Lays out generated Rust as rustfmt would (with prettyplease); Rust that
/// does not parse is an error, never output.
fn format_rust(text: &str, origin: &str) -> Result<String, BindgenError> {
    // prettyplease keeps doc comments only: the header comment goes back on.
    let header: String = text
        .lines()
        .take_while(|l| l.starts_with("// ") || l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    match syn::parse_file(text) {
        Ok(file) => Ok(header + &prettyplease::unparse(&file)),
        Err(e) => Err(BindgenError::Invalid {
            function: origin.to_string(),
            message: format!("the generated Rust does not parse: {e}"),
        }),
    }
}

/// Loads WIT from `path` (a file or a directory with `deps/`) and generates
/// bindings: what the CLI, build scripts and macros call.
pub fn generate_path(
    path: &Path,
    options: &WitOptions,
    target: Target,
) -> Result<Generated, BindgenError> {
    let model = WitModel::load(path, options)?;
    generate(&model, target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_that_does_not_parse_is_an_error_naming_the_function() {
        let e = parses::<syn::File>("pub fn broken( {", "t:t/i#f").unwrap_err();
        assert!(
            matches!(&e, BindgenError::Invalid { function, .. } if function == "t:t/i#f"),
            "{e}"
        );
        assert!(e.to_string().starts_with(
            "cannot generate bindings for `t:t/i#f`: the generated Rust does not parse"
        ));
        let e = format_rust("// header\nfn (", "WIT world t:t/w").unwrap_err();
        assert!(e.to_string().contains("WIT world t:t/w"), "{e}");
        assert!(format_rust("fn f() {}", "w").is_ok());
    }
}
