// Built into libwasi_threads_guest_rt_cabi.a by tests/cabi_archive.rs
// (BLESS=1 regenerates both); see the crate documentation.

#include <stddef.h>

extern void *cabi_realloc_wasi_threads_guest_rt_0_1_0(void *ptr, size_t old_size, size_t align, size_t new_size);

/* Weak: a program's own cabi_realloc, or another weak one, may be
   the one linked instead. */
__attribute__((__weak__, __export_name__("cabi_realloc")))
void *cabi_realloc(void *ptr, size_t old_size, size_t align, size_t new_size) {
  return cabi_realloc_wasi_threads_guest_rt_0_1_0(ptr, old_size, align, new_size);
}
