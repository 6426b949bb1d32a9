#!/usr/bin/env bash
# Checks the Linux packages the way an installer meets them, without installing anything and
# without root: it builds them once from the debug binaries `make test` already has
# (scripts/package.sh --debug: the same bundler, config and repacking as the release packages
# of `make package`, only the cargo profile differs), then
#
#   1. the .deb's metadata: name, version (= `heartline --version`), Depends (the webview, GTK
#      and tray libraries, and every library the binaries link, per dpkg-shlibdeps, reachable
#      through them), the example config a conffile, maintainer scripts that never enable or
#      start the service;
#   2. its file list: both binaries in /usr/bin, the desktop entry, the icon in every hicolor
#      size from 32 to 512 (each PNG the size its directory says), both units, the config and
#      the docs, everything owned by root;
#   3. the .rpm's, when `rpm` is installed: the same files, requirements and scriptlets;
#   4. the .deb extracted into a temporary root, run from there: the desktop entry passes
#      desktop-file-validate and names the program, the icon and the window class;
#      `heartline --version`; `heartline probe` against the lab; `heartline run` on the shipped
#      config (an idle agent serving metrics); the app under Xvfb opening a window titled
#      Heartline whose WM_CLASS is the entry's StartupWMClass;
#   5. `systemd-analyze verify` on the system unit (inside a copy of that root, so ExecStart
#      must exist there) and on the user unit; `sh -n` on every maintainer script.
#
#   scripts/package-test.sh [--keep]     (--keep: leave the scratch directory for a look)
set -euo pipefail

say() { printf 'package-test: %s\n' "$*" >&2; }
fail() { say "FAIL: $*"; failures=$((failures + 1)); }
ok() { say "ok: $*"; }

repo="$(cd "$(dirname "$0")/.." && pwd)"
keep=0
[ "${1:-}" = --keep ] && keep=1
failures=0
started=$(date +%s)

scratch="$(mktemp -d "${TMPDIR:-/tmp}/heartline-package-test.XXXXXX")"
pids=()
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[$i]}" 2>/dev/null || true; done
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do wait "${pids[$i]}" 2>/dev/null || true; done
  if [ "$keep" -eq 1 ]; then say "scratch kept in $scratch"; else rm -rf "$scratch"; fi
}
trap cleanup EXIT

# has FILE TEXT: FILE contains the line TEXT exactly.
has_line() { grep -qxF -- "$2" "$1"; }

# --- build ---------------------------------------------------------------------------------
cd "$repo"
mapfile -t built < <(scripts/package.sh --debug --out "$scratch/out")
deb="${built[0]:-}"
rpm="${built[1]:-}"
[ -f "$deb" ] && [ -f "$rpm" ] || { say "FAIL: scripts/package.sh --debug made no packages"; exit 1; }
target_dir="$(cargo metadata --locked --format-version 1 --no-deps | node -e '
  console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).target_directory)')"
# The same package set as `make e2e` builds, so after it this is a no-op (another set would
# unify features differently and rebuild shared dependencies).
cargo build --locked -p heartline-app -p heartline-lab
lab_bin="$target_dir/debug/heartline-lab"

# --- 1. the .deb's metadata ------------------------------------------------------------------
control="$scratch/control"
mkdir -p "$control"
dpkg-deb --control "$deb" "$control"
field() { sed -n "s/^$1: //p" "$control/control"; }
version="$(field Version)"
[ "$(field Package)" = heartline ] && ok "Package: heartline" || fail "Package is '$(field Package)'"
[ "$(field Architecture)" = amd64 ] && ok "Architecture: amd64" || fail "Architecture is '$(field Architecture)'"
[ -n "$version" ] && ok "Version: $version" || fail "no Version"
depends="$(field Depends)"
for need in libwebkit2gtk-4.1-0 libgtk-3-0 libayatana-appindicator3-1; do
  grep -qE "(^|, )$need( |,|$)" <<<"$depends" && ok "Depends names $need" || fail "Depends lacks $need: $depends"
done
has_line "$control/conffiles" /etc/heartline/heartline.toml && [ "$(wc -l <"$control/conffiles")" -eq 1 ] \
  && ok "conffiles: /etc/heartline/heartline.toml" || fail "conffiles: $(cat "$control/conffiles" 2>/dev/null)"
