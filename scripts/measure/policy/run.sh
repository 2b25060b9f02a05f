#!/usr/bin/env bash
# Before/after figures of issue 9 items 2 (forged publish into user:<id>), 11 (one socket
# flooding a slow backend with requests) and 10 (log lines a client can write).
# usage: scripts/measure/policy/run.sh <siohub binary> <publish|tasks|logs>
# Needs tests/clients/setup.sh (socket.io-client), python3 and curl.
set -u
bin=$1; item=$2; dir="$(cd "$(dirname "$0")" && pwd)"; out=${TMPDIR:-/tmp}
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
bport=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
python3 $dir/backend.py $bport & bpid=$!
SOCKETIO_AUTH__JWT_SECRET=measure-secret-0123456789abcdef0123456789 \
SOCKETIO_WEBHOOK__URL=http://127.0.0.1:$bport/hook SOCKETIO_WEBHOOK__TIMEOUT_MS=20000 \
SOCKETIO_LOGGING__LEVEL=info SOCKETIO_SERVER__WORKERS=2 \
  $bin --host 127.0.0.1 --port $port 2> $out/siohub-measure-stderr.$item.log > /dev/null & spid=$!
for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:$port/health && break; sleep 0.1; done
node $dir/measure.mjs $port $item
if [ "$item" = logs ]; then
  echo "stderr: $(wc -l < $out/siohub-measure-stderr.$item.log) lines, $(wc -c < $out/siohub-measure-stderr.$item.log) bytes;" \
       "lines starting with the forged text: $(grep -c '^\s*\[2026-12-01T00:00:00Z WARN  siohub\] forged' $out/siohub-measure-stderr.$item.log);" \
       "'unknown namespace' lines: $(grep -c 'unknown namespace' $out/siohub-measure-stderr.$item.log)"
fi
echo "siohub CPU s (user+sys): $(awk '{print ($14+$15)/100}' /proc/$spid/stat), RSS KiB: $(awk '/VmRSS/{print $2}' /proc/$spid/status)"
kill $spid $bpid; wait 2>/dev/null
