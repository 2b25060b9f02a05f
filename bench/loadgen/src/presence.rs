//! `presence`: a join storm with presence events on (siohub only: the peers have no
//! `presence`). `--clients` websockets connect to `/` without joining; then every one sends
//! `join` for the room at once, and each counts the `presence` events it receives (and the
//! members they list) until none has come for `--drain-idle` seconds. The report says how
//! many events the server sent for the storm, how many member entries they carried, and
//! how long the joins and the events took: against the N·(N+1)/2 events (at least) that one
//! event per join to each member present would cost.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::time::sleep;

use crate::metrics::{now_us, procs_sample, r3, record, summary_ms, Latencies};
use crate::scenarios::{connect_many, phase, IDLE_BUF};
use crate::sio;
use crate::ws::{find, Frame, Ws};
use crate::Config;

/// What the members count.
struct Storm {
    joins: Latencies,
    joined: AtomicU64,
    refused: AtomicU64,
    events: AtomicU64,
    bytes: AtomicU64,
    entries: AtomicU64,
    /// When the last presence event arrived (µs, the generator's clock).
    last_event_us: AtomicU64,
    /// When the storm began.
    start_us: AtomicU64,
}

/// The number of `"sid"` entries in a presence event.
fn entries(t: &[u8]) -> u64 {
    let mut rest = t;
    let mut n = 0;
    while let Some(at) = find(rest, b"\"sid\"") {
        n += 1;
        rest = &rest[at + 5..];
    }
    n
}

/// One member: answers pings, joins the room when the storm starts, counts what it gets.
async fn member(
    mut ws: Ws,
    s: Arc<Storm>,
    mut start: watch::Receiver<bool>,
    room: String,
    shard: usize,
) {
    let mut sent = false;
    loop {
        tokio::select! {
            changed = start.changed(), if !sent => {
                if changed.is_err() {
                    return;
                }
                sent = true;
                if ws.wr.send_text(&sio::join_packet(&room, 1)).await.is_err() {
                    return;
                }
            }
            n = ws.rd.fill() => {
                if !matches!(n, Ok(n) if n > 0) {
                    return;
                }
                let now = now_us();
                let mut pong = false;
                while let Ok(Some(frame)) = ws.rd.next_frame() {
                    match frame {
                        Frame::Text(t) if t.starts_with(b"42[\"presence\"") => {
                            s.events.fetch_add(1, Relaxed);
                            s.bytes.fetch_add(t.len() as u64, Relaxed);
                            s.entries.fetch_add(entries(t), Relaxed);
                            s.last_event_us.fetch_max(now, Relaxed);
                        }
                        Frame::Text(t) => {
                            if let Some((1, args)) = sio::parse_ack(t) {
                                if sio::check_ok(args, "join").is_ok() {
                                    s.joined.fetch_add(1, Relaxed);
                                } else {
                                    s.refused.fetch_add(1, Relaxed);
                                }
                                let start = s.start_us.load(Relaxed);
                                record(&mut s.joins.shard(shard), now.saturating_sub(start));
                            } else if t == b"2" {
                                pong = true;
                            }
                        }
                        Frame::Close(_) => return,
                        _ => {}
                    }
                }
                if pong && ws.wr.send_text(b"3").await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The scenario.
pub async fn run(cfg: &Config) -> io::Result<Value> {
    eprintln!("loadgen: {} — connecting {} members", cfg.case, cfg.clients);
    let conns = {
        let cfg = Arc::new(cfg.clone());
        connect_many(cfg.clients, &cfg.clone(), move |i| {
            let cfg = cfg.clone();
            async move {
                sio::connect_ws(
                    cfg.addr_for(i),
                    &cfg.path,
                    IDLE_BUF,
                    i as u32,
                    sio::Wire::default(),
                )
                .await
            }
        })
        .await
    };
    let report = conns.report();
    let n = conns.ok.len();
    let s = Arc::new(Storm {
        joins: Latencies::new(16),
        joined: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        events: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        entries: AtomicU64::new(0),
        last_event_us: AtomicU64::new(0),
        start_us: AtomicU64::new(0),
    });
    let (go, start) = watch::channel(false);
    for (i, ws) in conns.ok.into_iter().enumerate() {
        tokio::spawn(member(ws, s.clone(), start.clone(), cfg.room.clone(), i));
    }
    sleep(Duration::from_secs_f64(cfg.settle)).await;
    eprintln!(
        "loadgen: {} — {n} members join {:?} at once",
        cfg.case, cfg.room
    );
    let before = procs_sample(&cfg.pids);
    let t0 = Instant::now();
    s.start_us.store(now_us(), Relaxed);
    let _ = go.send(true);
    let limit = Duration::from_secs_f64(cfg.drain_max);
    while s.joined.load(Relaxed) + s.refused.load(Relaxed) < n as u64 && t0.elapsed() < limit {
        sleep(Duration::from_millis(10)).await;
    }
    let join_s = t0.elapsed().as_secs_f64();
    // Quiet: no presence event for `drain_idle` seconds (or `drain_max` in all).
    let idle = (cfg.drain_idle * 1e6) as u64;
    loop {
        let last = s.last_event_us.load(Relaxed).max(s.start_us.load(Relaxed));
        if now_us().saturating_sub(last) > idle || t0.elapsed() > limit {
            break;
        }
        sleep(Duration::from_millis(20)).await;
    }
    let after = procs_sample(&cfg.pids);
    let last = s.last_event_us.load(Relaxed);
    let to_last = last.saturating_sub(s.start_us.load(Relaxed)) as f64 / 1e6;
    let events = s.events.load(Relaxed);
    // One event per join to each member present, the joiner included: N(N+1)/2 at least.
    let naive = (n as u64) * (n as u64 + 1) / 2;
    eprintln!(
        "loadgen: {} — {} joins in {join_s:.2} s, {events} presence events (one per join per member: {naive}), last at {to_last:.2} s",
        cfg.case,
        s.joined.load(Relaxed)
    );
    Ok(json!({
        "params": {"members": cfg.clients, "room": cfg.room, "drain_idle_s": cfg.drain_idle},
        "connect": report,
        "members": n,
        "joined": s.joined.load(Relaxed),
        "join_refused": s.refused.load(Relaxed),
        "join_seconds": r3(join_s),
        "join_latency_ms": summary_ms(&s.joins.merged()),
        "presence_events": events,
        "presence_bytes": s.bytes.load(Relaxed),
        "presence_entries": s.entries.load(Relaxed),
        "events_per_member": if n > 0 { r3(events as f64 / n as f64) } else { 0.0 },
        "one_event_per_join_per_member": naive,
        "seconds_to_last_event": r3(to_last),
        "server_phase": phase(before, after),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_counted_by_sid() {
        let batch = br#"42["presence",{"room":"r","joined":[{"sid":"a","user":null},{"sid":"b","user":"u"}],"left":[]}]"#;
        assert_eq!(entries(batch), 2);
        assert_eq!(
            entries(br#"42["presence",{"room":"r","left":{"sid":"a","user":null}}]"#),
            1
        );
    }
}
