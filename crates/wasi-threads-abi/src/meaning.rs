//! What a core value *is*: the meaning the model gives every core parameter
//! and result, beside its core type.
//!
//! Two core values with the same core type can mean different things: an
//! `i32` holding a `u32`, the address of a record, the pointer of a
//! (pointer, length) pair, a handle. [`crate::check`] compares meanings, so
//! a WITX pointer never passes for a WIT value that merely has the same core
//! type.

use std::fmt;

use crate::layout::Layout;

/// A value that fits in one core value or one memory cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// An integer of `bits` bits (8, 16, 32, 64).
    Int { bits: u8, signed: bool },
    /// An IEEE float of `bits` bits (32, 64).
    Float { bits: u8 },
    /// 0 for false, 1 for true.
    Bool,
    /// A Unicode scalar value.
    Char,
    /// The index of one of `cases` cases, stored in `tag_bits` bits: an
    /// enum, or the discriminant of a variant.
    Enum { cases: u32, tag_bits: u8 },
    /// A set of `members` flags, one bit each, in a word of `bits` bits.
    Flags { members: u32, bits: u8 },
}

impl Scalar {
    /// The size in bytes of the scalar in memory.
    pub fn size(self) -> u32 {
        match self {
            Scalar::Int { bits, .. } | Scalar::Float { bits } => u32::from(bits) / 8,
            Scalar::Bool => 1,
            Scalar::Char => 4,
            Scalar::Enum { tag_bits, .. } => u32::from(tag_bits) / 8,
            Scalar::Flags { bits, .. } => u32::from(bits) / 8,
        }
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Int { bits, signed } => write!(f, "{}{bits}", if *signed { "s" } else { "u" }),
            Scalar::Float { bits } => write!(f, "f{bits}"),
            Scalar::Bool => f.write_str("bool"),
            Scalar::Char => f.write_str("char"),
            Scalar::Enum { cases, tag_bits } => write!(f, "enum of {cases} (tag u{tag_bits})"),
            Scalar::Flags { members, bits } => write!(f, "flags of {members} (u{bits})"),
        }
    }
}

/// Who owns the resource behind a handle, or that the value is no handle
/// but the resource's representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ownership {
    /// The receiver takes the handle over.
    Own,
    /// The receiver may use the handle for the call only.
    Borrow,
    /// Not a handle: the representation (`rep`) of a resource the guest
    /// itself exports. The canonical ABI passes a `borrow` of such a
    /// resource to its exporter as the rep, and the `[resource-new]`,
    /// `[resource-rep]` and `[dtor]` intrinsics take or give one.
    Rep,
}

/// A handle to a resource.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HandleType {
    /// The resource: `wasi:io/poll@0.2.12#pollable` in WIT, the handle
    /// type's name in WITX. Names identify a resource within one side only:
    /// the check pairs the resources of the two sides one to one.
    pub resource: String,
    /// `None` where the source cannot say (WITX handles).
    pub ownership: Option<Ownership>,
}

impl fmt::Display for HandleType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ownership {
            Some(Ownership::Own) => write!(f, "own<{}>", self.resource),
            Some(Ownership::Borrow) => write!(f, "borrow<{}>", self.resource),
            Some(Ownership::Rep) => write!(f, "rep<{}>", self.resource),
            None => write!(f, "handle<{}>", self.resource),
        }
    }
}

/// What one core parameter or result is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Meaning {
    /// A value of a scalar type.
    Scalar(Scalar),
    /// A handle.
    Handle(HandleType),
    /// The address of one value: a record or variant WITX passes by
    /// pointer, a WITX `(@witx pointer T)`, the parameter area of a call
    /// with more than 16 flat parameters. `writable` when the callee may
    /// write through it (WITX `pointer`, not `const_pointer`).
    Pointer { target: Layout, writable: bool },
    /// The pointer of a (pointer, length) pair: a string's bytes (`text`),
    /// a list's elements, a WITX pointer followed by a `u32` or `usize`
    /// length. The next core value is its [`Meaning::Length`].
    Elements { element: Layout, text: bool },
    /// The length of the pair whose pointer is the previous core value.
    Length,
    /// Where the callee writes a result: the last parameter of a WIT import
    /// whose result does not fit one core value, the result of such an
    /// export, the out-pointer of a WITX `expected` result.
    ReturnArea(Layout),
    /// A flattened variant's payload value that holds different types in
    /// different cases (the canonical ABI's joined value): raw bits of its
    /// core type.
    Joined,
    /// A WITX `expected` result: 0 for ok, else the error (`None` when the
    /// error carries nothing).
    Status { error: Option<Scalar> },
    /// A value whose meaning the model does not know (the async ABI's
    /// status codes and parameter areas).
    Opaque,
}

impl fmt::Display for Meaning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Meaning::Scalar(s) => write!(f, "{s}"),
            Meaning::Handle(h) => write!(f, "{h}"),
            Meaning::Pointer { target, writable } => write!(
                f,
                "{} to {target}",
                if *writable {
                    "pointer"
                } else {
                    "const pointer"
                }
            ),
            Meaning::Elements { text: true, .. } => f.write_str("pointer of a string"),
            Meaning::Elements { element, .. } => write!(f, "pointer of a list of {element}"),
            Meaning::Length => f.write_str("length of a list"),
            Meaning::ReturnArea(layout) => write!(f, "return area of {layout}"),
            Meaning::Joined => f.write_str("joined variant payload"),
            Meaning::Status { error: Some(e) } => write!(f, "status: 0 or {e}"),
            Meaning::Status { error: None } => f.write_str("status: 0 or an error"),
            Meaning::Opaque => f.write_str("async ABI value"),
        }
    }
}
