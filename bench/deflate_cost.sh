#!/usr/bin/env bash
# The CPU cost of permessage-deflate per delivered message (issue 13): siohub's release
# binary with per_message_deflate off and on, the same fan-out each time
# (tests/clients/node/deflate_fanout.mjs: SUBS subscribers, MSGS events of SIZE bytes into
# one room), the server's user+system CPU time over the publishing, read from /proc.
#
#   bench/deflate_cost.sh            # SUBS=200 MSGS=1000 SIZE=2048 ROUNDS=3
#   SERVERS="siohub node" bench/deflate_cost.sh   # Node socket.io 4.8.4 too (bench/peers/node,
#                                    # perMessageDeflate {threshold: 1024} when on; needs its
#                                    # node_modules: npm ci in bench/peers/node)
#
# Prints one line per run: deflate, delivered, server CPU ms, µs per delivered message,
# wire bytes per delivered message (what the subscribers read, frame headers included).
set -euo pipefail
cd "$(dirname "$0")/.."
SUBS=${SUBS:-200} MSGS=${MSGS:-1000} SIZE=${SIZE:-2048} ROUNDS=${ROUNDS:-3}
SERVERS=${SERVERS:-siohub}
BIN=${BIN:-target/release/siohub}
TICKS=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() {
  local name=$1 deflate=$2 port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  if [ "$name" = node ]; then
    PER_MESSAGE_DEFLATE=$([ "$deflate" = true ] && echo 1 || echo 0) \
      node bench/peers/node/server.mjs "$port" >/dev/null 2>&1 &
  else
    SOCKETIO_ENGINE__PER_MESSAGE_DEFLATE=$deflate SOCKETIO_SERVER__PORT=$port \
      SOCKETIO_SERVER__HOST=127.0.0.1 SOCKETIO_LOGGING__LEVEL=warn "$BIN" >/dev/null 2>&1 &
  fi
  local server=$!
  for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$port/socket.io/?EIO=4&transport=polling" >/dev/null && break
    sleep 0.1
  done
  coproc DRIVER { node tests/clients/node/deflate_fanout.mjs "http://127.0.0.1:$port" "$SUBS" "$MSGS" "$SIZE" "$deflate"; }
  read -r _ready <&"${DRIVER[0]}"
  local start end result
  start=$(cpu_ticks $server)
  echo go >&"${DRIVER[1]}"
  read -r result <&"${DRIVER[0]}"
  end=$(cpu_ticks $server)
  kill $server; wait $server 2>/dev/null || true
  python3 - "$name" "$deflate" "$result" "$start" "$end" "$TICKS" <<'PY'
import json, sys
name, deflate, result = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
start, end, ticks = map(int, sys.argv[4:])
ms = (end - start) * 1000 / ticks
n = result["delivered"]
print(f"{name:6} deflate={deflate:5} delivered={n} cpu_ms={ms:.0f} us_per_msg={ms*1000/n:.2f} "
      f"wire_bytes_per_msg={result['wireBytes']/n:.0f} ext={result['extensions']!r}")
PY
}

for _ in $(seq "$ROUNDS"); do
  for name in $SERVERS; do run "$name" false; run "$name" true; done
done
