#!/usr/bin/env bash
# siohub's side-by-side benchmark: one command builds what it needs, runs every scenario
# against siohub, Node socket.io 4.8.4 and socketioxide (alternating servers per case, each
# started fresh on a free port and stopped after), prints a Markdown table and writes it and
# the raw JSON to bench/results/<timestamp>.md and .json.
#
#   bench/run.sh                                  # full run (~10-15 min)
#   QUICK=1 bench/run.sh                          # smoke run: ~100 clients, seconds per case
#   SCENARIOS="fanout idle" SERVERS="siohub node" bench/run.sh
#
# Environment (all optional):
#   QUICK=1            small sizes
#   SCENARIOS          any of: fanout idle ramp echo mixed          (default: all)
#   SERVERS            any of: siohub node socketioxide             (default: all)
#   FANOUT_SIZES       subscriber counts for fanout                 (default "1000 5000"; quick "100")
#   FANOUT_RATES       publishes/s for fanout, "sat" = saturation   (default "200 2000 sat")
#   DURATION           seconds of publishing/pinging per case       (default 10; quick 3)
#   IDLE_CONNS         connections for idle and ramp                (default 8000; quick 200)
#   ECHO_CLIENTS       clients for echo                             (default 1000; quick 100)
#   MIXED_SIZE         subscribers for mixed (5% on polling)        (default 1000; quick 100)
#   RAMP_ROUNDS        rounds of ramp, servers alternating; the table shows each
#                      server's median round and lists every round (default 5; quick 1)
#   LOADGEN_ARGS       extra options for every loadgen run (see `loadgen help`)
#   RESULTS_DIR        where the .md and .json go                   (default bench/results)
#   NO_BUILD=1         use what is already built
# Exit status: 0 when every run completed, 1 when one failed (the table still prints).
set -uo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
QUICK="${QUICK:-0}"
SCENARIOS="${SCENARIOS:-fanout idle ramp echo mixed}"
SERVERS="${SERVERS:-siohub node socketioxide}"
if [ "$QUICK" = 1 ]; then
  FANOUT_SIZES="${FANOUT_SIZES:-100}"; DURATION="${DURATION:-3}"; IDLE_CONNS="${IDLE_CONNS:-200}"
  ECHO_CLIENTS="${ECHO_CLIENTS:-100}"; MIXED_SIZE="${MIXED_SIZE:-100}"; DRAIN="--drain-max 10 --drain-idle 2"
  RAMP_ROUNDS="${RAMP_ROUNDS:-1}"
  SETTLE="--settle 1"
else
  FANOUT_SIZES="${FANOUT_SIZES:-1000 5000}"; DURATION="${DURATION:-10}"; IDLE_CONNS="${IDLE_CONNS:-8000}"
  ECHO_CLIENTS="${ECHO_CLIENTS:-1000}"; MIXED_SIZE="${MIXED_SIZE:-1000}"; DRAIN="--drain-max 30 --drain-idle 3"
  RAMP_ROUNDS="${RAMP_ROUNDS:-5}"
  SETTLE="--settle 2"
fi
FANOUT_RATES="${FANOUT_RATES:-200 2000 sat}"
LOADGEN_ARGS="${LOADGEN_ARGS:-}"

