//! The scenarios: `fanout` and its variants (`mixed`: a share of the subscribers on
//! polling; `polling`: all of them; `chat`: many small rooms, see `chat.rs`; `push`: the
//! publishes are HTTP requests, see `push.rs`), `idle`, `ramp` and `echo` (and `presence`
//! and `soak`, in their own modules). Each returns one JSON report.
//!
//! Counting, not sampling: every delivered message is counted and its publish→receive
//! latency recorded; loss is what was published times the subscribers, minus what arrived.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{Mutex as AsyncMutex, Semaphore};
use tokio::time::sleep;

use crate::metrics::{
    now_us, proc_sample, procs_sample, r3, record, summary_ms, Latencies, ProcSample, Window,
};
use crate::polling::{self, Polling};
use crate::real::{self, Client};
use crate::sio;
use crate::ws::{Frame, Ws, WsWriter};
use crate::Config;
use crate::{chat, push};

/// The event name publishers ask the server to emit.
const EVENT: &str = "m";
/// Small read buffer for connections that only idle.
pub(crate) const IDLE_BUF: usize = 1024;

/// A case name such as `fanout-1000-r200` when `--case` is not given.
pub fn default_case(cfg: &Config) -> String {
    let rate = if cfg.rate > 0.0 {
        format!("r{}", cfg.rate)
    } else {
        "sat".to_owned()
    };
    match cfg.scenario.as_str() {
        "fanout" | "mixed" | "chat" | "polling" | "push" => {
            format!("{}-{}-{rate}", cfg.scenario, cfg.clients)
        }
        other => format!("{other}-{}", cfg.clients),
    }
}

pub async fn run(cfg: &Config) -> io::Result<Value> {
    let before = procs_sample(&cfg.pids);
    if !cfg.pids.is_empty() && before.is_none() {
        return Err(io::Error::other(format!(
            "no process {:?} to measure",
            cfg.pids
        )));
    }
    let mut report = match cfg.scenario.as_str() {
        "fanout" | "mixed" | "chat" | "polling" | "push" => fanout(cfg).await?,
        "idle" => idle(cfg).await?,
        "ramp" => ramp(cfg).await?,
        "echo" => echo(cfg).await?,
        "presence" => crate::presence::run(cfg).await?,
        "soak" => crate::soak::soak(cfg).await?,
        other => return Err(io::Error::other(format!("unknown scenario {other}"))),
    };
    let after = procs_sample(&cfg.pids);
    let own = proc_sample(None).unwrap_or_default();
    let obj = report.as_object_mut().expect("reports are objects");
    obj.insert("scenario".into(), json!(cfg.scenario));
    obj.insert("case".into(), json!(cfg.case));
    obj.insert("server".into(), json!(cfg.label));
    obj.insert("nodes".into(), json!(cfg.addrs.len()));
    if let (Some(b), Some(a)) = (before, after) {
        obj.insert(
            "server_proc".into(),
            json!({
                "pids": cfg.pids,
                "rss_start_kb": b.rss_kb,
                "rss_end_kb": a.rss_kb,
                "rss_peak_kb": a.hwm_kb,
                "cpu_total_s": r3(a.cpu_s - b.cpu_s),
            }),
        );
    }
    obj.insert(
        "loadgen".into(),
        json!({"cpu_s": r3(own.cpu_s), "rss_peak_kb": own.hwm_kb}),
    );
    Ok(report)
}

/// How a batch of connection attempts went.
pub(crate) struct Connected<T> {
    pub(crate) ok: Vec<T>,
    failed: usize,
    first_error: Option<String>,
    seconds: f64,
    latency: hdrhistogram::Histogram<u64>,
}

impl<T> Connected<T> {
    pub(crate) fn report(&self) -> Value {
        let n = self.ok.len();
        json!({
            "attempted": n + self.failed,
            "connected": n,
            "failed": self.failed,
            "first_error": self.first_error,
            "seconds": r3(self.seconds),
            "conns_per_s": if self.seconds > 0.0 { r3(n as f64 / self.seconds) } else { 0.0 },
            "latency_ms": summary_ms(&self.latency),
        })
    }
}

