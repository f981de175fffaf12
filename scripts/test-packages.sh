#!/usr/bin/env bash
# Installs the Debian packages (target/deb, from scripts/package-deb.sh) into a clean
# Debian made by debootstrap, with apt — as a person would — and runs what they installed:
# `tandem --version`, a whole `tandem demo` session in the terminal, the man pages and
# completions, and the rendezvous started with the packaged /etc/tandem/rendezvous.toml.
# Needs root (debootstrap, chroot) and Debian's package mirror.
#
#   scripts/test-packages.sh            # the suite runs it after scripts/package-deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" -eq 0 ] || { echo "test-packages: needs root (debootstrap, chroot)" >&2; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
arch=$(dpkg --print-architecture)
app=target/deb/tandem_${version}_$arch.deb
rv=target/deb/tandem-rendezvous_${version}_$arch.deb
for f in "$app" "$rv"; do [ -f "$f" ] || { echo "test-packages: $f missing: run scripts/package-deb.sh" >&2; exit 1; }; done

# What the packages carry is valid for the tools that read it on a desktop.
desktop-file-validate packaging/linux/tandem.desktop
appstreamcli validate --no-net packaging/linux/io.github.tandem.Tandem.metainfo.xml

suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
# The mirror and proxy this machine's apt uses (CI reaches Debian only through them).
host_mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$host_mirror" ] || host_mirror=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
mirror=${TANDEM_DEBIAN_MIRROR:-${host_mirror:-http://deb.debian.org/debian}}
http_proxy=${http_proxy:-}
[ -n "$http_proxy" ] || eval "$(apt-config shell http_proxy Acquire::http::Proxy)"
export http_proxy
root=$(mktemp -d /var/tmp/tandem-clean-debian.XXXXXX)
cleanup() {
  pkill -KILL -f "chroot $root" 2>/dev/null || true
  umount "$root/dev/pts" "$root/proc" 2>/dev/null || true
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT

echo "test-packages: a clean Debian $suite from $mirror in $root" >&2
debootstrap --variant=minbase "$suite" "$root" "$mirror" >/dev/null
mount -t proc proc "$root/proc"
mount -t devpts devpts "$root/dev/pts"
cp "$app" "$rv" "$root/tmp/"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 http_proxy="$http_proxy" "$@"; }
in_root apt-get install -y -q -o APT::Sandbox::User=root --no-install-recommends \
  "/tmp/$(basename "$app")" "/tmp/$(basename "$rv")" >/dev/null

fail() { echo "test-packages: FAIL: $*" >&2; exit 1; }
got=$(in_root tandem --version)
[ "$got" = "tandem $version" ] || fail "tandem --version said '$got'"
in_root tandem-rendezvous --help | grep -q -- '--config' || fail "tandem-rendezvous --help"

# A whole session on the installed binary: embedded rendezvous, helper and sharer.
# The sharer's question is answered on stdin, as a person at the terminal would.
demo=$(echo y | in_root timeout 120 tandem demo --headless --seconds 3 2>&1) || fail "tandem demo: $demo"
echo "$demo" | grep -Eq '^Demo summary: [1-9][0-9]* frames decoded' || fail "tandem demo decoded no frames: $demo"
echo "test-packages: installed tandem demo: $(echo "$demo" | grep '^Demo summary')" >&2

# Pages and completions where man and the shells look for them.
for page in man1/tandem.1 man1/tandem-share.1 man1/tandem-assist.1 man8/tandem-rendezvous.8; do
  [ -s "$root/usr/share/man/$page.gz" ] || fail "no man page $page"
done
zcat "$root/usr/share/man/man8/tandem-rendezvous.8.gz" | grep -q '^\.TH tandem-rendezvous 8' ||
  fail "the rendezvous's page is not in section 8"
in_root bash -c 'source /usr/share/bash-completion/completions/tandem && complete -p tandem' >/dev/null ||
  fail "bash completion does not load"
[ -s "$root/usr/share/applications/tandem.desktop" ] && [ -s "$root/usr/share/icons/hicolor/scalable/apps/tandem.svg" ] ||
  fail "desktop entry or icon missing"

# The service's side: its user, its unit, and its example settings accepted as they are.
in_root getent passwd tandem-rendezvous | grep -q ':/nonexistent:/usr/sbin/nologin$' || fail "no tandem-rendezvous user"
grep -q '^ExecStart=/usr/bin/tandem-rendezvous --config /etc/tandem/rendezvous.toml$' \
  "$root/lib/systemd/system/tandem-rendezvous.service" || fail "unit does not run the packaged binary"
grep -q '^/etc/tandem/rendezvous.toml$' "$root/var/lib/dpkg/info/tandem-rendezvous.conffiles" ||
  fail "the settings are not a conffile"
log=$root/tmp/rendezvous.log
in_root timeout 10 tandem-rendezvous --config /etc/tandem/rendezvous.toml --listen 127.0.0.1:0 >"$log" 2>&1 || true
grep -q '^listening on ws://127.0.0.1:' "$log" || fail "the rendezvous did not start with the packaged settings: $(cat "$log")"

# Removing leaves no binary behind; purging removes the settings.
in_root apt-get purge -y -q tandem tandem-rendezvous >/dev/null
[ ! -e "$root/usr/bin/tandem" ] && [ ! -e "$root/etc/tandem/rendezvous.toml" ] || fail "purge left files"
echo "test-packages: ok — installed with apt into a clean $suite, ran tandem demo and the rendezvous, purged" >&2
