#!/usr/bin/env bash
# Installs the Debian packages Tandem needs to build and test. Idempotent; uses sudo when
# not root. Usage: scripts/setup-deps.sh [build|test]
set -euo pipefail

want=${1:-test}
# openh264 is built from its bundled source: a C++ compiler, and nasm for its assembly
# (without nasm it silently builds plain C, about 2x slower).
build_pkgs=(pkg-config g++ nasm)
# Xvfb is the screen for capture tests.
test_pkgs=(xvfb)

pkgs=("${build_pkgs[@]}")
if [ "$want" = test ]; then
  pkgs+=("${test_pkgs[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "Installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust 1.85 or newer (https://rustup.rs), then run this again." >&2
  exit 1
fi
