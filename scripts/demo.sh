#!/usr/bin/env bash
# `make run`: starts the fault lab on loopback and watches one endpoint per failure mode.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=target/debug
out=$(mktemp)
"$bin/heartline-lab" --no-tls >"$out" 2>/dev/null &
lab=$!
trap 'kill "$lab" 2>/dev/null; rm -f "$out"' EXIT

for _ in $(seq 50); do
  grep -q 'listening' "$out" && break
  sleep 0.1
done
url=$(sed -n 's/.*ws=\(ws:\/\/[^ ]*\).*/\1/p' "$out" | head -n 1)
if [ -z "$url" ]; then
  echo "the lab did not start" >&2
  exit 1
fi

echo "heartline-lab is serving on $url (loopback only)."
echo "Each endpoint below shows one way a WebSocket session dies; Ctrl-C stops."
echo
exec "$bin/heartline" watch \
  "steady=$url/echo" \
  "kicked-4001=$url/close?code=4001&reason=kicked&after=8s" \
  "proxy-idle=$url/idle?after=6s&pings=ignore" \
  "half-open=$url/mute?after=5s" \
  "deploy-1012=$url/restart?after=10s" \
  "overloaded-1013=$url/try-again?after=7s" \
  "flapping=$url/flap?up=6s&down=4s" \
  "bad-token=$url/reject?status=401" \
  --ping-interval 2s --pong-timeout 1s --table-every 10s "$@"
