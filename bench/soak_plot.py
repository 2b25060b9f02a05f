"""Plots a soak's samples (bench/soak.sh's CSV) to a PNG beside it and prints a Markdown
note: per series, the least-squares slope after the warm-up, per hour, with its standard
error, and the range over the same stretch.

    bench/.venv/bin/python bench/soak_plot.py results/<stamp>-soak.csv --warmup 300
"""

import argparse
import csv
import json
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SERIES = [
    ("rss_kb", "RSS (MiB)", 1 / 1024),
    ("fds", "open file descriptors", 1),
    ("sessions", "Engine.IO sessions", 1),
    ("rooms", "rooms", 1),
    ("mailbox_depth_sum", "actor mailbox depth (sum)", 1),
    ("mailbox_depth_max", "actor mailbox depth (max)", 1),
]


def fit(xs, ys):
    """Least-squares line: (slope, its standard error, intercept)."""
    n = len(xs)
    if n < 3:
        return 0.0, float("nan"), ys[0] if ys else 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    slope = sxy / sxx if sxx else 0.0
    intercept = my - slope * mx
    resid = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys))
    se = math.sqrt(resid / (n - 2) / sxx) if sxx else float("nan")
    return slope, se, intercept


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--warmup", type=float, default=300)
    ap.add_argument("--clients-end", type=float, default=None,
                    help="seconds at which the clients stop (samples after it are the idle tail)")
    ap.add_argument("--report", default=None, help="loadgen's JSON report")
    ap.add_argument("--panics", default="?")
    ap.add_argument("--command", default="bench/soak.sh")
    args = ap.parse_args()

    with open(args.csv) as f:
        rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
    end = args.clients_end if args.clients_end is not None else rows[-1]["t_s"]
    steady = [r for r in rows if args.warmup <= r["t_s"] <= end]
    png = os.path.splitext(args.csv)[0] + ".png"

    fig, axes = plt.subplots(len(SERIES), 1, figsize=(10, 2.2 * len(SERIES)), sharex=True)
    lines = []
    for ax, (key, label, scale) in zip(axes, SERIES):
        ts = [r["t_s"] / 60 for r in rows]
        ax.plot(ts, [r[key] * scale for r in rows], lw=1)
        xs = [r["t_s"] for r in steady]
        ys = [r[key] for r in steady]
        slope, se, icpt = fit(xs, ys) if steady else (0.0, float("nan"), 0.0)
        if steady:
            ax.plot([x / 60 for x in xs], [(icpt + slope * x) * scale for x in xs],
                    "r--", lw=1)
            lo, hi, mean = min(ys), max(ys), sum(ys) / len(ys)
        else:
            lo = hi = mean = float("nan")
        ax.axvspan(0, args.warmup / 60, color="0.9")
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
        lines.append((key, slope * 3600, se * 3600, mean, lo, hi))
    axes[-1].set_xlabel("minutes (grey: warm-up left out of the fit; red: least-squares line)")
    fig.suptitle(f"siohub soak: {os.path.basename(args.csv)}")
    fig.tight_layout()
    fig.savefig(png, dpi=90)

    report = {}
    if args.report and os.path.exists(args.report):
        try:
            with open(args.report) as f:
                report = json.load(f)
        except (OSError, ValueError):
            report = {}
    print(f"# Soak {os.path.basename(args.csv)}\n")
    print(f"Command: `{args.command}` (samples every 10 s: `{os.path.basename(args.csv)}`; "
          f"plot: `{os.path.basename(png)}`).\n")
    print(f"![soak]({os.path.basename(png)})\n")
    if report:
        keys = ["connects", "connect_failures", "clean_leaves", "abrupt_leaves", "server_closed",
                "joins", "leaves", "published", "received", "connects_per_s", "first_error"]
        print("Clients (loadgen's report): " +
              ", ".join(f"{k} {report.get(k)}" for k in keys) + ".\n")
    print(f"Panics in the server's log: {args.panics}.\n")
    print(f"Slopes fitted from t = {args.warmup:.0f} s to t = {end:.0f} s "
          f"({len(steady)} samples), per hour, ± one standard error:\n")
    print("| series | slope / h | ± | mean | min | max |")
    print("|---|---|---|---|---|---|")
    for key, slope, se, mean, lo, hi in lines:
        print(f"| {key} | {slope:+.1f} | {se:.1f} | {mean:.1f} | {lo:.0f} | {hi:.0f} |")
    tail = [r for r in rows if r["t_s"] > end]
    if tail:
        last = tail[-1]
        print(f"\nAfter the clients left (t = {last['t_s']:.0f} s): RSS {last['rss_kb']:.0f} kB, "
              f"fds {last['fds']:.0f}, sessions {last['sessions']:.0f}, "
              f"sockets {last['sockets']:.0f}, rooms {last['rooms']:.0f}, "
              f"mailbox depth sum {last['mailbox_depth_sum']:.0f}; at t = 0: "
              f"RSS {rows[0]['rss_kb']:.0f} kB, fds {rows[0]['fds']:.0f}.")


if __name__ == "__main__":
    main()
