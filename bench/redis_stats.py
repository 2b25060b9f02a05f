#!/usr/bin/env python3
"""What one cluster run cost Redis, added to the run's report (run.sh's cluster scenario).

    redis_stats.py BEFORE AFTER < report.json > report-with-redis.json

BEFORE and AFTER are `redis-cli INFO everything` taken just before and just after the
`loadgen run`. The report (one JSON object, the loadgen's) gets a "redis" object:
  cpu_s                       used_cpu_sys + used_cpu_user over the whole run (connect,
                              publishing and drain), from INFO cpu
  commands                    calls per command (INFO commandstats), the run.sh's own
                              INFO/CLIENT/CONFIG/FLUSHALL calls left out
  publish_calls               PUBLISH + SPUBLISH calls
  net_in_bytes, net_out_bytes total_net_input_bytes / total_net_output_bytes (INFO stats)
  reads, writes               total_reads_processed / total_writes_processed (INFO stats):
                              Redis's read and write calls, which its CPU mostly goes to
  ..._per_publish             each of those divided by the run's publishes
"""
import json
import sys

# Commands run.sh itself sends around a run; they are not the servers' traffic.
OWN = {"info", "client|list", "config|resetstat", "flushall", "ping"}


def parse(path):
    """INFO's `key:value` lines; commandstats' `cmdstat_X:calls=..,...` as {X: calls}."""
    fields, calls = {}, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or ":" not in line:
                continue
            key, value = line.split(":", 1)
            if key.startswith("cmdstat_"):
                stats = dict(kv.split("=", 1) for kv in value.split(","))
                calls[key[len("cmdstat_"):]] = int(stats["calls"])
            else:
                fields[key] = value
    return fields, calls


def main():
    (before, calls_before), (after, calls_after) = parse(sys.argv[1]), parse(sys.argv[2])
    report = json.loads(sys.stdin.read())

    def delta(key):
        return float(after.get(key, 0)) - float(before.get(key, 0))

    commands = {
        name: n - calls_before.get(name, 0)
        for name, n in sorted(calls_after.items())
        if name not in OWN and n - calls_before.get(name, 0) > 0
    }
    cpu_s = delta("used_cpu_sys") + delta("used_cpu_user")
    redis = {
        "version": after.get("redis_version"),
        "cpu_s": round(cpu_s, 3),
        "commands": commands,
        "publish_calls": commands.get("publish", 0) + commands.get("spublish", 0),
        "net_in_bytes": int(delta("total_net_input_bytes")),
        "net_out_bytes": int(delta("total_net_output_bytes")),
        "reads": int(delta("total_reads_processed")),
        "writes": int(delta("total_writes_processed")),
    }
    published = report.get("published") or 0
    if published > 0:
        redis["cpu_us_per_publish"] = round(cpu_s * 1e6 / published, 3)
        redis["publish_calls_per_publish"] = round(redis["publish_calls"] / published, 3)
        redis["commands_per_publish"] = round(sum(commands.values()) / published, 3)
        redis["net_in_bytes_per_publish"] = round(redis["net_in_bytes"] / published, 1)
        redis["net_out_bytes_per_publish"] = round(redis["net_out_bytes"] / published, 1)
        redis["reads_per_publish"] = round(redis["reads"] / published, 3)
        redis["writes_per_publish"] = round(redis["writes"] / published, 3)
    report["redis"] = redis
    print(json.dumps(report, separators=(",", ":")))


if __name__ == "__main__":
    main()
