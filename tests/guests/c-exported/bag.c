/*
 * A guest of the `owning` world of `tests/exported_resource_bindings.rs`
 * on the generated C bindings: `take` receives owned handles inside a
 * record, a list and an option, and frees the record with its `_free`
 * function, which drops every handle (and so runs every destructor).
 */

#include "owning.h"

#include <stdlib.h>

#define B(name) __test_owning_bag_##name
#define O(name) __test_owning_other_##name

struct __test_owning_bag_item_t {
    uint32_t value;
};

struct __test_owning_other_item_t {
    int unused;
};

static uint32_t destroyed;

B(own_item_t) exports_test_owning_bag_item_constructor(uint32_t value) {
    B(item_t) *rep = malloc(sizeof *rep);
    if (!rep) {
        abort();
    }
    rep->value = value;
    return B(item_new)(rep);
}

void exports_test_owning_bag_item_destructor(B(item_t) *rep) {
    destroyed++;
    free(rep);
}

uint32_t exports_test_owning_bag_take(B(bundle_t) *b) {
    uint32_t sum = B(item_rep)(b->first)->value;
    for (size_t i = 0; i < b->rest.len; i++) {
        sum += B(item_rep)(b->rest.ptr[i])->value;
    }
    if (b->maybe.is_some) {
        sum += B(item_rep)(b->maybe.val)->value;
    }
    B(bundle_free)(b);
    return sum;
}

uint32_t test_owning_bag_destroyed(void) {
    return destroyed;
}

O(own_item_t) exports_test_owning_other_item_constructor(void) {
    O(item_t) *rep = malloc(sizeof *rep);
    if (!rep) {
        abort();
    }
    return O(item_new)(rep);
}

void exports_test_owning_other_item_destructor(O(item_t) *rep) {
    free(rep);
}