say() { echo "bench: $*" >&2; }
want() { case " $2 " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

for s in $SERVERS; do
  want "$s" "siohub node socketioxide" || { say "unknown server '$s' (siohub node socketioxide)"; exit 2; }
done
for s in $SCENARIOS; do
  want "$s" "fanout idle ramp echo mixed" || { say "unknown scenario '$s' (fanout idle ramp echo mixed)"; exit 2; }
done

# 8,000 connections need 8,000 descriptors on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---- build -------------------------------------------------------------------------------
LOADGEN="$BENCH/target/release/loadgen"
SIOXIDE="$BENCH/target/release/socketioxide-peer"
SIOHUB="$ROOT/target/release/siohub"
if [ "${NO_BUILD:-0}" != 1 ]; then
  say "building the load generator"
  pkgs=(-p loadgen)
  want socketioxide "$SERVERS" && pkgs+=(-p socketioxide-peer)
  (cd "$BENCH" && cargo build --release --locked "${pkgs[@]}" >&2) || { say "build failed"; exit 1; }
  if want siohub "$SERVERS"; then
    say "building siohub (release)"
    (cd "$ROOT" && cargo build --release --locked --bin siohub >&2) || { say "siohub build failed"; exit 1; }
  fi
  if want node "$SERVERS"; then
    say "installing the node peer (npm ci)"
    (cd "$BENCH/peers/node" && npm ci --no-audit --no-fund --loglevel=error >&2) || { say "npm ci failed"; exit 1; }
  fi
fi

# ---- snapshot ----------------------------------------------------------------------------
# Run copies of the binaries, so a rebuild elsewhere during the run cannot change them.
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
LOGS="${TMPDIR:-/tmp}/siohub-bench-$STAMP"
mkdir -p "$LOGS/bin"
snapshot() { # variable-name path
  [ -x "$2" ] || { say "missing $2 (run without NO_BUILD=1)"; exit 1; }
  cp "$2" "$LOGS/bin/" && printf -v "$1" '%s' "$LOGS/bin/$(basename "$2")"
}
snapshot LOADGEN "$LOADGEN"
want socketioxide "$SERVERS" && snapshot SIOXIDE "$SIOXIDE"
want siohub "$SERVERS" && snapshot SIOHUB "$SIOHUB"

# ---- cases -------------------------------------------------------------------------------
# One line per case: "<case name> <loadgen options>".
CASES=()
short() { local n=$1; if [ "$n" -ge 1000 ] && [ $((n % 1000)) = 0 ]; then echo "$((n / 1000))k"; else echo "$n"; fi; }
if want fanout "$SCENARIOS"; then
  for size in $FANOUT_SIZES; do
    for rate in $FANOUT_RATES; do
      if [ "$rate" = sat ]; then r="--saturation"; else r="--rate $rate"; fi
      CASES+=("fanout-$(short "$size")-${rate/#[0-9]*/r$rate} --scenario fanout --clients $size $r --duration $DURATION $DRAIN")
    done
  done
fi
want idle "$SCENARIOS" && CASES+=("idle-$(short "$IDLE_CONNS") --scenario idle --clients $IDLE_CONNS $SETTLE")
want ramp "$SCENARIOS" && CASES+=("ramp-$(short "$IDLE_CONNS") --scenario ramp --clients $IDLE_CONNS")
want echo "$SCENARIOS" && CASES+=("echo-$(short "$ECHO_CLIENTS") --scenario echo --clients $ECHO_CLIENTS --echo-rate 10 --duration $DURATION")
want mixed "$SCENARIOS" && CASES+=("mixed-$(short "$MIXED_SIZE")-r200 --scenario mixed --clients $MIXED_SIZE --rate 200 --polling-frac 0.05 --duration $DURATION $DRAIN")

# ---- servers -----------------------------------------------------------------------------
RESULTS_DIR="${RESULTS_DIR:-$BENCH/results}"
mkdir -p "$LOGS" "$RESULTS_DIR"
RUNS="$LOGS/runs.jsonl"
: >"$RUNS"
SERVER_PID=""

start_server() { # name port log
  case "$1" in
    siohub) SOCKETIO_LOGGER_LEVEL="${SOCKETIO_LOGGER_LEVEL:-warn}" "$SIOHUB" --host 127.0.0.1 --port "$2" >"$3" 2>&1 & ;;
    node) node "$BENCH/peers/node/server.mjs" "$2" >"$3" 2>&1 & ;;
    socketioxide) "$SIOXIDE" "$2" >"$3" 2>&1 & ;;
  esac
  SERVER_PID=$!
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill "$SERVER_PID" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=""
}
trap 'stop_server; rm -rf "$LOGS/bin"; exit 130' INT TERM

FAILED=0
record_failure() { # case scenario server message
  FAILED=1
  local msg
  msg="$(printf '%s' "$4" | tr -d '\\"' | tr -cd '[:print:]')"
  printf '{"case":"%s","scenario":"%s","server":"%s","error":"%s"}\n' "$1" "$2" "$3" "$msg" >>"$RUNS"
}