# `systemctl [options] enable|start|reenable|restart`: what a package must never do by itself
# (try-restart, which only restarts a service already running, is what an upgrade does).
enables='systemctl( +--?[a-z-]+)* +(enable|start|reenable|restart)( |$)'
for script in postinst prerm postrm; do
  if [ -x "$control/$script" ]; then
    sh -n "$control/$script" && ok "$script present, valid sh" || fail "$script: syntax error"
    if grep -Eq "$enables" "$control/$script"; then fail "$script enables or starts the service"; fi
  else
    fail "no $script"
  fi
done
grep -q 'rm -rf /var/lib/heartline' "$control/postrm" && ok "postrm purges /var/lib/heartline" || fail "postrm keeps /var/lib/heartline on purge"

# Every library the binaries link comes with the declared Depends: dpkg-shlibdeps names the
# packages providing them on this machine; each must be declared or pulled in by one that is.
shlib_dir="$scratch/shlibs"
mkdir -p "$shlib_dir/debian" "$shlib_dir/bin"
printf 'Source: heartline\n\nPackage: heartline\nArchitecture: any\n' >"$shlib_dir/debian/control"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$shlib_dir/bin" ./usr/bin
if needed="$(cd "$shlib_dir" && dpkg-shlibdeps -O -e bin/usr/bin/heartline-app -e bin/usr/bin/heartline 2>"$shlib_dir/err")"; then
  declared="$(sed 's/([^)]*)//g; s/|/,/g; s/ //g' <<<"$depends" | tr ',' '\n' | sed '/^$/d')"
  closure="$(apt-cache depends --recurse --important $declared 2>/dev/null \
    | sed -n 's/^ *|\?\(Pre\)\?Depends: //p; s/^\([a-z0-9][^ <]*\)$/\1/p' | sed 's/[<>]//g; s/:.*//' | sort -u)"
  missing=()
  for pkg in $(sed 's/^shlibs:Depends=//; s/([^)]*)//g; s/|/,/g; s/ //g' <<<"$needed" | tr ',' '\n' | sed '/^$/d' | sort -u); do
    grep -qxF "$pkg" <<<"$declared"$'\n'"$closure" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && ok "every linked library is reachable from Depends" \
    || fail "linked but neither declared nor pulled in by Depends: ${missing[*]}"
else
  fail "dpkg-shlibdeps: $(cat "$shlib_dir/err")"
fi

# --- 2. the .deb's files ---------------------------------------------------------------------
listing="$scratch/deb-files"
dpkg-deb --contents "$deb" >"$listing"
awk '{print $6}' "$listing" | sed 's|^\./|/|; s|/$||' >"$scratch/deb-paths"
icons=()
for s in 32 48 64 128 256 512; do icons+=("/usr/share/icons/hicolor/${s}x${s}/apps/heartline-app.png"); done
expected=(/usr/bin/heartline-app /usr/bin/heartline /usr/share/applications/Heartline.desktop "${icons[@]}"
  /usr/lib/systemd/system/heartline.service /usr/lib/systemd/user/heartline.service
  /etc/heartline/heartline.toml /usr/share/doc/heartline/README.md /usr/share/doc/heartline/heartline.example.toml)
for f in "${expected[@]}"; do
  has_line "$scratch/deb-paths" "$f" && ok "deb has $f" || fail "deb lacks $f"
done
awk '$2 != "root/root" {print}' "$listing" | grep . && fail "files not owned by root/root" || ok "every file owned by root/root"
grep -E '^-rwxr-xr-x .* \./usr/bin/heartline(-app)?$' "$listing" | wc -l | grep -qx 2 \
  && ok "both binaries mode 0755" || fail "binaries' modes: $(grep ' ./usr/bin/' "$listing")"

