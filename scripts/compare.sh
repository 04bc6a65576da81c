#!/usr/bin/env bash
# Compares this host with wasmtime-cli 46.0.3 (the last wasmtime with
# wasi-threads) and with native pthreads, on the same programs:
# benches/compare/spawn.c (spawn round trip, bursts of spawns, the time from
# exit() with N threads alive until the process has ended, in a small heap
# and across a 960 MiB one, start-up with a warm cache),
# benches/compare/compute.c (single-threaded compression, and a worker pool
# on 2 threads vs 1) and benches/compare/rayon-sum (rayon on 2 threads vs 1,
# start-up of a Rust program). The compute row also shows the floor: a bare
# wasmtime 48 Engine without epoch checks (benches/compare/floor.rs).
# "this host" is the CLI as users run it (the process ends at the outcome);
# "graceful" is `-W epoch-interruption=y`, the stop an embedding gets.
# With BEFORE=PATH, a column for another build of this host's CLI (run as
# it was: no cache flags, its default ending), to show a change's effect.
# Prints the machine and a Markdown table of medians and ratios.
#
# Needs what scripts/test.sh installs (clang-19, lld-19, the Rust target,
# wasi-libc's headers), a native C compiler, and builds wasmtime-cli 46.0.3
# into target/compare/wasmtime-46 the first time (several minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/compare
mkdir -p "$out"

cargo build --release --locked --bin wasi-threads --example compare-floor
host=target/release/wasi-threads
floor=target/release/examples/compare-floor

if [ ! -x "$out/wasmtime-46/bin/wasmtime" ]; then
  cargo install wasmtime-cli --version 46.0.3 --locked --root "$out/wasmtime-46"
fi
wasmtime46="$out/wasmtime-46/bin/wasmtime"

include=${WASI_LIBC_INCLUDE:-target/guests/wasi-libc-include}
[ -d "$include/wasm-wasi-musl" ] || { echo "run scripts/test.sh first (wasi-libc headers)" >&2; exit 2; }
sysroot=$(rustc --print sysroot)
libc="$sysroot/lib/rustlib/wasm32-wasip1-threads/lib/self-contained"
resource=$(clang-19 -print-resource-dir)
# A C program for wasm32-wasip1-threads: source, output, maximum memory.
wasm_c() {
  clang-19 --target=wasm32-wasip1-threads -O2 -matomics -mbulk-memory -pthread \
    -nostdinc -isystem "$resource/include" -isystem "$include/wasm-wasi-musl" -isystem "$include/generic-musl" \
    -nostdlib -fuse-ld=/usr/bin/wasm-ld-19 "$libc/crt1-command.o" "$1" "$libc/libc.a" \
    "$resource/lib/wasi/libclang_rt.builtins-wasm32.a" \
    -Wl,--shared-memory,--import-memory,--export-memory,--max-memory="$3" -o "$2"
}
wasm_c benches/compare/spawn.c "$out/spawn.wasm" 1073741824
wasm_c benches/compare/compute.c "$out/compute.wasm" 268435456
cc -O2 -pthread benches/compare/spawn.c -o "$out/spawn-native"
cc -O2 -pthread benches/compare/compute.c -o "$out/compute-native"
(cd benches/compare/rayon-sum &&
  cargo build --release --locked --target wasm32-wasip1-threads --target-dir ../../../$out/rayon-sum &&
  cargo build --release --locked --target-dir ../../../$out/rayon-sum)
cp "$out/rayon-sum/wasm32-wasip1-threads/release/rayon-sum.wasm" "$out/rayon-sum.wasm"
cp "$out/rayon-sum/release/rayon-sum" "$out/rayon-sum-native"

python3 - "$host" "$wasmtime46" "$floor" "$out" "${BEFORE:-}" <<'PY'
import os, platform, statistics, subprocess, sys, time

host, wasmtime46, floor, out, before = sys.argv[1:6]
cache = os.path.join(out, "cache")
WASM = {"this host": [host, "run", "--max-threads", "4096", "--cache-dir", cache],
        "graceful": [host, "run", "--max-threads", "4096", "--cache-dir", cache, "-W", "epoch-interruption=y"],
        "wasmtime 46": [wasmtime46, "run", "-W", "threads=y,shared-memory=y", "-S", "threads=y"],
        "floor": [floor]}
