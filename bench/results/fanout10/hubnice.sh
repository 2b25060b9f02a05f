#!/usr/bin/env bash
# hubnice.sh PID NICE: after 1.5 s of publishing, renice the server thread with the 3rd most CPU (the hub arbiter)
pid=$1; n=$2
sleep 1.5
declare -A a
for t in /proc/$pid/task/*; do id=${t##*/}; a[$id]=$(awk '{print $14+$15}' $t/stat); done
sleep 0.5
for t in /proc/$pid/task/*; do id=${t##*/}; echo "$(( $(awk '{print $14+$15}' $t/stat) - ${a[$id]} )) $id"; done | sort -rn > /tmp/fo10/threads.txt
tid=$(sed -n 3p /tmp/fo10/threads.txt | cut -d' ' -f2)
renice -n $n -p $tid >/dev/null && echo "reniced $tid to $n: $(tr '\n' ' ' < /tmp/fo10/threads.txt)" >> /tmp/fo10/hubnice.log
