#!/usr/bin/env bash
# Issue 12 item 4: what the Redis recovery store costs and how fast a client recovers on
# another node. Three nodes on a Redis of its own (recovery_s = 60): a client on B in a
# room, B killed with SIGKILL, EVENTS published on A (acked, 100 in flight), the client
# moved to C. Prints the publish rate, the recovery time, what was replayed, and the
# Redis memory per stream entry and per socket record.
#
#   scripts/measure/recovery_store.sh <siohub binary> [events] [event bytes]
set -euo pipefail
bin=$1; events=${2:-1000}; size=${3:-100}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
rpid=$!
conf=$(mktemp --suffix=.toml)
cat > "$conf" <<TOML
[adapter]
kind = "redis"
redis_url = "redis://127.0.0.1:$rport"

# A replay is written at once: over the outgoing bound a client is a slow consumer.
[outgoing]
max_packets = 100000
max_bytes = 67108864

[[namespaces]]
name = "/"
recovery_s = 60
client_join = true
client_publish = true
TOML
pids=()
ports=()
trap 'kill "${pids[@]}" $rpid 2>/dev/null; rm -f "$conf"' EXIT
for _ in a b c; do
  port=$(free_port)
  "$bin" --config "$conf" --host 127.0.0.1 --port "$port" >/dev/null 2>&1 &
  pids+=($!); ports+=("$port")
done
for port in "${ports[@]}"; do
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 || curl -s "http://127.0.0.1:$port/health" | grep -q status; do sleep 0.1; done
done
NODE_PATH="$here/tests/clients/node/node_modules" node "$here/scripts/measure/recovery_store.cjs" \
  "${ports[0]}" "${ports[1]}" "${ports[2]}" "${pids[1]}" "$rport" "$events" "$size"
curl -s "http://127.0.0.1:${ports[2]}/metrics" | grep -E '^siohub_recovery_store' || true
