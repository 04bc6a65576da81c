/*
 * The counter-example to the generated entry: a `wasi_thread_start` in C
 * that calls the thread's body without setting up its stack or its
 * thread-local block. Every new instance starts with the same
 * `__stack_pointer`, so the threads share one stack and `stacks.c` fails.
 */

#include "threads.h"

void wasi_thread_start(int32_t thread_id, void *start_arg) {
    __wasi_thread_start(thread_id, ((__wasi_thread_start_arg_t *) start_arg)->arg);
}
