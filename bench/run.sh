#!/usr/bin/env bash
# siohub's side-by-side benchmark: one command builds what it needs, runs every scenario
# against siohub, Node socket.io 4.8.4 and socketioxide (alternating servers per case, each
# started fresh on a free port and stopped after), prints a Markdown table and writes it and
# the raw JSON to bench/results/<timestamp>.md and .json.
#
#   bench/run.sh                                  # full run (~10-15 min)
#   QUICK=1 bench/run.sh                          # smoke run: ~100 clients, seconds per case
#   SCENARIOS="fanout idle" SERVERS="siohub node" bench/run.sh
#
# Environment (all optional):
#   QUICK=1            small sizes
#   SCENARIOS          any of: fanout idle ramp echo mixed cluster msgpack deflate fields
#                      chat polling push (default: all but fields)
#   SERVERS            any of: siohub node socketioxide ceiling     (default: the first three)
#                      ceiling: the minimal fan-out server of peers/ceiling (websocket and
#                      JSON only: it skips mixed, cluster and the msgpack/deflate -on cases)
#   FANOUT_SIZES       subscriber counts for fanout                 (default "1000 5000"; quick "100")
#   FANOUT_RATES       publishes/s for fanout, "sat" = saturation   (default "200 2000 sat")
#   DURATION           seconds of publishing/pinging per case       (default 10; quick 3)
#   IDLE_CONNS         connections for idle and ramp                (default 8000; quick 200)
#   ECHO_CLIENTS       clients for echo                             (default 1000; quick 100)
#   ECHO_ROUNDS        rounds of echo, servers alternating; the table shows each
#                      server's round of median p99 and lists every round's p99
#                      (default 3; quick 1)
#   MIXED_SIZE         subscribers for mixed (5% on polling)        (default 1000; quick 100)
#   CLUSTER_SIZES      subscribers for cluster (two nodes on one Redis, half on each,
#                      the publisher on the first)                  (default "1000"; quick "100")
#   CLUSTER_RATES      publishes/s for cluster, "sat" = saturation  (default: FANOUT_RATES)
#   CLUSTER_ROUNDS     rounds of every cluster case, servers alternating (default 1)
#   CLUSTER_SPLIT      half: subscribers half on each node (default); first: all on the
#                      first node, so the second only takes every broadcast from Redis and
#                      has no one to deliver it to (what classic pub/sub costs such a node)
#   FIELDS_SIZE        subscribers for fields: the same fan-out with object data of 3
#                      fields, unfiltered vs joined over 3 field sets (siohub only: the
#                      others have no field filters)               (default 1000; quick 100)
#   FIELDS_RATES       publishes/s for fields, "sat" = saturation  (default "2000 sat")
#   RAMP_ROUNDS        rounds of ramp, servers alternating; the table shows each
#                      server's median round and lists every round (default 5; quick 1)
#   MODE_SIZE          subscribers for msgpack and deflate          (default 1000; quick 100)
#   MSGPACK_RATES      publishes/s for msgpack, "sat" = saturation  (default "200 sat")
#   DEFLATE_RATES      publishes/s for deflate, "sat" = saturation  (default "5 sat")
#   DEFLATE_PAYLOAD    bytes of each deflate publish's data (ticks text, each different;
#                      above the 1024-byte threshold)               (default 2048)
#   MODE_ROUNDS        rounds of every msgpack and deflate case, servers alternating
#                      within each; the table shows each server's median round (default 1)
#   CLIENT             real | lean: how the generator's subscribers and echo clients read
#                      (loadgen --client). real (default): every message through
#                      tungstenite and parsed whole with serde_json, what real clients
#                      cost: the latency figures. lean: frames parsed in place, the
#                      throughput ceiling. deflate cases always run lean (tungstenite has
#                      no permessage-deflate).
#   CHAT_CLIENTS       subscribers for chat, each in CHAT_PER_CLIENT of CHAT_ROOMS rooms
#                      (default 8000; quick 400)
#   CHAT_ROOMS         rooms for chat                                (default 2000; quick 100)
#   CHAT_PER_CLIENT    rooms each chat subscriber joins              (default 5)
#   CHAT_PUBLISHERS    chat publishers; publisher p joins the rooms k % P == p and
#                      publishes to them round-robin                 (default 8; quick 2)
#   CHAT_RATES         publishes/s for chat (over all publishers), "sat" = saturation
#                      (each publisher keeps 32 unacked)             (default "1000 2500 sat")
#   POLLING_SIZE       subscribers for polling (all on long-polling) (default 1000; quick 100)
#   POLLING_RATES      publishes/s for polling                       (default "20 200")
#   PUSH_SIZE          subscribers for push (POST /api/v1/emit to their room)
#                                                                    (default 100)
#   PUSH_RATES         requests/s for push (open loop); "sat" = PUSH_WINDOW requests in
#                      flight (closed loop)                          (default "200 2000 sat")
#   PUSH_WINDOW        requests in flight for push's "sat"           (default 16)
#   LOADGEN_ARGS       extra options for every loadgen run (see `loadgen help`)
#   SIOHUB_BIN         another siohub binary for the server "siohub" (with NO_BUILD=1)
#   SIOHUB_BASE_BIN    a second siohub binary, run as the server "siohub-base" (name it in
#                      SERVERS): a before/after pair measured in the same run, alternating
#   RESULTS_DIR        where the .md and .json go                   (default bench/results)
#   NO_BUILD=1         use what is already built
# Exit status: 0 when every run completed, 1 when one failed (the table still prints).
set -uo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
QUICK="${QUICK:-0}"
SCENARIOS="${SCENARIOS:-fanout idle ramp echo mixed cluster msgpack deflate chat polling push}"
FIELDS_RATES="${FIELDS_RATES:-2000 sat}"
SERVERS="${SERVERS:-siohub node socketioxide}"
if [ "$QUICK" = 1 ]; then
  FANOUT_SIZES="${FANOUT_SIZES:-100}"; DURATION="${DURATION:-3}"; IDLE_CONNS="${IDLE_CONNS:-200}"
  ECHO_CLIENTS="${ECHO_CLIENTS:-100}"; MIXED_SIZE="${MIXED_SIZE:-100}"; DRAIN="--drain-max 10 --drain-idle 2"
  RAMP_ROUNDS="${RAMP_ROUNDS:-1}"; ECHO_ROUNDS="${ECHO_ROUNDS:-1}"; CLUSTER_SIZES="${CLUSTER_SIZES:-100}"; MODE_SIZE="${MODE_SIZE:-100}"; FIELDS_SIZE="${FIELDS_SIZE:-100}"
  SETTLE="--settle 1"
  CHAT_CLIENTS="${CHAT_CLIENTS:-400}"; CHAT_ROOMS="${CHAT_ROOMS:-100}"; CHAT_PUBLISHERS="${CHAT_PUBLISHERS:-2}"
  POLLING_SIZE="${POLLING_SIZE:-100}"
