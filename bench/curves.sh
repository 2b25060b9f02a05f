#!/usr/bin/env bash
# Scale curves (issue 15, goal 7): the fanout case of run.sh repeated as one room grows, and
# as the same subscribers spread over more rooms, each point at a fixed offered rate and at
# saturation, every server of SERVERS in each point (alternating, each started fresh).
#
#   bench/curves.sh size  "1000 2000 5000"     # points of the one-room curve (subscribers)
#   bench/curves.sh rooms "1 10 100"           # points of the room-count curve (rooms)
#   bench/curves.sh plot                       # PNGs and a summary of what is there
#
# A point is one run.sh invocation (its own results .md/.json in the curve folder), so a
# curve can be run in pieces (each under 10 minutes under /work/wt/quiet) and plotted once
# all are in. Environment (all optional; run.sh's own variables pass through, NO_BUILD=1
# and SIOHUB_BIN included):
#   CURVES_DIR     where the points' results and the plots go   (default bench/results/curves)
#   SERVERS        servers on each point                        (default "siohub socketioxide node")
#   OFFERED        msgs/s offered on the one-room curve: each point publishes
#                  OFFERED / subscribers per second             (default 500000)
#   ROOM_SUBS      subscribers of the room-count curve          (default 10000)
#   ROOM_OFFERED   msgs/s offered on the room-count curve: K rooms of ROOM_SUBS / K
#                  each, so ROOM_OFFERED * K / ROOM_SUBS publishes/s (50000)
#   DURATION       seconds of publishing per run                (default 5)
#   DRAIN_MAX      longest drain after the last publish, s: caps a run whose server fell
#                  behind (Node on big rooms); what is not in by then counts as loss
#                                                               (default 15)
#   PUBLISHERS     publishing connections on the room-count curve (default 4: one
#                  publisher's ack window would cap a curve point with many small rooms)
#
# One room holds at most ~18,000 subscribers here: the generator holds every client socket
# in one process and the descriptor limit is 20,000 per process (`ulimit -Hn`).
set -uo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CURVES_DIR="${CURVES_DIR:-$BENCH/results/curves}"
SERVERS="${SERVERS:-siohub socketioxide node}"
OFFERED="${OFFERED:-500000}"
ROOM_SUBS="${ROOM_SUBS:-10000}"
ROOM_OFFERED="${ROOM_OFFERED:-50000}"
DURATION="${DURATION:-5}"
DRAIN_MAX="${DRAIN_MAX:-15}"
PUBLISHERS="${PUBLISHERS:-4}"

say() { echo "curves: $*" >&2; }
usage() { sed -n '2,29p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
mkdir -p "$CURVES_DIR"

# One point: run.sh's fanout of SUBS subscribers over ROOMS rooms at RATE publishes/s and at
# saturation, servers alternating in each case.
point() { # curve subs rooms rate extra-loadgen-args
  say "$1: $2 subscribers in $3 room(s), $4 publishes/s and saturation: $SERVERS"
  RESULTS_DIR="$CURVES_DIR/$1" SCENARIOS=fanout FANOUT_SIZES="$2" FANOUT_RATES="$4 sat" \
    DURATION="$DURATION" LOADGEN_ARGS="--fanout-rooms $3 --drain-max $DRAIN_MAX $5 ${LOADGEN_ARGS:-}" \
    "$BENCH/run.sh" >/dev/null
}

case "${1:-}" in
  size)
    [ -n "${2:-}" ] || usage
    rc=0
    for subs in $2; do
      rate=$(( (OFFERED + subs / 2) / subs ))
      point size "$subs" 1 "$rate" "" || rc=1
    done
    exit $rc ;;
  rooms)
    [ -n "${2:-}" ] || usage
    rc=0
    for rooms in $2; do
      [ "$rooms" -le "$ROOM_SUBS" ] || { say "$rooms rooms > $ROOM_SUBS subscribers"; exit 2; }
      rate=$(( (ROOM_OFFERED * rooms + ROOM_SUBS / 2) / ROOM_SUBS ))
      point rooms "$ROOM_SUBS" "$rooms" "$rate" "--publishers $PUBLISHERS" || rc=1
    done
    exit $rc ;;
  plot)
    PY="$BENCH/.venv/bin/python"
    if ! "$PY" -c 'import matplotlib' 2>/dev/null; then
      python3 -m venv "$BENCH/.venv" && "$BENCH/.venv/bin/pip" install -q matplotlib || exit 1
    fi
    exec "$PY" "$BENCH/curves_plot.py" "$CURVES_DIR" ;;
  *) usage ;;
esac
