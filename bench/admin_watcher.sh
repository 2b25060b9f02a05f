#!/usr/bin/env bash
# What one /admin watcher costs siohub's fan-out: the same fanout case run with no watcher
# and with one (a socket on /admin as the official admin UI, which gets every per-socket
# event the Admin actor forwards, and server_stats), alternating within each round, each
# run on a fresh server. Reports delivered msgs/s of each run and the ratio watched/none
# (goal: at least 0.95), as Markdown on stdout and in bench/results/<stamp>-admin-watcher.md.
#
#   bench/admin_watcher.sh                 1,000 subscribers, 2,000 publishes/s, 10 s, 3 rounds
#   QUICK=1 bench/admin_watcher.sh         100 subscribers, 200/s, 3 s, 1 round
#   SIZE=5000 RATE=sat ROUNDS=5 bench/admin_watcher.sh
#   NO_BUILD=1                             use what is built already
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
QUICK="${QUICK:-0}"
if [ "$QUICK" = 1 ]; then d_size=100 d_rate=200 d_dur=3 d_rounds=1; else d_size=1000 d_rate=2000 d_dur=10 d_rounds=3; fi
SIZE="${SIZE:-$d_size}"
RATE="${RATE:-$d_rate}"
DURATION="${DURATION:-$d_dur}"
ROUNDS="${ROUNDS:-$d_rounds}"
say() { echo "admin_watcher: $*" >&2; }

if [ "${NO_BUILD:-0}" != 1 ]; then
  say "building loadgen and siohub (release)"
  (cd "$BENCH" && cargo build --release --locked -p loadgen >&2)
  (cd "$ROOT" && cargo build --release --locked --bin siohub >&2)
fi
LOADGEN="$BENCH/target/release/loadgen"
SIOHUB="$ROOT/target/release/siohub"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
LOGS="${TMPDIR:-/tmp}/siohub-admin-watcher-$STAMP"
mkdir -p "$LOGS" "$BENCH/results"
RUNS="$LOGS/runs.jsonl"
: >"$RUNS"
if [ "$RATE" = sat ]; then rate_args=(--saturation); else rate_args=(--rate "$RATE"); fi

SERVER_PID=""
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
trap 'stop_server; exit 130' INT TERM

for round in $(seq "$ROUNDS"); do
  for watchers in 0 1; do
    port="$("$LOADGEN" free-port)"
    log="$LOGS/round$round-w$watchers.log"
    # Both runs let /admin in without credentials: the servers differ only by the watcher.
    SOCKETIO_API__INSECURE=true SOCKETIO_LOGGER_LEVEL=warn \
      "$SIOHUB" --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
    SERVER_PID=$!
    "$LOADGEN" ready --addr "127.0.0.1:$port" --connect-timeout 20 2>>"$log"
    say "round $round of $ROUNDS, $watchers watcher(s) (port $port)"
    out="$("$LOADGEN" run --scenario fanout --clients "$SIZE" "${rate_args[@]}" --duration "$DURATION" \
      --admin-watchers "$watchers" --addr "127.0.0.1:$port" --pid "$SERVER_PID" \
      --label "siohub-w$watchers" --case "fanout-admin-w$watchers" 2>>"$log")" \
      || { say "run failed; see $log"; tail -3 "$log" >&2; stop_server; exit 1; }
    echo "$out" >>"$RUNS"
    stop_server
  done
done

OUT="$BENCH/results/$STAMP-admin-watcher.md"
rev="$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
python3 - "$RUNS" "$rev" "$SIZE" "$RATE" "$DURATION" "$(nproc)" >"$OUT" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rev, size, rate, duration, cpus = sys.argv[2:]
none = [r for r in runs if r["params"]["admin_watchers"] == 0]
watched = [r for r in runs if r["params"]["admin_watchers"] == 1]
print(f"# One /admin watcher's cost to fan-out ({rev})\n")
print(f"fanout, {size} subscribers, rate {rate}, {duration} s per run; {cpus} cores, generator on the same machine.")
print("Each round runs both on fresh servers, one after the other.\n")
print("| round | delivered msgs/s, no watcher | with one watcher | ratio | p99 ms (none / watched) | loss (none / watched) |")
print("|---|---|---|---|---|---|")
ratios = []
for i, (a, b) in enumerate(zip(none, watched), 1):
    x, y = a["delivered_msgs_per_s"], b["delivered_msgs_per_s"]
    ratio = y / x if x else 0.0
    ratios.append(ratio)
    print(f"| {i} | {x:,.0f} | {y:,.0f} | {ratio:.3f} | {a['latency_ms'].get('p99', 0)} / {b['latency_ms'].get('p99', 0)} | {a['loss']} / {b['loss']} |")
if ratios:
    print(f"\nMedian ratio (watched / none): **{statistics.median(ratios):.3f}** (goal: at least 0.95).")
PY
cat "$OUT"
say "wrote $OUT (raw runs in $RUNS)"