else
  FANOUT_SIZES="${FANOUT_SIZES:-1000 5000}"; DURATION="${DURATION:-10}"; IDLE_CONNS="${IDLE_CONNS:-8000}"
  ECHO_CLIENTS="${ECHO_CLIENTS:-1000}"; MIXED_SIZE="${MIXED_SIZE:-1000}"; DRAIN="--drain-max 30 --drain-idle 3"
  RAMP_ROUNDS="${RAMP_ROUNDS:-5}"; ECHO_ROUNDS="${ECHO_ROUNDS:-3}"; CLUSTER_SIZES="${CLUSTER_SIZES:-1000}"; MODE_SIZE="${MODE_SIZE:-1000}"; FIELDS_SIZE="${FIELDS_SIZE:-1000}"
  SETTLE="--settle 2"
  CHAT_CLIENTS="${CHAT_CLIENTS:-8000}"; CHAT_ROOMS="${CHAT_ROOMS:-2000}"; CHAT_PUBLISHERS="${CHAT_PUBLISHERS:-8}"
  POLLING_SIZE="${POLLING_SIZE:-1000}"
fi
CHAT_PER_CLIENT="${CHAT_PER_CLIENT:-5}"
CHAT_RATES="${CHAT_RATES:-1000 2500 sat}"
POLLING_RATES="${POLLING_RATES:-20 200}"
PUSH_SIZE="${PUSH_SIZE:-100}"
PUSH_RATES="${PUSH_RATES:-200 2000 sat}"
PUSH_WINDOW="${PUSH_WINDOW:-16}"
# The key push's backend presents; every server is started with it.
PUSH_KEY=bench-key
FANOUT_RATES="${FANOUT_RATES:-200 2000 sat}"
CLUSTER_RATES="${CLUSTER_RATES:-$FANOUT_RATES}"
CLUSTER_ROUNDS="${CLUSTER_ROUNDS:-1}"
CLUSTER_SPLIT="${CLUSTER_SPLIT:-half}"
MSGPACK_RATES="${MSGPACK_RATES:-200 sat}"
DEFLATE_RATES="${DEFLATE_RATES:-5 sat}"
DEFLATE_PAYLOAD="${DEFLATE_PAYLOAD:-2048}"
MODE_ROUNDS="${MODE_ROUNDS:-1}"
LOADGEN_ARGS="${LOADGEN_ARGS:-}"
CLIENT="${CLIENT:-real}"

