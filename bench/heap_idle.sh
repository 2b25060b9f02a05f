#!/bin/bash
# heap_idle.sh BIN OUTPREFIX [clients]: siohub BIN under heaptrack, N idle websocket
# connections (loadgen's idle scenario), then a clean stop. Writes OUTPREFIX.zst (the
# profile), .json (loadgen's report) and .log. Then, for the peak per allocation site:
#   heaptrack_print -f OUTPREFIX.zst -F OUTPREFIX.flame --flamegraph-cost-type peak
# (see bench/results/20261205T1505Z-idle-budget.md). Quotes no timing.
set -u
BIN=$1; OUT=$2; N=${3:-8000}
ulimit -n "$(ulimit -Hn)"
LG="$(cd "$(dirname "$0")" && pwd)/target/release/loadgen"
PORT=$($LG free-port)
SOCKETIO_LOGGER_LEVEL=warn heaptrack -o "$OUT" "$BIN" --host 127.0.0.1 --port $PORT > $OUT.log 2>&1 &
HT=$!
sleep 1
$LG ready --addr 127.0.0.1:$PORT --connect-timeout 60 || { echo notready; }
SPID=$(pgrep -P $HT -f "$BIN" | head -1); [ -z "$SPID" ] && SPID=$(pgrep -f "^$BIN --host 127.0.0.1 --port $PORT" | head -1)
echo "server pid $SPID"
$LG run --scenario idle --clients $N --addr 127.0.0.1:$PORT --pid $SPID --label siohub --case idle --settle 12 --connect-timeout 60 > $OUT.json 2>$OUT.lg.err
kill -TERM $SPID; wait $HT
