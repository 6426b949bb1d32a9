#!/usr/bin/env bash
# Builds Heartline's Linux packages: a .deb and an .rpm holding the desktop app, the
# `heartline` command, the agent's systemd units and its example configuration.
#
#   scripts/package.sh [--debug] [--out DIR]
#
#   --debug   package the debug build (what `make test` checks: the binaries it already built);
#             without it the release profile, as `make package` does
#   --out DIR where the packages go (default: <cargo target dir>/package, or package-debug)
#
# Needs the UI built into ui/dist (`make ui`), the Tauri CLI from ui/node_modules (npm ci) and
# dpkg-deb. Nothing is downloaded but crates: Tauri's bundler writes both formats in-process.
#
# Steps: cargo builds heartline-app and heartline; `tauri bundle` makes the packages from
# src-tauri/tauri.conf.json (desktop entry, icons, units, scripts, Depends) plus the path of
# the `heartline` binary, which depends on the target directory; the .deb is then repacked
# with dpkg-deb to declare /etc/heartline/heartline.toml a conffile (Tauri's bundler cannot),
# so an upgrade keeps the admin's edits. The .rpm ships the example under /usr/share and its
# %post copies it to /etc only when missing, for the same effect.
set -euo pipefail

say() { printf 'package: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

repo="$(cd "$(dirname "$0")/.." && pwd)"
profile=release
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --debug) profile=debug; shift ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

cd "$repo"
tauri="$repo/ui/node_modules/.bin/tauri"
[ -x "$tauri" ] || die "no Tauri CLI in ui/node_modules: run make deps (npm ci in ui/)"
[ -f "$repo/ui/dist/index.html" ] || die "no ui/dist: build the UI first (make ui)"
command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb not found (package dpkg)"
command -v objcopy >/dev/null 2>&1 || die "objcopy not found (package binutils)"

# Where cargo puts binaries (CARGO_TARGET_DIR, a config file, or ./target) and the version of
# the workspace, which is the app's and the packages' (tauri.conf.json names none).
metadata="$(cargo metadata --locked --format-version 1 --no-deps)"
read -r target_dir version < <(node -e '
  const m = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const app = m.packages.find((p) => p.name === "heartline-app");
  console.log(m.target_directory, app.version);' <<<"$metadata")
bin_dir="$target_dir/$profile"
if [ -z "$out" ]; then
  out="$target_dir/package"
  [ "$profile" = release ] || out="$out-$profile"
fi

started=$(date +%s)
cargo_flags=(--locked -p heartline-app -p heartline-cli)
[ "$profile" = release ] && cargo_flags+=(--release)
say "building heartline-app and heartline ($profile)"
cargo build "${cargo_flags[@]}"

# The binaries the packages ship, copied out of cargo's target directory (which stays as cargo
# made it: the bundler patches the binary it packages) without debug info: the release profile
# keeps line tables for the benchmarks' profiles, 190 MB for the app; stripped of them it is
# about 33 MB and panics still name their functions. Tauri's bundler takes the binaries from
# <target dir>/<profile>/, so it is pointed at this staging directory instead.
stage="$target_dir/package-stage-$profile"
rm -rf "$stage"
mkdir -p "$stage/$profile"
for bin in heartline-app heartline; do
  objcopy --strip-debug "$bin_dir/$bin" "$stage/$profile/$bin"
done

# The `heartline` command beside the app in /usr/bin: a plain file mapping rather than
# bundle.externalBin, which wants a target-triple-suffixed copy and makes tauri-build require
# it at every `cargo build` of the app.
overlay="$(mktemp --suffix=.json)"
trap 'rm -f "$overlay"' EXIT
node -e '
  const [bin] = process.argv.slice(1);
  const files = { "/usr/bin/heartline": bin };
  console.log(JSON.stringify({ bundle: { linux: { deb: { files }, rpm: { files } } } }));
' "$stage/$profile/heartline" >"$overlay"

bundle_flags=(--bundles "deb,rpm" --config "$overlay" --ci --no-sign)
[ "$profile" = debug ] && bundle_flags+=(--debug)
say "bundling .deb and .rpm (tauri bundle)"
(cd "$repo/src-tauri" && CARGO_TARGET_DIR="$stage" "$tauri" bundle "${bundle_flags[@]}") >&2

deb_in="$(ls -t "$stage/$profile"/bundle/deb/*_"$version"_amd64.deb | head -1)"
rpm_in="$(ls -t "$stage/$profile"/bundle/rpm/*-"$version"-1.x86_64.rpm | head -1)"
mkdir -p "$out"
deb="$out/heartline_${version}_amd64.deb"
rpm="$out/heartline-${version}-1.x86_64.rpm"

# Repack the .deb: the example config becomes a conffile, files are owned by root whoever
# builds, and xz makes it smaller than the bundler's gzip.
work="$(mktemp -d)"
trap 'rm -f "$overlay"; rm -rf "$work"' EXIT
dpkg-deb --raw-extract "$deb_in" "$work/root"
printf '/etc/heartline/heartline.toml\n' >"$work/root/DEBIAN/conffiles"
dpkg-deb --root-owner-group -Zxz --build "$work/root" "$deb" >/dev/null
cp "$rpm_in" "$rpm"

elapsed=$(( $(date +%s) - started ))
say "done in ${elapsed}s:"
ls -l "$deb" "$rpm" | awk '{printf "  %s  %6.1f MB\n", $NF, $5 / 1e6}' >&2
printf '%s\n%s\n' "$deb" "$rpm"
