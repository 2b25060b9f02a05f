#!/bin/bash
# ramp_threads.sh ROUNDS BIN...: task-clock per thread (ms) of a fresh server over one
# ramp of N websocket connections (loadgen ramp), binaries alternating per round.
set -u
ROUNDS=$1; shift
N=${N:-8000}
ulimit -n "$(ulimit -Hn)"
LG="$(cd "$(dirname "$0")" && pwd)/target/release/loadgen"
for r in $(seq 1 "$ROUNDS"); do
  for bin in "$@"; do
    port=$($LG free-port)
    SOCKETIO_LOGGER_LEVEL=warn "$bin" --host 127.0.0.1 --port "$port" >/tmp/rt-server.log 2>&1 &
    pid=$!
    $LG ready --addr 127.0.0.1:$port --connect-timeout 60 >/dev/null || echo "not ready: $bin"
    sleep 0.5
    perf stat --per-thread -e task-clock -p $pid -x, -o /tmp/rt-stat.csv &
    ps_=$!
    sleep 0.2
    $LG run --scenario ramp --clients "$N" --addr 127.0.0.1:$port --pid $pid --label x --case ramp --connect-timeout 60 >/tmp/rt-run.json 2>/dev/null
    kill -INT $ps_; wait $ps_
    kill -TERM $pid; wait $pid 2>/dev/null
    python3 - "$r" "$bin" "$pid" <<'PY'
import sys, json
rows=[]
for l in open("/tmp/rt-stat.csv"):
    p=l.strip().split(",")
    if len(p)<3 or "task-clock" not in l: continue
    name=p[0]; ms=float(p[1]) if p[1] not in ("<not counted>","") else 0.0
    rows.append((name,ms))
d=json.load(open("/tmp/rt-run.json")); d=d["runs"][0] if "runs" in d else d
tot=sum(ms for _,ms in rows)
tids=sorted(rows,key=lambda x:int(x[0].rsplit("-",1)[1]))
print(f"round {sys.argv[1]} {sys.argv[2].split('/')[-1]:22s} conn/s {d['connect']['conns_per_s']:8.0f} cpu_s {d['server_phase']['cpu_s']:.2f} perf total {tot:6.1f} ms: " + " ".join(f"{ms:6.1f}" for _,ms in tids))
PY
  done
done
