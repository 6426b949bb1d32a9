#!/usr/bin/env bash
# Installs what building and testing Heartline needs, only when it is missing.
# Safe to run any number of times; uses sudo when not root.
set -euo pipefail

# Debian/Ubuntu packages the build needs: a C toolchain (ring, SQLite), pkg-config, and libdbus
# for the system keychain (Secret Service) that keeps secret header values.
APT_PACKAGES=(build-essential pkg-config libdbus-1-dev)
# Exports: a TrueType font for PNG chart text, and Chromium for the HTML export's render test.
APT_PACKAGES+=(fonts-dejavu-core chromium)
# The desktop app (src-tauri, ui): Tauri's GTK/WebKit stack, a tray, and for the end-to-end
# test a virtual display, WebKitWebDriver and ImageMagick's `import` for screenshots.
APT_PACKAGES+=(libwebkit2gtk-4.1-dev libgtk-3-dev libjavascriptcoregtk-4.1-dev libsoup-3.0-dev
  librsvg2-dev libayatana-appindicator3-dev libxdo-dev libssl-dev xvfb xauth webkit2gtk-driver
  imagemagick)
# Commands the tests run besides the build: xdotool answers the system save dialog in the
# end-to-end test, `kill`/`uptime` (procps) stop and describe child processes, fc-match
# (fontconfig) finds the chart font, git is what the tests and benchmarks ask for the revision.
APT_PACKAGES+=(xdotool procps fontconfig git ca-certificates)
# The package test (scripts/package-test.sh): desktop-file-validate, `rpm` to read the .rpm,
# systemd-analyze to verify the units, xprop (x11-utils) for the window's WM_CLASS; dpkg-deb
# and dpkg-shlibdeps (dpkg-dev, also what build-essential brings) read and repack the .deb.
APT_PACKAGES+=(desktop-file-utils rpm systemd x11-utils dpkg-dev)
# The protocol-preset interop tests (crates/heartline-probe/tests/interop_mqtt.rs) start their
# own MQTT broker with a configuration of their own on free loopback ports.
APT_PACKAGES+=(mosquitto)
# The idle-timeout integration test (crates/heartline-cli/tests/nginx.rs) runs a real nginx of
# its own (no daemon) with proxy_read_timeout set short, in front of the lab.
APT_PACKAGES+=(nginx)

# Every command a test or a make target calls, with the package that provides it. Checked after
# the install, so a missing tool fails here with its name instead of as a timeout in a test.
REQUIRED_COMMANDS=(
  "cc:build-essential" "pkg-config:pkg-config" "xdotool:xdotool" "Xvfb:xvfb" "xauth:xauth"
  "WebKitWebDriver:webkit2gtk-driver" "import:imagemagick" "chromium:chromium" "kill:procps"
  "uptime:procps" "fc-match:fontconfig" "git:git" "desktop-file-validate:desktop-file-utils"
  "rpm:rpm" "systemd-analyze:systemd" "xprop:x11-utils" "dpkg-deb:dpkg" "dpkg-shlibdeps:dpkg-dev"
  "apt-cache:apt" "objcopy:binutils" "mosquitto:mosquitto" "nginx:nginx"
)

say() { printf 'bootstrap: %s\n' "$*" >&2; }

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else say "not root and no sudo: install ${APT_PACKAGES[*]} yourself"; fi
fi

if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
else
  say "not a Debian/Ubuntu system: make sure a C compiler and pkg-config are installed"
fi

if ! command -v cargo >/dev/null 2>&1; then
  say "cargo not found: install Rust (stable) from your distribution or rustup, then run make again"
  exit 1
fi
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    if command -v rustup >/dev/null 2>&1; then
      say "adding the $component component"
      rustup component add "$component"
    else
      say "cargo $component is missing and rustup is not available to add it"
      exit 1
    fi
  fi
done

# The UI: Node.js 20.19 or newer (Vite 7), dependencies from the committed package-lock.json,
# installed again only when the lock file changed.
here="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v npm >/dev/null 2>&1; then
  say "npm not found: install Node.js 20.19 or newer (e.g. from nodejs.org or NodeSource), then run make again"
  exit 1
fi
if [ ! -d "$here/ui/node_modules" ] || [ "$here/ui/package-lock.json" -nt "$here/ui/node_modules/.package-lock.json" ]; then
  say "installing the UI's npm packages (npm ci, from the committed lock)"
  # `npm ci` installs exactly the committed lock and never rewrites it, so a fresh clone stays
  # clean. The lock lists every platform's optional packages (esbuild's, rollup's); when a
  # dependency changes, regenerate it with `npm install` and commit it whole.
  (cd "$here/ui" && npm ci --no-audit --no-fund)
fi

# The real third-party servers the protocol-preset tests run against (socket.io, graphql-ws):
# the same rule, from interop/package-lock.json.
if [ ! -d "$here/interop/node_modules" ] || [ "$here/interop/package-lock.json" -nt "$here/interop/node_modules/.package-lock.json" ]; then
  say "installing the interop servers' npm packages (npm ci, from the committed lock)"
  (cd "$here/interop" && npm ci --no-audit --no-fund)
fi

# tauri-driver: the WebDriver server the end-to-end test talks to.
if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  say "installing tauri-driver"
  cargo install tauri-driver --locked
fi

# Last: every command the tests call is there, or we stop now and say which package brings it.
# (mosquitto and nginx live in /usr/sbin, outside a user's PATH on Debian; the tests look there
# too.)
PATH="$PATH:/usr/sbin:/sbin"
tools_missing=()
for entry in "${REQUIRED_COMMANDS[@]}"; do
  command -v "${entry%%:*}" >/dev/null 2>&1 || tools_missing+=("${entry%%:*} (package ${entry#*:})")
done
if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  tools_missing+=("tauri-driver (cargo install tauri-driver)")
fi
if [ ${#tools_missing[@]} -gt 0 ]; then
  say "missing after the install: ${tools_missing[*]}"
  exit 1
fi
