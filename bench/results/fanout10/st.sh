#!/usr/bin/env bash
# st.sh BIN CLIENT RATE SUBS: one fanout run with strace -c -f on the server during publishing
b=$1; CL=$2; RATE=$3; SUBS=$4
LG=/work/wt/fanout10/bench/target/release/loadgen
ulimit -n 20000
port=$($LG free-port)
SOCKETIO_LOGGER_LEVEL=warn $b --host 127.0.0.1 --port $port >>/tmp/fo10/srv-st.log 2>&1 &
pid=$!
$LG ready --addr 127.0.0.1:$port >/dev/null 2>&1
( sleep 2; timeout -s INT 8 strace -c -f -p $pid -o /tmp/fo10/strace-$(basename $b)-$RATE.txt ) &
$LG run --scenario fanout --clients $SUBS --rate $RATE --duration 10 --drain-max 30 --drain-idle 3 --addr 127.0.0.1:$port --pid $pid --client $CL > /tmp/fo10/st-$(basename $b)-$RATE.json 2>/dev/null
wait %2 2>/dev/null
kill $pid; wait $pid 2>/dev/null
