#!/usr/bin/env bash
# The test command: installs what the tests need when it is missing, then runs every test.
# Usage: scripts/test.sh            (from anywhere; works on a fresh Debian/Ubuntu machine)
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
# The pcsc crate links libpcsclite; the integration tests need pcscd and the vpcd driver.
dpkg -s libpcsclite-dev >/dev/null 2>&1 || need_apt+=(libpcsclite-dev)
# The openssl crate links libssl (ECDSA over brainpoolP224r1, P320r1 and P512r1 in passive authentication).
dpkg -s libssl-dev >/dev/null 2>&1 || need_apt+=(libssl-dev)
command -v pcscd >/dev/null 2>&1 || need_apt+=(pcscd)
dpkg -s vsmartcard-vpcd >/dev/null 2>&1 || need_apt+=(vsmartcard-vpcd)
if [ ${#need_apt[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi
command -v cargo >/dev/null 2>&1 || { echo "cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }

# The real-browser tests of the QC web page: Debian's chromium, a CJK font, playwright-core
# (pinned, into tests/browser/node_modules). Without them those tests fail (IDCHECK_SKIP_BROWSER=1
# would skip them; this command never sets it).
bash scripts/browser-deps.sh

# No import circles between modules (top level or siblings) inside any crate of the workspace;
# between crates Cargo refuses them.
for src in src crates/*/src; do
    python3 scripts/import-cycles.py --strict "$src"
done
# The crate graph is the architecture: which crate may depend on which (scripts/crate-rules.py).
python3 scripts/crate-rules.py

# Build the tests, and the benches (run by hand: cargo bench; they must keep compiling), in one
# profile so every dependency is built once, before starting the private pcscd, so that its
# lifetime covers only the run.
# A one-off build: incremental caches would only take disk.
export CARGO_INCREMENTAL=0
cargo test --workspace --no-run --all-targets --quiet
# Lints are part of the tests: clippy must print no warning. Installed when the toolchain lacks it.
if ! cargo clippy --version >/dev/null 2>&1; then
    command -v rustup >/dev/null 2>&1 || { echo "clippy missing and no rustup to install it" >&2; exit 1; }
    rustup component add clippy
fi
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The fuzz targets (run by scripts/fuzz.sh, not here) must keep compiling as the parsers change.
CARGO_TARGET_DIR=target cargo check --manifest-path fuzz/Cargo.toml --bins --quiet
# Every test, inside a private pcscd with two vpcd virtual readers (scripts/pcsc-env.sh installs
# pcscd, vsmartcard-vpcd and libpcsclite-dev when missing). The PC/SC integration tests fail
# when the virtual readers are not there (IDCHECK_SKIP_PCSC=1 would skip them; never set here).
scripts/pcsc-env.sh --readers 2 -- cargo test --workspace --no-fail-fast 2>&1
