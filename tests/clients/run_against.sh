#!/usr/bin/env bash
# Runs the full client x scenario x transport matrix against a scenario server.
#
#   tests/clients/run_against.sh <url>          e.g. http://127.0.0.1:3000
#
# Optional filters (space-separated lists):  CLIENTS="node python"
#   SCENARIOS="connect echo ..."  TRANSPORTS="polling websocket upgrade"
# SKIP_SETUP=1 skips setup.sh. Each run's JSON line goes to $OUT_DIR (default: a temp dir).
# Prints one line per run, then "N passed, N failed"; exits 1 if any run failed.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
url="${1:?usage: run_against.sh <url>}"

CLIENTS="${CLIENTS:-node python}"
SCENARIOS="${SCENARIOS:-connect echo ack server-ack binary namespace-auth refused-namespace disconnect-reconnect}"
TRANSPORTS="${TRANSPORTS:-polling websocket upgrade}"
OUT_DIR="${OUT_DIR:-$(mktemp -d)}"
mkdir -p "$OUT_DIR"

if [ "${SKIP_SETUP:-0}" != 1 ]; then
  "$here/setup.sh" || { echo "setup.sh failed"; exit 2; }
fi

passed=0
failed=0
failures=()
for client in $CLIENTS; do
  case "$client" in
    node) cmd=(node "$here/node/scenario.mjs") ;;
    python) cmd=("$here/python/.venv/bin/python" "$here/python/scenario.py") ;;
    *) echo "unknown client $client"; exit 2 ;;
  esac
  for sc in $SCENARIOS; do
    for tr in $TRANSPORTS; do
      out="$OUT_DIR/$client.$sc.$tr.json"
      # The scripts stop themselves after 15 s; the outer timeout only guards against a hang.
      timeout 30 "${cmd[@]}" "$sc" "$url" "$tr" >"$out" 2>"$out.stderr"
      rc=$?
      line="$(tail -n 1 "$out")"
      if [ $rc -eq 0 ] && printf '%s' "$line" | grep -Eq '^\{"ok": ?true'; then
        passed=$((passed + 1))
        printf 'PASS  %-7s %-21s %s\n' "$client" "$sc" "$tr"
      else
        failed=$((failed + 1))
        [ -n "$line" ] || line="(no output, exit $rc) $(tail -n 3 "$out.stderr" | tr '\n' ' ')"
        failures+=("$client $sc $tr: $line")
        printf 'FAIL  %-7s %-21s %s  %s\n' "$client" "$sc" "$tr" "${line:0:400}"
      fi
    done
  done
done

echo
if [ $failed -gt 0 ]; then
  echo "failures:"
  for f in "${failures[@]}"; do echo "  ${f:0:1000}"; done
  echo
fi
echo "results in $OUT_DIR"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