say() { echo "bench: $*" >&2; }
want() { case " $2 " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
case "$CLIENT" in real|lean) ;; *) say "CLIENT is real or lean, not '$CLIENT'"; exit 2 ;; esac
case "$CLUSTER_SPLIT" in half) split_tag="" ;; first) split_tag="-empty2" ;;
  *) say "CLUSTER_SPLIT is half or first, not '$CLUSTER_SPLIT'"; exit 2 ;; esac

for s in $SERVERS; do
  want "$s" "siohub siohub-base node socketioxide ceiling" || { say "unknown server '$s' (siohub siohub-base node socketioxide ceiling)"; exit 2; }
  [ "$s" = siohub-base ] && [ -z "${SIOHUB_BASE_BIN:-}" ] && { say "server siohub-base needs SIOHUB_BASE_BIN"; exit 2; }
done
for s in $SCENARIOS; do
  want "$s" "fanout idle ramp echo mixed cluster msgpack deflate fields chat polling push" || { say "unknown scenario '$s' (fanout idle ramp echo mixed cluster msgpack deflate fields chat polling push)"; exit 2; }
done

# 8,000 connections need 8,000 descriptors on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---- build -------------------------------------------------------------------------------
LOADGEN="$BENCH/target/release/loadgen"
SIOXIDE="$BENCH/target/release/socketioxide-peer"
CEILING="$BENCH/target/release/ceiling-peer"
# SIOHUB_BIN: another siohub binary (say, a build before a change), with NO_BUILD=1.
SIOHUB="${SIOHUB_BIN:-$ROOT/target/release/siohub}"
if [ "${NO_BUILD:-0}" != 1 ]; then
  say "building the load generator"
  pkgs=(-p loadgen)
  want socketioxide "$SERVERS" && pkgs+=(-p socketioxide-peer)
  want ceiling "$SERVERS" && pkgs+=(-p ceiling-peer)
  (cd "$BENCH" && cargo build --release --locked "${pkgs[@]}" >&2) || { say "build failed"; exit 1; }
  if want siohub "$SERVERS"; then
    say "building siohub (release)"
    (cd "$ROOT" && cargo build --release --locked --bin siohub >&2) || { say "siohub build failed"; exit 1; }
  fi
  if want node "$SERVERS"; then
    say "installing the node peer (npm ci)"
    (cd "$BENCH/peers/node" && npm ci --no-audit --no-fund --loglevel=error >&2) || { say "npm ci failed"; exit 1; }
  fi
fi

# ---- snapshot ----------------------------------------------------------------------------
# Run copies of the binaries, so a rebuild elsewhere during the run cannot change them.
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
LOGS="${TMPDIR:-/tmp}/siohub-bench-$STAMP"
mkdir -p "$LOGS/bin"
snapshot() { # variable-name path
  [ -x "$2" ] || { say "missing $2 (run without NO_BUILD=1)"; exit 1; }
  cp "$2" "$LOGS/bin/" && printf -v "$1" '%s' "$LOGS/bin/$(basename "$2")"
}
snapshot LOADGEN "$LOADGEN"
want socketioxide "$SERVERS" && snapshot SIOXIDE "$SIOXIDE"
want ceiling "$SERVERS" && snapshot CEILING "$CEILING"
want siohub "$SERVERS" && snapshot SIOHUB "$SIOHUB"
if want siohub-base "$SERVERS"; then
  # Its own name in the snapshot, so it cannot overwrite the other siohub's copy.
  [ -x "$SIOHUB_BASE_BIN" ] || { say "missing $SIOHUB_BASE_BIN"; exit 1; }
  SIOHUB_BASE="$LOGS/bin/siohub-base"
  cp "$SIOHUB_BASE_BIN" "$SIOHUB_BASE"
fi

# ---- cases -------------------------------------------------------------------------------
# One line per case: "<case name> <loadgen options>".
CASES=()
short() { local n=$1; if [ "$n" -ge 1000 ] && [ $((n % 1000)) = 0 ]; then echo "$((n / 1000))k"; else echo "$n"; fi; }
if want fanout "$SCENARIOS"; then
  for size in $FANOUT_SIZES; do
    for rate in $FANOUT_RATES; do
      if [ "$rate" = sat ]; then r="--saturation"; else r="--rate $rate"; fi
      CASES+=("fanout-$(short "$size")-${rate/#[0-9]*/r$rate} --scenario fanout --clients $size $r --duration $DURATION $DRAIN")
    done
  done
