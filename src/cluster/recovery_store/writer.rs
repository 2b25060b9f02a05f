//! The store's writer: one task draining a bounded queue into Redis, in order (so one
//! node's events keep their order in a stream), a batch per round trip. It also owns the
//! live records (sockets connected on this node, with what was last written for them) and
//! refreshes their expiry; one found missing (Redis restarted empty, or it expired while
//! Redis was unreachable) is written again, unless another node wrote it meanwhile.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use redis::aio::ConnectionManager;
use siohub_actors::recovery_store::StoredEvent;
use tokio::sync::mpsc;

use super::encoding::{epoch_ms, event_fields};
use super::{Counters, Keys};

/// Most writes sent in one round trip.
const BATCH: usize = 256;

/// How often live records are checked for a refresh.
const REFRESH_TICK: Duration = Duration::from_secs(1);

/// One write for Redis.
#[derive(Debug)]
pub(super) enum Write {
    /// An event for its namespace's stream.
    Append {
        nsp: String,
        event: StoredEvent,
        window: Duration,
    },
    /// A connected socket's record (kept alive until `Finalise` or `Forget`).
    Keep {
        pid: String,
        record: Vec<u8>,
        window: Duration,
    },
    /// A disconnected socket's last record, kept `window` from now.
    Finalise {
        pid: String,
        record: Vec<u8>,
        window: Duration,
    },
    /// A socket gone for good.
    Forget { pid: String },
}

/// Replaces (or deletes, when ARGV[2] is empty) a record only while this node owns it: a
/// record another node took for a recovery, and rewrote, is not this node's any more.
const IF_OWNED: &str = r"
local v = redis.call('GET', KEYS[1])
if not v or string.sub(v, 1, string.len(ARGV[1])) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1";

/// How long a live record lives unrefreshed: the recovery window after the node's last
/// refresh, so that it outlives a node killed without a word by about one window.
pub(super) fn live_ttl(window: Duration) -> Duration {
    window + refresh_every(window)
}

