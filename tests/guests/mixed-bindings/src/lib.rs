//! Three worlds' bindings in one module: `by-wit-bindgen` from wit-bindgen
//! 0.60, `by-guest-one` and `by-guest-two` from `guest!`. Each world's
//! exports lift strings the host allocated with `cabi_realloc` and each
//! import lifts a string the host wrote with it: the module links one
//! `cabi_realloc` (a weak one, from one of the runtimes' archives) and
//! every world works with it.

mod by_wit_bindgen {
    wit_bindgen::generate!({ path: "wit", world: "by-wit-bindgen" });

    struct A;

    impl Guest for A {
        fn greet_a(who: String) -> String {
            format!("{} greets {who}", test::mixed::names_a::name())
        }
    }

    export!(A);
}

mod one {
    wasi_threads_macros::guest!({ path: "wit", world: "by-guest-one" });
}

mod two {
    wasi_threads_macros::guest!({ path: "wit", world: "by-guest-two" });
}

struct B;

impl one::Guest for B {
    fn greet_b(who: String) -> String {
        format!("{} greets {who}", one::test::mixed::names_b::name())
    }
}

one::export!(B with_types_in one);

struct C;

impl two::Guest for C {
    fn greet_c(who: String) -> String {
        format!("{} greets {who}", two::test::mixed::names_c::name())
    }
    fn take_text(text: String) -> u32 {
        text.chars().count() as u32
    }
    fn take_letter(letter: char) -> u32 {
        letter as u32
    }
    fn take_numbers(xs: Vec<u32>) -> u32 {
        xs.len() as u32
    }
    fn take_words(ws: Vec<String>) -> u32 {
        ws.len() as u32
    }
    fn take_choice(c: two::Choice) -> u32 {
        match c {
            two::Choice::Yes => 1,
            two::Choice::No => 0,
        }
    }
}

two::export!(C with_types_in two);
