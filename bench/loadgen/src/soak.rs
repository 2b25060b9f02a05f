//! The `soak` scenario: a steady population of websocket clients that churn for a long
//! time while a publisher fans out to their rooms, to find what the server leaks.
//!
//! Each of the `--clients` slots loops until `--duration` is over: it connects, joins two
//! rooms (`<room>-<k>`, k < `--rooms`), lives for a random time around `--lifetime`
//! seconds (reading what it is sent; every few seconds it leaves a room and joins
//! another), then goes, half the time with a Socket.IO DISCONNECT and half by dropping the
//! TCP connection, and connects again. A share of the slots (`--slow-frac`) are slow
//! readers: a small read buffer and a pause after every read, so the server's
//! slow-consumer policy has work. One publisher (reconnected if it loses its connection)
//! publishes `--rate` events per second, each to a random room.
//!
//! `bench/soak.sh` samples the server every 10 s meanwhile; this side prints a progress
//! line to stderr every 10 s and one JSON report at the end.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::time::{sleep, timeout};

use crate::metrics::{now_us, r3};
use crate::sio;
use crate::ws::{Frame, Ws};
use crate::Config;

/// Read buffer of a slow reader: small, so the server's writes back up.
const SLOW_BUF: usize = 1024;
/// Pause of a slow reader after each read.
const SLOW_PAUSE: Duration = Duration::from_millis(400);
/// How often a client swaps one of its rooms for another.
const ROOM_SWAP: Duration = Duration::from_secs(7);
/// Wait before a failed slot tries again.
const RETRY: Duration = Duration::from_secs(1);

/// What every client and the publisher count.
#[derive(Default)]
struct Counts {
    connects: AtomicU64,
    connect_failures: AtomicU64,
    clean_leaves: AtomicU64,
    abrupt_leaves: AtomicU64,
    /// Connections the server ended (slow-consumer disconnect, say) before the client went.
    server_closed: AtomicU64,
    joins: AtomicU64,
    leaves: AtomicU64,
    received: AtomicU64,
    published: AtomicU64,
    publisher_reconnects: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
    stop: AtomicBool,
}

impl Counts {
    fn error(&self, e: impl std::fmt::Display) {
        let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            eprintln!("loadgen: soak: first error: {e}");
            *first = Some(e.to_string());
        }
    }

    fn snapshot(&self) -> Value {
        json!({
            "connects": self.connects.load(Relaxed),
            "connect_failures": self.connect_failures.load(Relaxed),
            "clean_leaves": self.clean_leaves.load(Relaxed),
            "abrupt_leaves": self.abrupt_leaves.load(Relaxed),
            "server_closed": self.server_closed.load(Relaxed),
            "joins": self.joins.load(Relaxed),
            "leaves": self.leaves.load(Relaxed),
            "received": self.received.load(Relaxed),
            "published": self.published.load(Relaxed),
            "publisher_reconnects": self.publisher_reconnects.load(Relaxed),
        })
    }
}

/// A small xorshift generator: each slot its own, seeded by its index.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// A uniform fraction in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn room_name(cfg: &Config, k: u64) -> String {
    format!("{}-{k}", cfg.room)
}

