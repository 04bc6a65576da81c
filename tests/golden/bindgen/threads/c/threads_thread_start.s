# The wasi-threads entry point for programs without wasi-libc, generated
# by wasi-threads bindgen (see the header): sets up the thread's stack and
# thread-local block from the start argument, then calls __wasi_thread_start.
# wasi-libc's libc-top-half/musl/src/thread/wasm32/wasi_thread_start.s
# does the same for pthreads; never link both.

	.text

	.export_name	wasi_thread_start, wasi_thread_start

	.globaltype	__stack_pointer, i32
	.functype	__wasm_init_tls (i32) -> ()
	.functype	__wasi_thread_start (i32, i32) -> ()

	.globl	wasi_thread_start
	.type	wasi_thread_start,@function

wasi_thread_start:
	.functype	wasi_thread_start (i32, i32) -> ()

	# __stack_pointer = start_arg->stack
	local.get	1
	i32.load	0
	global.set	__stack_pointer

	# if (start_arg->tls_base) __wasm_init_tls(start_arg->tls_base)
	block
	local.get	1
	i32.load	4
	i32.eqz
	br_if	0
	local.get	1
	i32.load	4
	call	__wasm_init_tls
	end_block

	# __wasi_thread_start(thread_id, start_arg->arg)
	local.get	0
	local.get	1
	i32.load	8
	call	__wasi_thread_start

	end_function