fi
want idle "$SCENARIOS" && CASES+=("idle-$(short "$IDLE_CONNS") --scenario idle --clients $IDLE_CONNS $SETTLE")
want ramp "$SCENARIOS" && CASES+=("ramp-$(short "$IDLE_CONNS") --scenario ramp --clients $IDLE_CONNS")
want echo "$SCENARIOS" && CASES+=("echo-$(short "$ECHO_CLIENTS") --scenario echo --clients $ECHO_CLIENTS --echo-rate 10 --duration $DURATION")
want mixed "$SCENARIOS" && CASES+=("mixed-$(short "$MIXED_SIZE")-r200 --scenario mixed --clients $MIXED_SIZE --rate 200 --polling-frac 0.05 --duration $DURATION $DRAIN")
if want cluster "$SCENARIOS"; then
  for size in $CLUSTER_SIZES; do
    for rate in $CLUSTER_RATES; do
      if [ "$rate" = sat ]; then r="--saturation"; else r="--rate $rate"; fi
      CASES+=("cluster-$(short "$size")-${rate/#[0-9]*/r$rate}$split_tag --scenario fanout --clients $size $r --duration $DURATION $DRAIN")
    done
  done
fi

# msgpack and deflate: each rate as a pair of cases, the plain one (JSON, no deflate) and
# the mode's, so a server's cost of the mode is the difference between its two runs. The
# server is configured from the case's loadgen options (see server_mode below).
if want msgpack "$SCENARIOS"; then
  for rate in $MSGPACK_RATES; do
    if [ "$rate" = sat ]; then r="--saturation"; else r="--rate $rate"; fi
    for parser in json msgpack; do
      CASES+=("msgpack-$(short "$MODE_SIZE")-${rate/#[0-9]*/r$rate}-$parser --scenario fanout --clients $MODE_SIZE $r --parser $parser --duration $DURATION $DRAIN")
    done
  done
fi
if want deflate "$SCENARIOS"; then
  for rate in $DEFLATE_RATES; do
    if [ "$rate" = sat ]; then r="--saturation"; else r="--rate $rate"; fi
    for mode in off on; do
      d=""; [ "$mode" = on ] && d="--deflate"
      CASES+=("deflate-$(short "$MODE_SIZE")-${rate/#[0-9]*/r$rate}-$mode --scenario fanout --clients $MODE_SIZE $r $d --payload $DEFLATE_PAYLOAD --padding ticks --duration $DURATION $DRAIN")
    done
  done
fi

# The field filters: one fan-out with the same object data (a timestamp and 3 fields of
# 16 bytes), first to plain members, then to members joined over 3 field sets (each gets
# the timestamp and one field). siohub only.
if want fields "$SCENARIOS"; then
  for rate in $FIELDS_RATES; do
    if [ "$rate" = sat ]; then r="--saturation"; else r="--rate $rate"; fi
    tag="$(short "$FIELDS_SIZE")-${rate/#[0-9]*/r$rate}"
    CASES+=("fields-$tag-unfiltered --scenario fanout --clients $FIELDS_SIZE $r --duration $DURATION $DRAIN --payload 64 --object-fields 3")
    CASES+=("fields-$tag-3sets --scenario fanout --clients $FIELDS_SIZE $r --duration $DURATION $DRAIN --payload 64 --object-fields 3 --field-sets 3")
  done
fi

# Chat: subscribers each in CHAT_PER_CLIENT of CHAT_ROOMS rooms, publishers members of the
# rooms they publish to. Polling: every subscriber on long-polling. Push: the publishes are
# POST /api/v1/emit from a keep-alive HTTP backend.
if want chat "$SCENARIOS"; then
  for rate in $CHAT_RATES; do
    if [ "$rate" = sat ]; then r="--saturation"; else r="--rate $rate"; fi
    CASES+=("chat-$(short "$CHAT_CLIENTS")-${rate/#[0-9]*/r$rate} --scenario chat --clients $CHAT_CLIENTS --rooms $CHAT_ROOMS --rooms-per-client $CHAT_PER_CLIENT --publishers $CHAT_PUBLISHERS $r --duration $DURATION $DRAIN")
  done
fi
if want polling "$SCENARIOS"; then
  for rate in $POLLING_RATES; do
    CASES+=("polling-$(short "$POLLING_SIZE")-r$rate --scenario polling --clients $POLLING_SIZE --rate $rate --duration $DURATION $DRAIN")
  done