/// Runs the soak for `--duration` seconds and reports what the clients did.
pub async fn soak(cfg: &Config) -> io::Result<Value> {
    let cfg = Arc::new(cfg.clone());
    let counts = Arc::new(Counts::default());
    let rooms = cfg.soak_rooms.max(1) as u64;
    let slow_every = if cfg.slow_frac > 0.0 {
        (1.0 / cfg.slow_frac).round().max(1.0) as usize
    } else {
        0
    };
    eprintln!(
        "loadgen: {} — {} churning clients over {rooms} rooms, lifetime ~{} s, {} publishes/s, {} s",
        cfg.case, cfg.clients, cfg.lifetime, cfg.rate, cfg.duration
    );
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(cfg.duration);
    let mut tasks = Vec::with_capacity(cfg.clients + 1);
    for i in 0..cfg.clients {
        let slow = slow_every > 0 && i % slow_every == 0;
        // Spread the first connections over the first lifetime so churn is even from the
        // start rather than in waves.
        let delay = Duration::from_secs_f64(cfg.ramp * i as f64 / cfg.clients.max(1) as f64);
        tasks.push(tokio::spawn(slot(
            cfg.clone(),
            counts.clone(),
            i,
            slow,
            delay,
            end,
        )));
    }
    tasks.push(tokio::spawn(publisher(cfg.clone(), counts.clone(), end)));

    let mut last = Instant::now();
    while Instant::now() < end {
        sleep(Duration::from_millis(200)).await;
        if last.elapsed() >= Duration::from_secs(10) {
            last = Instant::now();
            eprintln!(
                "loadgen: soak t={:.0}s {}",
                start.elapsed().as_secs_f64(),
                counts.snapshot()
            );
        }
    }
    counts.stop.store(true, Relaxed);
    // Slots notice the stop within a read or a lifetime check; give them a moment, then go.
    for t in tasks {
        let _ = timeout(Duration::from_secs(5), t).await;
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut report = counts.snapshot();
    let obj = report.as_object_mut().expect("an object");
    obj.insert(
        "params".into(),
        json!({
            "clients": cfg.clients, "rooms": rooms, "lifetime_s": cfg.lifetime,
            "slow_frac": cfg.slow_frac, "rate": cfg.rate, "duration_s": cfg.duration,
            "ramp_s": cfg.ramp, "payload_bytes": cfg.payload,
        }),
    );
    obj.insert("seconds".into(), json!(r3(seconds)));
    obj.insert(
        "connects_per_s".into(),
        json!(r3(counts.connects.load(Relaxed) as f64 / seconds)),
    );
    obj.insert(
        "first_error".into(),
        json!(*counts.first_error.lock().unwrap_or_else(|e| e.into_inner())),
    );
    Ok(report)
}

/// One client slot: connect, live, go, again, until the end.
async fn slot(
    cfg: Arc<Config>,
    c: Arc<Counts>,
    i: usize,
    slow: bool,
    delay: Duration,
    end: Instant,
) {
    let mut rng = Rng::new(i as u64 + 1);
    sleep(delay).await;
    let limit = Duration::from_secs_f64(cfg.connect_timeout);
    let buf = if slow { SLOW_BUF } else { 4096 };
    let mut generation = 0u32;
    while !c.stop.load(Relaxed) && Instant::now() < end {
        generation = generation.wrapping_add(1);
        let seed = (i as u32).wrapping_mul(7919).wrapping_add(generation);
        let first = rng.below(rooms_of(&cfg));
        let second = rng.below(rooms_of(&cfg));
        let attempt = async {
            let mut ws =
                sio::connect_ws(cfg.addr_for(i), &cfg.path, buf, seed, sio::Wire::default())
                    .await?;
            sio::join(&mut ws, &room_name(&cfg, first)).await?;
            sio::join(&mut ws, &room_name(&cfg, second)).await?;
            Ok::<Ws, io::Error>(ws)
        };
        let ws = match timeout(limit, attempt).await {
            Ok(Ok(ws)) => ws,
            Ok(Err(e)) => {
                c.connect_failures.fetch_add(1, Relaxed);
                c.error(e);
                sleep(RETRY).await;
                continue;
            }
            Err(_) => {
                c.connect_failures.fetch_add(1, Relaxed);
                c.error("connect and join: no answer in time");
                sleep(RETRY).await;
                continue;
            }
        };
        c.connects.fetch_add(1, Relaxed);
        c.joins.fetch_add(2, Relaxed);
        // Lifetime: uniform in [0.5, 1.5] x --lifetime.
        let life = Duration::from_secs_f64(cfg.lifetime * (0.5 + rng.unit()));
        let leave_by = (Instant::now() + life).min(end);
        let rooms = [first, second];
        match live(&cfg, &c, ws, slow, leave_by, rooms, &mut rng).await {
            Ok(true) => c.clean_leaves.fetch_add(1, Relaxed),
            Ok(false) => c.abrupt_leaves.fetch_add(1, Relaxed),
            Err(e) => {
                c.server_closed.fetch_add(1, Relaxed);
                c.error(format!("connection ended by the server: {e}"));
                0
            }
        };
    }
}

fn rooms_of(cfg: &Config) -> u64 {
    cfg.soak_rooms.max(1) as u64
}

/// Reads what the server sends until `leave_by`, swapping rooms now and then; then goes,
/// cleanly (`Ok(true)`) or by dropping the connection (`Ok(false)`). An error is the
/// server ending the connection first.
async fn live(
    cfg: &Config,
    c: &Counts,
    mut ws: Ws,
    slow: bool,
    leave_by: Instant,
    mut rooms: [u64; 2],
    rng: &mut Rng,
) -> io::Result<bool> {
    let mut next_swap = Instant::now() + ROOM_SWAP.mul_f64(0.5 + rng.unit());
    let mut ack_id = 10u64;
    loop {
        let now = Instant::now();
        if now >= leave_by || c.stop.load(Relaxed) {
            break;
        }
        if now >= next_swap {
            next_swap = now + ROOM_SWAP;
            // Leave one of the two rooms and join another; the acks come back as reads.
            let which = rng.below(2) as usize;
            let new = rng.below(rooms_of(cfg));
            ws.wr.push_text(
                format!("42{ack_id}[\"leave\",\"{}\"]", room_name(cfg, rooms[which])).as_bytes(),
            );
            ws.wr
                .push_text(&sio::join_packet(&room_name(cfg, new), ack_id + 1));
            ack_id += 2;
            rooms[which] = new;
            ws.wr.flush().await?;
            c.leaves.fetch_add(1, Relaxed);
            c.joins.fetch_add(1, Relaxed);
        }
        let wait = leave_by
            .min(next_swap)
            .saturating_duration_since(Instant::now());
        let n = match timeout(wait, ws.rd.fill()).await {
            Err(_) => continue,
            Ok(n) => n?,
        };
        if n == 0 {
            return Err(io::Error::other("connection closed"));
        }
        let (mut count, mut pong, mut ws_pong) = (0u64, false, None);
        while let Some(frame) = ws.rd.next_frame()? {
            match frame {
                Frame::Text(b"2") => pong = true,
                Frame::Text(t) if t.starts_with(b"42[") => count += 1,
                Frame::Text(t) if t.starts_with(b"41") => {
                    return Err(io::Error::other("socket.io disconnect from the server"))
                }
                Frame::Ping(p) => ws_pong = Some(p.to_vec()),
                Frame::Close(why) => {
                    return Err(io::Error::other(format!(
                        "websocket closed: {}",
                        sio::close_reason(why)
                    )))
                }
                _ => {}
            }
        }
        c.received.fetch_add(count, Relaxed);
        if let Some(p) = ws_pong {
            ws.wr.push_pong(&p);
        }
        if pong {
            ws.wr.push_text(b"3");
        }
        ws.wr.flush().await?;
        if slow {
            sleep(SLOW_PAUSE).await;
        }
    }
    if rng.below(2) == 0 {
        // A Socket.IO DISCONNECT, then the connection goes with the task.
        ws.wr.send_text(b"41").await?;
        Ok(true)
    } else {
        Ok(false)
    }
}

/// Publishes `--rate` events per second, each to a random room, until the end;
/// reconnects when its connection is lost. Acks are read and discarded.
async fn publisher(cfg: Arc<Config>, c: Arc<Counts>, end: Instant) {
    let mut rng = Rng::new(0xC0FFEE);
    let mut packet = Vec::with_capacity(cfg.payload + 96);
    let mut scratch = Vec::new();
    let mut next_id = 1u64;
    let start = Instant::now();
    let rate = cfg.rate.max(0.0);
    if rate == 0.0 {
        return;
    }
    'connect: while !c.stop.load(Relaxed) && Instant::now() < end {
        let seed = (cfg.clients as u32).wrapping_add(next_id as u32);
        let mut ws = match sio::connect_ws(
            cfg.first_addr(),
            &cfg.path,
            16 * 1024,
            seed,
            sio::Wire::default(),
        )
        .await
        {
            Ok(ws) => ws,
            Err(e) => {
                c.error(format!("publisher: {e}"));
                sleep(RETRY).await;
                continue;
            }
        };
        loop {
            if c.stop.load(Relaxed) || Instant::now() >= end {
                return;
            }
            let due = (start.elapsed().as_secs_f64() * rate) as u64;
            let sent = c.published.load(Relaxed);
            for _ in sent..due {
                let room = room_name(&cfg, rng.below(rooms_of(&cfg)));
                sio::publish_packet(
                    sio::Parser::Json,
                    &mut packet,
                    &mut scratch,
                    next_id,
                    &room,
                    "m",
                    now_us(),
                    cfg.payload,
                    sio::Padding::X,
                    0,
                );
                ws.wr.push_text(&packet);
                next_id += 1;
            }
            let burst = due.saturating_sub(sent);
            if ws.wr.flush().await.is_err() {
                c.publisher_reconnects.fetch_add(1, Relaxed);
                continue 'connect;
            }
            c.published.fetch_add(burst, Relaxed);
            // Read acks and pings for up to 10 ms, then publish what fell due.
            match timeout(Duration::from_millis(10), ws.rd.fill()).await {
                Err(_) => {}
                Ok(Ok(n)) if n > 0 => {
                    let mut pong = false;
                    loop {
                        match ws.rd.next_frame() {
                            Ok(Some(Frame::Text(b"2"))) => pong = true,
                            Ok(Some(_)) => {}
                            Ok(None) => break,
                            Err(_) => {
                                c.publisher_reconnects.fetch_add(1, Relaxed);
                                continue 'connect;
                            }
                        }
                    }
                    if pong && ws.wr.send_text(b"3").await.is_err() {
                        c.publisher_reconnects.fetch_add(1, Relaxed);
                        continue 'connect;
                    }
                }
                Ok(_) => {
                    c.publisher_reconnects.fetch_add(1, Relaxed);
                    continue 'connect;
                }
            }
        }
    }
}
