//! The guest of the differential test with this project's own Rust guest
//! bindings (`guest!`) instead of wit-bindgen's, for `tests/bindgen/kinds.wit`,
//! compiled as a core module. `run` sends a value of every type kind through the host's
//! imports and checks that exactly the same value comes back; the other
//! exports take values from the host.

mod bindings {
    wasi_threads_macros::guest!("../../bindgen/kinds.wit");
}

use bindings::test::kinds::kinds::*;

struct Kinds;

fn equal<T: PartialEq>(a: &T, b: &T) -> bool {
    a == b
}

macro_rules! same {
    ($passed:ident, $call:expr, $expected:expr) => {{
        let got = $call;
        let expected = $expected;
        if !equal(&got, &expected) {
            return Err(format!("{}: sent {:?}, got back {:?}", stringify!($call), expected, got));
        }
        $passed += 1;
    }};
}

impl bindings::Guest for Kinds {
    fn run() -> Result<u32, String> {
        let mut passed = 0u32;
        for b in [true, false] {
            same!(passed, echo_bool(b), b);
        }
        for v in [0u8, 1, 127, 128, 255] {
            same!(passed, echo_u8(v), v);
        }
        for v in [i8::MIN, -1, 0, i8::MAX] {
            same!(passed, echo_s8(v), v);
        }
        for v in [0u16, 0x8000, u16::MAX] {
            same!(passed, echo_u16(v), v);
        }
        for v in [i16::MIN, -1, i16::MAX] {
            same!(passed, echo_s16(v), v);
        }
        for v in [0u32, 0x8000_0000, u32::MAX] {
            same!(passed, echo_u32(v), v);
        }
        for v in [i32::MIN, -1, i32::MAX] {
            same!(passed, echo_s32(v), v);
        }
        for v in [0u64, 1 << 63, u64::MAX] {
            same!(passed, echo_u64(v), v);
        }
        for v in [i64::MIN, -1, i64::MAX] {
            same!(passed, echo_s64(v), v);
        }
        for v in [0.0f32, -1.5, f32::MAX, f32::MIN_POSITIVE, f32::INFINITY] {
            same!(passed, echo_f32(v).to_bits(), v.to_bits());
        }
        same!(passed, echo_f32(f32::NAN).is_nan(), true);
        for v in [0.0f64, -2.25, f64::MAX, f64::NEG_INFINITY] {
            same!(passed, echo_f64(v).to_bits(), v.to_bits());
        }
        for c in ['a', 'é', '\u{10ffff}', '\u{1f600}'] {
            same!(passed, echo_char(c), c);
        }
        for s in ["", "hello", "ünïcödé ✓", &"x".repeat(70_000)] {
            same!(passed, echo_string(s.to_string()), s.to_string());
        }
        let bytes: Vec<u8> = (0..=255).collect();
        same!(passed, echo_bytes(bytes.clone()), bytes);
        same!(passed, echo_bytes(Vec::new()), Vec::<u8>::new());
        let strings = vec!["a".to_string(), String::new(), "ccc".to_string()];
        same!(passed, echo_strings(strings.clone()), strings);
        same!(passed, echo_option(Some("some".to_string())), Some("some".to_string()));
        same!(passed, echo_option(None), None::<String>);
        same!(passed, echo_result(Ok(7)), Ok::<u32, String>(7));
        same!(passed, echo_result(Err("bad".to_string())), Err::<u32, String>("bad".to_string()));
        same!(passed, echo_bare_result(Ok(())), Ok(()));
        same!(passed, echo_bare_result(Err(())), Err(()));
        same!(passed, echo_tuple((9, "nine".to_string(), 9.5)), (9, "nine".to_string(), 9.5));
        let p = Point { x: -5, y: i32::MAX };
        same!(passed, echo_point(p.clone()), p);
        let m = Mixed {
            flag: true,
            small: 200,
            wide: u64::MAX - 1,
            ratio: 0.25,
            name: "mixed".to_string(),
            tags: vec!["t1".to_string(), "t2".to_string()],
        };
        same!(passed, echo_mixed(m.clone()), m.clone());
        let shapes = vec![
            Shape::Circle(1.5),
            Shape::Rect(Point { x: 3, y: -4 }),
            Shape::Labelled("label".to_string()),
            Shape::Empty,
        ];
        for s in &shapes {
            same!(passed, echo_shape(s.clone()), s.clone());
        }
        same!(passed, echo_shapes(shapes.clone()), shapes.clone());
        for c in [Color::Red, Color::Green, Color::Blue] {
            same!(passed, echo_color(c), c);
        }
        for f in [Perms::empty(), Perms::READ | Perms::EXEC, Perms::all()] {
            same!(passed, echo_perms(f), f);
        }
        for f in [Many::B0 | Many::B31, Many::B32 | Many::B39, Many::all()] {
            same!(passed, echo_many(f), f);
        }
        same!(passed, echo_id(42), 42);
        same!(passed, sum_many(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 1 << 40), 136 + (1 << 40));
        ping();
        let a = Counter::new(40);
        let b = Counter::new(1);
        b.add(1);
        same!(passed, b.get(), 2);
        let c = Counter::merge(&a, &b);
        same!(passed, c.get(), 42);
        drop(a);
        drop(b);
        drop(c);
        Ok(passed)
    }

    fn reverse(s: String) -> String {
        s.chars().rev().collect()
    }

    fn scale(p: Point, by: i32) -> Point {
        Point { x: p.x * by, y: p.y * by }
    }

    fn describe(s: Shape) -> String {
        match s {
            Shape::Circle(r) => format!("circle {r}"),
            Shape::Rect(p) => format!("rect {}x{}", p.x, p.y),
            Shape::Labelled(l) => format!("labelled {l}"),
            Shape::Empty => "empty".to_string(),
        }
    }

    fn total(xs: Vec<u32>) -> u64 {
        xs.iter().map(|&x| u64::from(x)).sum()
    }
}

bindings::export!(Kinds with_types_in bindings);
