;; A wasi-threads program: the main thread starts four threads, each sums
;; the numbers 1..=N for its own N and prints the result, then the main
;; thread waits for all four and prints a last line.
;;
;;   wasi-threads run examples/threads.wat
(module
  (import "wasi" "thread-spawn" (func $thread_spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 1 1 shared))
  (export "memory" (memory 0))

  ;; 0: threads finished. 128..: the last line. Thread k formats its line in
  ;; [1024 + 256 k, 1024 + 256 (k + 1)).
  (data (i32.const 128) "main: all 4 threads finished\0a")

  (global $threads i32 (i32.const 4))

  ;; Writes `len` bytes at `ptr` to stdout with one fd_write; the iovec
  ;; lives just below the text.
  (func $print (param $ptr i32) (param $len i32)
    (i32.store (i32.sub (local.get $ptr) (i32.const 16)) (local.get $ptr))
    (i32.store (i32.sub (local.get $ptr) (i32.const 12)) (local.get $len))
    (drop (call $fd_write (i32.const 1)
      (i32.sub (local.get $ptr) (i32.const 16)) (i32.const 1)
      (i32.sub (local.get $ptr) (i32.const 8)))))

  ;; Copies `len` bytes of `src` to `dst`; returns the end of `dst`.
  (func $copy (param $dst i32) (param $src i32) (param $len i32) (result i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $len))
    (i32.add (local.get $dst) (local.get $len)))

  ;; Writes `n` in decimal at `dst`; returns the end.
  (func $decimal (param $dst i32) (param $n i64) (result i32)
    (local $digits i32) (local $i i32) (local $m i64)
    (local.set $m (local.get $n))
    (loop $count
      (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
      (local.set $m (i64.div_u (local.get $m) (i64.const 10)))
      (br_if $count (i64.ne (local.get $m) (i64.const 0))))
    (local.set $i (local.get $digits))
    (loop $put
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (i32.add (local.get $dst) (local.get $i))
        (i32.wrap_i64 (i64.add (i64.const 48) (i64.rem_u (local.get $n) (i64.const 10)))))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (br_if $put (i32.ne (local.get $i) (i32.const 0))))
    (i32.add (local.get $dst) (local.get $digits)))

  (data (i32.const 64) "thread ")
  (data (i32.const 80) ": 1 + ... + ")
  (data (i32.const 96) " = ")

  (func (export "wasi_thread_start") (param $tid i32) (param $k i32)
    (local $n i64) (local $i i64) (local $sum i64) (local $line i32) (local $end i32)
    (local.set $n (i64.extend_i32_u (i32.mul (i32.add (local.get $k) (i32.const 1)) (i32.const 1000000))))
    (loop $add
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (local.set $sum (i64.add (local.get $sum) (local.get $i)))
      (br_if $add (i64.lt_u (local.get $i) (local.get $n))))
    (local.set $line (i32.add (i32.const 1040) (i32.mul (local.get $k) (i32.const 256))))
    (local.set $end (call $copy (local.get $line) (i32.const 64) (i32.const 7)))
    (local.set $end (call $decimal (local.get $end) (i64.extend_i32_u (local.get $tid))))
    (local.set $end (call $copy (local.get $end) (i32.const 80) (i32.const 12)))
    (local.set $end (call $decimal (local.get $end) (local.get $n)))
    (local.set $end (call $copy (local.get $end) (i32.const 96) (i32.const 3)))
    (local.set $end (call $decimal (local.get $end) (local.get $sum)))
    (i32.store8 (local.get $end) (i32.const 10))
    (call $print (local.get $line) (i32.sub (i32.add (local.get $end) (i32.const 1)) (local.get $line)))
    (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
    (drop (memory.atomic.notify (i32.const 0) (i32.const 1))))

  (func (export "_start")
    (local $k i32) (local $done i32)
    (loop $spawn
      (if (i32.lt_s (call $thread_spawn (local.get $k)) (i32.const 0))
        (then unreachable))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $spawn (i32.lt_u (local.get $k) (global.get $threads))))
    (loop $wait
      (local.set $done (i32.atomic.load (i32.const 0)))
      (if (i32.lt_u (local.get $done) (global.get $threads))
        (then
          (drop (memory.atomic.wait32 (i32.const 0) (local.get $done) (i64.const -1)))
          (br $wait))))
    (call $print (i32.const 128) (i32.const 29))))
