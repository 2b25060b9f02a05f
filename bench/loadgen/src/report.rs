//! `loadgen table`: turns the JSON reports of a benchmark run (one per line) into the
//! Markdown comparison table: one row per figure of each case, a column per server, and
//! siohub's ratio to each peer.

use std::collections::BTreeMap;

use serde_json::Value;

/// Whether a bigger figure is better (↑) or worse (↓); counts and sizes say neither.
#[derive(Clone, Copy)]
enum Better {
    Up,
    Down,
    Neither,
}

/// One row: how to read the figure out of a report.
struct Figure {
    name: &'static str,
    better: Better,
    get: fn(&Value) -> Option<Cell>,
}

enum Cell {
    Num(f64),
    Text(String),
}

fn num(v: &Value, path: &[&str]) -> Option<Cell> {
    let mut v = v;
    for key in path {
        v = v.get(key)?;
    }
    v.as_f64().map(Cell::Num)
}

fn kb_to_mb(v: &Value, path: &[&str]) -> Option<Cell> {
    match num(v, path)? {
        Cell::Num(kb) => Some(Cell::Num(kb / 1024.0)),
        text => Some(text),
    }
}

fn counts(v: &Value, got: &str, of: &str) -> Option<Cell> {
    Some(Cell::Text(format!(
        "{} / {}",
        v.get(got)?.as_u64()?,
        v.get(of)?.as_u64()?
    )))
}

