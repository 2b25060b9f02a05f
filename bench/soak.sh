#!/usr/bin/env bash
# siohub's soak: CLIENTS churning websocket clients for DURATION seconds (connects, joins,
# leaves, clean and abrupt disconnects, slow readers) while one publisher fans out to their
# rooms (`loadgen run --scenario soak`). Every 10 s it samples the server: RSS and open file
# descriptors from /proc, sessions, sockets, rooms and actor mailbox depths from /metrics,
# into bench/results/<stamp>-soak.csv; then bench/soak_plot.py draws the PNG and computes
# the slopes after the warm-up (bench/results/<stamp>-soak.png, -soak.md).
#
#   bench/soak.sh                                   # 5,000 clients, 30 minutes
#   CLIENTS=500 DURATION=120 bench/soak.sh          # a short check
#
# Environment (all optional):
#   CLIENTS      client slots                         (default 5000)
#   DURATION     seconds of churn                     (default 1800)
#   RATE         publishes/s, each to a random room   (default 100)
#   ROOMS        rooms the clients spread over        (default 100)
#   LIFETIME     mean seconds a client stays           (default 60)
#   SLOW_FRAC    share of slow readers                 (default 0.05)
#   WARMUP       seconds left out of the slope fit     (default 300)
#   INTERVAL     seconds between samples               (default 10)
#   RESULTS_DIR  where the CSV, PNG and .md go         (default bench/results)
#   NO_BUILD=1   use what is already built
set -uo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
CLIENTS="${CLIENTS:-5000}"
DURATION="${DURATION:-1800}"
RATE="${RATE:-100}"
ROOMS="${ROOMS:-100}"
LIFETIME="${LIFETIME:-60}"
SLOW_FRAC="${SLOW_FRAC:-0.05}"
WARMUP="${WARMUP:-300}"
INTERVAL="${INTERVAL:-10}"
RESULTS_DIR="${RESULTS_DIR:-$BENCH/results}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$RESULTS_DIR/$STAMP-soak"
LOGS="${TMPDIR:-/tmp}/siohub-soak-$STAMP"
mkdir -p "$RESULTS_DIR" "$LOGS"
say() { echo "soak: $*" >&2; }

if [ "${NO_BUILD:-0}" != 1 ]; then
  (cd "$ROOT" && cargo build --release --locked --bin siohub) || exit 1
  (cd "$BENCH" && cargo build --release --locked -p loadgen) || exit 1
fi
SIOHUB="$ROOT/target/release/siohub"
LOADGEN="$BENCH/target/release/loadgen"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

PORT="$("$LOADGEN" free-port)"
SOCKETIO_LOGGER_LEVEL="${SOCKETIO_LOGGER_LEVEL:-warn}" "$SIOHUB" --host 127.0.0.1 --port "$PORT" \
  >"$LOGS/siohub.log" 2>&1 &
PID=$!
LG_PID=""
cleanup() {
  [ -n "$LG_PID" ] && kill "$LG_PID" 2>/dev/null
  kill -TERM "$PID" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$PID" 2>/dev/null
}
trap cleanup EXIT
"$LOADGEN" ready --addr "127.0.0.1:$PORT" --connect-timeout 20 || { say "siohub did not start"; exit 1; }
say "siohub pid $PID on port $PORT, logs in $LOGS"

# One sample: the metric's value summed over its series (label sets), or its maximum.
metric_sum() { awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $NF } END { printf "%d", s }' "$2"; }
metric_max() { awk -v m="$1" 'index($1, m "{") == 1 { if ($NF > x) x = $NF } END { printf "%d", x }' "$2"; }

sample() { # t → one CSV line
  local page="$LOGS/metrics.txt" rss fds
  curl -sf "http://127.0.0.1:$PORT/metrics" >"$page" || : >"$page"
  rss="$(awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status" 2>/dev/null)"
  fds="$(find "/proc/$PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
  echo "$1,${rss:-0},$fds,$(metric_sum siohub_connections "$page"),$(metric_sum siohub_namespace_sockets "$page"),$(metric_sum siohub_rooms "$page"),$(metric_sum siohub_actor_mailbox_depth "$page"),$(metric_max siohub_actor_mailbox_depth "$page"),$(metric_sum siohub_dropped_events_total "$page"),$(metric_sum siohub_slow_consumer_disconnects_total "$page"),$(metric_sum siohub_events_delivered_total "$page")"
}

echo "t_s,rss_kb,fds,sessions,sockets,rooms,mailbox_depth_sum,mailbox_depth_max,dropped_events_total,slow_consumer_disconnects_total,events_delivered_total" >"$OUT.csv"
sample 0 >>"$OUT.csv"
"$LOADGEN" run --scenario soak --addr "127.0.0.1:$PORT" --pid "$PID" --label siohub \
  --clients "$CLIENTS" --duration "$DURATION" --rate "$RATE" --rooms "$ROOMS" \
  --lifetime "$LIFETIME" --slow-frac "$SLOW_FRAC" --room soak \
  >"$OUT.json" 2>"$LOGS/loadgen.log" &
LG_PID=$!
T0=$(date +%s)
while kill -0 "$LG_PID" 2>/dev/null; do
  sleep "$INTERVAL"
  sample "$(( $(date +%s) - T0 ))" >>"$OUT.csv"
done
wait "$LG_PID"; LG_RC=$?
LG_PID=""
# After the clients left: the server back near its idle state?
for _ in 1 2 3; do sleep "$INTERVAL"; sample "$(( $(date +%s) - T0 ))" >>"$OUT.csv"; done
say "loadgen exit $LG_RC; $(tail -1 "$LOGS/loadgen.log")"
PANICS="$(grep -c -i 'panick' "$LOGS/siohub.log")"
say "panics in the server log: $PANICS"

PY="$BENCH/.venv/bin/python"
if [ ! -x "$PY" ]; then
  python3 -m venv "$BENCH/.venv" && "$BENCH/.venv/bin/pip" install -q matplotlib || exit 1
fi
"$PY" "$BENCH/soak_plot.py" "$OUT.csv" --warmup "$WARMUP" --clients-end "$DURATION" \
  --report "$OUT.json" --panics "$PANICS" \
  --command "CLIENTS=$CLIENTS DURATION=$DURATION RATE=$RATE ROOMS=$ROOMS LIFETIME=$LIFETIME SLOW_FRAC=$SLOW_FRAC bench/soak.sh" \
  >"$OUT.md" || exit 1
cat "$OUT.md"
exit "$LG_RC"