/// Runs `n` connection attempts, at most `concurrency` at a time, as fast as they go.
pub(crate) async fn connect_many<T, F, Fut>(n: usize, cfg: &Config, make: F) -> Connected<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = io::Result<T>> + Send + 'static,
{
    let gate = Arc::new(Semaphore::new(cfg.concurrency));
    let limit = Duration::from_secs_f64(cfg.connect_timeout);
    let lat = Arc::new(Latencies::new(1));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let (gate, lat, attempt) = (gate.clone(), lat.clone(), make(i));
        handles.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("gate open");
            let t0 = now_us();
            // A server that never answers an attempt must not stall the run.
            let result = match tokio::time::timeout(limit, attempt).await {
                Ok(result) => result,
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer in {limit:?}"),
                )),
            };
            record(&mut lat.shard(0), now_us() - t0);
            result
        }));
    }
    let mut done = Connected {
        ok: Vec::with_capacity(n),
        failed: 0,
        first_error: None,
        seconds: 0.0,
        latency: lat.merged(),
    };
    for h in handles {
        match h.await {
            Ok(Ok(t)) => done.ok.push(t),
            Ok(Err(e)) => {
                done.failed += 1;
                done.first_error.get_or_insert_with(|| e.to_string());
            }
            Err(e) => {
                done.failed += 1;
                done.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    done.seconds = start.elapsed().as_secs_f64();
    done.latency = lat.merged();
    if let Some(e) = &done.first_error {
        eprintln!(
            "loadgen: {} of {n} connections failed, first: {e}",
            done.failed
        );
    }
    done
}

/// Keeps an idle websocket alive: answers Engine.IO and websocket pings until it closes.
async fn keep_alive(mut ws: Ws) {
    loop {
        let (mut pong, mut ws_pong) = (false, None);
        loop {
            match ws.rd.next_frame() {
                Ok(Some(Frame::Text(b"2"))) => pong = true,
                Ok(Some(Frame::Ping(p))) => ws_pong = Some(p.to_vec()),
                Ok(Some(Frame::Close(_))) | Err(_) => return,
                Ok(Some(_)) => {}
                Ok(None) => break,
            }
        }
        if let Some(p) = ws_pong {
            ws.wr.push_pong(&p);
        }
        if pong {
            ws.wr.push_text(b"3");
        }
        if ws.wr.flush().await.is_err() || !matches!(ws.rd.fill().await, Ok(n) if n > 0) {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------
// fanout / mixed

/// What subscribers count.
pub(crate) struct Deliveries {
    pub(crate) lat: Latencies,
    pub(crate) received: AtomicU64,
    /// Bytes websocket subscribers read from their sockets (frame headers included).
    pub(crate) wire_bytes: AtomicU64,
    pub(crate) window: Window,
    /// Subscribers whose connection ended during the run (a slow-consumer disconnect, say).
    pub(crate) lost: AtomicU64,
    /// Of which on long-polling.
    lost_polling: AtomicU64,
    /// Why the first one ended.
    pub(crate) first_loss: std::sync::Mutex<Option<String>>,
}

impl Deliveries {
    /// Counts a subscriber whose connection ended, and keeps why the first one did.
    pub(crate) fn lose(&self, polling: bool, why: impl FnOnce() -> String) {
        if self.lost.fetch_add(1, Relaxed) == 0 {
            let why = why();
            eprintln!("loadgen: a subscriber was disconnected: {why}");
            *self.first_loss.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
        }
        if polling {
            self.lost_polling.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn new() -> Deliveries {
        Deliveries {
            lat: Latencies::new(16),
            received: AtomicU64::new(0),
            wire_bytes: AtomicU64::new(0),
            window: Window::default(),
            lost: AtomicU64::new(0),
            lost_polling: AtomicU64::new(0),
            first_loss: std::sync::Mutex::new(None),
        }
    }
}

/// A subscriber: a websocket or a long-polling session, joined to the room.
enum Subscriber {
    Ws(Ws),
    Polling(Polling),
}

/// Reads deliveries on a websocket subscriber until the connection ends.
async fn ws_subscriber(mut ws: Ws, d: Arc<Deliveries>, shard: usize) {
    let msgpack = ws.wr.binary_packets;
    loop {
        let now = now_us();
        let (mut count, mut pong, mut ws_pong, mut closed) = (0u64, false, None, None);
        {
            let mut h = d.lat.shard(shard);
            loop {
                match ws.rd.next_frame() {
                    Ok(Some(f @ (Frame::Text(_) | Frame::Binary(_)))) => match sio::packet(&f) {
                        Some(sio::Packet::Delivery(ts)) => {
                            record(&mut h, now.saturating_sub(ts));
                            count += 1;
                        }
                        Some(sio::Packet::Ping) => pong = true,
                        Some(_) => {}
                        // A binary attachment of the JSON parser is none of the benchmark's.
                        None if !msgpack => {}
                        None => {
                            closed = Some("the server sent an invalid msgpack packet".into());
                            break;
                        }
                    },
                    Ok(Some(Frame::Ping(p))) => ws_pong = Some(p.to_vec()),
                    Ok(Some(Frame::Close(why))) => {
                        closed = Some(format!(
                            "websocket closed by the server: {}",
                            sio::close_reason(why)
                        ));
                        break;
                    }
                    Err(e) => {
                        closed = Some(e.to_string());
                        break;
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                }
            }
        }
        if count > 0 {
            d.received.fetch_add(count, Relaxed);
            d.window.mark(now);
        }
        if let Some(why) = closed {
            return d.lose(false, || why);
        }
        if let Some(p) = ws_pong {
            ws.wr.push_pong(&p);
        }
        if pong {
            ws.wr.push_text(b"3");
        }
        if let Err(e) = ws.wr.flush().await {
            return d.lose(false, || format!("write failed: {e}"));
        }
        match ws.rd.fill().await {
            Ok(0) => return d.lose(false, || "connection closed".to_owned()),
            Err(e) => return d.lose(false, || format!("read failed: {e}")),
            Ok(n) => {
                d.wire_bytes.fetch_add(n as u64, Relaxed);
            }
        }
    }
}

/// Reads deliveries on a polling subscriber until the session ends.
/// With `real`, every packet is parsed whole as a real client does ([`real::text_delivery`]);
/// a malformed one ends the subscriber.
async fn polling_subscriber(session: Polling, d: Arc<Deliveries>, shard: usize, real: bool) {
    loop {
        let body = match session.poll().await {
            Ok(body) => body,
            Err(e) => return d.lose(true, || format!("poll failed: {e}")),
        };
        let now = now_us();
        let (mut count, mut pong, mut closed, mut invalid) = (0u64, false, false, None);
        {
            let mut h = d.lat.shard(shard);
            for p in polling::packets(&body) {
                let ts = if real {
                    match real::text_delivery(p) {
                        Ok(ts) => ts,
                        Err(why) => {
                            invalid = Some(why);
                            break;
                        }
                    }
                } else {
                    sio::event_timestamp(p)
                };
                if let Some(ts) = ts {
                    record(&mut h, now.saturating_sub(ts));
                    count += 1;
                } else if p == b"2" {
                    pong = true;
                } else if p == b"1" {
                    closed = true;
                }
            }
        }
        if count > 0 {
            d.received.fetch_add(count, Relaxed);
            d.window.mark(now);
        }
        if closed {
            return d.lose(true, || "the server closed the polling session".to_owned());
        }
        if let Some(why) = invalid {
            return d.lose(true, || format!("the server sent an invalid packet: {why}"));
        }
        if pong {
            if let Err(e) = session.post(b"3").await {
                return d.lose(true, || format!("pong failed: {e}"));
            }
        }
    }
}

/// What publishers count (websocket publishers, or the `push` scenario's HTTP backend).
pub(crate) struct Publishing {
    pub(crate) published: AtomicU64,
    /// Deliveries the publishes sent so far should make: the sum of each publish's room
    /// size (the subscribers in it, the publisher not counted: the server excludes it).
    pub(crate) expected: AtomicU64,
    pub(crate) acked: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) recipients: AtomicU64,
    /// Deliveries the server says it dropped (a `"dropped":N` in publish acks).
    pub(crate) dropped: AtomicU64,
    /// Publish → ack (websocket), or request → response (`push`).
    pub(crate) ack_lat: Latencies,
    pub(crate) stop: AtomicBool,
}

/// Send times by ack id, so the ack reader can time each publish's ack.
const RING: usize = 1 << 16;

struct Publisher {
    writer: Arc<AsyncMutex<WsWriter<OwnedWriteHalf>>>,
    sent_at: Arc<Vec<AtomicU64>>,
    window: Arc<Semaphore>,
    /// The rooms it publishes to, round-robin, each with the subscribers in it.
    rooms: Vec<(String, u64)>,
}

/// Reads a publisher's acks until the connection ends.
async fn ack_reader(
    mut rd: crate::ws::WsReader<tokio::net::tcp::OwnedReadHalf>,
    p: Arc<Publishing>,
    me: Arc<Publisher>,
) {
    loop {
        let now = now_us();
        let (mut acks, mut pong, mut closed) = (0usize, false, false);
        loop {
            match rd.next_frame() {
                Ok(Some(f @ (Frame::Text(_) | Frame::Binary(_)))) => {
                    let packet = sio::packet(&f);
                    if let Some(sio::Packet::Ack(id, args)) = packet {
                        let args = &args[..];
                        acks += 1;
                        let sent = me.sent_at[id as usize % RING].load(Relaxed);
                        record(&mut p.ack_lat.shard(0), now.saturating_sub(sent));
                        match sio::recipients(args) {
                            Some(n) if sio::check_ok(args, "publish").is_ok() => {
                                p.acked.fetch_add(1, Relaxed);
                                p.recipients.fetch_add(n, Relaxed);
                                if let Some(d) = sio::number_after(args, b"\"dropped\":") {
                                    p.dropped.fetch_add(d, Relaxed);
                                }
                            }
                            _ => {
                                if p.refused.fetch_add(1, Relaxed) == 0 {
                                    eprintln!(
                                        "loadgen: publish refused: {}",
                                        String::from_utf8_lossy(args)
                                    );
                                }
                            }
                        }
                    } else if let Some(sio::Packet::Ping) = packet {
                        pong = true;
                    }
                }
                Ok(Some(Frame::Close(_))) | Err(_) => {
                    closed = true;
                    break;
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
            }
        }
        me.window.add_permits(acks);
        if pong && me.writer.lock().await.send_text(b"3").await.is_err() {
            return;
        }
        if closed || !matches!(rd.fill().await, Ok(n) if n > 0) {
            return;
        }
    }
}

/// Publishes at `rate` per second (or, with `rate` 0, as fast as acks return) until told
/// to stop.
async fn publish_loop(
    cfg: Arc<Config>,
    p: Arc<Publishing>,
    me: Arc<Publisher>,
    rate: f64,
) -> io::Result<()> {
    let mut packet = Vec::with_capacity(cfg.payload + 96);
    let mut scratch = Vec::with_capacity(cfg.payload);
    let mut next_id = 1u64;
    let start = Instant::now();
    while !p.stop.load(Relaxed) {
        let batch = if rate > 0.0 {
            let due = (start.elapsed().as_secs_f64() * rate) as u64 + 1;
            let batch = due.saturating_sub(next_id - 1);
            if batch == 0 {
                sleep(Duration::from_millis(1)).await;
                continue;
            }
            batch
        } else {
            // Saturation: one permit per unacked publish; take all that are free.
            let permit = tokio::time::timeout(Duration::from_millis(50), me.window.acquire()).await;
            let Ok(Ok(permit)) = permit else { continue };
            permit.forget();
            let mut batch = 1;
            while let Ok(more) = me.window.try_acquire() {
                more.forget();
                batch += 1;
            }
            batch
        };
        let mut w = me.writer.lock().await;
        let mut expected = 0;
        for _ in 0..batch {
            let ts = now_us();
            me.sent_at[next_id as usize % RING].store(ts, Relaxed);
            let (room, size) = &me.rooms[next_id as usize % me.rooms.len()];
            expected += size;
            sio::publish_packet(
                cfg.wire.parser,
                &mut packet,
                &mut scratch,
                next_id,
                room,
                EVENT,
                ts,
                cfg.payload,
                cfg.padding,
                cfg.object_fields,
            );
            w.push_packet(&packet);
            next_id += 1;
        }
        w.flush().await?;
        p.expected.fetch_add(expected, Relaxed);
        p.published.fetch_add(batch, Relaxed);
    }
    Ok(())
}

async fn fanout(cfg: &Config) -> io::Result<Value> {
    let cfg = Arc::new(cfg.clone());
    let n_polling = (cfg.clients as f64 * cfg.polling_frac).round() as usize;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        // Below Node's 5 s keep-alive timeout, so idle connections are dropped here first.
        .pool_idle_timeout(Duration::from_secs(4))
        .build()
        .map_err(io::Error::other)?;
    if n_polling > 0 && (cfg.wire.parser != sio::Parser::Json || cfg.wire.deflate) {
        return Err(io::Error::other(
            "polling subscribers speak JSON without deflate only: drop --polling-frac",
        ));
    }
    // Polling subscribers are spread evenly among the websocket ones.
    let polling_every = cfg.clients.checked_div(n_polling).unwrap_or(0);

    let chat = cfg.scenario == "chat";
    eprintln!(
        "loadgen: {} — connecting {} subscribers ({n_polling} polling{})",
        cfg.case,
        cfg.clients,
        if chat {
            format!(
                ", each in {} of {} rooms",
                cfg.rooms_per_client, cfg.soak_rooms
            )
        } else {
            String::new()
        }
    );
    let subs = {
        let (cfg, http) = (cfg.clone(), http.clone());
        connect_many(cfg.clients, &cfg.clone(), move |i| {
            let (cfg, http) = (cfg.clone(), http.clone());
            let polling =
                polling_every > 0 && i % polling_every == 0 && i / polling_every < n_polling;
            async move {
                if polling {
                    let s = Polling::connect(&http, cfg.addr_for(i), &cfg.path).await?;
                    let join = match cfg.field_sets {
                        0 => sio::join_packet(&cfg.fanout_room(i), 0),
                        n => sio::join_fields_packet(&cfg.fanout_room(i), 0, i % n),
                    };
                    let args = s.call(&join, 0).await?;
                    sio::check_ok(&args, "join")?;
                    Ok((i, Subscriber::Polling(s)))
                } else {
                    let mut ws =
                        sio::connect_ws(cfg.addr_for(i), &cfg.path, cfg.buf, i as u32, cfg.wire)
                            .await?;
                    if chat {
                        for k in chat::rooms_of(i, cfg.soak_rooms, cfg.rooms_per_client) {
                            sio::join(&mut ws, &chat::room_name(&cfg.room, k)).await?;
                        }
                    } else {
                        sio::join_as(&mut ws, &cfg, i).await?;
                    }
                    Ok((i, Subscriber::Ws(ws)))
                }
            }
        })
        .await
    };
    let connect_report = subs.report();
    let subscribers = subs.ok.len() as u64;
    if subscribers == 0 {
        return Err(io::Error::other(format!(
            "no subscriber connected: {:?}",
            subs.first_error
        )));
    }

    // Watchers of /admin (the official admin UI's traffic: every socket, per-socket events,
    // server_stats), read and discarded while the fanout runs.
    for w in 0..cfg.admin_watchers {
        let seed = (cfg.clients + cfg.publishers + w) as u32;
        let ws = sio::connect_ws_to(
            cfg.first_addr(),
            &cfg.path,
            cfg.buf,
            seed,
            "/admin",
            cfg.wire,
        )
        .await?;
        tokio::spawn(keep_alive(ws));
    }

    // The subscribers in each room, from those that connected and joined (chat: each in
    // `rooms_per_client` of `soak_rooms`; fanout: subscriber i in room `i % fanout_rooms`),
    // and the rooms each publisher publishes to in turn, with their sizes.
    let rooms = if chat {
        cfg.soak_rooms
    } else {
        cfg.fanout_rooms
    };
    let mut room_size = vec![0u64; rooms];
    for (i, _) in &subs.ok {
        if chat {
            for k in chat::rooms_of(*i, cfg.soak_rooms, cfg.rooms_per_client) {
                room_size[k] += 1;
            }
        } else {
            room_size[i % cfg.fanout_rooms] += 1;
        }
    }
    let publisher_rooms = |p: usize| -> Vec<(String, u64)> {
        if chat {
            chat::publisher_rooms(p, cfg.publishers, cfg.soak_rooms)
                .into_iter()
                .map(|k| (chat::room_name(&cfg.room, k), room_size[k]))
                .collect()
        } else {
            (0..cfg.fanout_rooms)
                .map(|k| (cfg.fanout_room(k).into_owned(), room_size[k]))
                .collect()
        }
    };

    let deliveries = Arc::new(Deliveries::new());
    let mut deflate_subs = 0u64;
    for (i, sub) in subs.ok.into_iter() {
        let d = deliveries.clone();
        if let Subscriber::Ws(ws) = &sub {
            deflate_subs += u64::from(ws.deflate);
        }
        let real = cfg.client == Client::Real;
        match sub {
            Subscriber::Ws(ws) if real => tokio::spawn(real::subscriber(ws, d, i)),
            Subscriber::Ws(ws) => tokio::spawn(ws_subscriber(ws, d, i)),
            Subscriber::Polling(s) => tokio::spawn(polling_subscriber(s, d, i, real)),
        };
    }

    let p = Arc::new(Publishing {
        published: AtomicU64::new(0),
        expected: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        recipients: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        ack_lat: Latencies::new(1),
        stop: AtomicBool::new(false),
    });
    let push = cfg.scenario == "push";
    let mut publishers = Vec::new();
    for i in 0..if push { 0 } else { cfg.publishers } {
        let seed = (cfg.clients + i) as u32;
        let mut ws = sio::connect_ws(cfg.first_addr(), &cfg.path, cfg.buf, seed, cfg.wire).await?;
        let rooms = publisher_rooms(i);
        // A chat's publishers are members of the rooms they publish to.
        if chat {
            for (room, _) in &rooms {
                sio::join(&mut ws, room).await?;
            }
        }
        let me = Arc::new(Publisher {
            writer: Arc::new(AsyncMutex::new(ws.wr)),
            sent_at: Arc::new((0..RING).map(|_| AtomicU64::new(0)).collect()),
            window: Arc::new(Semaphore::new(cfg.window)),
            rooms,
        });
        tokio::spawn(ack_reader(ws.rd, p.clone(), me.clone()));
        publishers.push(me);
    }

    let backend = push
        .then(|| push::Backend::new(&cfg, subscribers))
        .transpose()?;
    let rate_each = cfg.rate / cfg.publishers as f64;
    eprintln!(
        "loadgen: {} — publishing for {} s ({})",
        cfg.case,
        cfg.duration,
        if cfg.rate > 0.0 {
            format!("{} publishes/s", cfg.rate)
        } else {
            format!("saturation, window {}", cfg.window)
        }
    );
    let metrics_before = scrape_all(&http, &cfg.metrics_urls).await;
    let at_start = procs_sample(&cfg.pids);
    let nodes_start: Vec<_> = cfg.pids.iter().map(|&p| proc_sample(Some(p))).collect();
    let redis_start = cfg.redis_pid.and_then(|p| proc_sample(Some(p)));
    let t_start = Instant::now();
    let loops: Vec<_> = publishers
        .iter()
        .map(|me| tokio::spawn(publish_loop(cfg.clone(), p.clone(), me.clone(), rate_each)))
        .collect();
    let pushing = backend.map(|b| tokio::spawn(push::run(cfg.clone(), p.clone(), Arc::new(b))));
    sleep(Duration::from_secs_f64(cfg.duration)).await;
    p.stop.store(true, Relaxed);
    if let Some(pushing) = pushing {
        let _ = pushing.await;
    }
    for l in loops {
        if let Ok(Err(e)) = l.await {
            eprintln!("loadgen: a publisher failed: {e}");
        }
    }
    let publish_seconds = t_start.elapsed().as_secs_f64();
    let published = p.published.load(Relaxed);
    let expected = p.expected.load(Relaxed);

    // Drain: until everything arrived, nothing arrived for a while, or time is up.
    let t_stop = Instant::now();
    let (mut last_count, mut last_change) = (u64::MAX, Instant::now());
    let drained = loop {
        let got = deliveries.received.load(Relaxed);
        let acks_in = p.acked.load(Relaxed) + p.refused.load(Relaxed) >= published;
        // What the server says it dropped will never arrive: no need to wait for it.
        if got + p.dropped.load(Relaxed) >= expected && acks_in {
            break true;
        }
        if got != last_count {
            (last_count, last_change) = (got, Instant::now());
        }
        if last_change.elapsed().as_secs_f64() > cfg.drain_idle
            || t_stop.elapsed().as_secs_f64() > cfg.drain_max
        {
            break false;
        }
        sleep(Duration::from_millis(20)).await;
    };
    let at_end = procs_sample(&cfg.pids);
    let nodes_phase: Vec<Value> = cfg
        .pids
        .iter()
        .zip(nodes_start)
        .map(|(&p, start)| phase(start, proc_sample(Some(p))))
        .collect();
    let redis_end = cfg.redis_pid.and_then(|p| proc_sample(Some(p)));
    let server_metrics = delta(&metrics_before, &scrape_all(&http, &cfg.metrics_urls).await);
    let metrics_drops = server_metrics
        .iter()
        .filter(|(k, _)| k.contains("dropped"))
        .fold(0.0, |acc, (_, v)| acc + v);
    let received = deliveries.received.load(Relaxed);
    let wire_bytes = deliveries.wire_bytes.load(Relaxed);
    let window = deliveries.window.seconds();
    let lat = deliveries.lat.merged();
    // What the publishes were addressed to (each publish times its room's subscribers).
    let offered = expected as f64 / publish_seconds;
    eprintln!(
        "loadgen: {} — {received}/{expected} delivered, {:.0} msgs/s, p99 {:.1} ms",
        cfg.case,
        if window > 0.0 {
            received as f64 / window
        } else {
            0.0
        },
        lat.value_at_quantile(0.99) as f64 / 1000.0
    );
    Ok(json!({
        "params": {
            "subscribers": cfg.clients, "polling_subscribers": n_polling,
            "publishers": cfg.publishers, "rate": cfg.rate, "saturation": cfg.rate <= 0.0,
            "rooms": cfg.fanout_rooms,
            "window": cfg.window, "payload_bytes": cfg.payload, "duration_s": cfg.duration,
            "admin_watchers": cfg.admin_watchers, "nodes": cfg.addrs.len(),
            "parser": format!("{:?}", cfg.wire.parser).to_lowercase(), "deflate": cfg.wire.deflate,
            "client": cfg.client.name(),
        },
        "connect": connect_report,
        "subscribers": subscribers,
        "subscribers_lost": deliveries.lost.load(Relaxed),
        "polling_subscribers_lost": deliveries.lost_polling.load(Relaxed),
        "first_subscriber_loss": *deliveries.first_loss.lock().unwrap_or_else(|e| e.into_inner()),
        "published": published,
        "publish_seconds": r3(publish_seconds),
        "chat": if chat {
            json!({
                "rooms": cfg.soak_rooms, "rooms_per_client": cfg.rooms_per_client,
                "publishers_per_room": 1,
                "room_subscribers_min": room_size.iter().min(),
                "room_subscribers_max": room_size.iter().max(),
            })
        } else {
            Value::Null
        },
        // push: the backend's requests, each answered after the server took the emit.
        "push": if push {
            json!({
                "requests_per_s": r3(p.acked.load(Relaxed) as f64 / publish_seconds),
                "in_flight": if cfg.rate > 0.0 { Value::Null } else { json!(cfg.window) },
                "request_latency_ms": summary_ms(&p.ack_lat.merged()),
            })
        } else {
            Value::Null
        },
        "publishes_per_s": r3(published as f64 / publish_seconds),
        "acked": p.acked.load(Relaxed),
        "refused": p.refused.load(Relaxed),
        "ack_recipients": p.recipients.load(Relaxed),
        "server_reported_drops": p.dropped.load(Relaxed),
        "server_metrics": server_metrics,
        "server_metrics_drops": metrics_drops,
        "expected": expected,
        "received": received,
        "loss": expected as i64 - received as i64,
        "loss_pct": if expected > 0 { r3(100.0 * (expected as f64 - received as f64) / expected as f64) } else { 0.0 },
        "drained": drained,
        "drain_s": r3(t_stop.elapsed().as_secs_f64()),
        "offered_msgs_per_s": r3(offered),
        "delivery_window_s": r3(window),
        "delivered_msgs_per_s": if window > 0.0 { r3(received as f64 / window) } else { 0.0 },
        "latency_ms": summary_ms(&lat),
        "ack_latency_ms": summary_ms(&p.ack_lat.merged()),
        "wire": {
            "parser": format!("{:?}", cfg.wire.parser).to_lowercase(),
            "deflate_offered": cfg.wire.deflate,
            "deflate_subscribers": deflate_subs,
            "payload_padding": format!("{:?}", cfg.padding).to_lowercase(),
            "subscriber_bytes": wire_bytes,
            // Only websocket subscribers count their bytes.
            "bytes_per_delivered_msg": if received > 0 && n_polling == 0 { json!(r3(wire_bytes as f64 / received as f64)) } else { Value::Null },
        },
        "server_cpu_us_per_delivered_msg": match (at_start, at_end) {
            (Some(s), Some(e)) if received > 0 => json!(r3((e.cpu_s - s.cpu_s) * 1e6 / received as f64)),
            _ => Value::Null,
        },
        "server_phase": phase(at_start, at_end),
        // Per node (the first has the publisher): what crossing Redis costs each side.
        "server_phase_nodes": nodes_phase,
        "redis_phase": phase(redis_start, redis_end),
    }))
}

/// [`scrape`] of every node's page, each series summed over the nodes.
async fn scrape_all(http: &reqwest::Client, urls: &[String]) -> BTreeMap<String, f64> {
    let mut sum = BTreeMap::new();
    for url in urls {
        for (series, v) in scrape(http, Some(url)).await {
            *sum.entry(series).or_insert(0.0) += v;
        }
    }
    sum
}

/// The server's own drop and slow-consumer counters, from a Prometheus text page (siohub's
/// `/metrics`): every sample whose metric name mentions drops, slow consumers or
/// disconnects. Empty when there is no URL or the page cannot be had.
async fn scrape(http: &reqwest::Client, url: Option<&str>) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    let Some(url) = url else { return samples };
    let Ok(resp) = http.get(url).send().await else {
        return samples;
    };
    let Ok(text) = resp.text().await else {
        return samples;
    };
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let name = series.split('{').next().unwrap_or(series);
        if ["drop", "slow_consumer", "disconnect"]
            .iter()
            .any(|k| name.contains(k))
        {
            if let Ok(v) = value.parse::<f64>() {
                samples.insert(series.to_owned(), v);
            }
        }
    }
    samples
}

/// `after - before` per series, leaving out series that did not move.
fn delta(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, d)| *d != 0.0)
        .collect()
}

/// Server RSS and CPU over a phase.
pub(crate) fn phase(start: Option<ProcSample>, end: Option<ProcSample>) -> Value {
    match (start, end) {
        (Some(s), Some(e)) => json!({
            "cpu_s": r3(e.cpu_s - s.cpu_s),
            "rss_start_kb": s.rss_kb,
            "rss_end_kb": e.rss_kb,
        }),
        _ => Value::Null,
    }
}

// ---------------------------------------------------------------------------------------
// idle and ramp

async fn idle(cfg: &Config) -> io::Result<Value> {
    let before = procs_sample(&cfg.pids);
    eprintln!(
        "loadgen: {} — opening {} idle connections",
        cfg.case, cfg.clients
    );
    let conns = {
        let cfg = Arc::new(cfg.clone());
        connect_many(cfg.clients, &cfg.clone(), move |i| {
            let cfg = cfg.clone();
            async move {
                let mut ws =
                    sio::connect_ws(cfg.addr_for(i), &cfg.path, IDLE_BUF, i as u32, cfg.wire)
                        .await?;
                sio::join(&mut ws, &cfg.room).await?;
                Ok(ws)
            }
        })
        .await
    };
    let report = conns.report();
    let n = conns.ok.len();
    for ws in conns.ok {
        tokio::spawn(keep_alive(ws));
    }
    sleep(Duration::from_secs_f64(cfg.settle)).await;
    let after = procs_sample(&cfg.pids);
    Ok(json!({
        "params": {"connections": cfg.clients, "settle_s": cfg.settle},
        "connect": report,
        "connections": n,
        "rss_per_conn": rss_per_conn(before, after, n),
    }))
}

fn rss_per_conn(before: Option<ProcSample>, after: Option<ProcSample>, n: usize) -> Value {
    match (before, after) {
        (Some(b), Some(a)) if n > 0 => json!({
            "rss_before_kb": b.rss_kb,
            "rss_after_kb": a.rss_kb,
            "kib_per_conn": r3((a.rss_kb as f64 - b.rss_kb as f64) / n as f64),
        }),
        _ => Value::Null,
    }
}

async fn ramp(cfg: &Config) -> io::Result<Value> {
    let before = procs_sample(&cfg.pids);
    eprintln!(
        "loadgen: {} — opening {} connections, {} at a time",
        cfg.case, cfg.clients, cfg.concurrency
    );
    let conns = {
        let cfg = Arc::new(cfg.clone());
        connect_many(cfg.clients, &cfg.clone(), move |i| {
            let cfg = cfg.clone();
            async move {
                sio::connect_ws(cfg.addr_for(i), &cfg.path, IDLE_BUF, i as u32, cfg.wire).await
            }
        })
        .await
    };
    let after = procs_sample(&cfg.pids);
    let report = conns.report();
    let n = conns.ok.len();
    for ws in conns.ok {
        tokio::spawn(keep_alive(ws));
    }
    Ok(json!({
        "params": {"connections": cfg.clients, "concurrency": cfg.concurrency},
        "connect": report,
        "connections": n,
        "server_phase": phase(before, after),
        "rss_per_conn": rss_per_conn(before, after, n),
    }))
}

// ---------------------------------------------------------------------------------------
// echo

/// What echo clients count.
pub(crate) struct Echoes {
    pub(crate) lat: Latencies,
    pub(crate) sent: AtomicU64,
    pub(crate) acked: AtomicU64,
    pub(crate) stop: AtomicBool,
}

/// One client pinging with an ack request every `period`, timing each ack.
async fn echo_client(
    mut ws: Ws,
    e: Arc<Echoes>,
    shard: usize,
    period: Duration,
    offset: Duration,
) -> io::Result<()> {
    let mut sent_at = [0u64; 64];
    let mut next_id = 1u64;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut packet = Vec::with_capacity(32);
    let parser = if ws.wr.binary_packets {
        sio::Parser::Msgpack
    } else {
        sio::Parser::Json
    };
    loop {
        tokio::select! {
            _ = tick.tick(), if !e.stop.load(Relaxed) => {
                if e.stop.load(Relaxed) {
                    continue;
                }
                sio::ping_packet(parser, &mut packet, next_id);
                sent_at[next_id as usize % 64] = now_us();
                next_id += 1;
                // Counted before the write: the drain after the stop waits for every ping
                // counted, and one still being written when the stop came was counted only
                // after the drain had looked (then reported as a lost ack).
                e.sent.fetch_add(1, Relaxed);
                ws.wr.send_packet(&packet).await?;
            }
            n = ws.rd.fill() => {
                if n? == 0 {
                    return Ok(());
                }
                let now = now_us();
                let mut pong = false;
                {
                    let mut h = e.lat.shard(shard);
                    while let Some(frame) = ws.rd.next_frame()? {
                        match frame {
                            f @ (Frame::Text(_) | Frame::Binary(_)) => match sio::packet(&f) {
                                Some(sio::Packet::Ack(id, _)) => {
                                    record(&mut h, now.saturating_sub(sent_at[id as usize % 64]));
                                    e.acked.fetch_add(1, Relaxed);
                                }
                                Some(sio::Packet::Ping) => pong = true,
                                _ => {}
                            },
                            Frame::Close(_) => return Ok(()),
                            _ => {}
                        }
                    }
                }
                if pong {
                    ws.wr.send_text(b"3").await?;
                }
            }
        }
    }
}

async fn echo(cfg: &Config) -> io::Result<Value> {
    eprintln!(
        "loadgen: {} — connecting {} ping clients",
        cfg.case, cfg.clients
    );
    let conns = {
        let cfg = Arc::new(cfg.clone());
        connect_many(cfg.clients, &cfg.clone(), move |i| {
            let cfg = cfg.clone();
            async move {
                sio::connect_ws(cfg.addr_for(i), &cfg.path, IDLE_BUF, i as u32, cfg.wire).await
            }
        })
        .await
    };
    let report = conns.report();
    let n = conns.ok.len();
    let e = Arc::new(Echoes {
        lat: Latencies::new(16),
        sent: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let period = Duration::from_secs_f64(1.0 / cfg.echo_rate.max(0.001));
    let at_start = procs_sample(&cfg.pids);
    let t0 = Instant::now();
    for (i, ws) in conns.ok.into_iter().enumerate() {
        // Spread the clients' ticks over one period so the load is even.
        let offset = period.mul_f64(i as f64 / n.max(1) as f64);
        if cfg.client == Client::Real {
            tokio::spawn(real::echo_client(ws, e.clone(), i, period, offset));
        } else {
            tokio::spawn(echo_client(ws, e.clone(), i, period, offset));
        }
    }
    sleep(Duration::from_secs_f64(cfg.duration)).await;
    e.stop.store(true, Relaxed);
    let seconds = t0.elapsed().as_secs_f64();
    let t_stop = Instant::now();
    while e.acked.load(Relaxed) < e.sent.load(Relaxed)
        && t_stop.elapsed().as_secs_f64() < cfg.drain_idle
    {
        sleep(Duration::from_millis(20)).await;
    }
    let at_end = procs_sample(&cfg.pids);
    let (sent, acked) = (e.sent.load(Relaxed), e.acked.load(Relaxed));
    let lat = e.lat.merged();
    eprintln!(
        "loadgen: {} — {acked}/{sent} acks, p99 {:.1} ms",
        cfg.case,
        lat.value_at_quantile(0.99) as f64 / 1000.0
    );
    Ok(json!({
        "params": {"clients": cfg.clients, "rate_per_client": cfg.echo_rate, "duration_s": cfg.duration, "client": cfg.client.name()},
        "connect": report,
        "clients": n,
        "sent": sent,
        "acked": acked,
        "loss": sent as i64 - acked as i64,
        "acks_per_s": r3(acked as f64 / seconds),
        "latency_ms": summary_ms(&lat),
        "server_phase": phase(at_start, at_end),
    }))
}
