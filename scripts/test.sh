#!/usr/bin/env bash
# Runs every test of the workspace, on a fresh machine too: it installs what
# the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."

# Rust guests (tests/guests.rs) are built for this target; its
# self-contained directory also has the threaded wasi-libc the C guest
# links against.
rustup target add wasm32-wasip1-threads

# The C guest is built with Debian's clang-19 and lld-19; the guest
# runtime's cabi_realloc archive is rebuilt with llvm-19's llvm-ar.
builtins=/usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a
if ! command -v clang-19 >/dev/null || ! command -v wasm-ld-19 >/dev/null || ! command -v llvm-ar-19 >/dev/null || [ ! -f "$builtins" ]; then
  apt-get update
  apt-get install -y clang-19 lld-19 llvm-19 libclang-rt-19-dev-wasm32
fi

# wasi-libc's C headers, which the Rust target does not ship, from the
# ziglang wheel on PyPI.
include=target/guests/wasi-libc-include
if [ ! -d "$include/wasm-wasi-musl" ]; then
  mkdir -p target/guests/wheel
  python3 -m pip download --no-deps -d target/guests/wheel "ziglang==0.17.0"
  python3 - "$include" target/guests/wheel/ziglang-0.17.0-*.whl <<'PY'
import sys, zipfile, pathlib
out = pathlib.Path(sys.argv[1])
prefix = "ziglang/lib/libc/include/"
with zipfile.ZipFile(sys.argv[2]) as wheel:
    for name in wheel.namelist():
        for part in ("generic-musl/", "wasm-wasi-musl/"):
            if name.startswith(prefix + part) and not name.endswith("/"):
                dest = out / name[len(prefix):]
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(wheel.read(name))
PY
fi
export WASI_LIBC_INCLUDE="$PWD/$include"

cargo test --workspace --locked

# Every crate packages on its own (a crate that reads wit/ or witx/ at build
# time carries its own copy; tests/copies.rs checks the copies).
cargo package --workspace --no-verify --allow-dirty --locked --quiet
