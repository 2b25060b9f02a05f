#!/usr/bin/env bash
# What one broadcast costs Redis as the cluster grows: Redis CPU per PUBLISH with 0..64
# subscribed nodes, each node stood in for by a `redis-cli PSUBSCRIBE 'socket.io#/#*'` (the
# subscription of @socket.io/redis-adapter's classic adapter, and siohub's), and the same
# with SSUBSCRIBE/SPUBLISH (sharded pub/sub, Redis 7: what createShardedAdapter uses). The
# figures feed docs/SCALING.md's Redis model: cost(publish) = a + b x subscribed nodes.
#
#   bench/redis_fanout.sh                 # NODES="0 1 2 4 8 16 32 64", 200,000 publishes each
#   NODES="0 8" N=50000 PAYLOAD=200 bench/redis_fanout.sh
#
# Runs a redis-server of its own on a free port (never the system's). Redis CPU comes from
# INFO cpu (used_cpu_sys + used_cpu_user) around each redis-benchmark run, so the load of
# the benchmark client and the subscribers on the same cores does not count in it.
# Writes the table to stdout and to bench/results/<UTC timestamp>-redis-fanout.md.
set -uo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODES="${NODES:-0 1 2 4 8 16 32 64}"
N="${N:-200000}"
PAYLOAD="${PAYLOAD:-200}"   # bytes; a 64-byte publish is ~200 bytes as an adapter message
RESULTS_DIR="${RESULTS_DIR:-$BENCH/results}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
WORK="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"

redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
  --logfile "$WORK/redis.log" >/dev/null 2>&1 &
REDIS=$!
SUBS=()
cleanup() {
  local pid
  for pid in "${SUBS[@]}"; do kill "$pid" 2>/dev/null; done
  kill "$REDIS" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 100); do [ "$(redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done

cpu() { redis-cli -p "$PORT" INFO cpu | tr -d '\r' | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {printf "%.6f", s}'; }
subscribed() { redis-cli -p "$PORT" CLIENT LIST | grep -cE ' (psub|ssub)=[1-9]'; }
payload="$(head -c "$PAYLOAD" /dev/zero | tr '\0' x)"

# mode: classic | sharded. Prints one table row per node count.
measure() {
  local mode=$1 k pid t0 t1 out rps sub pub
  if [ "$mode" = classic ]; then sub=(PSUBSCRIBE 'socket.io#/#*'); pub=(PUBLISH 'socket.io#/#bench#')
  else sub=(SSUBSCRIBE 'socket.io#/#bench#'); pub=(SPUBLISH 'socket.io#/#bench#'); fi
  for k in $NODES; do
    while [ "${#SUBS[@]}" -lt "$k" ]; do
      redis-cli -p "$PORT" "${sub[@]}" >/dev/null 2>&1 &
      SUBS+=($!)
    done
    for _ in $(seq 100); do [ "$(subscribed)" -ge "$k" ] && break; sleep 0.1; done
    t0="$(cpu)"
    out="$(redis-benchmark -p "$PORT" -n "$N" -c 8 -P 16 -q "${pub[@]}" "$payload" 2>&1 | tr '\r' '\n' | tail -1)"
    t1="$(cpu)"
    rps="$(sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' <<<"$out")"
    awk -v m="$mode" -v k="$k" -v n="$N" -v a="$t0" -v b="$t1" -v r="$rps" \
      'BEGIN { us = (b - a) * 1e6 / n; printf "| %s | %d | %.2f | %.0f | %s |\n", m, k, us, (us > 0 ? 1e6 / us : 0), r }'
  done
  for pid in "${SUBS[@]}"; do kill "$pid" 2>/dev/null; done
  wait "${SUBS[@]}" 2>/dev/null
  SUBS=()
}

{
  echo "# Redis CPU per broadcast by subscribed nodes ($STAMP)"
  echo
  echo "redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), $(nproc) cores shared with the" \
       "client and subscribers; $N publishes of $PAYLOAD bytes per row (redis-benchmark -c 8 -P 16)."
  echo "Redis CPU from INFO cpu around each row; 'publishes/s per Redis core' = 1 / CPU per publish."
  echo
  echo "| pub/sub | subscribed nodes | Redis CPU µs per publish | publishes/s per Redis core | publishes/s measured |"
  echo "|---|---:|---:|---:|---:|"
  measure classic
  measure sharded
} | tee "$WORK/table.md"
mkdir -p "$RESULTS_DIR"
cp "$WORK/table.md" "$RESULTS_DIR/$STAMP-redis-fanout.md"
echo "redis_fanout: wrote $RESULTS_DIR/$STAMP-redis-fanout.md" >&2
