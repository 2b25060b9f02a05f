#!/usr/bin/env bash
# pstat2.sh CLIENT RATE SUBS BIN...: one run per server with perf stat syscall counts
# (server and loadgen, 8 s of the publishing). FROM_READY=1: the server's counts run 9 s
# from `ready` instead (how the lean 5k x 200/s table of ../20261205T1725Z-fanout10-mechanism.md
# was taken).
CL=$1; RATE=$2; SUBS=$3; shift 3
LG=/work/wt/fanout10/bench/target/release/loadgen
ulimit -n 20000
EV=syscalls:sys_enter_sendto,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_recvfrom,syscalls:sys_enter_read,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex,context-switches
for b in "$@"; do
  port=$($LG free-port)
  case $b in
    *socketioxide*) $b $port >>/tmp/fo10/srv-sx.log 2>&1 & ;;
    *) SOCKETIO_LOGGER_LEVEL=warn $b --host 127.0.0.1 --port $port >>/tmp/fo10/srv-$(basename $b).log 2>&1 & ;;
  esac
  pid=$!
  $LG ready --addr 127.0.0.1:$port >/dev/null 2>&1
  srv_out=/tmp/fo10/pstat-srv-$(basename $b)-$CL-$RATE.txt
  [ "${FROM_READY:-0}" = 1 ] && { perf stat -e $EV -p $pid -o $srv_out -- sleep 9 & p1=$!; }
  $LG run --scenario fanout --clients $SUBS --rate $RATE --duration 10 --drain-max 30 --drain-idle 3 --addr 127.0.0.1:$port --pid $pid --client $CL --label $(basename $b) > /tmp/fo10/pstat-$(basename $b)-$CL-$RATE.json 2>/dev/null &
  lg=$!
  sleep 1.5
  [ "${FROM_READY:-0}" = 1 ] || { perf stat -e $EV -p $pid -o $srv_out -- sleep 8 & p1=$!; }
  perf stat -e $EV -p $lg -o /tmp/fo10/pstat-lg-$(basename $b)-$CL-$RATE.txt -- sleep 8
  wait $p1; wait $lg
  kill $pid; wait $pid 2>/dev/null
done
