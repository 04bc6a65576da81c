#!/usr/bin/env bash
# Compares this host with wasmtime-cli 46.0.3 (the last wasmtime with
# wasi-threads) and with native pthreads, on the same C program
# (benches/compare/spawn.c): spawn round trip, a burst of spawns, and the
# time from exit() with N threads alive until the process has ended.
# Prints a Markdown table of medians and ratios.
#
# Needs what scripts/test.sh installs (clang-19, lld-19, the Rust target,
# wasi-libc's headers), a native C compiler, and builds wasmtime-cli 46.0.3
# into target/compare/wasmtime-46 the first time (several minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/compare
mkdir -p "$out"

cargo build --release --locked
host=target/release/wasi-threads

if [ ! -x "$out/wasmtime-46/bin/wasmtime" ]; then
  cargo install wasmtime-cli --version 46.0.3 --locked --root "$out/wasmtime-46"
fi
wasmtime46="$out/wasmtime-46/bin/wasmtime"

include=${WASI_LIBC_INCLUDE:-target/guests/wasi-libc-include}
[ -d "$include/wasm-wasi-musl" ] || { echo "run scripts/test.sh first (wasi-libc headers)" >&2; exit 2; }
sysroot=$(rustc --print sysroot)
libc="$sysroot/lib/rustlib/wasm32-wasip1-threads/lib/self-contained"
resource=$(clang-19 -print-resource-dir)
clang-19 --target=wasm32-wasip1-threads -O2 -matomics -mbulk-memory -pthread \
  -nostdinc -isystem "$resource/include" -isystem "$include/wasm-wasi-musl" -isystem "$include/generic-musl" \
  -nostdlib -fuse-ld=/usr/bin/wasm-ld-19 "$libc/crt1-command.o" benches/compare/spawn.c "$libc/libc.a" \
  "$resource/lib/wasi/libclang_rt.builtins-wasm32.a" \
  -Wl,--shared-memory,--import-memory,--export-memory,--max-memory=1073741824 -o "$out/spawn.wasm"
cc -O2 -pthread benches/compare/spawn.c -o "$out/spawn-native"

python3 - "$host" "$wasmtime46" "$out/spawn.wasm" "$out/spawn-native" <<'PY'
import statistics, subprocess, sys, time

host, wasmtime46, wasm, native = sys.argv[1:5]
runners = {
    "this host": [host, "run", "--max-threads", "4096", wasm],
    "wasmtime 46": [wasmtime46, "run", "-W", "threads=y,shared-memory=y", "-S", "threads=y", wasm],
    "native": [native],
}
RUNS = 7

def once(cmd, args):
    p = subprocess.run(cmd + args, capture_output=True, text=True, timeout=120)
    end = time.time_ns()
    if p.returncode != 0:
        raise SystemExit(f"{cmd + args} failed ({p.returncode}): {p.stderr}")
    return p.stdout.strip(), end

def figure(cmd, args):
    samples = []
    for _ in range(RUNS):
        out, end = once(cmd, args)
        if args[0] == "exit":
            samples.append((end - float(out)) / 1e6)  # ms from exit() to process end
        else:
            samples.append(float(out))
    return statistics.median(samples)

rows = [
    ("spawn round trip, 200 sequential (us per spawn)", ["roundtrip", "200"]),
    ("burst of 10 spawns, joined (ms)", ["burst", "10"]),
    ("burst of 100 spawns, joined (ms)", ["burst", "100"]),
    ("exit() until the process ends, 10 threads spinning (ms)", ["exit", "10", "spin"]),
    ("exit() until the process ends, 10 threads parked (ms)", ["exit", "10", "park"]),
    ("exit() until the process ends, 100 threads parked (ms)", ["exit", "100", "park"]),
]
print("| workload | this host | wasmtime 46 | native | this host / wasmtime 46 | this host / native |")
print("| --- | --- | --- | --- | --- | --- |")
for title, args in rows:
    f = {name: figure(cmd, args) for name, cmd in runners.items()}
    print(f"| {title} | {f['this host']:.2f} | {f['wasmtime 46']:.2f} | {f['native']:.3f} | "
          f"{f['this host'] / f['wasmtime 46']:.2f} | {f['this host'] / f['native']:.1f} |")
PY
