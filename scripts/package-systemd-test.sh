#!/usr/bin/env bash
# Boots a fresh Debian 12 container with systemd as PID 1 (systemd-nspawn), installs the .deb
# with apt, and does what the README tells an administrator to do: `systemctl enable --now
# heartline`, then reads the metrics on loopback. Checks that the unit starts under its
# sandboxing, runs as the `heartline` user, listens on 127.0.0.1:9464 only and keeps its files
# 0600 under /var/lib/heartline. Needs root, debootstrap, systemd-container (installed when
# missing) and the package registries.
#
#   sudo scripts/package-systemd-test.sh [--deb FILE] [--keep]
#
#   --deb FILE  the package to install (default: build the debug one with scripts/package.sh)
#   --keep      leave the container's root in /var/tmp/heartline-systemd-root
set -euo pipefail

say() { printf 'package-systemd-test: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

repo="$(cd "$(dirname "$0")/.." && pwd)"
deb=""
keep=0
root=/var/tmp/heartline-systemd-root
suite=bookworm
mirror=http://deb.debian.org/debian
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, systemd-nspawn)"
for tool in debootstrap systemd-nspawn; do
  command -v "$tool" >/dev/null 2>&1 || {
    say "installing ${tool/systemd-nspawn/systemd-container}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${tool/systemd-nspawn/systemd-container}"
  }
done
if [ -z "$deb" ]; then
  out="$(mktemp -d)"
  "$repo/scripts/package.sh" --debug --out "$out" >&2
  deb="$(ls "$out"/heartline_*_amd64.deb)"
fi
[ -f "$deb" ] || die "no package at $deb"

mounted=""
cleanup() {
  [ -n "$mounted" ] && umount -l "$mounted" 2>/dev/null || true
  if [ "$keep" -eq 0 ]; then rm -rf --one-file-system "$root"; fi
}
trap cleanup EXIT

# 1. A fresh Debian root with systemd, as a server has it (name resolution, CAs of this machine).
rm -rf --one-file-system "$root"
say "debootstrap $suite with systemd into $root"
debootstrap --variant=minbase --include=ca-certificates,systemd,systemd-sysv,dbus,curl,iproute2 \
  "$suite" "$root" "$mirror" >/dev/null
cp /etc/resolv.conf "$root/etc/resolv.conf"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
for f in /etc/apt/sources.list.d/*.sources /etc/apt/apt.conf.d/99*; do
  [ -f "$f" ] && cp "$f" "$root$f"
done
[ -f "$root/etc/apt/sources.list.d/debian.sources" ] && rm -f "$root/etc/apt/sources.list"
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null
fi

# 2. apt install ./heartline_*.deb, as the README says.
cp "$deb" "$root/tmp/"
mount --bind /proc "$root/proc"; mounted="$root/proc"
started=$(date +%s)
chroot "$root" bash -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /tmp/$(basename "$deb")" >/dev/null
say "apt install took $(( $(date +%s) - started )) s"
umount "$root/proc"; mounted=""

# 3. A one-shot unit that does the administrator's steps at boot, writes what it saw, powers off.
cat > "$root/usr/local/bin/heartline-check" <<'EOF'
#!/bin/sh
{
  echo "enabled-before=$(systemctl is-enabled heartline 2>&1)"
  systemctl enable --now heartline >/dev/null 2>&1
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    curl -sf --max-time 2 http://127.0.0.1:9464/metrics >/tmp/metrics && break
    sleep 1
  done
  echo "active=$(systemctl is-active heartline)"
  echo "user=$(ps -o user= -C heartline | head -1)"
  echo "metrics-eof=$(grep -c '^# EOF' /tmp/metrics 2>/dev/null || echo 0)"
  echo "listen=$(ss -Hltn 'sport = :9464' | awk '{print $4}' | tr '\n' ' ')"
  echo "db-mode=$(stat -c '%a %U' /var/lib/heartline/heartline.db 2>&1)"
  journalctl -u heartline --no-pager -o cat | sed 's/^/journal: /'
} > /heartline-check.txt 2>&1
systemctl poweroff
EOF
chmod +x "$root/usr/local/bin/heartline-check"
cat > "$root/etc/systemd/system/heartline-check.service" <<'EOF'
[Unit]
Description=What an administrator does after installing Heartline
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/bin/heartline-check
[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/heartline-check.service \
  "$root/etc/systemd/system/multi-user.target.wants/heartline-check.service"

# 4. Boot it. (--register=no --keep-unit: this machine has no systemd of its own to register
# the container with.)
say "booting the container"
timeout 180 systemd-nspawn -q --register=no --keep-unit -D "$root" -b >/dev/null 2>&1 || true
[ -f "$root/heartline-check.txt" ] || die "the container did not run the check (no result file)"
sed 's/^/  /' "$root/heartline-check.txt" >&2

result="$(cat "$root/heartline-check.txt")"
fail=0
expect() { grep -qx "$1" <<<"$result" || { say "FAIL: expected $1"; fail=1; }; }
expect "enabled-before=disabled"
expect "active=active"
expect "user=heartline"
expect "metrics-eof=1"
expect "listen=127.0.0.1:9464 "
expect "db-mode=600 heartline"
[ "$fail" -eq 0 ] && say "ok: enabled by systemctl, running as heartline, metrics on 127.0.0.1:9464 only, database 0600"
exit "$fail"