/// How often a live record is refreshed: a quarter of its window, between 1 s and 1 min.
fn refresh_every(window: Duration) -> Duration {
    (window / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// A record this node keeps alive.
struct Live {
    record: Vec<u8>,
    ttl: Duration,
    every: Duration,
    due: Instant,
}

/// The writer task's state.
pub(super) struct Writer {
    pub(super) conn: ConnectionManager,
    pub(super) keys: Keys,
    pub(super) owner: String,
    pub(super) max_events: usize,
    pub(super) counters: Arc<Counters>,
    live: HashMap<String, Live>,
}

impl Writer {
    /// A writer with no live record yet.
    pub(super) fn new(
        conn: ConnectionManager,
        keys: Keys,
        owner: String,
        max_events: usize,
        counters: Arc<Counters>,
    ) -> Self {
        Writer {
            conn,
            keys,
            owner,
            max_events,
            counters,
            live: HashMap::new(),
        }
    }

    /// Drains `queue` until every sender is gone.
    pub(super) async fn run(mut self, mut queue: mpsc::Receiver<Write>) {
        let mut tick = tokio::time::interval(REFRESH_TICK);
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                n = queue.recv_many(&mut batch, BATCH) => {
                    if n == 0 {
                        return;
                    }
                    self.write(std::mem::take(&mut batch)).await;
                }
                _ = tick.tick() => self.refresh().await,
            }
        }
    }

    /// Sends a batch in one pipeline; a failure loses the whole batch (counted).
    async fn write(&mut self, batch: Vec<Write>) {
        let count = batch.len() as u64;
        let mut pipe = redis::pipe();
        let mut streams: HashMap<String, Duration> = HashMap::new();
        for write in batch {
            self.add(&mut pipe, write, &mut streams);
        }
        let now = epoch_ms(SystemTime::now());
        for (nsp, window) in streams {
            // Trimmed by time here and by size at each XADD; the key itself goes once no
            // node has written to it for a window.
            let key = self.keys.stream(&nsp);
            let oldest = now.saturating_sub(window.as_millis() as u64);
            pipe.cmd("XTRIM")
                .arg(&key)
                .arg("MINID")
                .arg(oldest)
                .ignore();
            let ms = window.as_millis().max(1) as u64;
            pipe.cmd("PEXPIRE").arg(&key).arg(2 * ms).ignore();
        }
        if let Err(e) = send::<()>(&mut self.conn, &pipe).await {
            self.lost(count, &e);
        }
    }

    fn add(
        &mut self,
        pipe: &mut redis::Pipeline,
        write: Write,
        streams: &mut HashMap<String, Duration>,
    ) {
        match write {
            Write::Append { nsp, event, window } => {
                let cmd = pipe.cmd("XADD").arg(self.keys.stream(&nsp));
                cmd.arg("MAXLEN").arg("~").arg(self.max_events).arg("*");
                for (name, value) in event_fields(&event) {
                    cmd.arg(name).arg(value);
                }
                cmd.ignore();
                streams.insert(nsp, window);
            }
            Write::Keep {
                pid,
                record,
                window,
            } => {
                let ttl = live_ttl(window);
                pipe.cmd("SET")
                    .arg(self.keys.record(&pid))
                    .arg(&record)
                    .arg("PX")
                    .arg(ttl.as_millis() as u64)
                    .ignore();
                let every = refresh_every(window);
                let due = Instant::now() + every;
                let live = Live {
                    record,
                    ttl,
                    every,
                    due,
                };
                self.live.insert(pid, live);
            }
            Write::Finalise {
                pid,
                record,
                window,
            } => {
                self.live.remove(&pid);
                self.if_owned(pipe, &pid, &record, window);
            }
            Write::Forget { pid } => {
                self.live.remove(&pid);
                self.if_owned(pipe, &pid, &[], Duration::ZERO);
            }
        }
    }

    fn if_owned(&self, pipe: &mut redis::Pipeline, pid: &str, record: &[u8], ttl: Duration) {
        let owner = format!("{}\n", self.owner);
        let ms = ttl.as_millis().max(1) as u64;
        pipe.cmd("EVAL")
            .arg(IF_OWNED)
            .arg(1)
            .arg(self.keys.record(pid))
            .arg(owner)
            .arg(record)
            .arg(ms)
            .ignore();
    }

    /// Pushes back the expiry of the live records that are due, and writes again those
    /// that are missing.
    async fn refresh(&mut self) {
        let now = Instant::now();
        let mut pipe = redis::pipe();
        let mut due = Vec::new();
        for (pid, live) in self.live.iter_mut().filter(|(_, l)| l.due <= now) {
            let ms = live.ttl.as_millis() as u64;
            pipe.cmd("PEXPIRE").arg(self.keys.record(pid)).arg(ms);
            live.due = now + live.every;
            due.push(pid.clone());
        }
        if due.is_empty() {
            return;
        }
        match send::<Vec<i64>>(&mut self.conn, &pipe).await {
            Ok(found) => {
                let missing = due.iter().zip(found).filter(|(_, f)| *f == 0);
                let missing: Vec<String> = missing.map(|(pid, _)| pid.clone()).collect();
                self.rewrite(missing).await;
            }
            Err(e) => self.lost(due.len() as u64, &e),
        }
    }

    /// Writes missing live records again, each only if still missing (NX): a node that
    /// took one for a recovery and wrote its own keeps it.
    async fn rewrite(&mut self, missing: Vec<String>) {
        if missing.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for pid in &missing {
            let Some(live) = self.live.get(pid) else {
                continue;
            };
            let ms = live.ttl.as_millis() as u64;
            let key = self.keys.record(pid);
            pipe.cmd("SET")
                .arg(key)
                .arg(&live.record)
                .arg("PX")
                .arg(ms)
                .arg("NX")
                .ignore();
        }
        log::info!(
            "recovery store: {} socket records missing from Redis, written again",
            missing.len()
        );
        if let Err(e) = send::<()>(&mut self.conn, &pipe).await {
            self.lost(missing.len() as u64, &e);
        }
    }

    fn lost(&self, count: u64, error: &redis::RedisError) {
        self.counters
            .write_errors
            .fetch_add(count, Ordering::Relaxed);
        siohub_actors::limited!(
            warn,
            "recovery store: {count} writes to Redis lost ({error}); \
             sockets may not recover their missed events until it answers again"
        );
    }
}

/// Sends `pipe`. A connection Redis dropped (it restarted) is noticed by the first command
/// on it, and the connection manager reconnects for the next one: one more try, or the
/// first writes after a restart (the records and events of that moment) would be lost.
async fn send<T: redis::FromRedisValue>(
    conn: &mut ConnectionManager,
    pipe: &redis::Pipeline,
) -> redis::RedisResult<T> {
    let sent = pipe.query_async::<T>(conn).await;
    match sent {
        // Only a connection found closed (broken pipe, reset): then nothing was written. A
        // timeout may have written everything, and a second try would write it twice.
        Err(e) if e.is_connection_dropped() => pipe.query_async::<T>(conn).await,
        other => other,
    }
}
