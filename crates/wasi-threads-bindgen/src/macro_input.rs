//! The input of the `host!` and `guest!` macros, parsed with syn in the
//! spelling of wasmtime's `bindgen!`:
//!
//! ```text
//! host!("wit")                       // the WIT path, relative to Cargo.toml
//! host!({
//!     path: "wit",                   // or inline: "package ...; world ... { ... }"
//!     world: "threads",
//!     module: "wasi",                // every import in one core module
//!     imports: { "ns:pkg/iface.func": trappable | tracing, default: async },
//!     exports: { default: async },
//!     trappable_error_type: { "ns:pkg/iface.error-code" => MyError },
//!     with: { "ns:pkg/iface.point": crate::Point },
//!     additional_derives: [Hash, Eq],
//! })
//! ```
//!
//! Every string may be written in any literal form (raw, escaped); an error
//! points at the offending token. `guest!` takes `path`, `inline`, `world`
//! and `module` only. The macro crate stays a thin shell: parsing lives here,
//! where it is unit-tested on token streams.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{braced, bracketed, Token};

use std::path::PathBuf;

use wasi_threads_abi::{WitModel, WitOptions};

use crate::options::{Flags, FunctionConfig, HostOptions};
use crate::Target;

/// What a macro invocation asks for.
#[derive(Clone, Debug, Default)]
pub struct MacroInput {
    /// The WIT path (a file or a directory with `deps/`), relative to the
    /// crate's `Cargo.toml`.
    pub path: Option<String>,
    /// WIT source given in the invocation.
    pub inline: Option<String>,
    /// World and core-module selection.
    pub wit: WitOptions,
    /// Options of host bindings.
    pub host: HostOptions,
}

/// Expands `host!` (`target` [`Target::Host`]) or `guest!`
/// ([`Target::Rust`]): the generated bindings, and a dummy `include_bytes!`
/// of every WIT file read, so the crate is rebuilt when one changes. Paths
/// are relative to `CARGO_MANIFEST_DIR`; the default path is `wit`, as for
/// `bindgen!`. Errors become `compile_error!`s at the offending token (or
/// the invocation, for errors in the WIT).
pub fn expand(tokens: TokenStream, target: Target) -> TokenStream {
    expand_input(tokens, target).unwrap_or_else(|e| e.to_compile_error())
}

fn expand_input(tokens: TokenStream, target: Target) -> syn::Result<TokenStream> {
    let input = parse(tokens, target)?;
    let error = |e: &dyn std::fmt::Display| syn::Error::new(Span::call_site(), e.to_string());
    let model = match (&input.inline, &input.path) {
        (Some(text), _) => WitModel::parse("inline WIT", text, &input.wit),
        (None, path) => {
            let root = std::env::var_os("CARGO_MANIFEST_DIR")
                .map(PathBuf::from)
                .unwrap_or_default();
            WitModel::load(&root.join(path.as_deref().unwrap_or("wit")), &input.wit)
        }
    }
    .map_err(|e| error(&e))?;
    let generated = crate::generate_with(&model, target, &input.host).map_err(|e| error(&e))?;
    let mut code = generated.files[0].1.clone();
    for file in &model.sources {
        code.push_str(&format!(
            "\nconst _: &[u8] = include_bytes!({:?});",
            file.display().to_string()
        ));
    }
    code.parse()
        .map_err(|e| error(&format_args!("generated bindings do not parse: {e}")))
}

/// Parses a macro's input for `target` (`Host` or `Rust`).
pub fn parse(tokens: TokenStream, target: Target) -> syn::Result<MacroInput> {
    let parser = |input: ParseStream<'_>| parse_input(input, target);
    parser.parse2(tokens)
}

/// `{ "wit name" <Sep> rust::Path, ... }`: `trappable_error_type` (`=>`)
/// and `with` (`:`).
fn wit_names_to_paths<Sep: Parse>(content: ParseStream<'_>) -> syn::Result<Vec<(String, String)>> {
    let inner;
    braced!(inner in content);
    let fields =
        Punctuated::<(String, String), Token![,]>::parse_terminated_with(&inner, |input| {
            let wit = input.parse::<syn::LitStr>()?.value();
            input.parse::<Sep>()?;
            let path = input.parse::<syn::Path>()?;
            Ok((wit, path_string(&path)))
        })?;
    Ok(fields.into_iter().collect())
}