COLUMNS = ["this host", "graceful", "wasmtime 46", "native", "floor"]
if before:
    WASM["before"] = [before, "run", "--max-threads", "4096"]
    COLUMNS.insert(0, "before")
RUNS = 7

def command(runner, program, args):
    if runner == "native":
        return [os.path.join(out, program + "-native")] + args
    return WASM[runner] + [os.path.join(out, program + ".wasm")] + args

def once(cmd, kind):
    start = time.time_ns()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    end = time.time_ns()
    if p.returncode != 0:
        raise SystemExit(f"{cmd} failed ({p.returncode}): {p.stderr}")
    first = p.stdout.split()[0] if p.stdout.split() else ""
    if kind == "after":      # ms from the program's exit() to the process's end
        return (end - float(first)) / 1e6
    if kind == "whole":      # ms of the whole process
        return (end - start) / 1e6
    return float(first)      # what the program measured

def spread(samples):
    m = statistics.median(samples)
    return m, (max(samples) - min(samples)) / 2 / m * 100 if m else 0.0

def figure(runner, program, args, kind):
    cmd = command(runner, program, args)
    once(cmd, kind)  # warm the caches
    return spread([once(cmd, kind) for _ in range(RUNS)])

def speedup(runner, program, one, two):
    c1, c2 = command(runner, program, one), command(runner, program, two)
    once(c1, "inside"); once(c2, "inside")
    ratios = []
    for _ in range(RUNS):
        ratios.append(once(c1, "inside") / once(c2, "inside"))
    return spread(ratios)

rows = [
    ("spawn round trip, 200 sequential (us per spawn)", "spawn", ["roundtrip", "200"], "inside"),
    ("burst of 10 spawns, joined (ms)", "spawn", ["burst", "10"], "inside"),
    ("burst of 100 spawns, joined (ms)", "spawn", ["burst", "100"], "inside"),
    ("exit() until the process ends, 10 threads spinning (ms)", "spawn", ["exit", "10", "spin"], "after"),
    ("exit() until the process ends, 10 threads parked (ms)", "spawn", ["exit", "10", "park"], "after"),
    ("exit() until the process ends, 100 threads parked (ms)", "spawn", ["exit", "100", "park"], "after"),
    ("exit() until the process ends, 100 threads parked across a 960 MiB heap (ms)", "spawn", ["exit", "100", "park", "960"], "after"),
    ("start-up with a warm cache, C program (ms, whole process)", "spawn", ["startup", "0"], "whole"),
    ("start-up with a warm cache, Rust program (ms, whole process)", "rayon-sum", ["startup"], "whole"),
    ("compute: LZ77 over 4 x 16 MiB on one thread (ms)", "compute", ["compute", "1"], "inside"),
    ("speed-up of a C worker pool, 2 threads vs 1 (x)", "compute", (["compute", "1"], ["compute", "2"]), "speedup"),
    ("speed-up of rayon, 2 threads vs 1 (x)", "rayon-sum", (["1"], ["2"]), "speedup"),
]

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
mem = next((int(l.split()[1]) // 1024 // 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
print(f"Machine: {cpu}, {os.cpu_count()} cores, {mem} GiB, Linux {platform.release()}. "
      f"Medians of {RUNS} runs after one warm-up; ± is half the range, in % of the median.")
print()
print("| workload | " + " | ".join(COLUMNS) + " | this host / wasmtime 46 | this host / native |")
print("| --- |" + " --- |" * (len(COLUMNS) + 2))
for title, program, args, kind in rows:
    f = {}
    for runner in COLUMNS:
        if runner == "floor" and (program != "compute" or kind == "speedup"):
            continue
        if kind == "speedup":
            f[runner] = speedup(runner, program, *args)
        else:
            f[runner] = figure(runner, program, args, kind)
    cell = lambda r: f"{f[r][0]:.2f} ±{f[r][1]:.0f}%" if r in f else "-"
    print(f"| {title} | " + " | ".join(cell(r) for r in COLUMNS) +
          f" | {f['this host'][0] / f['wasmtime 46'][0]:.2f} | {f['this host'][0] / f['native'][0]:.2f} |", flush=True)
PY
