#!/usr/bin/env bash
# Builds Tandem for Windows (x86_64) on Linux with MinGW-w64, and packages it:
#   dist/windows/tandem-VERSION-windows-x86_64.zip   tandem.exe and a README
#   dist/windows/tandem-VERSION-setup.exe            an NSIS installer (Start-menu entry)
# Usage: scripts/build-windows.sh [debug|release]   (default release)
# Exit status 3, with a banner, when the Rust target cannot be installed here: callers (the
# test run) must say so loudly rather than pass in silence.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-release}
target=x86_64-pc-windows-gnu

scripts/setup-deps.sh windows

if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  if ! rustup target add "$target" >&2; then
    cat >&2 <<BANNER
################################################################################
##  THE WINDOWS BUILD CANNOT BE MADE HERE: rustup could not install the Rust
##  target $target (it comes from the Rust distribution server, not a
##  package registry). Nothing for Windows was built or tested in this run.
################################################################################
BANNER
    exit 3
  fi
fi

# Without `demo`: a package does not link the rendezvous's server (`tandem demo` is for
# trying Tandem out from the source tree).
flags=(--locked --target "$target" -p tandem --bin tandem --no-default-features)
[ "$profile" = release ] && flags+=(--release)
cargo build "${flags[@]}"
exe="target/$target/$profile/tandem.exe"
# MinGW's C++ runtime (openh264 is C++) comes as DLLs that Windows does not have: they go
# beside tandem.exe, in the build folder (to run it from there) and in the packages.
runtime_dlls=()
for dll in libstdc++-6.dll libgcc_s_seh-1.dll libwinpthread-1.dll; do
  found=$(x86_64-w64-mingw32-g++-posix -print-file-name="$dll")
  [ -f "$found" ] || { echo "MinGW-w64 runtime $dll not found" >&2; exit 1; }
  runtime_dlls+=("$found")
done
cp "${runtime_dlls[@]}" "target/$target/$profile/"

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
out=dist/windows
rm -rf "$out" && mkdir -p "$out/stage"
cp "$exe" "$out/stage/tandem.exe"
cp "${runtime_dlls[@]}" "$out/stage/"
cp packaging/windows/README.txt "$out/stage/README.txt"
# A debug build (the tests') is packed fast; a release build small.
level=-9 nsis_fast=()
[ "$profile" = release ] || { level=-1; nsis_fast=(-DCOMPRESSOR=zlib); }
(cd "$out/stage" && zip -q "$level" "../tandem-$version-windows-x86_64.zip" ./*)
makensis -V2 "${nsis_fast[@]}" -DVERSION="$version" -DSTAGE="$PWD/$out/stage" \
  -DOUTFILE="$PWD/$out/tandem-$version-setup.exe" packaging/windows/tandem.nsi >&2
rm -rf "$out/stage"
echo "$out/tandem-$version-windows-x86_64.zip"
echo "$out/tandem-$version-setup.exe"
