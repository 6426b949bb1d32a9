#!/usr/bin/env bash
# Installs a Heartline .deb for real, the way a user does, in a throwaway Debian 12 root made by
# debootstrap (minbase: nothing of Heartline's stack is there beforehand), then upgrades,
# removes and purges it, checking what each step keeps:
#
#   1. `apt install ./heartline_*.deb` pulls every library the binaries need (ldd finds them
#      all, the tray library the app opens at run time too); `heartline --version` and a real
#      `heartline run` of the agent as the service would, as the heartline user;
#   2. the heartline system user, the config 0640 root:heartline and a conffile, the service
#      installed but not enabled;
#   3. the app from the installed package under Xvfb: a window titled Heartline (xvfb and
#      xdotool are installed after the ldd check, so they cannot hide a missing Depends);
#   4. an upgrade (the same package with a higher version) keeps the service's database and
#      secrets, a user's database and the admin's edit of /etc/heartline/heartline.toml;
#   5. `apt remove` keeps all of them; `apt purge` removes /var/lib/heartline and /etc/heartline
#      and still keeps the user's database.
#
#   6. with --rpm RPM, the .rpm's scriptlets in the same root (Debian's rpm, dependencies not
#      resolved: that needs an RPM distribution): install creates the user and copies the
#      config to /etc, erase keeps the config and /var/lib/heartline.
#
# No systemd runs in the root, so the units are not started here (package-test.sh verifies
# them); the maintainer scripts' systemctl calls are skipped as on any system without systemd.
#
#   sudo scripts/package-install-test.sh DEB [--rpm RPM] [--keep] [--root DIR]
#
# Needs root (debootstrap, chroot, mounts) and the Debian mirror. The minbase tarball is cached
# in /var/cache/heartline-clean-root (shared with clean-root-test.sh). Every mount is undone on
# exit; the root is removed unless --keep.
set -euo pipefail

say() { printf 'install-test: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }
failures=0
fail() { say "FAIL: $*"; failures=$((failures + 1)); }
ok() { say "ok: $*"; }

deb=""
rpm=""
keep=0
root=/var/tmp/heartline-install-root
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=1; shift ;;
    --root) root="$2"; shift 2 ;;
    --rpm) rpm="$(readlink -f "$2")"; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) deb="$(readlink -f "$1")"; shift ;;
  esac
done
[ -f "$deb" ] || die "usage: $0 DEB (see --help)"
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot and mounts): run it with sudo"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap not found (apt-get install debootstrap)"

suite=bookworm
mirror=http://deb.debian.org/debian
cache=/var/cache/heartline-clean-root
include=ca-certificates,git,make

mounts=()
cleanup() {
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null || true; done
  if [ "$keep" -eq 0 ] && [ -d "$root" ]; then rm -rf --one-file-system "$root"; fi
}
trap cleanup EXIT
bind() { mkdir -p "$2"; mount --bind "$1" "$2"; mounts+=("$2"); }

[ -e "$root" ] && { say "removing the previous root $root"; rm -rf --one-file-system "$root"; }
mkdir -p "$root" "$cache"
base="$cache/$suite-minbase.tgz"
if [ ! -s "$base" ]; then
  say "downloading a $suite minbase into $base (once)"
  debootstrap --variant=minbase --include="$include" --make-tarball="$base.partial" "$suite" "$root/.tarball" "$mirror" >&2
  mv "$base.partial" "$base"
  rm -rf "$root/.tarball"
fi
say "creating the root at $root"
debootstrap --variant=minbase --include="$include" --unpack-tarball="$base" "$suite" "$root" "$mirror" >/dev/null
cp /etc/resolv.conf "$root/etc/resolv.conf"
for f in /etc/apt/sources.list.d/*.sources /etc/apt/apt.conf.d/99*; do
  [ -f "$f" ] && cp "$f" "$root$f"
done
[ -f "$root/etc/apt/sources.list.d/debian.sources" ] && rm -f "$root/etc/apt/sources.list"
bind /proc "$root/proc"
bind /dev "$root/dev"
bind /dev/pts "$root/dev/pts"
mkdir -p "$root/dev/shm"
mount -t tmpfs tmpfs "$root/dev/shm"; mounts+=("$root/dev/shm")

in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}
apt_in_root() { in_root apt-get -y -q -o Dpkg::Use-Pty=0 "$@"; }

name="$(basename "$deb")"
cp "$deb" "$root/tmp/$name"
version="$(dpkg-deb --field "$deb" Version)"

# An "upgrade": the same package at a higher version.
up_dir="$(mktemp -d)"
dpkg-deb --raw-extract "$deb" "$up_dir/pkg"
sed -i "s/^Version: .*/Version: ${version}+upgrade1/" "$up_dir/pkg/DEBIAN/control"
dpkg-deb --root-owner-group -Zxz --build "$up_dir/pkg" "$root/tmp/heartline_${version}+upgrade1_amd64.deb" >/dev/null
rm -rf "$up_dir"

