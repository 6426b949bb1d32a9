#!/usr/bin/env bash
# Installs what building and testing Heartline needs, only when it is missing.
# Safe to run any number of times; uses sudo when not root.
set -euo pipefail

# Debian/Ubuntu packages the build needs: a C toolchain (ring, SQLite), pkg-config, and libdbus
# for the system keychain (Secret Service) that keeps secret header values.
APT_PACKAGES=(build-essential pkg-config libdbus-1-dev)

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
