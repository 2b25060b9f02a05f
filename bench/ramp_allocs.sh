#!/bin/bash
# ramp_allocs.sh BIN: malloc/free/realloc calls per thread of a fresh server over one ramp of N (uprobes: slow, counts only).
set -u
BIN=$1; N=${N:-2000}
ulimit -n "$(ulimit -Hn)"
LG="$(cd "$(dirname "$0")" && pwd)/target/release/loadgen"
# The uprobes on the C library's allocator (made once; they stay until `perf probe -d`).
LIBC=$(ldd "$BIN" | awk '/libc\.so/ {print $3}')
for f in malloc free realloc; do
  perf probe -l 2>/dev/null | grep -q "probe_libc:$f " || perf probe -q -x "$LIBC" "$f" || exit 1
done
port=$($LG free-port)
SOCKETIO_LOGGER_LEVEL=warn "$BIN" --host 127.0.0.1 --port "$port" >/tmp/ra-server.log 2>&1 &
pid=$!
$LG ready --addr 127.0.0.1:$port --connect-timeout 60 >/dev/null
sleep 0.5
perf stat --per-thread -e probe_libc:malloc,probe_libc:free,probe_libc:realloc -p $pid -x, -o /tmp/ra-stat.csv &
ps_=$!
sleep 0.3
$LG run --scenario ramp --clients "$N" --addr 127.0.0.1:$port --pid $pid --label x --case ramp --connect-timeout 60 >/dev/null 2>&1
kill -INT $ps_; wait $ps_
kill -TERM $pid; wait $pid 2>/dev/null
python3 - "$BIN" "$N" <<'PY'
import sys, collections
c=collections.defaultdict(dict)
for l in open("/tmp/ra-stat.csv"):
    p=l.strip().split(",")
    if len(p)<4 or "probe_libc" not in l: continue
    try: v=int(p[1])
    except: v=0
    c[p[0]][p[3].split(":")[1]]=v
n=int(sys.argv[2])
tot=collections.Counter()
out=[]
for t in sorted(c, key=lambda x:int(x.rsplit("-",1)[1])):
    d=c[t]; tot.update(d)
    if sum(d.values()): out.append(f"{t.rsplit('-',1)[1]}: m {d.get('malloc',0)/n:.1f} f {d.get('free',0)/n:.1f} r {d.get('realloc',0)/n:.1f}")
print(sys.argv[1].split('/')[-1], f"per conn: malloc {tot['malloc']/n:.1f} free {tot['free']/n:.1f} realloc {tot['realloc']/n:.1f} |", " | ".join(out))
PY