# --- 1. install -------------------------------------------------------------------------------
apt_in_root update >/dev/null
t0=$(date +%s.%N)
apt_in_root install "/tmp/$name" >"$root/tmp/install.log" 2>&1 || { cat "$root/tmp/install.log" >&2; die "apt install failed"; }
t1=$(date +%s.%N)
ok "apt install ./$name: $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f s", b-a}') ($(grep -oE '[0-9]+ newly installed' "$root/tmp/install.log"), $(grep -oE 'Need to get [^ ]+ [kMG]?B' "$root/tmp/install.log" | head -1 | sed 's/Need to get //') downloaded)"
got="$(in_root heartline --version 2>&1)" && [ "$got" = "heartline $version" ] \
  && ok "heartline --version: $got" || fail "heartline --version: $got"
for bin in /usr/bin/heartline-app /usr/bin/heartline; do
  missing="$(in_root ldd "$bin" | grep 'not found' || true)"
  [ -z "$missing" ] && ok "ldd $bin: every library found" || fail "ldd $bin: $missing"
done
in_root sh -c 'ls /usr/lib/*/libayatana-appindicator3.so.1' >/dev/null 2>&1 \
  && ok "the tray library (libayatana-appindicator3.so.1, opened at run time) is installed" \
  || fail "libayatana-appindicator3.so.1 missing"

# --- 2. user, config, service -------------------------------------------------------------------
in_root getent passwd heartline | grep -q ':/var/lib/heartline:/usr/sbin/nologin$' \
  && ok "system user: $(in_root getent passwd heartline)" || fail "no heartline user: $(in_root getent passwd heartline || true)"
perm="$(in_root stat -c '%a %U:%G' /etc/heartline/heartline.toml)"
[ "$perm" = "640 root:heartline" ] && ok "/etc/heartline/heartline.toml $perm" || fail "/etc/heartline/heartline.toml is $perm"
in_root dpkg-query --showformat='${Conffiles}\n' --show heartline | grep -q '/etc/heartline/heartline.toml' \
  && ok "dpkg lists /etc/heartline/heartline.toml as a conffile" || fail "not a conffile"
[ ! -e "$root/etc/systemd/system/multi-user.target.wants/heartline.service" ] \
  && ok "heartline.service installed, not enabled" || fail "heartline.service was enabled"
# The agent as the service runs it (without systemd's sandbox): as heartline, on /var/lib/heartline.
install -d -o "$(in_root id -u heartline)" -g "$(in_root id -g heartline)" -m 0750 "$root/var/lib/heartline"
if in_root setpriv --reuid=heartline --regid=heartline --init-groups env HEARTLINE_SECRETS=file \
  heartline run --config /etc/heartline/heartline.toml --db /var/lib/heartline/heartline.db \
  --metrics 127.0.0.1:0 --allow-empty --for 1s >"$root/tmp/run.log" 2>&1; then
  ok "heartline run as the service does, as heartline: $(head -1 "$root/tmp/run.log")"
else
  fail "heartline run as heartline: $(cat "$root/tmp/run.log")"
fi

# --- 3. the app --------------------------------------------------------------------------------
apt_in_root install --no-install-recommends xvfb xauth xdotool >/dev/null 2>&1
in_root sh -c '
  Xvfb :5 -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 & x=$!
  for i in $(seq 50); do [ -e /tmp/.X11-unix/X5 ] && break; sleep 0.1; done
  mkdir -p /tmp/app
  DISPLAY=:5 HEARTLINE_DB=/tmp/app/heartline.db XDG_DATA_HOME=/tmp/app XDG_CONFIG_HOME=/tmp/app \
    XDG_CACHE_HOME=/tmp/app DBUS_SESSION_BUS_ADDRESS=disabled: NO_AT_BRIDGE=1 \
    heartline-app >/tmp/app.log 2>&1 & a=$!
  w=$(DISPLAY=:5 timeout 90 xdotool search --sync --name "^Heartline\$" | head -1)
  kill $a; wait $a 2>/dev/null; kill $x; wait $x 2>/dev/null
  [ -n "$w" ]' && ok "heartline-app (installed) opened a window titled Heartline" \
  || fail "the installed app opened no window: $(tail -5 "$root/tmp/app.log")"