fi
if want push "$SCENARIOS"; then
  for rate in $PUSH_RATES; do
    if [ "$rate" = sat ]; then r="--saturation --window $PUSH_WINDOW"; tag="sat-w$PUSH_WINDOW"; else r="--rate $rate"; tag="r$rate"; fi
    CASES+=("push-$(short "$PUSH_SIZE")-$tag --scenario push --clients $PUSH_SIZE $r --api-key $PUSH_KEY --duration $DURATION $DRAIN")
  done
fi

# ---- servers -----------------------------------------------------------------------------
RESULTS_DIR="${RESULTS_DIR:-$BENCH/results}"
mkdir -p "$LOGS" "$RESULTS_DIR"
RUNS="$LOGS/runs.jsonl"
: >"$RUNS"
SERVER_PIDS=()   # the nodes of the server under test (one, or two in a cluster case)
REDIS_PID="" REDIS_PORT=""

# What the case's loadgen options ask of the server: MODE_PARSER (json|msgpack) and
# MODE_DEFLATE (0|1), set by start_case_server from the case's arguments.
MODE_PARSER=json MODE_DEFLATE=0
server_mode() { # loadgen args
  MODE_PARSER=json MODE_DEFLATE=0
  [[ " $1 " == *" --parser msgpack "* ]] && MODE_PARSER=msgpack
  [[ " $1 " == *" --deflate "* ]] && MODE_DEFLATE=1
  return 0
}

start_node() { # name port log [redis url]
  local redis="${4:-}"
  # siohub: [server] parser and [engine] per_message_deflate (deflate_threshold's default,
  # 1024, is the peers' threshold); the peers: PARSER and PER_MESSAGE_DEFLATE.
  export SOCKETIO_SERVER__PARSER="$MODE_PARSER" PARSER="$MODE_PARSER"
  export PER_MESSAGE_DEFLATE="$MODE_DEFLATE"
  # The push scenario's key: siohub's [api] keys, the peers' API_KEY.
  export SOCKETIO_API__KEYS="$PUSH_KEY" API_KEY="$PUSH_KEY"
  if [ "$MODE_DEFLATE" = 1 ]; then export SOCKETIO_ENGINE__PER_MESSAGE_DEFLATE=true
  else export SOCKETIO_ENGINE__PER_MESSAGE_DEFLATE=false; fi
  case "$1" in
    siohub|siohub-base)
      local bin=("$SIOHUB")
      # An older build may not know the parser and deflate settings: in a plain case
      # (JSON, no deflate: its defaults) it is not given them.
      [ "$1" = siohub-base ] && bin=("$SIOHUB_BASE")
      [ "$1" = siohub-base ] && [ "$MODE_PARSER" = json ] && [ "$MODE_DEFLATE" = 0 ] &&
        bin=(env -u SOCKETIO_SERVER__PARSER -u SOCKETIO_ENGINE__PER_MESSAGE_DEFLATE "$SIOHUB_BASE")
      if [ -n "$redis" ]; then
        SOCKETIO_ADAPTER__KIND=redis SOCKETIO_ADAPTER__REDIS_URL="$redis" \
          SOCKETIO_LOGGER_LEVEL="${SOCKETIO_LOGGER_LEVEL:-warn}" "${bin[@]}" --host 127.0.0.1 --port "$2" >"$3" 2>&1 &
      else
        SOCKETIO_LOGGER_LEVEL="${SOCKETIO_LOGGER_LEVEL:-warn}" "${bin[@]}" --host 127.0.0.1 --port "$2" >"$3" 2>&1 &
      fi ;;
    # The peers take REDIS_URL (empty: the in-memory adapter).
    node) REDIS_URL="$redis" node "$BENCH/peers/node/server.mjs" "$2" >"$3" 2>&1 & ;;
    socketioxide)
      if [ -n "$redis" ]; then REDIS_URL="$redis" "$SIOXIDE" "$2" >"$3" 2>&1 &
      else "$SIOXIDE" "$2" >"$3" 2>&1 & fi ;;
    ceiling) "$CEILING" "$2" >"$3" 2>&1 & ;;
  esac
  SERVER_PIDS+=($!)
}

stop_pid() {
  kill "$1" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

stop_server() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do stop_pid "$pid"; done
  SERVER_PIDS=()
}