say "${#CASES[@]} cases x servers: $SERVERS; logs in $LOGS"
for spec in "${CASES[@]}"; do
  read -r case_name args <<<"$spec"
  scenario="$(sed -E 's/.*--scenario ([a-z]+).*/\1/' <<<"$args")"
  # A ramp lasts well under a second: one sample is mostly noise, so it runs in rounds
  # (servers alternating within each) and the table shows each server's median round.
  rounds=1
  [ "$scenario" = ramp ] && rounds="$RAMP_ROUNDS"
  for round in $(seq "$rounds"); do
  for server in $SERVERS; do
    port="$("$LOADGEN" free-port)" || { say "no free port"; exit 1; }
    log="$LOGS/$server-$case_name.log"
    start_server "$server" "$port" "$log"
    if ! "$LOADGEN" ready --addr "127.0.0.1:$port" --connect-timeout 20 2>>"$log"; then
      say "$server did not start for $case_name; see $log"; tail -5 "$log" >&2
      record_failure "$case_name" "$scenario" "$server" "server did not start"
      stop_server
      continue
    fi
    say "$case_name on $server (port $port, pid $SERVER_PID$([ "$rounds" -gt 1 ] && echo ", round $round of $rounds"))"
    extra=()
    # siohub counts what it drops; its /metrics deltas go into the report.
    [ "$server" = siohub ] && extra=(--metrics-url "http://127.0.0.1:$port/metrics")
    # shellcheck disable=SC2086
    if out="$("$LOADGEN" run $args $LOADGEN_ARGS --addr "127.0.0.1:$port" --pid "$SERVER_PID" \
                 --label "$server" --case "$case_name" "${extra[@]}" 2>>"$log")" && [ -n "$out" ]; then
      echo "$out" >>"$RUNS"
    else
      say "$case_name on $server failed; see $log"; tail -3 "$log" >&2
      record_failure "$case_name" "$scenario" "$server" "$(tail -1 "$log")"
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || say "$server exited during $case_name; see $log"
    stop_server
  done
  done
done

# ---- report ------------------------------------------------------------------------------
OUT="$RESULTS_DIR/$STAMP"
siohub_rev="$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
sioxide_ver="$(grep -A1 '^name = "socketioxide"$' "$BENCH/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')"
node_ver="$(node --version 2>/dev/null || echo none)"
sio_ver="$(grep -A1 '"node_modules/socket.io": {' "$BENCH/peers/node/package-lock.json" | sed -n 's/.*"version": "\(.*\)".*/\1/p')"
{
  printf '{"meta":{"started":"%s","quick":%s,"siohub":"%s","socketioxide":"%s","node":"%s","socket.io":"%s","cpus":%s,"servers":"%s"},"runs":[\n' \
    "$STAMP" "$([ "$QUICK" = 1 ] && echo true || echo false)" "$siohub_rev" "$sioxide_ver" "$node_ver" "$sio_ver" "$(nproc)" "$SERVERS"
  sed '$!s/$/,/' "$RUNS"
  printf ']}\n'
} >"$OUT.json"
{
  echo "# siohub benchmark $STAMP"
  echo
  echo "siohub $siohub_rev, socket.io $sio_ver on node $node_ver, socketioxide $sioxide_ver;" \
       "$(nproc) cores, generator on the same machine$([ "$QUICK" = 1 ] && echo ', QUICK sizes')."
  echo "Ratios are siohub's figure over the peer's: above 1 is better for siohub on ↑ rows, below 1 on ↓ rows."
  echo
  "$LOADGEN" table "$OUT.json"
  if grep -q '"error"' "$RUNS"; then
    echo
    echo "Failed runs:"
    grep '"error"' "$RUNS" | sed 's/^/    /'
  fi
} >"$OUT.md"
rm -rf "$LOGS/bin"
cat "$OUT.md"
say "wrote $OUT.md and $OUT.json"
exit "$FAILED"
