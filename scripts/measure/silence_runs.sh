#!/usr/bin/env bash
# Runs the Socket.IO conformance server binary (it binds port 3000, so each run gets its own
# network namespace: needs root for `unshare -n`) and 200 socket.io-client connections
# against it (tests/clients/node/many_messages.mjs), N times; one JSON summary per run:
# replies, disconnects and connect errors by reason, and the silent clients.
#   scripts/measure/silence_runs.sh <conformance-binary> [runs=10] [clients=200]
set -euo pipefail
bin=$1; runs=${2:-10}; clients=${3:-200}
script="$(cd "$(dirname "$0")/../.." && pwd)/tests/clients/node/many_messages.mjs"
for _ in $(seq 1 "$runs"); do
  unshare -n bash -c "
    ip link set lo up
    RUST_LOG=warn $bin >/dev/null 2>&1 &
    srv=\$!
    for _ in \$(seq 50); do (echo > /dev/tcp/127.0.0.1/3000) 2>/dev/null && break; sleep 0.1; done
    node $script http://127.0.0.1:3000 $clients 10000 || true
    kill \$srv; wait \$srv 2>/dev/null || true
  "
done
