#!/usr/bin/env bash
# README command 2: install what the tests need, then run every check and test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh test

export CARGO_TERM_COLOR=never
# GUI tests render in software: the same pixels on every machine, no GPU needed.
export ICED_TEST_BACKEND=tiny-skia ICED_BACKEND=tiny-skia
cargo fmt --all -- --check
# The end-to-end tests run the real binaries: build them first.
cargo build --workspace --all-targets --locked
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# Every decoder of peer or network input, over its committed corpus (nightly, cargo-fuzz).
scripts/fuzz-smoke.sh 20000
