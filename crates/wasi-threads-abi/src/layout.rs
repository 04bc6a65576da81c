//! Memory layouts of values that cross through linear memory.
//!
//! A [`Layout`] records what the source library computed: size, alignment,
//! field offsets, discriminant width and payload offset, and what each
//! scalar is. Two layouts are *ABI-identical* when the same bytes mean the
//! same thing, all the way down: see [`Layout::abi_eq`], which ignores names
//! and the nesting of records (a record of two `u32` is the same memory as a
//! tuple of two `u32`) but not what a scalar is (a `u32` is not an `s32`, a
//! `bool` not a `u8`).

use std::collections::HashMap;
use std::fmt;

use crate::meaning::{HandleType, Ownership, Scalar};

/// The memory layout of one value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub size: u32,
    pub align: u32,
    pub kind: LayoutKind,
}

/// What a value's bytes hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayoutKind {
    /// A scalar: an integer, float, `bool`, `char`, enum or flags word.
    Scalar(Scalar),
    /// A handle (32 bits).
    Handle(HandleType),
    /// A pointer to one value (WITX `(@witx pointer T)` in a record).
    Pointer(Box<Layout>),
    /// A pointer and a length: a UTF-8 string (`text`) or a list whose
    /// elements have the given layout.
    Sequence { element: Box<Layout>, text: bool },
    /// Fields at fixed offsets: records, tuples, parameter areas.
    Record { fields: Vec<Field> },
    /// A discriminant of `discriminant` bytes at offset 0, then one of the
    /// cases' payloads at `payload_offset`.
    Variant {
        discriminant: u32,
        payload_offset: u32,
        cases: Vec<Case>,
    },
    /// A value whose layout has more than [`MAX_CELLS`] cells written out
    /// (fixed-length lists of fixed-length lists multiply): the model does
    /// not expand it, and it agrees with nothing.
    Unmodelled { cells: u64 },
}

/// The most cells (scalars, handles, pointers, lists, variants) the model
/// writes out for one value.
pub const MAX_CELLS: u64 = 100_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub offset: u32,
    pub layout: Layout,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    pub name: String,
    pub payload: Option<Layout>,
}

/// One leaf of a layout after records are flattened away.
#[derive(Clone, Debug)]
enum Cell {
    Scalar {
        offset: u32,
        size: u32,
        scalar: Scalar,
    },
    Handle {
        offset: u32,
        handle: HandleType,
    },
    Pointer {
        offset: u32,
        target: Layout,
    },
    Sequence {
        offset: u32,
        element: Layout,
    },
    Variant {
        offset: u32,
        discriminant: u32,
        payload_offset: u32,
        cases: Vec<Option<Layout>>,
    },
    Unmodelled {
        offset: u32,
    },
}

impl Cell {
    fn offset(&self) -> u32 {
        match self {
            Cell::Scalar { offset, .. }
            | Cell::Handle { offset, .. }
            | Cell::Pointer { offset, .. }
            | Cell::Sequence { offset, .. }
            | Cell::Variant { offset, .. }
            | Cell::Unmodelled { offset } => *offset,
        }
    }
}

/// The one-to-one correspondence between the resources of two sides that a
/// comparison builds as it meets handles: the first handle to WIT resource
/// `R` met against WITX handle type `H` pairs them, and every later handle
/// to `R` must be an `H` and every `H` an `R`. Names never count.
#[derive(Clone, Debug, Default)]
pub struct Pairing {
    left: HashMap<String, String>,
    right: HashMap<String, String>,
}

impl Pairing {
    /// Whether resource `a` (left side) and `b` (right side) are, or can
    /// become, the same resource.
    pub fn pair(&mut self, a: &str, b: &str) -> bool {
        match (self.left.get(a), self.right.get(b)) {
            (Some(x), Some(y)) => x == b && y == a,
            (None, None) => {
                self.left.insert(a.to_string(), b.to_string());
                self.right.insert(b.to_string(), a.to_string());
                true
            }
            _ => false,
        }
    }

    /// What resource `a` of the left side is paired with, if anything.
    pub fn left_partner(&self, a: &str) -> Option<&str> {
        self.left.get(a).map(String::as_str)
    }

    /// What resource `b` of the right side is paired with, if anything.
    pub fn right_partner(&self, b: &str) -> Option<&str> {
        self.right.get(b).map(String::as_str)
    }

    /// Whether two handles agree: the same resource under the pairing, and
    /// the same ownership where both sides state one.
    pub fn handles(&mut self, a: &HandleType, b: &HandleType) -> bool {
        let ownership = match (a.ownership, b.ownership) {
            (Some(x), Some(y)) => x == y,
            // A rep is no handle, whatever a side that does not state
            // ownership means.
            (Some(Ownership::Rep), None) | (None, Some(Ownership::Rep)) => false,
            _ => true,
        };
        ownership && self.pair(&a.resource, &b.resource)
    }
}

