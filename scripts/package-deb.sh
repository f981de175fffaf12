#!/usr/bin/env bash
# Makes the Debian packages: tandem (the app: binary, desktop entry, icon, AppStream
# metainfo, manual pages, shell completions) and tandem-rendezvous (the service: binary,
# hardened systemd unit, /etc/tandem/rendezvous.toml, a system user, its manual page).
#
#   scripts/package-deb.sh [release|debug] [--prebuilt]
#
# `release` (the default) builds optimised binaries first; `--prebuilt` packages what
# target/<profile> already holds (the test run packages its debug build this way, without
# building again). The packages land in target/deb/. dpkg-deb builds them and dpkg-shlibdeps
# works out the libraries they depend on, from the binaries themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
prebuilt=false
for arg in "$@"; do
  case "$arg" in
    release | debug) profile=$arg ;;
    --prebuilt) prebuilt=true ;;
    *) echo "usage: $0 [release|debug] [--prebuilt]" >&2; exit 2 ;;
  esac
done
for tool in dpkg-deb dpkg-shlibdeps gzip strip; do
  command -v "$tool" >/dev/null || { echo "package-deb: $tool is missing (apt-get install dpkg-dev binutils)" >&2; exit 1; }
done

if [ "$prebuilt" = false ]; then
  flag=(); [ "$profile" = release ] && flag=(--release)
  cargo build "${flag[@]}" --locked -p tandem --bin tandem -p tandem-rendezvous --bin tandem-rendezvous
fi
bin_dir="target/$profile"
for b in tandem tandem-rendezvous; do
  [ -x "$bin_dir/$b" ] || { echo "package-deb: $bin_dir/$b is not built" >&2; exit 1; }
done

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
arch=$(dpkg --print-architecture)
out=target/deb
work=$(mktemp -d "${TMPDIR:-/tmp}/tandem-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# The libraries a binary links, as Debian dependencies (dpkg-shlibdeps wants a debian/
# folder to run in).
shlib_depends() {
  mkdir -p "$work/shlibs/debian"
  printf 'Source: tandem\n\nPackage: tandem\nArchitecture: any\n' >"$work/shlibs/debian/control"
  (cd "$work/shlibs" && dpkg-shlibdeps -O "-e$1" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
}

# Installs one binary, stripped (the debug build carries its symbols otherwise).
install_bin() {
  install -D -m 0755 "$bin_dir/$1" "$2/usr/bin/$1"
  strip --strip-unneeded "$2/usr/bin/$1"
}

control() { # package dir, name, depends, description, [recommends]
  local size
  size=$(du -sk --exclude=DEBIAN "$1" | cut -f1)
  mkdir -p "$1/DEBIAN"
  cat >"$1/DEBIAN/control" <<EOF
Package: $2
Version: $version
Architecture: $arch
Maintainer: Tandem developers <tandem@example.org>
Installed-Size: $size
Depends: $3
${5:+Recommends: $5
}Section: net
Priority: optional
Homepage: https://github.com/tandem/tandem
Description: $4
EOF
}

# ---- tandem: the app ----
app="$work/tandem_${version}_$arch"
install_bin tandem "$app"
install -D -m 0644 packaging/linux/tandem.desktop "$app/usr/share/applications/tandem.desktop"
install -D -m 0644 packaging/linux/tandem.svg "$app/usr/share/icons/hicolor/scalable/apps/tandem.svg"
install -D -m 0644 packaging/linux/io.github.tandem.Tandem.metainfo.xml \
  "$app/usr/share/metainfo/io.github.tandem.Tandem.metainfo.xml"
install -D -m 0644 packaging/linux/copyright "$app/usr/share/doc/tandem/copyright"
mkdir -p "$app/usr/share/man/man1"
"$app/usr/bin/tandem" man --dir "$app/usr/share/man/man1"
gzip -9n "$app"/usr/share/man/man1/*.1
install -d "$app/usr/share/bash-completion/completions" "$app/usr/share/zsh/vendor-completions" \
  "$app/usr/share/fish/vendor_completions.d"
"$app/usr/bin/tandem" completions bash >"$app/usr/share/bash-completion/completions/tandem"
"$app/usr/bin/tandem" completions zsh >"$app/usr/share/zsh/vendor-completions/_tandem"
"$app/usr/bin/tandem" completions fish >"$app/usr/share/fish/vendor_completions.d/tandem.fish"
# The window's toolkit opens X11's and Wayland's client libraries at run time (dlopen), so
# dpkg-shlibdeps cannot see them; the portal and PipeWire make a Wayland desktop shareable.
app_depends="$(shlib_depends "$app/usr/bin/tandem"), libx11-6, libx11-xcb1, libxcursor1, libxrandr2, libxi6, libxkbcommon-x11-0, libwayland-client0, libwayland-cursor0"
control "$app" tandem "$app_depends" "remote assistance with a code read over the phone
 A helper gets a short code and reads it to the person they help, who types it,
 sees who is asking and allows screen sharing. The helper can ask for control,
 draw on the screen and chat; either side pauses or ends at any time. Video and
 input go peer to peer, end-to-end encrypted, or through a TURN relay." \
  "xdg-desktop-portal, pipewire"

# ---- tandem-rendezvous: the service ----
rv="$work/tandem-rendezvous_${version}_$arch"
install_bin tandem-rendezvous "$rv"
install -D -m 0644 deploy/tandem-rendezvous.service "$rv/lib/systemd/system/tandem-rendezvous.service"
install -D -m 0644 packaging/linux/rendezvous.toml "$rv/etc/tandem/rendezvous.toml"
install -D -m 0644 packaging/linux/copyright "$rv/usr/share/doc/tandem-rendezvous/copyright"
mkdir -p "$rv/usr/share/man/man8"
"$rv/usr/bin/tandem-rendezvous" --man-page | gzip -9n >"$rv/usr/share/man/man8/tandem-rendezvous.8.gz"
control "$rv" tandem-rendezvous "$(shlib_depends "$rv/usr/bin/tandem-rendezvous"), passwd" \
  "Tandem's rendezvous: codes and the pairing mailbox
 The small service Tandem's helpers and sharers meet through: it hands out codes
 to signed-in helpers and forwards their end-to-end encrypted handshake. It never
 sees a session. Configure /etc/tandem/rendezvous.toml, then enable the unit."
echo /etc/tandem/rendezvous.toml >"$rv/DEBIAN/conffiles"
cat >"$rv/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  # The service's own user: owns nothing, logs in nowhere.
  if ! getent passwd tandem-rendezvous >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin tandem-rendezvous
  fi
  # Not enabled or started here: it needs its settings (sign-in, TLS) first.
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
  fi
fi
EOF
chmod 0755 "$rv/DEBIAN/postinst"

for pkg in "$app" "$rv"; do
  dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out/" >/dev/null
done
ls -l "$out"/tandem_"${version}"_"$arch".deb "$out"/tandem-rendezvous_"${version}"_"$arch".deb