# --- 3. the .rpm -----------------------------------------------------------------------------
if command -v rpm >/dev/null 2>&1; then
  rpm_paths="$(rpm -qpl "$rpm" 2>/dev/null)"
  for f in "${expected[@]/\/etc\/heartline\/heartline.toml//usr/share/heartline/heartline.toml}"; do
    grep -qxF -- "$f" <<<"$rpm_paths" && ok "rpm has $f" || fail "rpm lacks $f"
  done
  [ "$(rpm -qp --queryformat '%{NAME} %{VERSION}' "$rpm" 2>/dev/null)" = "heartline $version" ] \
    && ok "rpm is heartline $version" || fail "rpm name/version: $(rpm -qp --queryformat '%{NAME} %{VERSION}' "$rpm")"
  requires="$(rpm -qp --requires "$rpm" 2>/dev/null)"
  for need in 'libwebkit2gtk-4.1.so.0()(64bit)' 'libgtk-3.so.0()(64bit)' 'libayatana-appindicator3.so.1()(64bit)'; do
    grep -qxF -- "$need" <<<"$requires" && ok "rpm requires $need" || fail "rpm does not require $need"
  done
  scripts="$(rpm -qp --scripts "$rpm" 2>/dev/null)"
  for s in postinstall preuninstall postuninstall; do
    grep -q "^$s scriptlet" <<<"$scripts" && ok "rpm has a $s scriptlet" || fail "rpm lacks a $s scriptlet"
  done
  if grep -Eq "$enables" <<<"$scripts"; then
    fail "an rpm scriptlet enables or starts the service"
  fi
else
  say "rpm not installed: the .rpm's file list is not checked"
fi

# --- 4. extracted and run --------------------------------------------------------------------
root="$scratch/root"
dpkg-deb --extract "$deb" "$root"
desktop="$root/usr/share/applications/Heartline.desktop"
if out="$(desktop-file-validate "$desktop" 2>&1)" && [ -z "$out" ]; then ok "desktop-file-validate: clean"; else fail "desktop-file-validate: $out"; fi
for line in Type=Application Name=Heartline Exec=heartline-app Icon=heartline-app Terminal=false \
  Categories=Network\;Monitor\; StartupWMClass=heartline-app; do
  has_line "$desktop" "$line" && ok "desktop entry: $line" || fail "desktop entry lacks $line"
done
grep -q '^Comment=.' "$desktop" && ok "desktop entry has a Comment" || fail "desktop entry has no Comment"
for s in 32 48 64 128 256 512; do
  png="$root/usr/share/icons/hicolor/${s}x${s}/apps/heartline-app.png"
  dims="$(od -An -tu1 -j16 -N8 "$png" 2>/dev/null | awk '{print $1*16777216+$2*65536+$3*256+$4 "x" $5*16777216+$6*65536+$7*256+$8}')"
  [ "$dims" = "${s}x${s}" ] && ok "icon ${s}x${s} is ${dims}" || fail "icon in ${s}x${s}/ is '$dims'"
done

cli="$root/usr/bin/heartline"
[ "$("$cli" --version)" = "heartline $version" ] && ok "heartline --version: heartline $version" \
  || fail "heartline --version says '$("$cli" --version)', the package $version"

# heartline probe against the lab, from the extracted binary.
"$lab_bin" --no-tls >"$scratch/lab.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do grep -qs "ws=" "$scratch/lab.out" && break; sleep 0.1; done
ws="$(sed -n 's/.*ws=\([^ ]*\).*/\1/p' "$scratch/lab.out" | head -1)"
ws="${ws%/}"
if [ -z "$ws" ]; then
  fail "the lab did not start"
elif timeout 60 "$cli" probe "$ws/echo" --ping-interval 200ms --pong-timeout 100ms --for 2s >"$scratch/probe.out" 2>&1 \
  && grep -q 'connected' "$scratch/probe.out" && grep -q 'rtt' "$scratch/probe.out"; then
  ok "heartline probe $ws/echo: connected, round trips, healthy"
else
  fail "heartline probe: $(cat "$scratch/probe.out")"
fi

# heartline run on the shipped config, as the service runs it: an idle agent serving metrics.
if env HEARTLINE_SECRETS=file timeout 60 "$cli" run --config "$root/etc/heartline/heartline.toml" \
  --db "$scratch/agent/heartline.db" --metrics 127.0.0.1:0 --allow-empty --for 1s >"$scratch/run.out" 2>&1 \
  && grep -q 'watching 0 endpoints' "$scratch/run.out"; then
  ok "heartline run --config /etc/heartline/heartline.toml --allow-empty: runs idle, stops cleanly"
else
  fail "heartline run on the shipped config: $(cat "$scratch/run.out")"
fi