impl Layout {
    /// Calls `f` on every handle of the layout, at any depth.
    pub fn handles_mut(&mut self, f: &mut impl FnMut(&mut HandleType)) {
        match &mut self.kind {
            LayoutKind::Handle(h) => f(h),
            LayoutKind::Pointer(target) => target.handles_mut(f),
            LayoutKind::Sequence { element, .. } => element.handles_mut(f),
            LayoutKind::Record { fields } => {
                for field in fields {
                    field.layout.handles_mut(f);
                }
            }
            LayoutKind::Variant { cases, .. } => {
                for case in cases {
                    if let Some(p) = &mut case.payload {
                        p.handles_mut(f);
                    }
                }
            }
            LayoutKind::Scalar(_) | LayoutKind::Unmodelled { .. } => {}
        }
    }

    /// The layout of a scalar in memory.
    pub fn scalar(scalar: Scalar) -> Layout {
        let size = scalar.size();
        Layout {
            size,
            align: size,
            kind: LayoutKind::Scalar(scalar),
        }
    }

    /// The layout of an unsigned byte: a string's elements.
    pub fn byte() -> Layout {
        Layout::scalar(Scalar::Int {
            bits: 8,
            signed: false,
        })
    }

    /// Whether the two layouts put the same kinds of values at the same
    /// offsets, with the same size and alignment, all the way down (with a
    /// fresh resource pairing).
    pub fn abi_eq(&self, other: &Layout) -> bool {
        self.compare(other, &mut Pairing::default())
    }

    /// [`Layout::abi_eq`] under a resource pairing shared with other
    /// comparisons.
    ///
    /// Names do not count, nor does how fields are grouped into records; a
    /// variant whose cases carry nothing counts as the enum its
    /// discriminant is; a string agrees with a list of `u8`.
    pub fn compare(&self, other: &Layout, pairing: &mut Pairing) -> bool {
        self.size == other.size
            && self.align == other.align
            && cells_eq(&self.cells(), &other.cells(), pairing)
    }

    fn cells(&self) -> Vec<Cell> {
        let mut out = Vec::new();
        self.push_cells(0, &mut out);
        out
    }

    fn push_cells(&self, base: u32, out: &mut Vec<Cell>) {
        if self.size == 0 {
            return;
        }
        match &self.kind {
            LayoutKind::Scalar(scalar) => out.push(Cell::Scalar {
                offset: base,
                size: self.size,
                scalar: *scalar,
            }),
            LayoutKind::Handle(handle) => out.push(Cell::Handle {
                offset: base,
                handle: handle.clone(),
            }),
            LayoutKind::Pointer(target) => out.push(Cell::Pointer {
                offset: base,
                target: (**target).clone(),
            }),
            LayoutKind::Sequence { element, .. } => out.push(Cell::Sequence {
                offset: base,
                element: (**element).clone(),
            }),
            LayoutKind::Record { fields } => {
                for f in fields {
                    f.layout.push_cells(base.saturating_add(f.offset), out);
                }
            }
            LayoutKind::Unmodelled { .. } => out.push(Cell::Unmodelled { offset: base }),
            LayoutKind::Variant {
                discriminant,
                payload_offset,
                cases,
            } => {
                let payloads: Vec<Option<Layout>> = cases
                    .iter()
                    .map(|c| c.payload.clone().filter(|p| p.size > 0))
                    .collect();
                if payloads.iter().all(|p| p.is_none()) {
                    out.push(Cell::Scalar {
                        offset: base,
                        size: *discriminant,
                        scalar: Scalar::Enum {
                            cases: cases.len() as u32,
                            tag_bits: (discriminant * 8) as u8,
                        },
                    });
                } else {
                    out.push(Cell::Variant {
                        offset: base,
                        discriminant: *discriminant,
                        payload_offset: *payload_offset,
                        cases: payloads,
                    });
                }
            }
        }
    }
}

/// Compares two cell lists, reading a pointer cell followed by a 32-bit
/// unsigned length cell four bytes on as one (pointer, length) sequence.
fn cells_eq(a: &[Cell], b: &[Cell], pairing: &mut Pairing) -> bool {
    let a = pair_pointers(a);
    let b = pair_pointers(b);
    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| cell_eq(x, y, pairing))
}

