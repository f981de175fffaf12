#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) over its committed corpus plus a fixed number
# of mutations: a decoder that now crashes on a known input, or on a near one, fails here.
# Needs the nightly toolchain (rustup) and cargo-fuzz (installed from crates.io if missing).
# Usage: scripts/fuzz-smoke.sh [RUNS]   (default 20000 runs per target)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
runs=${1:-20000}

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "FUZZ SMOKE NOT RUN: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "Installing cargo-fuzz (crates.io)" >&2
  cargo install cargo-fuzz --locked --quiet
fi

cargo +nightly fuzz build
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for target in $(cargo +nightly fuzz list); do
  # A copy: the committed corpus stays as it is.
  mkdir -p "$work/$target"
  cp -r "corpus/$target/." "$work/$target/" 2>/dev/null || true
  echo "fuzz smoke: $target ($runs runs)" >&2
  cargo +nightly fuzz run "$target" "$work/$target" -- -runs="$runs" -seed=1 \
    -rss_limit_mb=2048 -max_len=65536 2>&1 | grep -E "Done|ERROR|SUMMARY|panicked" >&2
done