const FANOUT: &[Figure] = &[
    Figure {
        name: "received / expected",
        better: Better::Neither,
        get: |v| counts(v, "received", "expected"),
    },
    Figure {
        name: "delivered msgs/s",
        better: Better::Up,
        get: |v| num(v, &["delivered_msgs_per_s"]),
    },
    // push: the backend's requests (rows left out for the other scenarios).
    Figure {
        name: "push requests/s",
        better: Better::Up,
        get: |v| num(v, &["push", "requests_per_s"]),
    },
    Figure {
        name: "push request p50 ms",
        better: Better::Down,
        get: |v| num(v, &["push", "request_latency_ms", "p50"]),
    },
    Figure {
        name: "push request p99 ms",
        better: Better::Down,
        get: |v| num(v, &["push", "request_latency_ms", "p99"]),
    },
    Figure {
        name: "offered msgs/s",
        better: Better::Neither,
        get: |v| num(v, &["offered_msgs_per_s"]),
    },
    Figure {
        name: "latency p50 ms",
        better: Better::Down,
        get: |v| num(v, &["latency_ms", "p50"]),
    },
    Figure {
        name: "latency p99 ms",
        better: Better::Down,
        get: |v| num(v, &["latency_ms", "p99"]),
    },
    Figure {
        name: "latency max ms",
        better: Better::Down,
        get: |v| num(v, &["latency_ms", "max"]),
    },
    Figure {
        name: "loss %",
        better: Better::Down,
        get: |v| num(v, &["loss_pct"]),
    },
    Figure {
        name: "drain",
        better: Better::Neither,
        get: |v| {
            let secs = v.get("drain_s")?.as_f64()?;
            Some(Cell::Text(if v.get("drained")?.as_bool()? {
                format!("done in {secs:.1} s")
            } else {
                format!("cut after {secs:.0} s")
            }))
        },
    },
    Figure {
        name: "drops counted by the server",
        better: Better::Neither,
        get: |v| {
            let acks = v.get("server_reported_drops")?.as_f64()?;
            let metrics = v
                .get("server_metrics_drops")
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            Some(Cell::Num(acks + metrics))
        },
    },
    Figure {
        name: "subscribers disconnected",
        better: Better::Down,
        get: |v| num(v, &["subscribers_lost"]),
    },
    Figure {
        name: "server RSS peak MiB",
        better: Better::Down,
        get: |v| kb_to_mb(v, &["server_proc", "rss_peak_kb"]),
    },
    Figure {
        name: "server CPU s (publish+drain)",
        better: Better::Down,
        get: |v| num(v, &["server_phase", "cpu_s"]),
    },
    Figure {
        name: "server CPU µs / delivered msg",
        better: Better::Down,
        get: |v| num(v, &["server_cpu_us_per_delivered_msg"]),
    },
    Figure {
        name: "wire bytes / delivered msg",
        better: Better::Down,
        get: |v| num(v, &["wire", "bytes_per_delivered_msg"]),
    },
    Figure {
        name: "subscribers on deflate",
        better: Better::Neither,
        get: |v| {
            let w = v.get("wire")?;
            w.get("deflate_offered")?
                .as_bool()?
                .then(|| num(w, &["deflate_subscribers"]))?
        },
    },
    Figure {
        name: "chat room subscribers min · max",
        better: Better::Neither,
        get: |v| {
            let c = v.get("chat")?;
            Some(Cell::Text(format!(
                "{} · {}",
                c.get("room_subscribers_min")?.as_u64()?,
                c.get("room_subscribers_max")?.as_u64()?
            )))
        },
    },
    Figure {
        name: "connect conns/s",
        better: Better::Up,
        get: |v| num(v, &["connect", "conns_per_s"]),
    },
    Figure {
        name: "server CPU s per node (publisher's first)",
        better: Better::Neither,
        get: |v| {
            let nodes = v.get("server_phase_nodes")?.as_array()?;
            let cpu: Vec<String> = nodes
                .iter()
                .map(|n| n.get("cpu_s").and_then(Value::as_f64).map(fmt))
                .collect::<Option<_>>()?;
            (cpu.len() > 1).then(|| Cell::Text(cpu.join(" · ")))
        },
    },
    // The cluster scenario's Redis (rows left out when no run has them).
    Figure {
        name: "Redis CPU s (publish+drain)",
        better: Better::Down,
        get: |v| num(v, &["redis_phase", "cpu_s"]),
    },
    Figure {
        name: "Redis CPU µs per publish (whole run, INFO cpu)",
        better: Better::Down,
        get: |v| num(v, &["redis", "cpu_us_per_publish"]),
    },
    Figure {
        name: "Redis PUBLISH per publish (commandstats)",
        better: Better::Neither,
        get: |v| num(v, &["redis", "publish_calls_per_publish"]),
    },
    Figure {
        name: "Redis commands per publish (commandstats)",
        better: Better::Neither,
        get: |v| num(v, &["redis", "commands_per_publish"]),
    },
    Figure {
        name: "Redis reads · writes per publish",
        better: Better::Neither,
        get: |v| {
            let r = v.get("redis")?;
            let (reads, writes) = (r.get("reads_per_publish")?, r.get("writes_per_publish")?);
            Some(Cell::Text(format!(
                "{} · {}",
                fmt(reads.as_f64()?),
                fmt(writes.as_f64()?)
            )))
        },
    },
    Figure {
        name: "Redis bytes out per publish",
        better: Better::Neither,
        get: |v| num(v, &["redis", "net_out_bytes_per_publish"]),
    },
];

const IDLE: &[Figure] = &[
    Figure {
        name: "connected / attempted",
        better: Better::Neither,
        get: |v| counts(&v["connect"], "connected", "attempted"),
    },
    Figure {
        name: "RSS per conn KiB",
        better: Better::Down,
        get: |v| num(v, &["rss_per_conn", "kib_per_conn"]),
    },
    Figure {
        name: "server RSS MiB",
        better: Better::Down,
        get: |v| kb_to_mb(v, &["rss_per_conn", "rss_after_kb"]),
    },
    Figure {
        name: "connect conns/s",
        better: Better::Up,
        get: |v| num(v, &["connect", "conns_per_s"]),
    },
    Figure {
        name: "server CPU s",
        better: Better::Down,
        get: |v| num(v, &["server_proc", "cpu_total_s"]),
    },
];

const RAMP: &[Figure] = &[
    Figure {
        name: "connected / attempted",
        better: Better::Neither,
        get: |v| counts(&v["connect"], "connected", "attempted"),
    },
    Figure {
        name: "conns/s",
        better: Better::Up,
        get: |v| num(v, &["connect", "conns_per_s"]),
    },
    Figure {
        name: "connect p99 ms",
        better: Better::Down,
        get: |v| num(v, &["connect", "latency_ms", "p99"]),
    },
    Figure {
        name: "RSS per conn KiB",
        better: Better::Down,
        get: |v| num(v, &["rss_per_conn", "kib_per_conn"]),
    },
    Figure {
        name: "server CPU s",
        better: Better::Down,
        get: |v| num(v, &["server_phase", "cpu_s"]),
    },
];