# --- 4. upgrade -----------------------------------------------------------------------------------
printf '\n# edited by the admin\n' >>"$root/etc/heartline/heartline.toml"
printf 'TOKEN=abc\n' >"$root/etc/heartline/heartline.env"
printf '{"1:Authorization":"Bearer s"}' >"$root/var/lib/heartline/secrets.json"
mkdir -p "$root/root/.local/share/heartline"
echo user-data >"$root/root/.local/share/heartline/heartline.db"
sums() { (cd "$root" && sha256sum var/lib/heartline/heartline.db var/lib/heartline/secrets.json root/.local/share/heartline/heartline.db etc/heartline/heartline.toml etc/heartline/heartline.env 2>&1); }
before="$(sums)"
apt_in_root install "/tmp/heartline_${version}+upgrade1_amd64.deb" >"$root/tmp/upgrade.log" 2>&1 \
  || { cat "$root/tmp/upgrade.log" >&2; fail "upgrade failed"; }
[ "$(in_root dpkg-query -W -f='${Version}' heartline)" = "${version}+upgrade1" ] && ok "upgraded to ${version}+upgrade1" || fail "not upgraded"
[ "$(sums)" = "$before" ] && ok "upgrade kept the service's database and secrets, the user's database, the edited config and heartline.env" \
  || fail "upgrade changed: $(diff <(echo "$before") <(sums))"
perm="$(in_root stat -c '%a %U:%G' /etc/heartline/heartline.toml)"
[ "$perm" = "640 root:heartline" ] && ok "config still $perm after the upgrade" || fail "config is $perm after the upgrade"

# --- 5. remove, purge -----------------------------------------------------------------------------
apt_in_root remove heartline >/dev/null 2>&1
[ ! -e "$root/usr/bin/heartline" ] && [ "$(sums)" = "$before" ] \
  && ok "apt remove: binaries gone, every database, secret and config kept" || fail "apt remove: $(sums)"
apt_in_root purge heartline >/dev/null 2>&1
if [ ! -e "$root/var/lib/heartline" ] && [ ! -e "$root/etc/heartline" ] && [ -f "$root/root/.local/share/heartline/heartline.db" ]; then
  ok "apt purge: /var/lib/heartline and /etc/heartline gone, the user's database kept"
else
  fail "apt purge left: $(ls -d "$root/var/lib/heartline" "$root/etc/heartline" 2>/dev/null) / user db: $(ls "$root/root/.local/share/heartline" 2>&1)"
fi
in_root dpkg-statoverride --list | grep -q heartline && fail "statoverride left after purge" || ok "no statoverride left"

# --- 6. the .rpm's scriptlets -------------------------------------------------------------------
if [ -n "$rpm" ]; then
  in_root userdel heartline 2>/dev/null || true
  in_root groupdel heartline 2>/dev/null || true
  apt_in_root install --no-install-recommends rpm >/dev/null 2>&1
  cp "$rpm" "$root/tmp/heartline.rpm"
  rpm_() { in_root rpm --force-debian --nodeps "$@"; }
  if rpm_ -i /tmp/heartline.rpm >"$root/tmp/rpm.log" 2>&1; then
    ok "rpm -i $(basename "$rpm") (dependencies not resolved)"
  else
    fail "rpm -i: $(cat "$root/tmp/rpm.log")"
  fi
  got="$(in_root heartline --version 2>&1)"
  [ "$got" = "heartline $version" ] && ok "rpm: heartline --version: $got" || fail "rpm: heartline --version: $got"
  in_root getent passwd heartline | grep -q ':/var/lib/heartline:/usr/sbin/nologin$' \
    && ok "rpm %post created the heartline user" || fail "rpm %post: no heartline user"
  perm="$(in_root stat -c '%a %U:%G' /etc/heartline/heartline.toml 2>&1)"
  [ "$perm" = "640 root:heartline" ] && ok "rpm %post copied the config: $perm" || fail "rpm config: $perm"
  printf '\n# edited by the admin\n' >>"$root/etc/heartline/heartline.toml"
  mkdir -p "$root/var/lib/heartline" && echo data >"$root/var/lib/heartline/heartline.db"
  kept="$(cd "$root" && sha256sum etc/heartline/heartline.toml var/lib/heartline/heartline.db)"
  rpm_ -i --replacepkgs /tmp/heartline.rpm >/dev/null 2>&1 || true
  [ "$(cd "$root" && sha256sum etc/heartline/heartline.toml var/lib/heartline/heartline.db)" = "$kept" ] \
    && ok "rpm reinstall kept the edited config and the database" || fail "rpm reinstall changed the config or database"
  rpm_ -e heartline >/dev/null 2>&1 || fail "rpm -e failed"
  if [ ! -e "$root/usr/bin/heartline" ] && [ "$(cd "$root" && sha256sum etc/heartline/heartline.toml var/lib/heartline/heartline.db 2>&1)" = "$kept" ]; then
    ok "rpm -e: binaries gone, config and database kept"
  else
    fail "rpm -e: $(ls "$root/usr/bin/heartline" "$root/etc/heartline" "$root/var/lib/heartline" 2>&1)"
  fi
fi

if [ "$failures" -gt 0 ]; then say "$failures check(s) failed"; exit 1; fi
say "all checks passed"