# The cluster scenario's Redis: the benchmark's own, on a free port, no persistence; it
# lives for the whole run and is emptied (FLUSHALL) before each cluster run.
start_redis() {
  command -v redis-server >/dev/null || { say "the cluster scenario needs redis-server (tests/clients/setup.sh installs it)"; return 1; }
  REDIS_PORT="$("$LOADGEN" free-port)" || return 1
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$LOGS" --logfile "$LOGS/redis.log" >/dev/null 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 100); do
    [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && { say "redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') on port $REDIS_PORT (pid $REDIS_PID)"; return 0; }
    sleep 0.1
  done
  say "redis-server did not start; see $LOGS/redis.log"
  return 1
}
stop_redis() { [ -n "$REDIS_PID" ] && stop_pid "$REDIS_PID"; REDIS_PID=""; }

# Until every node of a cluster holds a subscription on Redis, a broadcast published on
# the first would miss the others: wait for as many subscribed Redis clients as nodes.
await_subscribers() { # nodes
  local n
  for _ in $(seq 200); do
    n="$(redis-cli -p "$REDIS_PORT" CLIENT LIST 2>/dev/null \
         | grep -cE ' (sub=[1-9]|psub=[1-9]|ssub=[1-9])')"
    [ "$n" -ge "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

trap 'stop_server; stop_redis; rm -rf "$LOGS/bin"; exit 130' INT TERM

FAILED=0
record_failure() { # case scenario server message
  FAILED=1
  local msg
  msg="$(printf '%s' "$4" | tr -d '\\"' | tr -cd '[:print:]')"
  printf '{"case":"%s","scenario":"%s","server":"%s","error":"%s"}\n' "$1" "$2" "$3" "$msg" >>"$RUNS"
}

# Starts the server's nodes (two on Redis for a cluster case) and waits until they serve;
# sets ADDRS, PIDS, METRICS (comma-separated, for loadgen) and LOG. Fails when one does not.
start_case_server() { # server case_name cluster(0|1) [loadgen args]
  local server=$1 case_name=$2 cluster=$3 nodes=1 redis="" i port log ready_args=()
  server_mode "${4:-}"
  [ "$MODE_PARSER" = msgpack ] && ready_args=(--parser msgpack)
  ADDRS="" METRICS="" LOG="$LOGS/$server-$case_name.log"
  if [ "$cluster" = 1 ]; then
    nodes=2 redis="redis://127.0.0.1:$REDIS_PORT"
    redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null
  fi
  for i in $(seq "$nodes"); do
    port="$("$LOADGEN" free-port)" || return 1
    log="$LOG"; [ "$nodes" -gt 1 ] && log="$LOGS/$server-$case_name-node$i.log"
    start_node "$server" "$port" "$log" "$redis"
    if ! "$LOADGEN" ready --addr "127.0.0.1:$port" --connect-timeout 20 "${ready_args[@]}" 2>>"$log"; then
      say "$server did not start for $case_name; see $log"; tail -5 "$log" >&2
      return 1
    fi
    ADDRS="$ADDRS${ADDRS:+,}127.0.0.1:$port"
    METRICS="$METRICS${METRICS:+,}http://127.0.0.1:$port/metrics"
  done
  LOG="$LOGS/$server-$case_name.log"
  if [ "$cluster" = 1 ] && ! await_subscribers "$nodes"; then
    say "$server: $nodes nodes did not all subscribe on Redis for $case_name"
    return 1
  fi
  PIDS="$(IFS=,; echo "${SERVER_PIDS[*]}")"
}

if [[ " ${CASES[*]} " == *" cluster-"* ]]; then
  start_redis || exit 1
fi
say "${#CASES[@]} cases x servers: $SERVERS; logs in $LOGS"
for spec in "${CASES[@]}"; do
  read -r case_name args <<<"$spec"
  scenario="$(sed -E 's/.*--scenario ([a-z]+).*/\1/' <<<"$args")"
  cluster=0
  [[ "$case_name" == cluster-* ]] && cluster=1
  # A ramp lasts well under a second: one sample is mostly noise, so it runs in rounds
  # (servers alternating within each) and the table shows each server's median round.
  rounds=1
  [ "$scenario" = ramp ] && rounds="$RAMP_ROUNDS"
  # An echo round's p99 swings 2x from round to round on a shared machine (the tail is
  # the scheduler's); it is quoted as the median round.
  [ "$scenario" = echo ] && rounds="$ECHO_ROUNDS"
  [ "$cluster" = 1 ] && rounds="$CLUSTER_ROUNDS"
  [[ "$case_name" == msgpack-* || "$case_name" == deflate-* ]] && rounds="$MODE_ROUNDS"
  for round in $(seq "$rounds"); do
  for server in $SERVERS; do
    # socketioxide has no permessage-deflate (tokio-tungstenite has none): its run would
    # be the "off" run again.
    if [ "$server" = socketioxide ] && [[ "$case_name" == deflate-*-on ]]; then
      [ "$round" = 1 ] && say "$case_name: socketioxide has no permessage-deflate; not run"
      continue
    fi
    # The ceiling speaks websocket and JSON only, on one node.
    if [ "$server" = ceiling ] && [[ "$case_name" == mixed-* || "$case_name" == cluster-* \
          || "$case_name" == polling-* || "$case_name" == push-* \
          || "$case_name" == msgpack-*-msgpack || "$case_name" == deflate-*-on ]]; then
      [ "$round" = 1 ] && say "$case_name: the ceiling has no polling, HTTP API, Redis, msgpack or deflate; not run"
      continue
    fi
    # Only siohub has field filters.
    [[ "$case_name" == fields-* && "$server" != siohub* ]] && continue
    if ! start_case_server "$server" "$case_name" "$cluster" "$args"; then
      record_failure "$case_name" "$scenario" "$server" "server did not start"
      stop_server
      continue
    fi
    say "$case_name on $server (${ADDRS}, pids $PIDS$([ "$rounds" -gt 1 ] && echo ", round $round of $rounds"))"
    extra=(--client "$CLIENT")
    # tungstenite (the real client) has no permessage-deflate.
    [[ "$case_name" == deflate-* ]] && extra=(--client lean)
    # siohub counts what it drops; its /metrics deltas go into the report.
    [[ "$server" == siohub* ]] && extra+=(--metrics-url "$METRICS")
    [ "$cluster" = 1 ] && extra+=(--redis-pid "$REDIS_PID")
    [ "$cluster" = 1 ] && redis-cli -p "$REDIS_PORT" INFO everything >"$LOGS/redis-before.txt"
    # With CLUSTER_SPLIT=first every client goes to the first node (both are measured).
    [[ "$case_name" == *-empty2 ]] && ADDRS="${ADDRS%%,*}"
    # shellcheck disable=SC2086
    if out="$("$LOADGEN" run $args $LOADGEN_ARGS --addr "$ADDRS" --pid "$PIDS" \
                 --label "$server" --case "$case_name" "${extra[@]}" 2>>"$LOG")" && [ -n "$out" ]; then
      if [ "$cluster" = 1 ]; then
        redis-cli -p "$REDIS_PORT" INFO everything >"$LOGS/redis-after.txt"
        out="$(python3 "$BENCH/redis_stats.py" "$LOGS/redis-before.txt" "$LOGS/redis-after.txt" <<<"$out")"
      fi
      echo "$out" >>"$RUNS"
    else
      say "$case_name on $server failed; see $LOG"; tail -3 "$LOG" >&2
      record_failure "$case_name" "$scenario" "$server" "$(tail -1 "$LOG")"
    fi
    for pid in "${SERVER_PIDS[@]}"; do
      kill -0 "$pid" 2>/dev/null || say "$server (pid $pid) exited during $case_name; see $LOGS"
    done
    stop_server
  done
  done
done
stop_redis

# ---- report ------------------------------------------------------------------------------
OUT="$RESULTS_DIR/$STAMP"
siohub_rev="$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
sioxide_ver="$(grep -A1 '^name = "socketioxide"$' "$BENCH/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')"
node_ver="$(node --version 2>/dev/null || echo none)"
redis_ver="$(redis-server --version 2>/dev/null | sed -n 's/.*v=\([^ ]*\).*/\1/p')"
redis_adapter_ver="$(grep -A1 '"node_modules/@socket.io/redis-adapter": {' "$BENCH/peers/node/package-lock.json" | sed -n 's/.*"version": "\(.*\)".*/\1/p')"
sioxide_redis_ver="$(grep -A1 '^name = "socketioxide-redis"$' "$BENCH/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')"
sio_ver="$(grep -A1 '"node_modules/socket.io": {' "$BENCH/peers/node/package-lock.json" | sed -n 's/.*"version": "\(.*\)".*/\1/p')"
{
  printf '{"meta":{"started":"%s","client":"%s","quick":%s,"siohub":"%s","socketioxide":"%s","node":"%s","socket.io":"%s","redis":"%s","@socket.io/redis-adapter":"%s","socketioxide-redis":"%s","cpus":%s,"servers":"%s"},"runs":[\n' \
    "$STAMP" "$CLIENT" "$([ "$QUICK" = 1 ] && echo true || echo false)" "$siohub_rev" "$sioxide_ver" "$node_ver" "$sio_ver" \
    "$redis_ver" "$redis_adapter_ver" "$sioxide_redis_ver" "$(nproc)" "$SERVERS"
  sed '$!s/$/,/' "$RUNS"
  printf ']}\n'
} >"$OUT.json"
{
  echo "# siohub benchmark $STAMP"
  echo
  echo "siohub $siohub_rev, socket.io $sio_ver on node $node_ver, socketioxide $sioxide_ver;" \
       "$(nproc) cores, generator on the same machine$([ "$QUICK" = 1 ] && echo ', QUICK sizes')."
  if [[ " ${CASES[*]} " == *" cluster-"* ]]; then
    echo "cluster cases: two nodes of each server on one redis-server $redis_ver (siohub's Redis adapter," \
         "@socket.io/redis-adapter $redis_adapter_ver, socketioxide-redis $sioxide_redis_ver), subscribers" \
         "half on each node, the publisher on the first; server RSS and CPU summed over both nodes."
  fi
  if [[ " ${CASES[*]} " == *" msgpack-"* || " ${CASES[*]} " == *" deflate-"* ]]; then
    echo "msgpack-* cases: \`-json\` with socket.io-parser, \`-msgpack\` with socket.io-msgpack-parser on both sides" \
         "(siohub \`[server] parser = \"msgpack\"\`, Node socket.io-msgpack-parser 3.0.2, socketioxide's \`msgpack\` feature)." \
         "deflate-* cases: $DEFLATE_PAYLOAD-byte data, different in every publish; \`-on\`: the clients offer permessage-deflate," \
         "siohub \`per_message_deflate = true\` (threshold 1024), Node \`perMessageDeflate: {threshold: 1024}\`;" \
         "socketioxide has no permessage-deflate and is not run \`-on\`. Wire bytes: what the subscribers read (websocket frames" \
         "with their headers, no TCP/IP), per delivered message; a server's CPU cost of a mode per delivered message is its" \
         "\`server CPU µs / delivered msg\` in the mode's case minus that in the plain case at the same rate."
  fi
  if [[ " ${CASES[*]} " == *" chat-"* ]]; then
    echo "chat-* cases: $CHAT_CLIENTS websocket subscribers each in $CHAT_PER_CLIENT of $CHAT_ROOMS rooms" \
         "($((CHAT_CLIENTS * CHAT_PER_CLIENT / CHAT_ROOMS)) a room), $CHAT_PUBLISHERS publishers, each a member of the rooms it" \
         "publishes to (publisher p: rooms k % $CHAT_PUBLISHERS == p, round-robin); the rate is publishes/s over all publishers," \
         "\`sat\`: each keeps 32 unacked. Every publish reaches its room's subscribers (the sender is excluded)."
  fi
  if [[ " ${CASES[*]} " == *" polling-"* ]]; then
    echo "polling-* cases: every subscriber on HTTP long-polling (no upgrade), one websocket publisher."
  fi
  if [[ " ${CASES[*]} " == *" push-"* ]]; then
    echo "push-* cases: a backend (reqwest, keep-alive) POSTs \`/api/v1/emit\` {rooms, event, data} with a Bearer key to a" \
         "room of $PUSH_SIZE websocket subscribers: siohub's HTTP API, the Node peer's \`io.to(room).emit\` in an http handler," \
         "socketioxide's in an axum route; \`rN\`: N requests/s (open loop), \`sat-wN\`: N in flight (closed loop)."
  fi
  if [ "$CLIENT" = real ]; then
    echo "Clients: \`--client real\` (subscribers and echo clients take every message through tungstenite's" \
         "message API and parse every packet whole with serde_json; deflate cases run \`--client lean\`)."
  else
    echo "Clients: \`--client lean\` (frames parsed in place, timestamps found by position: the throughput ceiling)."
  fi
  echo "Ratios are siohub's figure over the peer's: above 1 is better for siohub on ↑ rows, below 1 on ↓ rows."
  [ -n "${SIOHUB_BIN:-}" ] && want siohub "$SERVERS" && echo "siohub: \`$SIOHUB_BIN\`."
  want siohub-base "$SERVERS" && echo "siohub-base: \`$SIOHUB_BASE_BIN\` (a second siohub binary, run as a peer)."
  echo
  "$LOADGEN" table "$OUT.json"
  if [[ " ${CASES[*]} " == *" msgpack-"* || " ${CASES[*]} " == *" deflate-"* ]]; then
    echo
    echo "What each mode costs each server (bench/mode_costs.py): the mode's case against the plain one at the same rate."
    echo
    python3 "$BENCH/mode_costs.py" "$OUT.json"
  fi
  if grep -q '"error"' "$RUNS"; then
    echo
    echo "Failed runs:"
    grep '"error"' "$RUNS" | sed 's/^/    /'
  fi
} >"$OUT.md"
rm -rf "$LOGS/bin"
cat "$OUT.md"
say "wrote $OUT.md and $OUT.json"
exit "$FAILED"
