#!/usr/bin/env bash
# README command 2: install what the tests need, then run every check and test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh test

export CARGO_TERM_COLOR=never
# A clean CI build is never rebuilt: incremental caches would only fill its disk.
[ "${CI:-}" = true ] && export CARGO_INCREMENTAL=0
# Disk is what a CI run has run out of before (the installer's write failed): say up front
# how much there is, so a failure that follows can be read.
df -h . >&2
# GUI tests render in software: the same pixels on every machine, no GPU needed.
export ICED_TEST_BACKEND=tiny-skia ICED_BACKEND=tiny-skia
cargo fmt --all -- --check
# Clippy lints the workspace while it builds: clippy-driver as the workspace's rustc
# wrapper, exactly as `cargo clippy` sets it up, but in a real build. `cargo clippy` after
# `cargo build` would check every dependency a second time (check and build artefacts are
# not shared): ~12 of the run's minutes on 2 cores. The test build below keeps the same
# wrapper, so it reuses what this one compiled.
export RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
# The end-to-end tests run the real binaries: build them first.
cargo build --workspace --all-targets --locked
# The Windows build, cross-compiled with MinGW-w64 (linted as it builds, like the rest), and
# its zip and installer: the tests run it under Wine. A machine that cannot install the
# Rust target says so in a banner, and the Windows tests say NOT RUN with the reason.
windows_rc=0
scripts/build-windows.sh debug || windows_rc=$?
case "$windows_rc" in
  0) ;;
  3) export TANDEM_WINDOWS_UNAVAILABLE="rustup could not install the x86_64-pc-windows-gnu target" ;;
  *) exit "$windows_rc" ;;
esac
cargo test --workspace --locked
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
# The Debian packages, made from the debug build just tested, installed with apt into a
# clean Debian (debootstrap) and run there.
scripts/package-deb.sh debug --prebuilt
scripts/test-packages.sh
# Every decoder of peer or network input, over its committed corpus (nightly, cargo-fuzz).
scripts/fuzz-smoke.sh 20000
if [ "$windows_rc" -ne 0 ]; then
  echo "######## WARNING: the Windows build and its tests under Wine did NOT run: $TANDEM_WINDOWS_UNAVAILABLE ########" >&2
fi
