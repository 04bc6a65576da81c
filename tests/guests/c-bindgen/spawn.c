/*
 * A freestanding wasm32 module (no libc) that starts threads through the
 * generated `__wasi_thread_spawn` and defines the `wasi_thread_start` the
 * generated header declares. Exit code 0 when every thread ran once with
 * its own argument and a distinct id in [1, 2^29).
 */

#include "threads.h"

#define THREADS 8

_Noreturn void proc_exit(int32_t code) __attribute__((
    __import_module__("wasi_snapshot_preview1"),
    __import_name__("proc_exit")
));

static int32_t done;
static int32_t tids[THREADS + 1];
static int32_t seen[THREADS + 1];

void wasi_thread_start(int32_t thread_id, void *start_arg) {
    int32_t i = (int32_t) (uintptr_t) start_arg;
    __atomic_store_n(&seen[i], thread_id, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&done, 1, __ATOMIC_SEQ_CST);
    __builtin_wasm_memory_atomic_notify(&done, 1);
}

void _start(void) {
    for (int32_t i = 1; i <= THREADS; i++) {
        int32_t tid = __wasi_thread_spawn((void *) (uintptr_t) i);
        if (tid <= 0 || tid >= (1 << 29)) {
            proc_exit(10);
        }
        tids[i] = tid;
    }
    int32_t now;
    while ((now = __atomic_load_n(&done, __ATOMIC_SEQ_CST)) < THREADS) {
        __builtin_wasm_memory_atomic_wait32(&done, now, -1);
    }
    for (int32_t i = 1; i <= THREADS; i++) {
        if (__atomic_load_n(&seen[i], __ATOMIC_SEQ_CST) != tids[i]) {
            proc_exit(11);
        }
        for (int32_t j = 1; j < i; j++) {
            if (tids[j] == tids[i]) {
                proc_exit(12);
            }
        }
    }
    proc_exit(0);
}
