#!/usr/bin/env bash
# Issue 9 item 9, before/after: RSS of a server whose namespace buffers every event
# ("always", TTL 10 s) after one client published into ROOMS distinct rooms, and again once
# the TTL has passed without any room being touched.
#
#   scripts/measure/buffer_flood.sh <siohub binary> [rooms] [event bytes]
set -euo pipefail
bin=$1; rooms=${2:-100000}; size=${3:-4096}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
conf=$(mktemp --suffix=.toml)
cat > "$conf" <<TOML
[[namespaces]]
name = "/"
buffer = "always"
buffer_ttl_s = 10
TOML
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" --config "$conf" --host 127.0.0.1 --port "$port" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$conf"' EXIT
until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.1; done
rss() { awk '/VmRSS/ {print $2 " KiB"}' /proc/$pid/status; }
cpu() { awk '{printf "%.2f s", ($14+$15)/100}' /proc/$pid/stat; }
buffered() { curl -s "http://127.0.0.1:$port/metrics" | grep -E '^siohub_buffered_(rooms|bytes)|namespace_buffer_full' | tr '\n' ' '; }
echo "idle:        RSS $(rss)"
NODE_PATH="$here/tests/clients/node/node_modules" node "$here/scripts/measure/buffer_flood.cjs" "http://127.0.0.1:$port" "$rooms" "$size"
echo "after flood: RSS $(rss), CPU $(cpu); $(buffered)"
sleep 25
echo "flood + 25 s (TTL 10 s, a malloc_trim every 10 s): RSS $(rss), CPU $(cpu); $(buffered)"
