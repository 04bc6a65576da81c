//! `host!` and `guest!`: a thin proc-macro shell over `wasi-threads-bindgen`,
//! so a crate's bindings are exactly what `wasi-threads bindgen host|rust`
//! prints for the same WIT.
//!
//! ```ignore
//! // Paths are relative to the crate's Cargo.toml.
//! wasi_threads_macros::host!("wit");
//! wasi_threads_macros::guest!("wit", world = "threads");
//! ```
//!
//! The macro reads the WIT when the crate compiles, and the crate is rebuilt
//! when a WIT file changes. What `guest!` expands to refers to the runtime
//! crate `wasi-threads-guest-rt`: a guest crate depends on it too.

use std::path::{Path, PathBuf};

use proc_macro::{Delimiter, Group, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use wasi_threads_abi::WitOptions;
use wasi_threads_bindgen::Target;

/// Host bindings for wasmtime: a `Host` trait and `add_to_linker` per
/// imported interface, the world's `add_to_linker`, and typed exports.
#[proc_macro]
pub fn host(input: TokenStream) -> TokenStream {
    expand(input, Target::Host)
}

/// Rust guest bindings: import wrappers, `Guest` traits and `export!`.
#[proc_macro]
pub fn guest(input: TokenStream) -> TokenStream {
    expand(input, Target::Rust)
}

struct Input {
    path: String,
    world: Option<String>,
    module: Option<String>,
}

fn expand(input: TokenStream, target: Target) -> TokenStream {
    let input = match parse(input) {
        Ok(input) => input,
        Err(message) => return compile_error(&message),
    };
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    let path = root.join(&input.path);
    let options = WitOptions {
        world: input.world,
        module: input.module,
        ..WitOptions::default()
    };
    let generated = match wasi_threads_bindgen::generate_path(&path, &options, target) {
        Ok(g) => g,
        Err(e) => return compile_error(&e.to_string()),
    };
    let mut code = generated.files[0].1.clone();
    // Rebuild when the WIT changes.
    for file in wit_files(&path) {
        code.push_str(&format!(
            "\nconst _: &[u8] = include_bytes!({:?});",
            file.display().to_string()
        ));
    }
    match code.parse() {
        Ok(tokens) => tokens,
        Err(e) => compile_error(&format!("generated bindings do not parse: {e}")),
    }
}

fn wit_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut out = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "wit") {
                out.push(p);
            }
        }
    }
    out
}

/// `"path"`, then optional `world = "name"` and `module = "name"`.
fn parse(input: TokenStream) -> Result<Input, String> {
    let tokens: Vec<TokenTree> = input.into_iter().collect();
    let usage = "expected a WIT path, then optional `world = \"name\"` and `module = \"name\"`: e.g. host!(\"wit\", world = \"threads\")";
    let mut iter = tokens.iter();
    let path = match iter.next() {
        Some(TokenTree::Literal(l)) => string(l).ok_or(usage)?,
        _ => return Err(usage.into()),
    };
    let mut input = Input {
        path,
        world: None,
        module: None,
    };
    loop {
        match iter.next() {
            None => break,
            Some(TokenTree::Punct(p)) if p.as_char() == ',' => {}
            _ => return Err(usage.into()),
        }
        let key = match iter.next() {
            None => break,
            Some(TokenTree::Ident(i)) => i.to_string(),
            _ => return Err(usage.into()),
        };
        match iter.next() {
            Some(TokenTree::Punct(p)) if p.as_char() == '=' => {}
            _ => return Err(usage.into()),
        }
        let value = match iter.next() {
            Some(TokenTree::Literal(l)) => string(l).ok_or(usage)?,
            _ => return Err(usage.into()),
        };
        match key.as_str() {
            "world" => input.world = Some(value),
            "module" => input.module = Some(value),
            other => return Err(format!("unknown option `{other}`; {usage}")),
        }
    }
    Ok(input)
}

/// The value of a plain string literal (no escapes).
fn string(lit: &Literal) -> Option<String> {
    let s = lit.to_string();
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains('\\')).then(|| inner.to_string())
}

fn compile_error(message: &str) -> TokenStream {
    let mut args = TokenStream::new();
    args.extend([TokenTree::Literal(Literal::string(message))]);
    [
        TokenTree::Ident(proc_macro::Ident::new("compile_error", Span::call_site())),
        TokenTree::Punct(Punct::new('!', Spacing::Alone)),
        TokenTree::Group(Group::new(Delimiter::Parenthesis, args)),
        TokenTree::Punct(Punct::new(';', Spacing::Alone)),
    ]
    .into_iter()
    .collect()
}
