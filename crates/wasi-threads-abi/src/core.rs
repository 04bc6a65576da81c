//! Core wasm value types and the WAT text of core signatures.

use std::fmt;

/// A core wasm value type, as it appears in a function signature.
///
/// Pointers and lengths are `i32`: the model describes wasm32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ValType {
    I32,
    I64,
    F32,
    F64,
}

impl ValType {
    /// The WAT spelling of this type.
    pub fn as_str(self) -> &'static str {
        match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
        }
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<wit_parser::abi::WasmType> for ValType {
    fn from(ty: wit_parser::abi::WasmType) -> ValType {
        use wit_parser::abi::WasmType;
        match ty {
            WasmType::I32 | WasmType::Pointer | WasmType::Length => ValType::I32,
            WasmType::I64 | WasmType::PointerOrI64 => ValType::I64,
            WasmType::F32 => ValType::F32,
            WasmType::F64 => ValType::F64,
        }
    }
}

impl From<::witx::WasmType> for ValType {
    fn from(ty: ::witx::WasmType) -> ValType {
        match ty {
            ::witx::WasmType::I32 => ValType::I32,
            ::witx::WasmType::I64 => ValType::I64,
            ::witx::WasmType::F32 => ValType::F32,
            ::witx::WasmType::F64 => ValType::F64,
        }
    }
}

/// Writes `(func (param ..) (result ..))` for a core signature, omitting
/// empty groups as WAT does.
pub fn wat_func_type(params: &[ValType], results: &[ValType]) -> String {
    let mut out = String::from("(func");
    if !params.is_empty() {
        out.push_str(" (param");
        for p in params {
            out.push(' ');
            out.push_str(p.as_str());
        }
        out.push(')');
    }
    if !results.is_empty() {
        out.push_str(" (result");
        for r in results {
            out.push(' ');
            out.push_str(r.as_str());
        }
        out.push(')');
    }
    out.push(')');
    out
}

/// Writes `(i32 i32) -> (i32)`, the plain-words form used in reports.
pub fn arrow_signature(params: &[ValType], results: &[ValType]) -> String {
    let join = |tys: &[ValType]| tys.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(" ");
    format!("({}) -> ({})", join(params), join(results))
}

/// Quotes a name as a WAT string.
pub fn wat_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii_graphic() || c == ' ' => out.push(c),
            c => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{b:02x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wat_func_types() {
        assert_eq!(
            wat_func_type(&[ValType::I32], &[ValType::I32]),
            "(func (param i32) (result i32))"
        );
        assert_eq!(
            wat_func_type(&[ValType::I32, ValType::I32], &[]),
            "(func (param i32 i32))"
        );
        assert_eq!(wat_func_type(&[], &[]), "(func)");
        assert_eq!(
            arrow_signature(&[ValType::I64, ValType::F32], &[]),
            "(i64 f32) -> ()"
        );
    }

    #[test]
    fn wat_strings_escape() {
        assert_eq!(wat_string("thread-spawn"), "\"thread-spawn\"");
        assert_eq!(wat_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(wat_string("é"), "\"\\c3\\a9\"");
    }
}
