/*
 * A freestanding wasm32 module (no libc) whose threads start through the
 * generated assembly entry `threads_thread_start.s`: the main thread gives
 * each thread a stack of its own, carved from a static array, and a
 * thread-local block. Every thread fills a local array whose address is
 * taken (so it lives on the shadow stack), waits until all threads have
 * filled theirs, then checks its array is intact, that it lies in its own
 * stack, and that its thread-local counter is its own. Exit code 0 when
 * all of that holds for every thread.
 */

#include "threads.h"

#define THREADS 4
#define STACK_SIZE 16384
#define WORDS 256

_Noreturn void proc_exit(int32_t code) __attribute__((
    __import_module__("wasi_snapshot_preview1"),
    __import_name__("proc_exit")
));

static _Alignas(16) uint8_t stacks[THREADS][STACK_SIZE];
static _Alignas(16) uint8_t tls_blocks[THREADS][256];
static __wasi_thread_start_arg_t start_args[THREADS];

static int32_t filled;
static int32_t done;
static uintptr_t local_at[THREADS];
static int32_t intact[THREADS];
static int32_t own_tls[THREADS];
static _Thread_local int32_t calls;

/* Recursion through the shadow stack: each frame keeps an array. */
__attribute__((__noinline__)) static uint32_t sum_down(volatile uint32_t *words, int32_t n) {
    volatile uint32_t frame[8];
    for (int32_t k = 0; k < 8; k++) {
        frame[k] = words[n] + (uint32_t) k;
    }
    calls++;
    return n == 0 ? frame[0] : frame[0] + sum_down(words, n - 1);
}

void __wasi_thread_start(int32_t thread_id, void *arg) {
    (void) thread_id;
    int32_t i = (int32_t) (uintptr_t) arg;
    volatile uint32_t words[WORDS];
    for (int32_t k = 0; k < WORDS; k++) {
        words[k] = (uint32_t) (i * 100000 + k);
    }
    local_at[i] = (uintptr_t) &words[0];

    // Wait until every thread has filled its array: with one stack shared
    // by all threads, they would have overwritten each other's.
    __atomic_fetch_add(&filled, 1, __ATOMIC_SEQ_CST);
    __builtin_wasm_memory_atomic_notify(&filled, THREADS);
    int32_t now;
    while ((now = __atomic_load_n(&filled, __ATOMIC_SEQ_CST)) < THREADS) {
        __builtin_wasm_memory_atomic_wait32(&filled, now, -1);
    }

    int32_t ok = 1;
    for (int32_t k = 0; k < WORDS; k++) {
        ok &= words[k] == (uint32_t) (i * 100000 + k);
    }
    uint32_t expected = 0;
    for (int32_t k = 0; k <= 32; k++) {
        expected += (uint32_t) (i * 100000 + k);
    }
    ok &= sum_down(words, 32) == expected;
    intact[i] = ok;
    own_tls[i] = calls == 33;

    __atomic_fetch_add(&done, 1, __ATOMIC_SEQ_CST);
    __builtin_wasm_memory_atomic_notify(&done, 1);
}

void _start(void) {
    if (__builtin_wasm_tls_size() > sizeof tls_blocks[0] ||
        __builtin_wasm_tls_align() > 16) {
        proc_exit(9);
    }
    for (int32_t i = 0; i < THREADS; i++) {
        start_args[i].stack = stacks[i] + STACK_SIZE;
        start_args[i].tls_base = tls_blocks[i];
        start_args[i].arg = (void *) (uintptr_t) i;
        if (__wasi_thread_spawn(&start_args[i]) <= 0) {
            proc_exit(10);
        }
    }
    int32_t now;
    while ((now = __atomic_load_n(&done, __ATOMIC_SEQ_CST)) < THREADS) {
        __builtin_wasm_memory_atomic_wait32(&done, now, -1);
    }
    for (int32_t i = 0; i < THREADS; i++) {
        uintptr_t low = (uintptr_t) stacks[i];
        if (local_at[i] < low || local_at[i] >= low + STACK_SIZE) {
            proc_exit(11);
        }
        if (!intact[i]) {
            proc_exit(12);
        }
        if (!own_tls[i]) {
            proc_exit(13);
        }
    }
    proc_exit(0);
}
