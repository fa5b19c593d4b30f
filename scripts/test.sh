#!/usr/bin/env bash
# The test command: installs what the tests need when it is missing, then runs every test.
# Usage: scripts/test.sh            (from anywhere; works on a fresh Debian/Ubuntu machine)
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
if [ ${#need_apt[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi
command -v cargo >/dev/null 2>&1 || { echo "cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }

# Benches must keep compiling (they are run by hand: cargo bench).
cargo check --benches --quiet
cargo test --no-fail-fast 2>&1
