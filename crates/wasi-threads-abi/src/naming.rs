//! Core names, and the one way a WIT text overrides them.
//!
//! By default every core import and export takes the name the canonical ABI
//! gives it, as wit-parser spells it for the legacy (synchronous) mangling
//! that wit-bindgen 0.60 uses: an import of interface `ns:pkg/iface@1.0.0`
//! is in core module `ns:pkg/iface@1.0.0` under the function's WIT name
//! (`[method]file.read`, `[resource-drop]file`); a world's own functions are
//! in module `$root`; a function the world exports is exported under its WIT
//! name, a function of an exported interface as `ns:pkg/iface#func`.
//!
//! Interfaces deployed before the component model have other names: the
//! wasi-threads import is `wasi` / `thread-spawn`, its entry point
//! `wasi_thread_start`. A WIT text keeps such names with a *directive*, a
//! doc-comment line `Key: value`:
//!
//! - `Core module: NAME` on an interface (or a world, for its own
//!   functions): every import of it is in core module `NAME`;
//! - `Core name: NAME` on a function: its core import or export name.
//!
//! The same directive syntax carries `C type: T` for the C generator.
//! Generators leave directive lines out of the documentation they copy.

/// The directive naming an interface's (or a world's) core module.
pub const CORE_MODULE: &str = "Core module";
/// The directive naming a function's core import or export name.
pub const CORE_NAME: &str = "Core name";
/// The directive giving a `u32`/`s32` alias a C pointer type.
pub const C_TYPE: &str = "C type";

const DIRECTIVES: [&str; 3] = [CORE_MODULE, CORE_NAME, C_TYPE];

/// The value of directive `key` in `docs`, if the docs have it.
///
/// `Core name: wasi_thread_start` gives `wasi_thread_start`; surrounding
/// backquotes are dropped. A directive given twice with different values,
/// or with no value, is an error naming it.
pub fn directive(docs: Option<&str>, key: &str) -> Result<Option<String>, String> {
    let Some(docs) = docs else {
        return Ok(None);
    };
    let mut found: Option<String> = None;
    for line in docs.lines() {
        let Some(value) = line
            .trim()
            .strip_prefix(key)
            .and_then(|rest| rest.strip_prefix(':'))
        else {
            continue;
        };
        let value = value.trim().trim_matches('`').trim().to_string();
        if value.is_empty() {
            return Err(format!("the doc-comment line `{key}:` has no value"));
        }
        match &found {
            Some(prev) if *prev != value => {
                return Err(format!(
                    "the doc comment says `{key}: {prev}` and `{key}: {value}`"
                ))
            }
            _ => found = Some(value),
        }
    }
    Ok(found)
}

/// Whether a doc-comment line is a directive (left out of generated docs).
pub fn is_directive(line: &str) -> bool {
    let line = line.trim();
    DIRECTIVES
        .iter()
        .any(|key| line.strip_prefix(key).is_some_and(|r| r.starts_with(':')))
}

/// `docs` without its directive lines and without the blank lines they
/// leave at the end; `None` when nothing is left.
pub fn strip_directives(docs: Option<&str>) -> Option<String> {
    let lines: Vec<&str> = docs?.lines().filter(|l| !is_directive(l)).collect();
    let end = lines
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(0, |i| i + 1);
    let text = lines[..end].join("\n");
    (!text.trim().is_empty()).then_some(text)
}

/// The core module of an interface's imports, by the rules above: its
/// `Core module:` directive, else its canonical name (`ns:pkg/iface@1.0.0`),
/// else, for an interface declared inline in a world, its name there.
/// Generators derive the names of an interface's items from it (the C
/// prefix `__wasi_` of module `wasi`), so items of two interfaces never
/// share a name. A malformed directive is reported by the model; here it
/// counts as absent.
pub fn interface_module(resolve: &wit_parser::Resolve, id: wit_parser::InterfaceId) -> String {
    let iface = &resolve.interfaces[id];
    if let Ok(Some(module)) = directive(iface.docs.contents.as_deref(), CORE_MODULE) {
        return module;
    }
    if let Some(name) = resolve.id_of(id) {
        return name;
    }
    for (_, world) in resolve.worlds.iter() {
        for (key, item) in world.imports.iter().chain(world.exports.iter()) {
            if matches!(item, wit_parser::WorldItem::Interface { id: i, .. } if *i == id) {
                return resolve.name_world_key(key);
            }
        }
    }
    iface
        .name
        .clone()
        .unwrap_or_else(|| "interface".to_string())
}

/// The name a world's own items take in generated code: the world's
/// `Core module:` directive, else the world's name.
pub fn world_module(resolve: &wit_parser::Resolve, id: wit_parser::WorldId) -> String {
    let world = &resolve.worlds[id];
    match directive(world.docs.contents.as_deref(), CORE_MODULE) {
        Ok(Some(module)) => module,
        _ => world.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_are_read_and_stripped() {
        let docs = "Starting a thread.\n\nCore module: wasi\n";
        assert_eq!(
            directive(Some(docs), CORE_MODULE).unwrap().as_deref(),
            Some("wasi")
        );
        assert_eq!(directive(Some(docs), CORE_NAME).unwrap(), None);
        assert_eq!(
            strip_directives(Some(docs)).as_deref(),
            Some("Starting a thread.")
        );
        assert_eq!(strip_directives(Some("Core name: `x`")), None);
        assert_eq!(
            directive(Some("Core name: `x`"), CORE_NAME)
                .unwrap()
                .as_deref(),
            Some("x")
        );
        // Prose that merely starts with the words is not a directive.
        assert!(!is_directive("Core modules are described elsewhere."));
    }

    #[test]
    fn conflicting_or_empty_directives_are_errors() {
        assert!(directive(Some("Core name: a\nCore name: b"), CORE_NAME).is_err());
        assert!(directive(Some("Core name: a\nCore name: a"), CORE_NAME).is_ok());
        assert!(directive(Some("Core module:"), CORE_MODULE).is_err());
    }
}
