#!/usr/bin/env bash
# The benchmark's check in the test suite: counts, not speed. Builds the load generator
# (debug), runs its unit tests, then runs every scenario briefly against siohub with a
# few clients and checks that every connection, message and ack arrived.
#
#   bench/smoke.sh [path to a siohub binary]      (default: target/debug/siohub, built here)
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
SIOHUB="${1:-}"
if [ -z "$SIOHUB" ]; then
  (cd "$ROOT" && cargo build --bin siohub)
  SIOHUB="$ROOT/target/debug/siohub"
fi
(cd "$BENCH" && cargo test --locked -p loadgen && cargo build --locked -p loadgen)
LOADGEN="$BENCH/target/debug/loadgen"

PORT="$("$LOADGEN" free-port)"
LOG="$(mktemp)"
SOCKETIO_LOGGER_LEVEL=warn "$SIOHUB" --host 127.0.0.1 --port "$PORT" >"$LOG" 2>&1 &
PID=$!
trap 'kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; rm -f "$LOG"' EXIT
"$LOADGEN" ready --addr "127.0.0.1:$PORT" --connect-timeout 20

check() { # scenario, then loadgen options; the python expression must hold for its report
  local scenario=$1 condition=$2
  shift 2
  local report
  report="$("$LOADGEN" run --scenario "$scenario" --addr "127.0.0.1:$PORT" --pid "$PID" \
    --case "smoke-$scenario" --label siohub "$@")"
  if python3 -c "import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if ($condition) else 1)" "$report"; then
    echo "bench smoke: $scenario ok"
  else
    echo "bench smoke: $scenario failed ($condition): $report" >&2
    exit 1
  fi
}

check fanout 'r["received"] == r["expected"] > 0' --clients 20 --rate 50 --duration 1 --drain-max 10 --drain-idle 1
check idle 'r["connections"] == 30' --clients 30 --settle 0.2
check ramp 'r["connections"] == 30 and r["connect"]["failed"] == 0' --clients 30
check echo 'r["acked"] == r["sent"] > 0' --clients 10 --echo-rate 10 --duration 1
check mixed 'r["received"] == r["expected"] > 0' --clients 20 --rate 20 --polling-frac 0.25 --duration 1 --drain-max 10 --drain-idle 1
echo "bench smoke: all scenarios ok"
