//! Memory layouts of values that cross through linear memory.
//!
//! A [`Layout`] records what the source library computed: size, alignment,
//! field offsets, discriminant width and payload offset. Two layouts are
//! *ABI-identical* when the same bytes mean the same thing: see
//! [`Layout::abi_eq`], which ignores names and the nesting of records (a
//! record of two `u32` is the same memory as a tuple of two `u32`).

use std::fmt;

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
    /// An integer of `size` bytes: integers, `char`, `bool`, enums,
    /// handles, flags words.
    Int,
    /// An IEEE float of `size` bytes.
    Float,
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
}

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
#[derive(Clone, Debug, PartialEq, Eq)]
enum Cell {
    Int {
        offset: u32,
        size: u32,
    },
    Float {
        offset: u32,
        size: u32,
    },
    Sequence {
        offset: u32,
        element: Vec<Cell>,
        size: u32,
        align: u32,
        text: bool,
    },
    Variant {
        offset: u32,
        discriminant: u32,
        payload_offset: u32,
        cases: Vec<Option<Vec<Cell>>>,
    },
}

impl Layout {
    pub fn int(size: u32) -> Layout {
        Layout {
            size,
            align: size,
            kind: LayoutKind::Int,
        }
    }

    pub fn float(size: u32) -> Layout {
        Layout {
            size,
            align: size,
            kind: LayoutKind::Float,
        }
    }

    /// Whether the two layouts put the same kinds of values at the same
    /// offsets, with the same size and alignment. Names do not count, nor
    /// does how fields are grouped into records; a variant whose cases carry
    /// no payload counts as the integer its discriminant is.
    pub fn abi_eq(&self, other: &Layout) -> bool {
        self.size == other.size && self.align == other.align && self.cells() == other.cells()
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
            LayoutKind::Int => out.push(Cell::Int {
                offset: base,
                size: self.size,
            }),
            LayoutKind::Float => out.push(Cell::Float {
                offset: base,
                size: self.size,
            }),
            LayoutKind::Sequence { element, text } => out.push(Cell::Sequence {
                offset: base,
                element: element.cells(),
                size: element.size,
                align: element.align,
                text: *text,
            }),
            LayoutKind::Record { fields } => {
                for f in fields {
                    f.layout.push_cells(base + f.offset, out);
                }
            }
            LayoutKind::Variant {
                discriminant,
                payload_offset,
                cases,
            } => {
                let payloads: Vec<Option<Vec<Cell>>> = cases
                    .iter()
                    .map(|c| c.payload.as_ref().filter(|p| p.size > 0).map(|p| p.cells()))
                    .collect();
                if payloads.iter().all(|p| p.is_none()) {
                    out.push(Cell::Int {
                        offset: base,
                        size: *discriminant,
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

impl fmt::Display for Layout {
    /// A compact description: `{size 12, align 4: @0 s32, @4 string}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            LayoutKind::Int => write!(f, "int{}", self.size * 8),
            LayoutKind::Float => write!(f, "float{}", self.size * 8),
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
                    "variant{{size {}, align {}, tag int{}, payload @{}:",
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

    #[test]
    fn nesting_and_names_do_not_count() {
        let flat = record(&[(0, Layout::int(4)), (4, Layout::int(4))], 8, 4);
        let nested = record(
            &[(0, record(&[(0, Layout::int(4)), (4, Layout::int(4))], 8, 4))],
            8,
            4,
        );
        assert!(flat.abi_eq(&nested));
    }

    #[test]
    fn offsets_sizes_and_kinds_count() {
        let a = record(&[(0, Layout::int(4)), (4, Layout::int(4))], 8, 4);
        let shifted = record(&[(0, Layout::int(4)), (4, Layout::float(4))], 8, 4);
        let wider = record(&[(0, Layout::int(8))], 8, 8);
        assert!(!a.abi_eq(&shifted));
        assert!(!a.abi_eq(&wider));
    }

    #[test]
    fn payloadless_variant_is_its_discriminant() {
        let e = Layout {
            size: 1,
            align: 1,
            kind: LayoutKind::Variant {
                discriminant: 1,
                payload_offset: 1,
                cases: vec![Case {
                    name: "a".into(),
                    payload: None,
                }],
            },
        };
        assert!(e.abi_eq(&Layout::int(1)));
        assert_eq!(
            e.to_string(),
            "variant{size 1, align 1, tag int8, payload @1: _}"
        );
    }
}
