#!/usr/bin/env bash
# The benchmark's check in the test suite: counts, not speed. Builds the load generator
# (debug), runs its unit tests, then runs every scenario briefly against siohub with a
# few clients and checks that every connection, message and ack arrived (chat over 20
# rooms, polling, push through POST /api/v1/emit with a key, and a wrong key refused); then the msgpack
# and deflate modes on a second siohub (parser msgpack, per_message_deflate on): every
# message delivered, inflated and decoded; then the cluster scenario: two siohub nodes on
# a redis-server of its own (free port), subscribers half on each, the publisher on the
# first, every message delivered on both nodes.
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
WORK="$(mktemp -d)"
LOG="$WORK/siohub.log"
SOCKETIO_API__KEYS=smoke-key SOCKETIO_LOGGER_LEVEL=warn "$SIOHUB" --host 127.0.0.1 --port "$PORT" >"$LOG" 2>&1 &
PID=$!
PIDS=("$PID")
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
"$LOADGEN" ready --addr "127.0.0.1:$PORT" --connect-timeout 20

check() { # scenario, then loadgen options; the python expression must hold for its report
  local scenario=$1 condition=$2
  shift 2
  local report
  report="$("$LOADGEN" run --scenario "$scenario" --addr "${ADDR:-127.0.0.1:$PORT}" \
    --pid "${PID_LIST:-$PID}" --case "smoke-$scenario" --label siohub "$@")"
  if python3 -c "import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if ($condition) else 1)" "$report"; then
    echo "bench smoke: $scenario on ${ADDR:-127.0.0.1:$PORT} $* ok"
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
# chat: subscribers in 5 of 20 rooms, two publishers members of the rooms they publish to;
# every publish reaches its room's subscribers (the sender excluded), at a rate and at
# saturation.
check chat 'r["received"] == r["expected"] > 0 and r["ack_recipients"] == r["expected"] and r["chat"]["room_subscribers_min"] == 10' \
  --clients 40 --rooms 20 --rooms-per-client 5 --publishers 2 --rate 100 --duration 1 --drain-max 10 --drain-idle 1
check chat 'r["received"] == r["expected"] > 0' --clients 40 --rooms 20 --publishers 2 --saturation --duration 1 --drain-max 10 --drain-idle 1
# polling: every subscriber on long-polling, each message parsed as a real client does.
check polling 'r["received"] == r["expected"] > 0 and r["params"]["polling_subscribers"] == 20' \
  --clients 20 --rate 20 --duration 1 --client real --drain-max 10 --drain-idle 1
# push: POST /api/v1/emit with the server's key, at a rate and with 4 in flight; every
# request answered with its recipients, every event delivered.
check push 'r["received"] == r["expected"] > 0 and r["refused"] == 0 and r["acked"] == r["published"] and r["ack_recipients"] == r["expected"]' \
  --clients 10 --rate 50 --api-key smoke-key --duration 1 --drain-max 10 --drain-idle 1
check push 'r["received"] == r["expected"] > 0 and r["refused"] == 0 and r["push"]["in_flight"] == 4' \
  --clients 10 --saturation --window 4 --api-key smoke-key --client real --duration 1 --drain-max 10 --drain-idle 1
# ... and a wrong key is refused (401), every request counted as refused, nothing delivered.
check push 'r["refused"] == r["published"] > 0 and r["received"] == 0 and r["acked"] == 0' \
  --clients 5 --rate 20 --api-key wrong-key --duration 1 --drain-max 3 --drain-idle 1
# Deflate offered to a server that has it off: declined, plain frames.
check fanout 'r["received"] == r["expected"] > 0 and r["wire"]["deflate_subscribers"] == 0' --clients 20 --rate 50 --duration 1 --deflate --drain-max 10 --drain-idle 1

# The msgpack parser and permessage-deflate: a second siohub with both.
MPORT="$("$LOADGEN" free-port)"
SOCKETIO_SERVER__PARSER=msgpack SOCKETIO_ENGINE__PER_MESSAGE_DEFLATE=true SOCKETIO_LOGGER_LEVEL=warn \
  "$SIOHUB" --host 127.0.0.1 --port "$MPORT" >"$WORK/siohub-msgpack.log" 2>&1 &
PIDS+=($!)
MPID=$!
"$LOADGEN" ready --addr "127.0.0.1:$MPORT" --parser msgpack --connect-timeout 20
# 2,048-byte events (over the 1,024-byte threshold) arrive compressed: fewer bytes on the
# wire than their size, every one inflated and decoded.
ADDR="127.0.0.1:$MPORT" PID_LIST="$MPID" check fanout \
  'r["received"] == r["expected"] > 0 and r["wire"]["deflate_subscribers"] == 20 and r["wire"]["bytes_per_delivered_msg"] < 2048' \
  --clients 20 --rate 50 --duration 1 --parser msgpack --deflate --payload 2048 --padding ticks --drain-max 10 --drain-idle 1
ADDR="127.0.0.1:$MPORT" PID_LIST="$MPID" check fanout 'r["received"] == r["expected"] > 0' \
  --clients 20 --rate 50 --duration 1 --parser msgpack --drain-max 10 --drain-idle 1
ADDR="127.0.0.1:$MPORT" PID_LIST="$MPID" check echo 'r["acked"] == r["sent"] > 0' --clients 10 --echo-rate 10 --duration 1 --parser msgpack

# The cluster scenario: a Redis of its own and two more nodes on it.
command -v redis-server >/dev/null || { echo "bench smoke: redis-server missing (tests/clients/setup.sh installs it)" >&2; exit 1; }
RPORT="$("$LOADGEN" free-port)"
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
  --logfile "$WORK/redis.log" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ "$(redis-cli -p "$RPORT" ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
ADDR="" PID_LIST=""
for node in 1 2; do
  port="$("$LOADGEN" free-port)"
  SOCKETIO_ADAPTER__KIND=redis SOCKETIO_ADAPTER__REDIS_URL="redis://127.0.0.1:$RPORT" \
    SOCKETIO_LOGGER_LEVEL=warn "$SIOHUB" --host 127.0.0.1 --port "$port" >"$WORK/node$node.log" 2>&1 &
  PIDS+=($!)
  "$LOADGEN" ready --addr "127.0.0.1:$port" --connect-timeout 20
  ADDR="$ADDR${ADDR:+,}127.0.0.1:$port" PID_LIST="$PID_LIST${PID_LIST:+,}$!"
done
# Both nodes subscribed on Redis before the first publish, or node 2's half would miss it.
for _ in $(seq 100); do
  [ "$(redis-cli -p "$RPORT" CLIENT LIST | grep -cE ' (sub|psub)=[1-9]')" -ge 2 ] && break
  sleep 0.1
done
check fanout 'r["nodes"] == 2 and r["received"] == r["expected"] > 0' --clients 20 --rate 50 --duration 1 --drain-max 10 --drain-idle 1
echo "bench smoke: all scenarios ok"
