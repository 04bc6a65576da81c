/* A program's own cabi_realloc, linked beside the generated bindings: as
   a strong definition it replaces their weak one. It counts its calls so
   the host can tell which one ran. */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static uint32_t calls;

__attribute__((__export_name__("cabi_realloc")))
void *cabi_realloc(void *ptr, size_t old_size, size_t align, size_t new_size) {
    (void) old_size;
    calls++;
    if (new_size == 0) {
        return (void *) align;
    }
    void *ret = realloc(ptr, new_size);
    if (!ret) {
        abort();
    }
    return ret;
}

__attribute__((__export_name__("realloc_calls"))) uint32_t realloc_calls(void) {
    return calls;
}
