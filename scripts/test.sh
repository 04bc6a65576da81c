#!/usr/bin/env bash
# Runs every test of the workspace, on a fresh machine too: it installs what
# the tests need first (nothing beyond the Rust toolchain for now).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked
