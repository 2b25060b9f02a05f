#!/usr/bin/env bash
# perf profile of node 2 (subscribers only) during a cluster-5k-r200 run.
set -u
B=/work/wt/bench; LG=$B/bench/target/release/loadgen; S=$B/target/release/siohub
W=/tmp/bt/perf; cd $W
RP=$($LG free-port); redis-server --port $RP --bind 127.0.0.1 --save '' --appendonly no --dir $W --logfile $W/redis.log & R=$!
sleep 0.5
P1=$($LG free-port); P2=$($LG free-port)
SOCKETIO_ADAPTER__KIND=redis SOCKETIO_ADAPTER__REDIS_URL=redis://127.0.0.1:$RP SOCKETIO_LOGGER_LEVEL=warn $S --host 127.0.0.1 --port $P1 > n1.log 2>&1 & N1=$!
SOCKETIO_ADAPTER__KIND=redis SOCKETIO_ADAPTER__REDIS_URL=redis://127.0.0.1:$RP SOCKETIO_LOGGER_LEVEL=warn $S --host 127.0.0.1 --port $P2 > n2.log 2>&1 & N2=$!
$LG ready --addr 127.0.0.1:$P1; $LG ready --addr 127.0.0.1:$P2; sleep 1
ulimit -n $(ulimit -Hn)
$LG run --scenario fanout --clients 5000 --rate 200 --duration 10 --addr 127.0.0.1:$P1,127.0.0.1:$P2 --pid $N1,$N2 --case perf-5k-r200 --label siohub > report.json 2> lg.log &
L=$!
sleep 5
perf record -F 499 -g -p $N2 -o n2.data -- sleep 5 2> perf2.err
wait $L
kill $N1 $N2 $R; wait
perf report -i n2.data --no-children --sort symbol --stdio 2>/dev/null | grep -v "^#" | grep "%" | head -40 > n2-top.txt
perf report -i n2.data --children --sort symbol --stdio 2>/dev/null | grep -v "^#" | grep -E "^ +[0-9]" | head -40 > n2-children.txt