# The app from the extracted path under Xvfb: a window titled Heartline, its WM_CLASS the
# desktop entry's StartupWMClass (what launchers match the window to the entry with).
display=":$((90 + RANDOM % 400))"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done
appdata="$scratch/app"
mkdir -p "$appdata"/{share,config,cache}
env DISPLAY="$display" HEARTLINE_DB="$appdata/heartline.db" XDG_DATA_HOME="$appdata/share" \
  XDG_CONFIG_HOME="$appdata/config" XDG_CACHE_HOME="$appdata/cache" \
  DBUS_SESSION_BUS_ADDRESS=disabled: NO_AT_BRIDGE=1 \
  "$root/usr/bin/heartline-app" >"$scratch/app.log" 2>&1 &
app_pid=$!
pids+=("$app_pid")
if window="$(DISPLAY="$display" timeout 90 xdotool search --sync --name '^Heartline$' 2>/dev/null | head -1)" && [ -n "$window" ]; then
  ok "the app opened a window titled Heartline (from $root/usr/bin/heartline-app)"
  wm_class="$(DISPLAY="$display" xprop -id "$window" WM_CLASS 2>/dev/null || true)"
  wm_class_words="$(tr -d '",' <<<"${wm_class#*=}" | tr 'A-Z' 'a-z')"
  for w in $wm_class_words; do [ "$w" = heartline-app ] && matched=1; done
  [ "${matched:-0}" = 1 ] && ok "window $wm_class matches StartupWMClass=heartline-app" \
    || fail "window $wm_class does not match StartupWMClass=heartline-app"
else
  fail "no window titled Heartline within 90 s; the app said: $(tail -20 "$scratch/app.log")"
fi
kill "$app_pid" 2>/dev/null || true

# --- 5. units and scripts --------------------------------------------------------------------
# The system unit inside a copy of the extracted root (hard links) plus this machine's units,
# so ExecStart and the targets it names are looked up there.
vroot="$scratch/verify-root"
cp -al "$root" "$vroot"
cp -rn /usr/lib/systemd/system/. "$vroot/usr/lib/systemd/system/"
if out="$(timeout 60 systemd-analyze verify --man=no --root="$vroot" heartline.service 2>&1)" && [ -z "$out" ]; then
  ok "systemd-analyze verify heartline.service (system): clean"
else
  fail "systemd-analyze verify heartline.service: $out"
fi
# The user unit: user managers take no --root, so a copy whose ExecStart is the extracted path.
mkdir -p "$scratch/user-units" "$scratch/runtime"
chmod 700 "$scratch/runtime"
sed "s|/usr/bin/heartline|$root/usr/bin/heartline|g" "$root/usr/lib/systemd/user/heartline.service" \
  >"$scratch/user-units/heartline.service"
if out="$(XDG_RUNTIME_DIR="$scratch/runtime" HOME="$scratch" timeout 60 systemd-analyze --user verify --man=no \
  "$scratch/user-units/heartline.service" 2>&1)" && [ -z "$out" ]; then
  ok "systemd-analyze --user verify heartline.service (user): clean"
else
  fail "systemd-analyze --user verify heartline.service: $out"
fi
for unit in "$root/usr/lib/systemd/system/heartline.service" "$root/usr/lib/systemd/user/heartline.service"; do
  grep -q '^ExecStart=/usr/bin/heartline run .*--allow-empty' "$unit" || fail "$unit does not run heartline run --allow-empty"
done
sys="$root/usr/lib/systemd/system/heartline.service"
for line in User=heartline StateDirectory=heartline Environment=HEARTLINE_SECRETS=file NoNewPrivileges=yes \
  ProtectSystem=strict PrivateTmp=yes ProtectHome=yes; do
  has_line "$sys" "$line" && ok "system unit: $line" || fail "system unit lacks $line"
done
grep -q -- '--db /var/lib/heartline/heartline.db --metrics 127.0.0.1:9464' "$sys" \
  && ok "system unit: database in /var/lib/heartline, metrics on loopback" || fail "system unit: database or metrics address"
for s in "$repo"/packaging/linux/rpm/*; do sh -n "$s" && ok "rpm/$(basename "$s") valid sh" || fail "rpm/$(basename "$s"): syntax"; done

elapsed=$(( $(date +%s) - started ))
if [ "$failures" -gt 0 ]; then
  say "$failures check(s) failed (${elapsed}s)"
  exit 1
fi
say "all checks passed (${elapsed}s): $(basename "$deb") $(du -h "$deb" | cut -f1), $(basename "$rpm") $(du -h "$rpm" | cut -f1)"