/// The echo figure its rounds are ranked by.
const ECHO_KEY: &str = "round trip p99 ms";

const ECHO: &[Figure] = &[
    Figure {
        name: "acked / sent",
        better: Better::Neither,
        get: |v| counts(v, "acked", "sent"),
    },
    Figure {
        name: "acks/s",
        better: Better::Up,
        get: |v| num(v, &["acks_per_s"]),
    },
    Figure {
        name: "round trip p50 ms",
        better: Better::Down,
        get: |v| num(v, &["latency_ms", "p50"]),
    },
    Figure {
        name: ECHO_KEY,
        better: Better::Down,
        get: |v| num(v, &["latency_ms", "p99"]),
    },
    Figure {
        name: "round trip max ms",
        better: Better::Down,
        get: |v| num(v, &["latency_ms", "max"]),
    },
    Figure {
        name: "server RSS peak MiB",
        better: Better::Down,
        get: |v| kb_to_mb(v, &["server_proc", "rss_peak_kb"]),
    },
    Figure {
        name: "server CPU s",
        better: Better::Down,
        get: |v| num(v, &["server_phase", "cpu_s"]),
    },
];

fn figures(scenario: &str) -> &'static [Figure] {
    match scenario {
        "idle" => IDLE,
        "ramp" => RAMP,
        "echo" => ECHO,
        _ => FANOUT,
    }
}

