#!/usr/bin/env bash
# Installs the Debian packages Tandem needs to build and test. Idempotent; uses sudo when
# not root. Usage: scripts/setup-deps.sh [build|test|bench|windows]
set -euo pipefail

want=${1:-test}
# openh264 is built from its bundled source: a C++ compiler, and nasm for its assembly
# (without nasm it silently builds plain C, about 2x slower).
# enigo (input injection) links libxkbcommon.
# The window (winit) loads the X11 client libraries at run time.
# xcap (capture on Wayland, and on Windows/macOS) links xcb, wayland, gbm and EGL on Linux
# and generates its PipeWire bindings with libclang.
build_pkgs=(pkg-config g++ nasm libxkbcommon-dev
  libx11-6 libx11-xcb1 libxcursor1 libxi6 libxrandr2 libxkbcommon-x11-0
  libxcb1-dev libwayland-dev libgbm-dev libegl-dev libpipewire-0.3-dev libclang-dev)
# Xvfb is the screen for capture tests.
# setxkbmap (x11-xkb-utils) switches the sharer's keyboard layout in the input tests;
# xcompmgr is the compositor under which the annotation overlay is transparent.
# redis-server is the shared store of the scale-out tests.
# coturn is the TURN relay; nftables, iproute2 (ip, ss) and procps (sysctl) build the
# NAT / firewall namespaces; ethtool turns off the offloads on the emulated links (tests/src/wan).
# The Wayland sharer's tests run GNOME's compositor headless (mutter) with PipeWire,
# WirePlumber and the real portals (xdg-desktop-portal + its GNOME backend) on a private
# D-Bus bus (dbus-daemon); they run as an unprivileged user (below) when the suite is root.
# Their Wayland-native window is a small GTK 4 script (python3-gi, gir1.2-gtk-4.0).
# The wlroots sharer's tests run sway headless (software rendering, no GPU); grim is
# their view of its screen.
# Wine runs the Windows build in the tests (scripts/build-windows.sh installs MinGW-w64 and
# NSIS, which make it).
# xclip and wl-clipboard are the platform tools the clipboard tests copy and paste with
# (X11, and sway through the data-control protocol).
# gdb prints the stacks of a test binary that hangs (tests/src/watchdog.rs).
# groff-base renders the manual pages `tandem man` writes, as man does (tests/tests/e2e/cli.rs).
# dpkg-dev (dpkg-shlibdeps) makes the Debian packages; debootstrap gives them a clean Debian
# to be installed into, and desktop-file-utils and appstream check their desktop entry and
# metainfo (scripts/package-deb.sh, scripts/test-packages.sh).
# The window's light/dark test sets GNOME's color-scheme with gsettings (libglib2.0-bin, in
# dconf: dconf-service, dconf-gsettings-backend) and reads it through the portal's GTK
# backend (xdg-desktop-portal-gtk) on a private bus (dbus-run-session, in dbus-daemon).
test_pkgs=(xvfb x11-xkb-utils xcompmgr coturn nftables iproute2 procps ethtool redis-server gdb
  mutter gnome-settings-daemon-common pipewire wireplumber dbus-daemon
  xdg-desktop-portal xdg-desktop-portal-gnome python3-gi gir1.2-gtk-4.0 sway grim
  wine wine64 xclip wl-clipboard groff-base dpkg-dev debootstrap desktop-file-utils appstream
  xdg-desktop-portal-gtk libglib2.0-bin dconf-service dconf-gsettings-backend)
# Node.js + npm run the OpenID provider (npm's oidc-provider) of the sign-in tests; a
# Node.js that is already there (e.g. NodeSource's, which bundles npm) is used as it is.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  test_pkgs+=(nodejs npm)
fi
# ffmpeg (libx264, x11grab) is the reference in tandem-bench; not needed by the tests.
# Xwayland draws the latency scenes on sway (`tandem-bench latency --wayland`), and xhost
# lets the benchmark (root) draw there.
# x11vnc is the VNC peer `tandem-bench wan` compares with.
bench_pkgs=(ffmpeg xwayland x11-xserver-utils x11vnc)
# The Windows build (scripts/build-windows.sh): MinGW-w64 in its posix flavour, NSIS for
# the installer, zip.
windows_pkgs=(g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix nsis zip)

pkgs=("${build_pkgs[@]}")
case "$want" in
  test) pkgs+=("${test_pkgs[@]}") ;;
  bench) pkgs+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  windows) pkgs+=("${windows_pkgs[@]}") ;;
esac

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

# PipeWire, the portals and the compositor are per-user services that refuse or misbehave
# as root: a root test run starts them (and the Wayland sharer) as this user.
if { [ "$want" = test ] || [ "$want" = bench ]; } && [ "$(id -u)" -eq 0 ] && ! id tandem-test >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin tandem-test
fi

# The reference of `tandem-bench mailbox`: magic-wormhole's mailbox server, from PyPI, with
# Twisted's TLS (pyOpenSSL) so that it is measured over wss:// as well.
if [ "$want" = bench ] && ! python3 -c "import wormhole_mailbox_server, OpenSSL" 2>/dev/null; then
  echo "Installing magic-wormhole-mailbox-server and twisted[tls] (pip)" >&2
  python3 -m pip install --quiet magic-wormhole-mailbox-server==0.5.1 'twisted[tls]' >&2
fi

# The sign-in tests' OpenID provider, at the version package-lock.json pins.
case "$want" in
  test | bench)
    provider_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/oidc-provider"
    if [ ! -d "$provider_dir/node_modules/oidc-provider" ]; then
      echo "Installing the test OpenID provider (npm ci)" >&2
      (cd "$provider_dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
    fi
    ;;
esac

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust 1.85 or newer (https://rustup.rs), then run this again." >&2
  exit 1
fi
