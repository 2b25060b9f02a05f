#!/usr/bin/env python3
"""Plots the scale curves of bench/curves.sh (issue 15, goal 7).

Usage: curves_plot.py CURVES_DIR

Reads every run.sh results .json under CURVES_DIR/size and CURVES_DIR/rooms and writes, in
CURVES_DIR, `size.png` and `rooms.png` (delivered msgs/s, latency p99, server RSS peak and
server CPU µs per delivered message; a row at the fixed offered rate, a row at saturation;
every server on the same axes) and `summary.md`: each point's figures, and how each cost
grows along the curve (the least-squares slope of log(cost) over log(x): about 0 flat,
about 1 linear, above worse than linear).
"""

import glob
import json
import os
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CURVES = {
    "size": ("subscribers in the one room", lambda r: r["params"]["subscribers"]),
    "rooms": ("rooms (same subscribers spread over them)", lambda r: r["params"].get("rooms", 1)),
}
FIGURES = [
    ("delivered msgs/s", lambda r: r.get("delivered_msgs_per_s")),
    ("latency p99 (ms)", lambda r: (r.get("latency_ms") or {}).get("p99")),
    ("server RSS peak (MB)", lambda r: (r.get("server_proc") or {}).get("rss_peak_kb", 0) / 1024 or None),
    ("server CPU µs / delivered msg", lambda r: r.get("server_cpu_us_per_delivered_msg")),
]
COLORS = {"siohub": "tab:blue", "socketioxide": "tab:orange", "node": "tab:green", "ceiling": "tab:gray"}


def load(folder):
    """Every completed fanout run under `folder`, with the results file it came from."""
    runs = []
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        with open(path) as f:
            doc = json.load(f)
        for r in doc.get("runs", []):
            if "error" not in r and r.get("scenario") == "fanout":
                r["_file"] = os.path.basename(path)
                runs.append(r)
    return runs


def points(runs, xof, sat, server, fig):
    """(x, median figure) per x for one server and mode, x ascending."""
    by_x = {}
    for r in runs:
        if r["server"] == server and bool(r["params"]["saturation"]) == sat:
            v = fig(r)
            if v is not None:
                by_x.setdefault(xof(r), []).append(v)
    return sorted((x, statistics.median(vs)) for x, vs in by_x.items())


def offered(r):
    """Msgs/s the publishes were addressed to: expected deliveries over the publishing time
    (loadgen's own `offered_msgs_per_s` before it counted per room assumed one room)."""
    secs = r.get("publish_seconds") or 0
    return r["expected"] / secs if secs else 0


def slope(pts):
    """Least-squares slope of log(y) over log(x); None with fewer than 2 usable points."""
    import math

    pts = [(math.log(x), math.log(y)) for x, y in pts if x > 0 and y and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    den = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / den if den else None


def growth(s):
    if s is None:
        return "n/a"
    if s < -0.15:
        return f"falls ({s:+.2f})"
    if s < 0.15:
        return f"flat ({s:+.2f})"
    if s < 0.8:
        return f"sublinear ({s:+.2f})"
    if s <= 1.2:
        return f"linear ({s:+.2f})"
    return f"worse than linear ({s:+.2f})"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "bench/results/curves"
    out = ["# Scale curves", ""]
    for curve, (xlabel, xof) in CURVES.items():
        runs = load(os.path.join(root, curve))
        if not runs:
            continue
        servers = [s for s in COLORS if any(r["server"] == s for r in runs)]
        fig, axes = plt.subplots(2, len(FIGURES), figsize=(5 * len(FIGURES), 8.5), squeeze=False)
        for row, sat in enumerate((False, True)):
            for col, (name, get) in enumerate(FIGURES):
                ax = axes[row][col]
                for s in servers:
                    pts = points(runs, xof, sat, s, get)
                    if pts:
                        ax.plot(*zip(*pts), marker="o", label=s, color=COLORS[s])
                ax.set_xscale("log")
                if name == "delivered msgs/s" and curve == "size":
                    ax.set_ylim(bottom=0)
                else:
                    ax.set_yscale("log")
                ax.set_xlabel(xlabel)
                ax.set_title(f"{name}, {'saturation' if sat else 'fixed offered rate'}", fontsize=10)
                ax.grid(True, which="both", alpha=0.3)
                ax.legend(fontsize=8)
        fig.suptitle(f"{curve} curve ({', '.join(sorted({r['_file'] for r in runs}))[:150]})", fontsize=9)
        fig.tight_layout()
        png = os.path.join(root, f"{curve}.png")
        fig.savefig(png, dpi=90)
        plt.close(fig)
        out += [f"## {curve}: x = {xlabel}", "", f"![{curve}]({curve}.png)", ""]
        out += ["| server | mode | x | offered msgs/s | delivered msgs/s | loss % | p50 ms | p99 ms | RSS peak MB | CPU µs/msg | CPU s | loadgen CPU s | file |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in sorted(runs, key=lambda r: (r["server"], r["params"]["saturation"], xof(r))):
            lat = r.get("latency_ms") or {}
            proc = r.get("server_proc") or {}
            out.append("| {} | {} | {} | {:.0f} | {:.0f} | {} | {} | {} | {:.0f} | {} | {} | {} | {} |".format(
                r["server"], "sat" if r["params"]["saturation"] else "rate", xof(r),
                offered(r), r.get("delivered_msgs_per_s", 0), r.get("loss_pct"),
                lat.get("p50"), lat.get("p99"), proc.get("rss_peak_kb", 0) / 1024,
                r.get("server_cpu_us_per_delivered_msg"), (r.get("server_phase") or {}).get("cpu_s"),
                (r.get("loadgen") or {}).get("cpu_s"), r["_file"]))
        out += ["", "How each figure grows along the curve (slope of log figure over log x):", "",
                "| server | mode | " + " | ".join(n for n, _ in FIGURES) + " |",
                "|---|---|" + "---|" * len(FIGURES)]
        for s in servers:
            for sat in (False, True):
                cells = [growth(slope(points(runs, xof, sat, s, get))) for _, get in FIGURES]
                out.append(f"| {s} | {'sat' if sat else 'rate'} | " + " | ".join(cells) + " |")
        out.append("")
    with open(os.path.join(root, "summary.md"), "w") as f:
        f.write("\n".join(out) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
