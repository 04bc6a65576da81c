//! A WIT corpus that covers every type kind the canonical ABI knows, written
//! out by code where it is long (an enum of 257 cases, flags of 40).

/// The WIT text of the corpus package `test:corpus`.
pub fn wit() -> String {
    let scalars = [
        "u8", "s8", "u16", "s16", "u32", "s32", "u64", "s64", "f32", "f64", "bool", "char",
    ];
    let mut s = String::from("package test:corpus;\n\ninterface scalars {\n");
    for t in scalars {
        s.push_str(&format!("    echo-{t}: func(x: {t}) -> {t};\n"));
    }
    s.push_str("    nothing: func();\n}\n\n");

    s.push_str(
        "interface sequences {
    record point { x: s32, y: s32 }
    take-string: func(s: string);
    give-string: func() -> string;
    take-bytes: func(b: list<u8>) -> u32;
    give-words: func() -> list<u32>;
    take-chars: func(c: list<char>);
    take-bools: func(b: list<bool>);
    take-points: func(p: list<point>);
    take-strings: func(s: list<string>);
    nested: func(l: list<list<u64>>) -> list<list<u64>>;
}

",
    );

    let e257: Vec<String> = (0..257).map(|i| format!("c{i}")).collect();
    let flags = |n: usize| {
        (0..n)
            .map(|i| format!("flag{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    s.push_str(&format!(
        "interface compound {{
    enum errno {{ success, badf, inval }}
    enum e2 {{ a, b }}
    enum e257 {{ {} }}
    flags flags8 {{ {} }}
    flags flags16 {{ {} }}
    flags flags32 {{ {} }}
    flags flags40 {{ {} }}
    record point {{ x: f64, y: f64 }}
    record stat {{ size: u64, mode: u32, name: string }}
    variant shape {{ circle(f32), rect(point), empty }}
    variant odd {{ five(tuple<u8, u8, u8, u8, u8>), short(u16) }}
    type alias-u32 = u32;

    take-option: func(x: option<u32>);
    give-option: func() -> option<u32>;
    give-option-string: func() -> option<string>;
    take-result: func(r: result<u32, errno>);
    give-result: func() -> result<u32, errno>;
    give-empty-result: func() -> result;
    give-unit-err: func() -> result<_, errno>;
    give-stat: func() -> result<stat, errno>;
    take-tuple: func(t: tuple<u8, u64, string>);
    give-tuple: func() -> tuple<u8, u64, string>;
    take-point: func(p: point) -> f64;
    give-point: func() -> point;
    take-shape: func(s: shape);
    give-shape: func() -> shape;
    take-e2: func(e: e2) -> e2;
    take-e257: func(e: e257) -> e257;
    take-flags8: func(f: flags8) -> flags8;
    take-flags16: func(f: flags16) -> flags16;
    take-flags32: func(f: flags32) -> flags32;
    take-flags40: func(f: flags40) -> flags40;
    list-flags40: func(f: list<flags40>);
    take-alias: func(a: alias-u32) -> alias-u32;
    list-odd: func(o: list<odd>);
}}

",
        e257.join(", "),
        flags(8),
        flags(16),
        flags(32),
        flags(40)
    ));

    s.push_str(
        "interface resources {
    enum errno { success, noent }
    resource file {
        constructor(path: string);
        read: func(len: u32) -> list<u8>;
        size: func() -> u64;
        open: static func(path: string) -> result<file, errno>;
        dup: func() -> file;
    }
    close-all: func(files: list<file>);
}

interface wide {
    seventeen: func(a: u32, b: u32, c: u32, d: u32, e: u32, f: u32, g: u32, h: u32, i: u32, j: u32, k: u32, l: u32, m: u32, n: u32, o: u32, p: u32, q: u32);
    mixed: func(a: u64, b: f32, c: string, d: list<u8>, e: u64, f: f64, g: string, h: string, i: string, j: string);
    sixteen: func(a: u32, b: u32, c: u32, d: u32, e: u32, f: u32, g: u32, h: u32, i: u32, j: u32, k: u32, l: u32, m: u32, n: u32, o: u32, p: u32);
}

interface async-values {
    take-future: func(f: future<u32>);
    give-stream: func() -> stream<u8>;
    waits: async func(x: u32) -> u32;
}
",
    );
    s
}