fn pair_pointers(cells: &[Cell]) -> Vec<Cell> {
    let mut out = Vec::with_capacity(cells.len());
    let mut i = 0;
    while i < cells.len() {
        if let (
            Cell::Pointer { offset, target },
            Some(Cell::Scalar {
                offset: len_offset,
                size: 4,
                scalar:
                    Scalar::Int {
                        bits: 32,
                        signed: false,
                    },
            }),
        ) = (&cells[i], cells.get(i + 1))
        {
            if *len_offset == offset.saturating_add(4) {
                out.push(Cell::Sequence {
                    offset: *offset,
                    element: target.clone(),
                });
                i += 2;
                continue;
            }
        }
        out.push(cells[i].clone());
        i += 1;
    }
    out
}

fn cell_eq(a: &Cell, b: &Cell, pairing: &mut Pairing) -> bool {
    if a.offset() != b.offset() {
        return false;
    }
    match (a, b) {
        (
            Cell::Scalar {
                size: s1,
                scalar: x,
                ..
            },
            Cell::Scalar {
                size: s2,
                scalar: y,
                ..
            },
        ) => s1 == s2 && x == y,
        (Cell::Handle { handle: x, .. }, Cell::Handle { handle: y, .. }) => pairing.handles(x, y),
        (Cell::Pointer { target: x, .. }, Cell::Pointer { target: y, .. })
        | (Cell::Sequence { element: x, .. }, Cell::Sequence { element: y, .. }) => {
            x.compare(y, pairing)
        }
        (
            Cell::Variant {
                discriminant: d1,
                payload_offset: p1,
                cases: c1,
                ..
            },
            Cell::Variant {
                discriminant: d2,
                payload_offset: p2,
                cases: c2,
                ..
            },
        ) => {
            d1 == d2
                && p1 == p2
                && c1.len() == c2.len()
                && c1.iter().zip(c2).all(|(x, y)| match (x, y) {
                    (None, None) => true,
                    (Some(x), Some(y)) => x.compare(y, pairing),
                    _ => false,
                })
        }
        _ => false,
    }
}

