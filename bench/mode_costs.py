#!/usr/bin/env python3
"""What the msgpack parser and permessage-deflate cost each server, from a run.sh results
file: for every pair of cases `<mode>-<N>-<rate>-<plain>` / `<mode>-<N>-<rate>-<on>`
(msgpack: json / msgpack; deflate: off / on), each server's server CPU µs per delivered
message in both and the difference (the mode's cost per delivered message), wire bytes
per delivered message and delivered msgs/s in both. With several rounds, each server's
median round by delivered msgs/s, as the table shows.

    bench/mode_costs.py bench/results/<stamp>.json      # Markdown on stdout
"""
import json
import sys

PAIRS = {"msgpack": ("json", "msgpack"), "deflate": ("off", "on")}


def median_round(runs):
    ok = [r for r in runs if "error" not in r and r.get("delivered_msgs_per_s") is not None]
    if not ok:
        return None
    ok.sort(key=lambda r: r["delivered_msgs_per_s"])
    return ok[(len(ok) - 1) // 2]


def fmt(x, digits=2):
    if x is None:
        return "–"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.{digits}f}"


def main(path):
    with open(path) as f:
        data = json.load(f)
    runs = data["runs"] if isinstance(data, dict) else data
    by = {}
    for r in runs:
        by.setdefault((r.get("case"), r.get("server")), []).append(r)
    servers = []
    for r in runs:
        if r.get("server") not in servers:
            servers.append(r.get("server"))
    bases = []
    for r in runs:
        case = r.get("case", "")
        mode = case.split("-", 1)[0]
        if mode in PAIRS and case.endswith("-" + PAIRS[mode][0]):
            base = case[: -len(PAIRS[mode][0]) - 1]
            if base not in bases:
                bases.append(base)
    if not bases:
        return
    print("| case | server | delivered msgs/s plain → mode | server CPU µs/msg plain → mode |"
          " mode's CPU µs per delivered msg | wire bytes/msg plain → mode |")
    print("|---|---|---:|---:|---:|---:|")
    for base in bases:
        mode = base.split("-", 1)[0]
        plain_tag, mode_tag = PAIRS[mode]
        for server in servers:
            plain = median_round(by.get((f"{base}-{plain_tag}", server), []))
            moded = median_round(by.get((f"{base}-{mode_tag}", server), []))
            if plain is None:
                continue
            if moded is None:
                print(f"| {base} | {server} | {fmt(plain['delivered_msgs_per_s'])} → not run |"
                      f" {fmt(plain.get('server_cpu_us_per_delivered_msg'))} → – | – |"
                      f" {fmt(plain['wire'].get('bytes_per_delivered_msg'), 0)} → – |")
                continue
            cp = plain.get("server_cpu_us_per_delivered_msg")
            cm = moded.get("server_cpu_us_per_delivered_msg")
            diff = cm - cp if cp is not None and cm is not None else None
            got = "" if moded["wire"].get("deflate_subscribers", 0) or mode != "deflate" \
                else " (deflate declined)"
            print(f"| {base} | {server} | {fmt(plain['delivered_msgs_per_s'])} →"
                  f" {fmt(moded['delivered_msgs_per_s'])} | {fmt(cp)} → {fmt(cm)} |"
                  f" {fmt(diff)}{got} | {fmt(plain['wire'].get('bytes_per_delivered_msg'), 0)} →"
                  f" {fmt(moded['wire'].get('bytes_per_delivered_msg'), 0)} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
