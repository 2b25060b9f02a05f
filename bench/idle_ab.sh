#!/bin/bash
# idle_ab.sh ROUNDS BIN...: RSS per idle websocket connection (loadgen's idle scenario,
# IDLE_CONNS connections, settle 2 s as in run.sh) for each siohub BIN, the binaries
# alternating within each round, every server started fresh. Prints one line per run:
# round, binary, KiB per connection, RSS before and after (KiB). Run it with nothing else
# busy on the machine: it is a measurement.
set -u
ROUNDS=$1; shift
N=${IDLE_CONNS:-8000}
ulimit -n "$(ulimit -Hn)"
LG="$(cd "$(dirname "$0")" && pwd)/target/release/loadgen"
OUT=$(mktemp -d)
for r in $(seq 1 "$ROUNDS"); do
  for bin in "$@"; do
    port=$($LG free-port)
    SOCKETIO_LOGGER_LEVEL=warn "$bin" --host 127.0.0.1 --port "$port" >"$OUT/server.log" 2>&1 &
    pid=$!
    $LG ready --addr 127.0.0.1:$port --connect-timeout 60 >/dev/null || echo "not ready: $bin"
    $LG run --scenario idle --clients "$N" --addr 127.0.0.1:$port --pid $pid --label x \
      --case idle --settle 2 --connect-timeout 60 >"$OUT/run.json" 2>"$OUT/run.err"
    kill -TERM $pid; wait $pid 2>/dev/null
    python3 - "$r" "$bin" "$OUT/run.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[3]))
d = d["runs"][0] if "runs" in d else d
p = d["rss_per_conn"]
print(f"round {sys.argv[1]} {sys.argv[2]} {p['kib_per_conn']:.3f} KiB/conn  before {p['rss_before_kb']} after {p['rss_after_kb']}  connected {d.get('connections')}")
PY
  done
done
rm -rf "$OUT"
