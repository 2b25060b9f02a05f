#!/usr/bin/env bash
# Issue 12 item 2: what the cluster-wide views cost. Three siohub nodes on one
# redis-server of its own, CLIENTS idle websocket clients on each (bench's loadgen), then
# the time of each view asked of node A (median of 5, curl's time_total), beside the
# node-only listing.
#
#   scripts/measure/cluster_views.sh <siohub binary> [clients per node]
set -euo pipefail
bin=$1; clients=${2:-2000}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
loadgen="$here/bench/target/debug/loadgen"
[ -x "$loadgen" ] || (cd "$here/bench" && cargo build -q -p loadgen)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
pids+=($!)
until redis-cli -p "$rport" ping >/dev/null 2>&1; do sleep 0.1; done

ports=()
for _ in 1 2 3; do
  port=$(free_port)
  SOCKETIO_ADAPTER__KIND=redis SOCKETIO_ADAPTER__REDIS_URL="redis://127.0.0.1:$rport" \
    SOCKETIO_API__INSECURE=true "$bin" --host 127.0.0.1 --port "$port" >/dev/null 2>&1 &
  pids+=($!)
  ports+=("$port")
done
for port in "${ports[@]}"; do
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.1; done
  "$loadgen" run --scenario idle --addr "127.0.0.1:$port" --clients "$clients" --settle 600 >/dev/null 2>&1 &
  pids+=($!)
done
ws() { curl -s "http://127.0.0.1:$1/metrics" | awk '/^siohub_connections\{transport="websocket"\}/ {print int($2)}'; }
for port in "${ports[@]}"; do
  until [ "$(ws "$port")" -ge "$clients" ] 2>/dev/null; do sleep 0.5; done
done
a=${ports[0]}
time_of() {
  for _ in 1 2 3 4 5; do curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$a$1"; done |
    sort -n | sed -n 3p
}
echo "3 nodes x $clients idle websocket clients; node A answers (median of 5, seconds):"
for path in "/api/v1/rooms" "/connections?limit=1000" "/connections?scope=cluster&limit=1000" \
  "/connections?scope=cluster&offset=5000&limit=1000"; do
  printf '  %-52s %s\n' "$path" "$(time_of "$path")"
done
echo "  scope=cluster total: $(curl -s "http://127.0.0.1:$a/connections?scope=cluster&limit=1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["total"], d["cluster"])')"
