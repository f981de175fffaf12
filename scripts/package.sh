#!/usr/bin/env bash
# Makes every package Tandem ships, in one go, into dist/:
#   dist/debian/tandem_VERSION_amd64.deb, tandem-rendezvous_VERSION_amd64.deb
#   dist/windows/tandem-VERSION-windows-x86_64.zip, tandem-VERSION-setup.exe
#   dist/SHA256SUMS
# and, where a container runtime works (podman, or docker with a daemon), builds the
# rendezvous's container (deploy/Containerfile) and runs `tandem-rendezvous --help` in it;
# where none does, it says so and goes on (the packages do not depend on it).
#
#   scripts/package.sh [release|debug]     (default release)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-release}
case "$profile" in release | debug) ;; *) echo "usage: $0 [release|debug]" >&2; exit 2 ;; esac

scripts/package-deb.sh "$profile"
mkdir -p dist/debian
rm -f dist/debian/*.deb
cp target/deb/*.deb dist/debian/

# Windows: cross-built with MinGW-w64; exit 3 means the Rust target cannot be had here.
set +e
scripts/build-windows.sh "$profile"
windows=$?
set -e
if [ "$windows" -ne 0 ]; then
  echo "package: the Windows packages were NOT made (build-windows.sh exit $windows)" >&2
fi

runtime=
if command -v podman >/dev/null && podman info >/dev/null 2>&1; then
  runtime=podman
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  runtime=docker
fi
if [ -n "$runtime" ]; then
  "$runtime" build -f deploy/Containerfile -t tandem-rendezvous .
  "$runtime" run --rm tandem-rendezvous --help >/dev/null
  echo "package: container tandem-rendezvous built and run with $runtime" >&2
else
  echo "package: no working container runtime here (podman, or docker with a daemon):" \
    "the rendezvous container was not built" >&2
fi

(cd dist && find debian windows -maxdepth 1 -type f \( -name '*.deb' -o -name '*.zip' -o -name '*.exe' \) \
  -print0 2>/dev/null | sort -z | xargs -0 sha256sum > SHA256SUMS)
echo "package: made" >&2
(cd dist && while read -r sum file; do
  printf '  %-45s %8s  %s\n' "$file" "$(du -h "$file" | cut -f1)" "${sum:0:16}"
done < SHA256SUMS) >&2
[ "$windows" -eq 0 ]
