#!/usr/bin/env bash
# A join storm with presence events on (issue 16): N websocket clients connect to siohub's
# `/`, then all join one room at once; each counts the `presence` events it gets until none
# has come for a few seconds. Run once with the default coalescing (rooms from
# presence_batch_above = 100 members batch their joins per presence_batch_ms = 500) and,
# for comparison at a size where it is still affordable, with batching off (one event per
# join to each member present: N(N+1)/2 events at least). Markdown on stdout and in
# bench/results/<stamp>-presence.md, raw runs beside it (.jsonl).
#
#   bench/presence_storm.sh                  5,000 members batched, 1,000 both ways
#   SIZES="5000" UNBATCHED_SIZES="" bench/presence_storm.sh
#   QUICK=1 bench/presence_storm.sh          500 batched, 200 both ways
#   NO_BUILD=1                               use what is built already
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
if [ "${QUICK:-0}" = 1 ]; then d_sizes="200 500" d_unbatched="200"; else d_sizes="1000 5000" d_unbatched="1000"; fi
SIZES="${SIZES:-$d_sizes}"
UNBATCHED_SIZES="${UNBATCHED_SIZES-$d_unbatched}"
say() { echo "presence_storm: $*" >&2; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if [ "${NO_BUILD:-0}" != 1 ]; then
  say "building loadgen and siohub (release)"
  (cd "$BENCH" && cargo build --release --locked -p loadgen >&2)
  (cd "$ROOT" && cargo build --release --locked --bin siohub >&2)
fi
LOADGEN="$BENCH/target/release/loadgen"
SIOHUB="$ROOT/target/release/siohub"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
LOGS="${TMPDIR:-/tmp}/siohub-presence-$STAMP"
mkdir -p "$LOGS" "$BENCH/results"
RUNS="$BENCH/results/$STAMP-presence.jsonl"
: >"$RUNS"

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

run() { # members batch_above label
  local config="$LOGS/$3.toml" port log out
  printf '[[namespaces]]\nname = "/"\npresence_events = true\npresence_batch_above = %s\n' "$2" >"$config"
  port="$("$LOADGEN" free-port)"
  log="$LOGS/$3.log"
  SOCKETIO_LOGGER_LEVEL=warn "$SIOHUB" --config "$config" --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
  SERVER_PID=$!
  "$LOADGEN" ready --addr "127.0.0.1:$port" --connect-timeout 20 2>>"$log"
  say "$3: $1 members, presence_batch_above = $2 (port $port)"
  out="$("$LOADGEN" run --scenario presence --clients "$1" --addr "127.0.0.1:$port" \
    --pid "$SERVER_PID" --label "siohub" --case "$3" --drain-idle 3 --drain-max 120 --settle 1 2>>"$log")" \
    || { say "run failed; see $log"; tail -3 "$log" >&2; stop_server; exit 1; }
  echo "$out" >>"$RUNS"
  stop_server
}

for n in $UNBATCHED_SIZES; do run "$n" 1000000000 "presence-$n-unbatched"; done
for n in $SIZES; do run "$n" 100 "presence-$n-batched"; done

OUT="$BENCH/results/$STAMP-presence.md"
rev="$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
python3 - "$RUNS" "$rev" "$(nproc)" >"$OUT" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rev, cpus = sys.argv[2:]
print(f"# Join storm with presence events ({rev})\n")
print(f"N websocket clients on `/` join one room at once; presence_events = true; {cpus} cores shared")
print("with the generator. `events` = presence events the clients received (what the server sent);")
print("`naive` = one event per join to each member present: at least N(N+1)/2 (each joiner told of")
print("itself), up to N² when joins outrun the events (an event goes to the members present when it")
print("is sent). Time from the first join sent to the last join ack, and to the last presence event.")
print("Batched runs send rooms below presence_batch_above (100) one event per join first.\n")
print("| case | members | events | naive | events/member | entries listed | bytes | joins done s | last event s | join p99 ms | server CPU s |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in runs:
    cpu = (r.get("server_phase") or {}).get("cpu_s", "")
    print(f"| {r['case']} | {r['members']} | {r['presence_events']:,} | {r['one_event_per_join_per_member']:,} | "
          f"{r['events_per_member']} | {r['presence_entries']:,} | {r['presence_bytes']:,} | {r['join_seconds']} | "
          f"{r['seconds_to_last_event']} | {r['join_latency_ms'].get('p99', '')} | {cpu} |")
PY
cat "$OUT"
say "wrote $OUT (raw runs in $RUNS, logs in $LOGS)"
