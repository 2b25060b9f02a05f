#!/usr/bin/env bash
# ab.sh ROUNDS CLIENT RATE SUBS BIN... : alternating fanout rounds, one line per run
R=$1; CL=$2; RATE=$3; SUBS=$4; shift 4
LG=/work/wt/fanout10/bench/target/release/loadgen
ulimit -n 20000
for r in $(seq 1 $R); do
 for b in "$@"; do
  port=$($LG free-port)
  SOCKETIO_LOGGER_LEVEL=warn $b --host 127.0.0.1 --port $port >>/tmp/fo10/srv-$(basename $b).log 2>&1 &
  pid=$!
  $LG ready --addr 127.0.0.1:$port >/dev/null 2>&1
  [ -n "$HUBNICE" ] && case $b in *nice*) ./hubnice.sh $pid $HUBNICE & ;; esac
  out=$($LG run --scenario fanout --clients $SUBS --rate $RATE --duration 10 --drain-max 30 --drain-idle 3 --addr 127.0.0.1:$port --pid $pid --client $CL --label $(basename $b) 2>/dev/null)
  kill $pid; wait $pid 2>/dev/null
  echo "$out" >> /tmp/fo10/raw.jsonl
  echo "$out" | python3 -c '
import json,sys
d=json.loads(sys.stdin.read())
def g(*ks):
  for k in ks:
    if k in d: return d[k]
  return None
print(d.get("label"), {k:v for k,v in d.items() if not isinstance(v,(dict,list))})' 
 done
done
