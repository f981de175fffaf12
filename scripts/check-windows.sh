#!/usr/bin/env bash
# Checks that the app compiles for Windows (x86_64, GNU toolchain): xcap's Windows capture,
# enigo's Windows input, the window. Not part of CI (it needs the rustup target from the
# Rust distribution server). Installs the MinGW-w64 C/C++ cross compiler (openh264 and other
# build scripts compile C and C++ even for `cargo check`) with sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh build
if ! dpkg-query -W -f='${Status}' g++-mingw-w64-x86-64-posix 2>/dev/null | grep -q "install ok installed"; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq g++-mingw-w64-x86-64-posix >/dev/null
fi
rustup target add x86_64-pc-windows-gnu
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/windows-check}" \
  exec cargo check --locked --target x86_64-pc-windows-gnu -p tandem --bins
