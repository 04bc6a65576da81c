//! WITX identifiers for WIT names.

use std::collections::HashSet;

use heck::ToSnakeCase;

/// Whether `s` can follow `$` in a WITX (wast) identifier.
pub fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-./:<=>?@\\^_`|~".contains(c))
}

/// The WITX spelling of a WIT name: snake case (`start-arg` -> `start_arg`).
pub fn snake(name: &str) -> String {
    let s = name.to_snake_case();
    if s.is_empty() {
        "_".to_string()
    } else {
        s
    }
}

/// Hands out names unique within one scope, suffixing `_2`, `_3`, ...
#[derive(Default)]
pub struct Scope {
    used: HashSet<String>,
}

impl Scope {
    pub fn reserve(&mut self, name: &str) {
        self.used.insert(name.to_string());
    }

    pub fn unique(&mut self, base: &str) -> String {
        if self.used.insert(base.to_string()) {
            return base.to_string();
        }
        // Each name is taken once, so some suffix up to one past the number
        // of names taken is free.
        let mut i = 2usize;
        loop {
            let name = format!("{base}_{i}");
            if self.used.insert(name.clone()) {
                return name;
            }
            i += 1;
        }
    }
}

/// Writes a WITX string literal.
pub fn string(s: &str) -> String {
    wasi_threads_abi::core::wat_string(s)
}

/// Writes documentation as `;;;` lines at the given indent.
pub fn docs(out: &mut String, indent: &str, docs: Option<&str>) {
    if let Some(docs) = docs {
        for line in docs.lines() {
            let line = line.trim_end();
            if line.is_empty() {
                out.push_str(&format!("{indent};;;\n"));
            } else {
                out.push_str(&format!("{indent};;; {line}\n"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_scopes() {
        assert!(is_id("wasi"));
        assert!(is_id("wasi:threads/thread-spawn"));
        assert!(!is_id("two words"));
        assert!(!is_id(""));
        assert_eq!(snake("thread-spawn-result"), "thread_spawn_result");
        let mut s = Scope::default();
        assert_eq!(s.unique("x"), "x");
        assert_eq!(s.unique("x"), "x_2");
        assert_eq!(s.unique("x"), "x_3");
    }
}