fn parse_input(input: ParseStream<'_>, target: Target) -> syn::Result<MacroInput> {
    let mut out = MacroInput::default();
    if input.peek(syn::LitStr) {
        out.path = Some(input.parse::<syn::LitStr>()?.value());
        if !input.is_empty() {
            return Err(input.error(
                "expected nothing after the WIT path; options go in braces: `{ path: \"wit\", world: \"name\" }`",
            ));
        }
        return Ok(out);
    }
    if !input.peek(syn::token::Brace) {
        return Err(input.error(
            "expected a WIT path (`\"wit\"`) or options in braces (`{ path: \"wit\", world: \"name\" }`)",
        ));
    }
    let content;
    braced!(content in input);
    if !input.is_empty() {
        return Err(input.error("expected nothing after the options"));
    }
    let mut seen: Vec<String> = Vec::new();
    while !content.is_empty() {
        let key = content.call(syn::Ident::parse_any)?;
        let name = key.to_string();
        if seen.contains(&name) {
            return Err(syn::Error::new(
                key.span(),
                format!("`{name}` is given twice"),
            ));
        }
        seen.push(name.clone());
        content.parse::<Token![:]>()?;
        let host_only = |key: &syn::Ident| -> syn::Result<()> {
            if target == Target::Host {
                Ok(())
            } else {
                Err(syn::Error::new(
                    key.span(),
                    format!("`{key}` is an option of `host!` only"),
                ))
            }
        };
        match name.as_str() {
            "path" => out.path = Some(content.parse::<syn::LitStr>()?.value()),
            "inline" => out.inline = Some(content.parse::<syn::LitStr>()?.value()),
            "world" => out.wit.world = Some(content.parse::<syn::LitStr>()?.value()),
            "module" => out.wit.module = Some(content.parse::<syn::LitStr>()?.value()),
            "imports" => {
                host_only(&key)?;
                out.host.imports = function_config(&content)?;
            }
            "exports" => {
                host_only(&key)?;
                out.host.exports = function_config(&content)?;
            }
            "trappable_error_type" => {
                host_only(&key)?;
                let fields = wit_names_to_paths::<Token![=>]>(&content)?;
                out.host.trappable_error_type.extend(fields);
            }
            "with" => {
                host_only(&key)?;
                let fields = wit_names_to_paths::<Token![:]>(&content)?;
                out.host.with.extend(fields);
            }
            "additional_derives" => {
                host_only(&key)?;
                let inner;
                bracketed!(inner in content);
                let paths = Punctuated::<syn::Path, Token![,]>::parse_terminated(&inner)?;
                out.host.additional_derives = paths.iter().map(path_string).collect();
            }
            "interfaces" | "ownership" | "named_imports" | "stringify"
            | "skip_mut_forwarding_impls" | "require_store_data_send" | "wasmtime_crate"
            | "anyhow" | "include_generated_code_from_file" | "include_component_type"
            | "debug" | "except_imports" | "only_imports" => {
                return Err(syn::Error::new(
                    key.span(),
                    format!("`{name}` is an option of wasmtime's `bindgen!` for components that core-module bindings do not have"),
                ));
            }
            _ => {
                return Err(syn::Error::new(
                    key.span(),
                    format!("unknown option `{name}`; expected one of `path`, `inline`, `world`, `module`, `imports`, `exports`, `trappable_error_type`, `with`, `additional_derives`"),
                ))
            }
        }
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    if out.path.is_some() && out.inline.is_some() {
        return Err(syn::Error::new(
            Span::call_site(),
            "give either `path` or `inline`, not both",
        ));
    }
    Ok(out)
}

/// A path as the generated code spells it (no spaces).
fn path_string(path: &syn::Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

/// `{ "name": flag | flag, default: flag }`.
fn function_config(input: ParseStream<'_>) -> syn::Result<FunctionConfig> {
    let content;
    braced!(content in input);
    let mut config = FunctionConfig::default();
    let mut default_seen = false;
    while !content.is_empty() {
        let lookahead = content.lookahead1();
        let name = if lookahead.peek(syn::LitStr) {
            Some(content.parse::<syn::LitStr>()?)
        } else if lookahead.peek(Token![default]) {
            let token = content.parse::<Token![default]>()?;
            if default_seen {
                return Err(syn::Error::new(token.span, "`default` is given twice"));
            }
            default_seen = true;
            None
        } else {
            return Err(lookahead.error());
        };
        content.parse::<Token![:]>()?;
        let mut flags = Flags::default();
        loop {
            let lookahead = content.lookahead1();
            if lookahead.peek(Token![async]) {
                content.parse::<Token![async]>()?;
                flags.async_ = true;
            } else if lookahead.peek(syn::Ident) {
                let flag = content.parse::<syn::Ident>()?;
                match flag.to_string().as_str() {
                    "trappable" => flags.trappable = true,
                    "tracing" => flags.tracing = true,
                    "verbose_tracing" => {
                        flags.tracing = true;
                        flags.verbose_tracing = true;
                    }
                    "store" | "exact" => {
                        return Err(syn::Error::new(
                            flag.span(),
                            format!("`{flag}` is a flag of wasmtime's `bindgen!` for components that core-module bindings do not have"),
                        ))
                    }
                    _ => {
                        return Err(syn::Error::new(
                            flag.span(),
                            format!("unknown flag `{flag}`; expected `trappable`, `async`, `tracing` or `verbose_tracing`"),
                        ))
                    }
                }
            } else {
                return Err(lookahead.error());
            }
            if content.peek(Token![|]) {
                content.parse::<Token![|]>()?;
            } else {
                break;
            }
        }
        match name {
            Some(name) => {
                let value = name.value();
                if config.rules.iter().any(|(k, _)| *k == value) {
                    return Err(syn::Error::new(
                        name.span(),
                        format!("a rule for `{value}` is given twice"),
                    ));
                }
                config.rules.push((value, flags));
            }
            None => config.default = flags,
        }
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(input: &str) -> syn::Result<MacroInput> {
        parse(input.parse().unwrap(), Target::Host)
    }

    /// The error and the source text of the token it points at.
    fn error(input: &str, target: Target) -> (String, String) {
        let e = parse(input.parse().unwrap(), target).unwrap_err();
        let text = e.span().source_text().unwrap_or_default();
        (e.to_string(), text)
    }

    #[test]
    fn the_shorthand_is_a_path_in_any_string_form() {
        for input in [r#""wit""#, r##"r#"wit"#"##, r#""w\x69t""#, r#""w\u{69}t""#] {
            let parsed = host(input).unwrap();
            assert_eq!(parsed.path.as_deref(), Some("wit"), "{input}");
        }
    }

    #[test]
    fn every_option_is_read() {
        let parsed = host(
            r##"{
                path: r#"tests/bindgen/kinds.wit"#,
                world: "everything",
                module: "env",
                imports: { "test:kinds/kinds.echo-u8": trappable | tracing, "test:kinds": async, default: verbose_tracing },
                exports: { default: async },
                trappable_error_type: { "t:e/i.error-code" => crate::MyError, "t:e/i.other" => Other },
                with: { "t:e/i.point": ::geometry::Point },
                additional_derives: [Hash, serde::Serialize],
            }"##,
        )
        .unwrap();
        assert_eq!(parsed.path.as_deref(), Some("tests/bindgen/kinds.wit"));
        assert_eq!(parsed.wit.world.as_deref(), Some("everything"));
        assert_eq!(parsed.wit.module.as_deref(), Some("env"));
        let rules = &parsed.host.imports.rules;
        assert_eq!(rules[0].0, "test:kinds/kinds.echo-u8");
        assert_eq!(
            rules[0].1,
            Flags {
                trappable: true,
                tracing: true,
                ..Flags::default()
            }
        );
        assert_eq!(
            rules[1],
            (
                "test:kinds".to_string(),
                Flags {
                    async_: true,
                    ..Flags::default()
                }
            )
        );
        assert!(parsed.host.imports.default.verbose_tracing && parsed.host.imports.default.tracing);
        assert!(parsed.host.exports.default.async_);
        assert_eq!(
            parsed.host.trappable_error_type,
            [
                ("t:e/i.error-code".to_string(), "crate::MyError".to_string()),
                ("t:e/i.other".to_string(), "Other".to_string())
            ]
        );
        assert_eq!(
            parsed.host.with,
            [("t:e/i.point".to_string(), "::geometry::Point".to_string())]
        );
        assert_eq!(parsed.host.additional_derives, ["Hash", "serde::Serialize"]);
    }

    #[test]
    fn inline_wit_is_read_with_escapes() {
        let parsed = host(r#"{ inline: "package t:i;\nworld w {}\n" }"#).unwrap();
        assert_eq!(parsed.inline.as_deref(), Some("package t:i;\nworld w {}\n"));
        assert_eq!(parsed.path, None);
    }

    #[test]
    fn errors_point_at_the_offending_token() {
        let cases = [
            (
                r#"{ path: "wit", wrold: "w" }"#,
                "unknown option `wrold`",
                "wrold",
            ),
            (r#"{ path: wit }"#, "expected string literal", "wit"),
            (
                r#"{ world: "a", world: "b" }"#,
                "`world` is given twice",
                "world",
            ),
            (
                r#"{ imports: { "f": trapable } }"#,
                "unknown flag `trapable`",
                "trapable",
            ),
            (
                r#"{ imports: { "f": store } }"#,
                "`store` is a flag of wasmtime's `bindgen!`",
                "store",
            ),
            (
                r#"{ imports: { "f": async, "f": tracing } }"#,
                "a rule for `f` is given twice",
                r#""f""#,
            ),
            (
                r#"{ ownership: Owning }"#,
                "`ownership` is an option of wasmtime's `bindgen!` for components",
                "ownership",
            ),
            (
                r#""wit", world = "w""#,
                "expected nothing after the WIT path",
                ",",
            ),
            (
                r#"{ path: "a", inline: "b" }"#,
                "either `path` or `inline`",
                "",
            ),
            (
                r#"{ trappable_error_type: { "t:e/i.e" -> E } }"#,
                "expected `=>`",
                "-",
            ),
        ];
        for (input, message, token) in cases {
            let (e, text) = error(input, Target::Host);
            assert!(e.contains(message), "{input}: {e}");
            if !token.is_empty() {
                assert_eq!(text, token, "{input}: {e}");
            }
        }
        let (e, text) = error(r#"{ path: "wit", with: {} }"#, Target::Rust);
        assert!(e.contains("`with` is an option of `host!` only"), "{e}");
        assert_eq!(text, "with");
    }
}
