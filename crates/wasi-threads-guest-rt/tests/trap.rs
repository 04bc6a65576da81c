//! Natively a trap is a panic with the message the wasm trap writes to
//! stderr; the wasm traps are tested by the workspace's
//! tests/guest_bindings.rs.

use wasi_threads_guest_rt::{char_lift, invalid_discriminant};

#[test]
fn a_valid_char_lifts() {
    assert_eq!(char_lift(0xfc, "x"), 'ü');
    assert_eq!(char_lift(0x10ffff, "x"), '\u{10ffff}');
}

#[test]
#[should_panic(
    expected = "error: invalid data from the host in the result of `f`: a char that is not a Unicode scalar value"
)]
fn a_surrogate_is_not_a_char() {
    char_lift(0xd800, "the result of `f`");
}

#[test]
#[should_panic(
    expected = "error: invalid data from the host in the arguments of `g`: a discriminant out of range"
)]
fn a_discriminant_out_of_range_traps() {
    invalid_discriminant("the arguments of `g`");
}