impl fmt::Display for Layout {
    /// A compact description: `{size 12, align 4: @0 s32, @4 string}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            LayoutKind::Unmodelled { cells } => write!(
                f,
                "{{size {}, align {}: {cells} cells, more than the model writes out}}",
                self.size, self.align
            ),
            LayoutKind::Scalar(Scalar::Bool) if self.size != 1 => {
                write!(f, "bool{}", self.size * 8)
            }
            LayoutKind::Scalar(s) => write!(f, "{s}"),
            LayoutKind::Handle(h) => write!(f, "{h}"),
            LayoutKind::Pointer(t) => write!(f, "pointer<{t}>"),
            LayoutKind::Sequence { text: true, .. } => f.write_str("string"),
            LayoutKind::Sequence {
                element,
                text: false,
            } => write!(f, "list<{element}>"),
            LayoutKind::Record { fields } => {
                write!(f, "{{size {}, align {}:", self.size, self.align)?;
                for (i, field) in fields.iter().enumerate() {
                    let sep = if i == 0 { " " } else { ", " };
                    write!(f, "{sep}@{} {}", field.offset, field.layout)?;
                }
                f.write_str("}")
            }
            LayoutKind::Variant {
                discriminant,
                payload_offset,
                cases,
            } => {
                write!(
                    f,
                    "variant{{size {}, align {}, tag u{}, payload @{}:",
                    self.size,
                    self.align,
                    discriminant * 8,
                    payload_offset
                )?;
                for (i, case) in cases.iter().enumerate() {
                    let sep = if i == 0 { " " } else { ", " };
                    match &case.payload {
                        Some(p) => write!(f, "{sep}{p}")?,
                        None => write!(f, "{sep}_")?,
                    }
                }
                f.write_str("}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meaning::Ownership;

    const U32: Scalar = Scalar::Int {
        bits: 32,
        signed: false,
    };
    const S32: Scalar = Scalar::Int {
        bits: 32,
        signed: true,
    };

    fn record(fields: &[(u32, Layout)], size: u32, align: u32) -> Layout {
        Layout {
            size,
            align,
            kind: LayoutKind::Record {
                fields: fields
                    .iter()
                    .enumerate()
                    .map(|(i, (offset, layout))| Field {
                        name: format!("f{i}"),
                        offset: *offset,
                        layout: layout.clone(),
                    })
                    .collect(),
            },
        }
    }

    fn handle(resource: &str, ownership: Option<Ownership>) -> Layout {
        Layout {
            size: 4,
            align: 4,
            kind: LayoutKind::Handle(HandleType {
                resource: resource.into(),
                ownership,
            }),
        }
    }

    #[test]
    fn nesting_and_names_do_not_count() {
        let u32 = Layout::scalar(U32);
        let flat = record(&[(0, u32.clone()), (4, u32.clone())], 8, 4);
        let nested = record(&[(0, record(&[(0, u32.clone()), (4, u32)], 8, 4))], 8, 4);
        assert!(flat.abi_eq(&nested));
    }

    #[test]
    fn offsets_sizes_and_scalar_kinds_count() {
        let u32 = Layout::scalar(U32);
        let a = record(&[(0, u32.clone()), (4, u32.clone())], 8, 4);
        let float = record(
            &[
                (0, u32.clone()),
                (4, Layout::scalar(Scalar::Float { bits: 32 })),
            ],
            8,
            4,
        );
        let signed = record(&[(0, u32.clone()), (4, Layout::scalar(S32))], 8, 4);
        let chars = record(&[(0, u32), (4, Layout::scalar(Scalar::Char))], 8, 4);
        let wider = record(
            &[(
                0,
                Layout::scalar(Scalar::Int {
                    bits: 64,
                    signed: false,
                }),
            )],
            8,
            8,
        );
        for other in [&float, &signed, &chars, &wider] {
            assert!(!a.abi_eq(other), "{a} against {other}");
        }
    }

    #[test]
    fn bool_is_not_a_byte_and_enums_count_their_cases() {
        assert!(!Layout::scalar(Scalar::Bool).abi_eq(&Layout::byte()));
        let e = |cases| Layout::scalar(Scalar::Enum { cases, tag_bits: 8 });
        assert!(e(3).abi_eq(&e(3)));
        assert!(!e(3).abi_eq(&e(4)));
    }

    #[test]
    fn payloadless_variant_is_its_enum() {
        let v = Layout {
            size: 1,
            align: 1,
            kind: LayoutKind::Variant {
                discriminant: 1,
                payload_offset: 1,
                cases: vec![
                    Case {
                        name: "a".into(),
                        payload: None,
                    },
                    Case {
                        name: "b".into(),
                        payload: None,
                    },
                ],
            },
        };
        assert!(v.abi_eq(&Layout::scalar(Scalar::Enum {
            cases: 2,
            tag_bits: 8
        })));
        assert_eq!(
            v.to_string(),
            "variant{size 1, align 1, tag u8, payload @1: _, _}"
        );
    }

    #[test]
    fn a_pointer_and_its_length_are_a_sequence() {
        let list = Layout {
            size: 8,
            align: 4,
            kind: LayoutKind::Sequence {
                element: Box::new(Layout::byte()),
                text: true,
            },
        };
        let pair = record(
            &[
                (
                    0,
                    Layout {
                        size: 4,
                        align: 4,
                        kind: LayoutKind::Pointer(Box::new(Layout::byte())),
                    },
                ),
                (4, Layout::scalar(U32)),
            ],
            8,
            4,
        );
        assert!(list.abi_eq(&pair));
        let signed_len = record(
            &[
                (
                    0,
                    Layout {
                        size: 4,
                        align: 4,
                        kind: LayoutKind::Pointer(Box::new(Layout::byte())),
                    },
                ),
                (4, Layout::scalar(S32)),
            ],
            8,
            4,
        );
        assert!(!list.abi_eq(&signed_len));
    }

    #[test]
    fn an_unmodelled_layout_agrees_with_nothing() {
        let big = Layout {
            size: 8,
            align: 4,
            kind: LayoutKind::Unmodelled {
                cells: MAX_CELLS + 1,
            },
        };
        assert!(!big.abi_eq(&big.clone()));
        assert!(big.to_string().contains("more than the model writes out"));
    }

    #[test]
    fn handles_pair_resources_one_to_one() {
        let two = |a: &str, b: &str| record(&[(0, handle(a, None)), (4, handle(b, None))], 8, 4);
        let wit = record(
            &[
                (0, handle("p:k/i#file", Some(Ownership::Own))),
                (4, handle("p:k/i#dir", Some(Ownership::Borrow))),
            ],
            8,
            4,
        );
        // Any names, as long as the correspondence is one to one.
        assert!(wit.abi_eq(&two("fd", "dirfd")));
        assert!(!wit.abi_eq(&two("fd", "fd")));
        let mut pairing = Pairing::default();
        assert!(handle("a", Some(Ownership::Own)).compare(&handle("x", None), &mut pairing));
        assert!(!handle("a", Some(Ownership::Own)).compare(&handle("y", None), &mut pairing));
        assert!(!handle("b", Some(Ownership::Own)).compare(&handle("x", None), &mut pairing));
        // Ownership counts where both sides state it.
        assert!(!handle("a", Some(Ownership::Own)).abi_eq(&handle("a", Some(Ownership::Borrow))));
    }
}
