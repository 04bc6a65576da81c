/*
 * The C side of the differential test: a guest of `tests/bindgen/kinds.wit`
 * on the C bindings this project generates, built by clang-19 against
 * wasi-libc. `run` sends a value of every type kind through the host's
 * imports and checks that exactly the same value comes back (the same 77
 * checks as the Rust guests); the other exports take values from the host.
 * Every value the bindings hand over is freed with its `_free` function,
 * so the heap does not grow over many round trips.
 */

#include "everything.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define K(name) __test_kinds_kinds_##name
#define KC(name) TEST_KINDS_KINDS_##name

typedef K(string_t) string_t;

static uint32_t passed;
static char failure[256];

#define SAME(what, ok)                                                        \
    do {                                                                      \
        if (!(ok)) {                                                          \
            if (!failure[0])                                                  \
                snprintf(failure, sizeof failure, "%s (line %d)", what,       \
                         __LINE__);                                           \
        } else {                                                              \
            passed++;                                                         \
        }                                                                     \
    } while (0)

static bool bytes_eq(const void *a, size_t a_len, const void *b, size_t b_len) {
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

static bool str_eq(const string_t *s, const char *c) {
    return bytes_eq(s->ptr, s->len, c, strlen(c));
}

/* A string the bindings may free: a copy in malloc'd memory. */
static string_t owned(const char *c) {
    string_t s = {(uint8_t *)malloc(strlen(c) + 1), strlen(c)};
    memcpy(s.ptr, c, s.len);
    return s;
}

static string_t borrowed(const char *c) {
    return (string_t){(uint8_t *)c, strlen(c)};
}

static bool shape_eq(const K(shape_t) *a, const K(shape_t) *b) {
    if (a->tag != b->tag)
        return false;
    switch (a->tag) {
    case KC(SHAPE_CIRCLE):
        return a->val.circle == b->val.circle;
    case KC(SHAPE_RECT):
        return a->val.rect.x == b->val.rect.x && a->val.rect.y == b->val.rect.y;
    case KC(SHAPE_LABELLED):
        return bytes_eq(a->val.labelled.ptr, a->val.labelled.len,
                        b->val.labelled.ptr, b->val.labelled.len);
    default:
        return true;
    }
}

static void scalars(void) {
    bool bools[] = {true, false};
    for (size_t i = 0; i < 2; i++)
        SAME("echo-bool", K(echo_bool)(bools[i]) == bools[i]);
    uint8_t u8s[] = {0, 1, 127, 128, 255};
    for (size_t i = 0; i < 5; i++)
        SAME("echo-u8", K(echo_u8)(u8s[i]) == u8s[i]);
    int8_t s8s[] = {INT8_MIN, -1, 0, INT8_MAX};
    for (size_t i = 0; i < 4; i++)
        SAME("echo-s8", K(echo_s8)(s8s[i]) == s8s[i]);
    uint16_t u16s[] = {0, 0x8000, UINT16_MAX};
    for (size_t i = 0; i < 3; i++)
        SAME("echo-u16", K(echo_u16)(u16s[i]) == u16s[i]);
    int16_t s16s[] = {INT16_MIN, -1, INT16_MAX};
    for (size_t i = 0; i < 3; i++)
        SAME("echo-s16", K(echo_s16)(s16s[i]) == s16s[i]);
    uint32_t u32s[] = {0, 0x80000000u, UINT32_MAX};
    for (size_t i = 0; i < 3; i++)
        SAME("echo-u32", K(echo_u32)(u32s[i]) == u32s[i]);
    int32_t s32s[] = {INT32_MIN, -1, INT32_MAX};
    for (size_t i = 0; i < 3; i++)
        SAME("echo-s32", K(echo_s32)(s32s[i]) == s32s[i]);
    uint64_t u64s[] = {0, (uint64_t)1 << 63, UINT64_MAX};
    for (size_t i = 0; i < 3; i++)
        SAME("echo-u64", K(echo_u64)(u64s[i]) == u64s[i]);
    int64_t s64s[] = {INT64_MIN, -1, INT64_MAX};
    for (size_t i = 0; i < 3; i++)
        SAME("echo-s64", K(echo_s64)(s64s[i]) == s64s[i]);
    float f32s[] = {0.0f, -1.5f, 3.40282347e38f, 1.17549435e-38f, INFINITY};
    for (size_t i = 0; i < 5; i++) {
        float back = K(echo_f32)(f32s[i]);
        SAME("echo-f32", memcmp(&back, &f32s[i], sizeof back) == 0);
    }
    SAME("echo-f32 NaN", isnan(K(echo_f32)(NAN)));
    double f64s[] = {0.0, -2.25, 1.7976931348623157e308, -INFINITY};
    for (size_t i = 0; i < 4; i++) {
        double back = K(echo_f64)(f64s[i]);
        SAME("echo-f64", memcmp(&back, &f64s[i], sizeof back) == 0);
    }
    uint32_t chars[] = {'a', 0xe9, 0x10ffff, 0x1f600};
    for (size_t i = 0; i < 4; i++)
        SAME("echo-char", K(echo_char)(chars[i]) == chars[i]);
}

static void strings_and_lists(void) {
    static char big[70001];
    memset(big, 'x', 70000);
    const char *texts[] = {"", "hello", "ünïcödé ✓", big};
    for (size_t i = 0; i < 4; i++) {
        string_t back = K(echo_string)(texts[i]);
        SAME("echo-string", str_eq(&back, texts[i]));
        K(string_free)(&back);
    }
    uint8_t bytes[256];
    for (int i = 0; i < 256; i++)
        bytes[i] = (uint8_t)i;
    K(list_u8_t) b = K(echo_bytes)(bytes, sizeof bytes);
    SAME("echo-bytes", bytes_eq(b.ptr, b.len, bytes, sizeof bytes));
    K(list_u8_free)(&b);
    b = K(echo_bytes)(bytes, 0);
    SAME("echo-bytes empty", b.len == 0);
    K(list_u8_free)(&b);
    string_t strings[] = {borrowed("a"), borrowed(""), borrowed("ccc")};
    K(list_string_t) ss = K(echo_strings)(strings, 3);
    SAME("echo-strings", ss.len == 3 && str_eq(&ss.ptr[0], "a") &&
                             str_eq(&ss.ptr[1], "") && str_eq(&ss.ptr[2], "ccc"));
    K(list_string_free)(&ss);

    K(option_string_t) o = K(echo_option)((K(option_string_t)){true, borrowed("some")});
    SAME("echo-option some", o.is_some && str_eq(&o.val, "some"));
    K(option_string_free)(&o);
    o = K(echo_option)((K(option_string_t)){false, {0, 0}});
    SAME("echo-option none", !o.is_some);
    K(option_string_free)(&o);

    K(result_u32_string_t) r = {.is_err = false, .val.ok = 7};
    r = K(echo_result)(r);
    SAME("echo-result ok", !r.is_err && r.val.ok == 7);
    K(result_u32_string_free)(&r);
    r = (K(result_u32_string_t)){.is_err = true, .val.err = borrowed("bad")};
    r = K(echo_result)(r);
    SAME("echo-result err", r.is_err && str_eq(&r.val.err, "bad"));
    K(result_u32_string_free)(&r);
    SAME("echo-bare-result ok", !K(echo_bare_result)((K(result_void_void_t)){false}).is_err);
    SAME("echo-bare-result err", K(echo_bare_result)((K(result_void_void_t)){true}).is_err);

    K(tuple3_u8_string_f64_t) t = K(echo_tuple)((K(tuple3_u8_string_f64_t)){9, borrowed("nine"), 9.5});
    SAME("echo-tuple", t.f0 == 9 && str_eq(&t.f1, "nine") && t.f2 == 9.5);
    K(tuple3_u8_string_f64_free)(&t);
}

static void aggregates(void) {
    K(point_t) p = K(echo_point)((K(point_t)){-5, INT32_MAX});
    SAME("echo-point", p.x == -5 && p.y == INT32_MAX);

    string_t tags[] = {borrowed("t1"), borrowed("t2")};
    K(mixed_t) m = {true, 200, UINT64_MAX - 1, 0.25f, borrowed("mixed"), {tags, 2}};
    K(mixed_t) mb = K(echo_mixed)(m);
    SAME("echo-mixed", mb.flag && mb.small == 200 && mb.wide == UINT64_MAX - 1 &&
                           mb.ratio == 0.25f && str_eq(&mb.name, "mixed") && mb.tags.len == 2 &&
                           str_eq(&mb.tags.ptr[0], "t1") && str_eq(&mb.tags.ptr[1], "t2"));
    K(mixed_free)(&mb);

    K(shape_t) shapes[4] = {
        {.tag = KC(SHAPE_CIRCLE), .val.circle = 1.5},
        {.tag = KC(SHAPE_RECT), .val.rect = {3, -4}},
        {.tag = KC(SHAPE_LABELLED), .val.labelled = borrowed("label")},
        {.tag = KC(SHAPE_EMPTY)},
    };
    for (size_t i = 0; i < 4; i++) {
        K(shape_t) back = K(echo_shape)(shapes[i]);
        SAME("echo-shape", shape_eq(&back, &shapes[i]));
        K(shape_free)(&back);
    }
    K(list_shape_t) sb = K(echo_shapes)(shapes, 4);
    bool all = sb.len == 4;
    for (size_t i = 0; all && i < 4; i++)
        all = shape_eq(&sb.ptr[i], &shapes[i]);
    SAME("echo-shapes", all);
    K(list_shape_free)(&sb);

    K(color_t) colors[] = {KC(COLOR_RED), KC(COLOR_GREEN), KC(COLOR_BLUE)};
    for (size_t i = 0; i < 3; i++)
        SAME("echo-color", K(echo_color)(colors[i]) == colors[i]);
    K(perms_t) perms[] = {0, KC(PERMS_READ) | KC(PERMS_EXEC),
                          KC(PERMS_READ) | KC(PERMS_WRITE) | KC(PERMS_EXEC)};
    for (size_t i = 0; i < 3; i++)
        SAME("echo-perms", K(echo_perms)(perms[i]) == perms[i]);
    K(many_t) many[3];
    memset(many, 0, sizeof many);
    many[0].words[KC(MANY_B0_WORD)] |= KC(MANY_B0);
    many[0].words[KC(MANY_B30_WORD)] |= KC(MANY_B30);
    many[1].words[KC(MANY_B32_WORD)] |= KC(MANY_B32);
    many[1].words[KC(MANY_B39_WORD)] |= KC(MANY_B39);
    many[2] = many[0];
    many[2].words[KC(MANY_B17_WORD)] |= KC(MANY_B17);
    many[2].words[1] = many[1].words[1];
    for (size_t i = 0; i < 3; i++) {
        K(many_t) back = K(echo_many)(many[i]);
        SAME("echo-many", memcmp(&back, &many[i], sizeof back) == 0);
    }
    SAME("echo-id", K(echo_id)(42) == 42);
    SAME("sum-many", K(sum_many)(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                 (uint64_t)1 << 40) == 136 + ((uint64_t)1 << 40));
    K(ping)();
}

static void resources(void) {
    K(own_counter_t) a = K(counter_new)(40);
    K(own_counter_t) b = K(counter_new)(1);
    K(counter_add)(b, 1);
    SAME("counter get", K(counter_get)(b) == 2);
    K(own_counter_t) c = K(counter_merge)(a, b);
    SAME("counter merge", K(counter_get)(c) == 42);
    K(counter_drop)(a);
    K(counter_drop)(b);
    K(counter_drop)(c);
}

void exports_everything_run(K(result_u32_string_t) *ret) {
    passed = 0;
    failure[0] = 0;
    scalars();
    strings_and_lists();
    aggregates();
    resources();
    if (failure[0]) {
        ret->is_err = true;
        ret->val.err = owned(failure);
    } else {
        ret->is_err = false;
        ret->val.ok = passed;
    }
}

/* Reverses by Unicode scalar value: UTF-8 sequences keep their bytes. */
void exports_everything_reverse(string_t *s, string_t *ret) {
    ret->len = s->len;
    ret->ptr = malloc(s->len ? s->len : 1);
    size_t i = 0;
    while (i < s->len) {
        size_t n = 1;
        while (i + n < s->len && (s->ptr[i + n] & 0xc0) == 0x80)
            n++;
        memcpy(ret->ptr + s->len - i - n, s->ptr + i, n);
        i += n;
    }
    K(string_free)(s);
}

void exports_everything_scale(K(point_t) *p, int32_t by, K(point_t) *ret) {
    ret->x = p->x * by;
    ret->y = p->y * by;
}

void exports_everything_describe(K(shape_t) *s, string_t *ret) {
    char text[64];
    switch (s->tag) {
    case KC(SHAPE_CIRCLE):
        snprintf(text, sizeof text, "circle %g", s->val.circle);
        break;
    case KC(SHAPE_RECT):
        snprintf(text, sizeof text, "rect %dx%d", (int)s->val.rect.x, (int)s->val.rect.y);
        break;
    case KC(SHAPE_LABELLED): {
        /* "labelled " and the label, which may be long. */
        const string_t *label = &s->val.labelled;
        ret->len = 9 + label->len;
        ret->ptr = malloc(ret->len);
        memcpy(ret->ptr, "labelled ", 9);
        memcpy(ret->ptr + 9, label->ptr, label->len);
        K(shape_free)(s);
        return;
    }
    default:
        snprintf(text, sizeof text, "empty");
        break;
    }
    K(shape_free)(s);
    *ret = owned(text);
}

uint64_t exports_everything_total(K(list_u32_t) *xs) {
    uint64_t sum = 0;
    for (size_t i = 0; i < xs->len; i++)
        sum += xs->ptr[i];
    K(list_u32_free)(xs);
    return sum;
}

/* The top of the heap, for the host's check that round trips free what
 * they allocate. Not part of the WIT world. */
__attribute__((__export_name__("heap_top"))) int32_t heap_top(void) {
    return (int32_t)(uintptr_t)sbrk(0);
}
