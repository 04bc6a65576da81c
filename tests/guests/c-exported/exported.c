/*
 * A guest of `tests/bindgen/exported-resources.wit` on the C bindings this
 * project generates, built by clang-19 against wasi-libc: it defines the
 * `counter` resource the world exports. A counter's representation is a
 * struct from `malloc`; the host holds handles to it; the destructor the
 * host calls once the last handle is dropped frees the struct.
 */

#include "exported_resources.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define C(name) __test_exported_counters_##name
#define E(name) exports_test_exported_counters_##name

/* The representation the header declares and the program defines. */
struct __test_exported_counters_counter_t {
    uint32_t value;
};

static uint32_t destroyed;

/* A new counter holding `value`, handed to the host as an owned handle. */
static C(own_counter_t) make(uint32_t value) {
    C(counter_t) *rep = malloc(sizeof *rep);
    if (!rep) {
        abort();
    }
    rep->value = value;
    return C(counter_new)(rep);
}

C(own_counter_t) E(counter_constructor)(uint32_t start) {
    return make(start);
}

void E(counter_add)(C(borrow_counter_t) self, uint32_t n) {
    self->value += n;
}

uint32_t E(counter_get)(C(borrow_counter_t) self) {
    return self->value;
}

void E(counter_describe)(C(borrow_counter_t) self, __test_string_t *ret) {
    char text[32];
    int len = snprintf(text, sizeof text, "counter %u", (unsigned)self->value);
    /* From malloc: `cabi_post_*` frees it once the host has read it. */
    ret->ptr = malloc((size_t)len);
    if (!ret->ptr) {
        abort();
    }
    memcpy(ret->ptr, text, (size_t)len);
    ret->len = (size_t)len;
}

C(own_counter_t) E(counter_merge)(C(borrow_counter_t) a, C(own_counter_t) b) {
    uint32_t sum = a->value + C(counter_rep)(b)->value;
    /* `b` is the program's now: dropping it runs its destructor. */
    C(counter_drop_own)(b);
    return make(sum);
}

uint32_t E(finish)(C(own_counter_t) c) {
    uint32_t value = C(counter_rep)(c)->value;
    C(counter_drop_own)(c);
    return value;
}

uint32_t E(total)(__test_list_borrow_test_exported_counters_counter_t *cs) {
    uint32_t sum = 0;
    for (size_t i = 0; i < cs->len; i++) {
        sum += cs->ptr[i]->value;
    }
    /* The list is the program's: its `_free` frees the array the host
     * allocated (the borrows in it own nothing). */
    __test_list_borrow_test_exported_counters_counter_free(cs);
    return sum;
}

uint32_t test_exported_counters_destroyed(void) {
    return destroyed;
}

/* `tally` reaches the same resource through `use`. */
C(own_counter_t) exports_test_exported_tally_make(uint32_t start) {
    return make(start);
}

uint32_t exports_test_exported_tally_peek(C(borrow_counter_t) c) {
    return c->value;
}

uint32_t exports_test_exported_tally_consume(C(own_counter_t) c) {
    uint32_t value = C(counter_rep)(c)->value;
    C(counter_drop_own)(c);
    return value;
}

void E(counter_destructor)(C(counter_t) *rep) {
    destroyed++;
    free(rep);
}

/* The top of the heap, for the test that checks nothing leaks. */
__attribute__((__export_name__("heap_top"))) int32_t heap_top(void) {
    return (int32_t)(uintptr_t)sbrk(0);
}