fn fmt(x: f64) -> String {
    if x.abs() >= 1000.0 {
        let s = format!("{:.0}", x);
        // Thin grouping for readability: 1234567 → 1,234,567.
        let (sign, digits) = s.split_at(if s.starts_with('-') { 1 } else { 0 });
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    } else if x.abs() >= 100.0 || x.fract() == 0.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// The table for `runs` (reports in the order they ran).
pub fn table(runs: &[Value]) -> String {
    let mut servers: Vec<String> = Vec::new();
    let mut cases: Vec<(String, String)> = Vec::new();
    let mut rounds: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    for run in runs {
        let server = run["server"].as_str().unwrap_or("?").to_owned();
        let case = run["case"].as_str().unwrap_or("?").to_owned();
        let scenario = run["scenario"].as_str().unwrap_or("?").to_owned();
        if !servers.contains(&server) {
            servers.push(server.clone());
        }
        if !cases.iter().any(|(c, _)| *c == case) {
            cases.push((case.clone(), scenario));
        }
        rounds.entry((case, server)).or_default().push(run);
    }
    let scenario_of = |case: &str| {
        cases
            .iter()
            .find(|(c, _)| c == case)
            .map_or("?", |(_, s)| s.as_str())
    };
    let by: BTreeMap<(String, String), &Value> = rounds
        .iter()
        .map(|(key, runs)| {
            (
                key.clone(),
                median_round(runs, figures(scenario_of(&key.0))),
            )
        })
        .collect();
    // siohub first, its ratio to every other server.
    if let Some(i) = servers.iter().position(|s| s == "siohub") {
        let s = servers.remove(i);
        servers.insert(0, s);
    }
    let base = servers.first().cloned().filter(|s| s == "siohub");
    let peers: Vec<&String> = servers
        .iter()
        .filter(|s| Some(*s) != base.as_ref())
        .collect();

    let mut out = String::from("| case | figure |");
    for s in &servers {
        out += &format!(" {s} |");
    }
    if let Some(b) = &base {
        for p in &peers {
            out += &format!(" {b}/{p} |");
        }
    }
    out += "\n|---|---|";
    let cols = servers.len() + if base.is_some() { peers.len() } else { 0 };
    out += &"---:|".repeat(cols);
    out.push('\n');

    for (case, scenario) in &cases {
        for fig in figures(scenario) {
            let arrow = match fig.better {
                Better::Up => " ↑",
                Better::Down => " ↓",
                Better::Neither => "",
            };
            let first_row = std::ptr::eq(fig, &figures(scenario)[0]);
            let cell = |server: &String| {
                let run = by.get(&(case.clone(), server.clone()))?;
                if run.get("error").is_some() {
                    return first_row.then(|| Cell::Text("FAILED".to_owned()));
                }
                (fig.get)(run)
            };
            let cells: Vec<Option<Cell>> = servers.iter().map(cell).collect();
            if cells.iter().all(Option::is_none) {
                continue;
            }
            out += &format!("| {case} | {}{arrow} |", fig.name);
            for c in &cells {
                out += &match c {
                    Some(Cell::Num(x)) => format!(" {} |", fmt(*x)),
                    Some(Cell::Text(t)) => format!(" {t} |"),
                    None => " – |".to_owned(),
                };
            }
            if base.is_some() {
                let b = &cells[0];
                for (i, _) in peers.iter().enumerate() {
                    let ratio = match (b, &cells[i + 1], fig.better) {
                        (_, _, Better::Neither) => None,
                        (Some(Cell::Num(x)), Some(Cell::Num(y)), _) if *y != 0.0 => Some(x / y),
                        _ => None,
                    };
                    out += &ratio.map_or(" – |".to_owned(), |r| format!(" {r:.2}x |"));
                }
            }
            out.push('\n');
            if key_figure(figures(scenario)).is_some_and(|k| std::ptr::eq(k, fig)) {
                out += &each_round_row(case, fig, &servers, &rounds, cols - servers.len());
            }
        }
    }
    out
}

/// The figure rounds are ranked by: for echo its round-trip p99 (every round acks the
/// offered rate, so acks/s ranks nothing; the tail is what echo rounds are run for), else
/// the scenario's first "bigger is better" one.
fn key_figure(figures: &'static [Figure]) -> Option<&'static Figure> {
    figures
        .iter()
        .find(|f| f.name == ECHO_KEY)
        .or_else(|| figures.iter().find(|f| matches!(f.better, Better::Up)))
}

fn key_value(run: &Value, figures: &'static [Figure]) -> Option<f64> {
    match (key_figure(figures)?.get)(run)? {
        Cell::Num(x) if run.get("error").is_none() => Some(x),
        _ => None,
    }
}

/// The round with the median key figure (of an even count, the worse of the two middle
/// rounds); a failed round only if every round failed.
fn median_round<'a>(runs: &[&'a Value], figures: &'static [Figure]) -> &'a Value {
    let mut ok: Vec<(f64, &Value)> = runs
        .iter()
        .filter_map(|r| Some((key_value(r, figures)?, *r)))
        .collect();
    if ok.is_empty() {
        return runs[0];
    }
    // Worst first.
    let lower_is_better = key_figure(figures).is_some_and(|k| matches!(k.better, Better::Down));
    ok.sort_by(|a, b| match lower_is_better {
        true => b.0.total_cmp(&a.0),
        false => a.0.total_cmp(&b.0),
    });
    ok[(ok.len() - 1) / 2].1
}

/// With more than one round, a row listing the key figure of every round, in run order.
fn each_round_row(
    case: &str,
    fig: &Figure,
    servers: &[String],
    rounds: &BTreeMap<(String, String), Vec<&Value>>,
    ratio_columns: usize,
) -> String {
    let many = servers.iter().any(|s| {
        rounds
            .get(&(case.to_owned(), s.clone()))
            .is_some_and(|r| r.len() > 1)
    });
    if !many {
        return String::new();
    }
    let mut row = format!("| {case} | {}, each round (median above) |", fig.name);
    for server in servers {
        let values: Vec<String> = rounds
            .get(&(case.to_owned(), server.clone()))
            .map(|runs| {
                runs.iter()
                    .map(|r| match (fig.get)(r) {
                        Some(Cell::Num(x)) if r.get("error").is_none() => fmt(x),
                        _ => "FAILED".to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        row += &format!(
            " {} |",
            if values.is_empty() {
                "–".to_owned()
            } else {
                values.join(" · ")
            }
        );
    }
    row += &" – |".repeat(ratio_columns);
    row.push('\n');
    row
}

pub fn table_from_file(path: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    if let Ok(Value::Object(bundle)) = serde_json::from_str::<Value>(&text) {
        if let Some(Value::Array(runs)) = bundle.get("runs") {
            return Ok(table(runs));
        }
    }
    let runs: Vec<Value> = text
        .lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{path}: {e}")))
        .collect::<Result<_, _>>()?;
    Ok(table(&runs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_has_a_column_per_server_and_siohub_ratios() {
        let run = |server: &str, rate: f64| {
            json!({"case": "fanout-1k-r200", "scenario": "fanout", "server": server,
                   "received": 10, "expected": 10, "delivered_msgs_per_s": rate,
                   "latency_ms": {"p50": 1.0, "p99": 2.0, "max": 3.0}})
        };
        let failed = json!({"case": "fanout-1k-r200", "scenario": "fanout", "server": "socketioxide", "error": "x"});
        let t = table(&[run("node", 100.0), run("siohub", 200.0), failed]);
        assert!(t.starts_with(
            "| case | figure | siohub | node | socketioxide | siohub/node | siohub/socketioxide |"
        ));
        assert!(t.contains(
            "| fanout-1k-r200 | received / expected | 10 / 10 | 10 / 10 | FAILED | – | – |"
        ));
        assert!(t.contains("| fanout-1k-r200 | delivered msgs/s ↑ | 200 | 100 | – | 2.00x | – |"));
    }

    #[test]
    fn echo_rounds_are_ranked_by_their_p99() {
        let run = |server: &str, p50: f64, p99: f64| {
            json!({"case": "echo-1k", "scenario": "echo", "server": server,
                   "acked": 10, "sent": 10, "acks_per_s": 10.0,
                   "latency_ms": {"p50": p50, "p99": p99, "max": 9.0}})
        };
        let t = table(&[
            run("siohub", 0.1, 3.0),
            run("socketioxide", 0.3, 2.0),
            run("siohub", 0.2, 1.0),
            run("socketioxide", 0.4, 4.0),
            run("siohub", 0.3, 2.0),
            run("socketioxide", 0.5, 6.0),
            run("socketioxide", 0.6, 5.0),
        ]);
        // siohub: the round of p99 2 (its p50 comes with it). socketioxide's four rounds
        // (2, 4, 5, 6): the worse middle one, 5.
        assert!(
            t.contains("| echo-1k | round trip p99 ms ↓ | 2 | 5 | 0.40x |"),
            "{t}"
        );
        assert!(
            t.contains("| echo-1k | round trip p50 ms ↓ | 0.30 | 0.60 | 0.50x |"),
            "{t}"
        );
        assert!(
            t.contains("| echo-1k | round trip p99 ms, each round (median above) | 3 · 1 · 2 | 2 · 4 · 6 · 5 | – |"),
            "{t}"
        );
    }

    #[test]
    fn rounds_show_the_median_round_and_every_round() {
        let run = |server: &str, rate: f64, p99: f64| {
            json!({"case": "ramp-8k", "scenario": "ramp", "server": server,
                   "connect": {"conns_per_s": rate, "connected": 8, "attempted": 8,
                               "latency_ms": {"p99": p99}}})
        };
        let failed =
            json!({"case": "ramp-8k", "scenario": "ramp", "server": "siohub", "error": "x"});
        let t = table(&[
            run("siohub", 300.0, 3.0),
            run("node", 100.0, 1.0),
            run("siohub", 100.0, 1.0),
            run("node", 120.0, 2.0),
            run("siohub", 200.0, 2.0),
            run("node", 80.0, 3.0),
            failed,
        ]);
        // siohub's median of 100, 200, 300 is the round at 200 (its p99 comes with it);
        // node's median of 80, 100, 120 is 100.
        assert!(
            t.contains("| ramp-8k | conns/s ↑ | 200 | 100 | 2.00x |"),
            "{t}"
        );
        assert!(
            t.contains("| ramp-8k | connect p99 ms ↓ | 2 | 1 | 2.00x |"),
            "{t}"
        );
        assert!(
            t.contains("| ramp-8k | conns/s, each round (median above) | 300 · 100 · 200 · FAILED | 100 · 120 · 80 | – |"),
            "{t}"
        );
    }
}
