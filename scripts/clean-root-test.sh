#!/usr/bin/env bash
# Runs CI's `make test` the way a newcomer meets it: in a clean Debian root made by debootstrap,
# from a fresh clone of this repository, with only what README.md asks for beforehand (Rust
# stable, Node.js, git, make). Everything else — apt packages, npm packages, tauri-driver,
# crates — must be installed by the project's own `make`. At the end the clone must be unchanged
# (`git status --porcelain` empty): a build that rewrites a tracked file fails here.
#
#   sudo scripts/clean-root-test.sh [--rev REV] [--keep] [--root DIR] [--shell]
#
#   --rev REV   what to clone (default HEAD: only committed work is tested)
#   --keep      leave the root in place afterwards (default: removed)
#   --root DIR  where to build the root (default /var/tmp/heartline-clean-root)
#   --shell     open a shell in the root instead of running the test (for debugging)
#
# Bind-mounted read-only from this machine, because they are the toolchain the README assumes
# and cannot come from a package registry: the Rust toolchain (RUSTUP_HOME's active toolchain),
# cargo-nextest, and Node.js with npm and its registry settings. The root gets its own empty
# CARGO_HOME (crates and tauri-driver are fetched by the build) and its own npm cache.
# The Debian base is cached as a tarball under /var/cache/heartline-clean-root, so a second run
# skips the download; the root itself is always new.
#
# Exit status: that of `.ci/run` inside the root, or 3 when the clone was left modified.
set -euo pipefail

say() { printf 'clean-root: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

repo="$(cd "$(dirname "$0")/.." && pwd)"
rev=HEAD
keep=0
shell=0
root=/var/tmp/heartline-clean-root
suite=bookworm
mirror=http://deb.debian.org/debian
cache=/var/cache/heartline-clean-root
while [ $# -gt 0 ]; do
  case "$1" in
    --rev) rev="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --root) root="$2"; shift 2 ;;
    --shell) shell=1; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot and bind mounts): run it with sudo"
command -v debootstrap >/dev/null 2>&1 || {
  say "installing debootstrap"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
}

# The toolchain the README assumes, found on this machine.
toolchain="$(rustc --print sysroot)" || die "rustc not found: install Rust stable first"
[ -x "$toolchain/bin/cargo" ] || die "no cargo in $toolchain/bin"
nextest="$(command -v cargo-nextest || true)"
node="$(command -v node)" || die "node not found: install Node.js 20.19 or newer first"
npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
[ -f "$npm_dir/bin/npm-cli.js" ] || die "cannot find npm's install directory (looked in $npm_dir)"
commit="$(git -C "$repo" rev-parse --verify "$rev^{commit}")" || die "no commit $rev"

mounts=()
cleanup() {
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null || true; done
  if [ "$keep" -eq 0 ] && [ -d "$root" ]; then rm -rf --one-file-system "$root"; fi
}
trap cleanup EXIT

bind() { # bind SOURCE TARGET [ro]
  if [ -d "$1" ]; then mkdir -p "$2"; else mkdir -p "$(dirname "$2")"; touch "$2"; fi
  mount --bind "$1" "$2"
  mounts+=("$2")
  if [ "${3:-}" = ro ]; then mount -o remount,bind,ro "$2"; fi
}

# 1. A minimal Debian root, as a new machine has it (plus git and make to clone and run make).
[ -e "$root" ] && { say "removing the previous root $root"; rm -rf --one-file-system "$root"; }
mkdir -p "$root" "$cache"
base="$cache/$suite-minbase.tgz"
include=ca-certificates,git,make
started=$(date +%s)
if [ ! -s "$base" ]; then
  say "downloading a $suite minbase into $base (once)"
  debootstrap --variant=minbase --include="$include" --make-tarball="$base.partial" "$suite" "$root/.tarball" "$mirror" >&2
  mv "$base.partial" "$base"
  rm -rf "$root/.tarball"
fi
say "creating the root at $root"
debootstrap --variant=minbase --include="$include" --unpack-tarball="$base" "$suite" "$root" "$mirror" >&2
# Name resolution and the package mirror settings of this machine (the registries it may reach).
cp /etc/resolv.conf "$root/etc/resolv.conf"
for f in /etc/apt/sources.list.d/*.sources /etc/apt/apt.conf.d/99*; do
  [ -f "$f" ] && cp "$f" "$root$f"
done
[ -f "$root/etc/apt/sources.list.d/debian.sources" ] && rm -f "$root/etc/apt/sources.list"
# debootstrap leaves no /etc/hosts; every installed Debian has one naming localhost (the lab's
# TLS certificate is for "localhost", and tests connect to it by that name).
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
# Certificate authorities this machine adds locally (a network that inspects TLS trusts its own
# CA): without them npm and cargo cannot reach their registries from the root.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null
fi

# 2. Kernel file systems for the chroot, and the toolchain read-only.
bind /proc "$root/proc"
bind /sys "$root/sys"
bind /dev "$root/dev"
bind /dev/pts "$root/dev/pts"
mkdir -p "$root/dev/shm"
mount -t tmpfs tmpfs "$root/dev/shm"; mounts+=("$root/dev/shm")
bind "$toolchain" "$root/opt/rust" ro
[ -n "$nextest" ] && bind "$nextest" "$root/usr/local/bin/cargo-nextest" ro
bind "$node" "$root/usr/local/bin/node" ro
bind "$npm_dir" "$root/usr/local/lib/node_modules/npm" ro
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
# npm's registry settings (CA file, no registry host in lock files) as this machine has them.
for rc in /usr/etc/npmrc /usr/local/etc/npmrc; do
  [ -f "$rc" ] && { mkdir -p "$root$(dirname "$rc")"; cp "$rc" "$root$rc"; }
done

# 3. A fresh clone of the commit under test.
say "cloning $commit"
git clone -q --no-local "$repo" "$root/work/heartline"
git -C "$root/work/heartline" checkout -q --detach "$commit"
cp -r "$repo/../shared" "$root/work/shared" 2>/dev/null || true

inside_env=(
  HOME=/root USER=root LANG=C.UTF-8 TERM=dumb CI=true
  PATH=/root/.cargo/bin:/opt/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  CARGO_HOME=/root/.cargo
)
if [ "$shell" -eq 1 ]; then
  say "shell in the root (exit to clean up)"
  chroot "$root" /usr/bin/env -i "${inside_env[@]}" TERM="${TERM:-xterm}" bash -l || true
  exit 0
fi

# 4. CI's command, exactly.
say "running .ci/run in the root (apt, npm, crates and the cold build happen now)"
set +e
chroot "$root" /usr/bin/env -i "${inside_env[@]}" bash -c 'cd /work/heartline && bash .ci/run' 2>&1
status=$?
set -e
elapsed=$(( $(date +%s) - started ))
say ".ci/run exited $status after $((elapsed / 60)) min $((elapsed % 60)) s (load: $(cut -d' ' -f1-3 /proc/loadavg))"

# 5. The clone is as it was checked out.
dirty="$(chroot "$root" /usr/bin/env -i "${inside_env[@]}" git -C /work/heartline status --porcelain)"
if [ -n "$dirty" ]; then
  say "the build left the clone modified:"
  printf '%s\n' "$dirty" >&2
  [ "$status" -eq 0 ] && status=3
else
  say "the clone is clean after the build"
fi
exit "$status"
