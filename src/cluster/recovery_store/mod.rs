//! The recovery store in Redis: connection state recovery that survives the node a socket
//! was on (see `siohub_actors::recovery_store` for what the hub asks of it).
//!
//! What is kept, under `[adapter] key_prefix`:
//! - `<prefix>-recovery#<nsp>`: a stream per namespace of the events this cluster logged
//!   for recovery (offset, target, frames), appended by the publishing node, trimmed to the
//!   recovery window (MINID by time) and to `recovery_stream_max_events` (MAXLEN ~);
//! - `<prefix>-recovery-session#<pid>`: each recoverable socket's record (id, namespace,
//!   rooms, data), written at connect, join and leave, refreshed while it is connected so
//!   that it outlives its node by about one window, finalised at a clean disconnect, taken
//!   (GETDEL) by the node the client recovers on — unless it says its socket is connected
//!   and the node that wrote it is up (`<prefix>-recovery-node#<node>`, see [`liveness`]).
//!
//! Writes go through a bounded queue drained by one task ([`writer`]); a full queue drops
//! the write (counted, rate-limited log line). A recovery reads the record and the stream
//! within `recovery_read_timeout_ms`, or the client gets a fresh socket.

mod encoding;
mod liveness;
mod reader;
mod writer;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::Arbiter;
use futures::future::BoxFuture;
use futures::FutureExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use siohub_actors::hub_messages::PreservedSocket;
use siohub_actors::recovery_store::{
    RecoveryStore, RecoveryStoreStats, SharedRecoveryStore, StoreRecovery, StoredEvent,
};
use tokio::sync::mpsc;

use crate::config::AdapterSettings;
use writer::{Write, Writer};

/// The Redis key names.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    prefix: String,
}

impl Keys {
    fn stream(&self, nsp: &str) -> String {
        format!("{}-recovery#{nsp}", self.prefix)
    }

    fn record(&self, pid: &str) -> String {
        format!("{}-recovery-session#{pid}", self.prefix)
    }
}

/// What the store did, counted where it happens.
#[derive(Debug, Default)]
pub(super) struct Counters {
    queued: AtomicU64,
    dropped_full: AtomicU64,
    write_errors: AtomicU64,
    recovered: AtomicU64,
    missed_record: AtomicU64,
    missed_offset: AtomicU64,
    missed_unavailable: AtomicU64,
    missed_owner_alive: AtomicU64,
}

/// The store (see the module documentation).
pub struct RedisRecoveryStore {
    /// This node's name in offsets and records (unique per process).
    node: String,
    /// `node` and the separator: what this node's offsets start with.
    offset_prefix: String,
    keys: Keys,
    queue: mpsc::Sender<Write>,
    conn: ConnectionManager,
    counters: Arc<Counters>,
    read_timeout: Duration,
    max_events: usize,
    /// The writer's thread, kept for as long as the store.
    _arbiter: Arbiter,
}

impl std::fmt::Debug for RedisRecoveryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRecoveryStore")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// The store for these adapter settings, when they name Redis (connected lazily: a Redis
/// that is down at start-up is retried by the connection manager).
pub fn from_settings(settings: &AdapterSettings) -> Option<SharedRecoveryStore> {
    if settings.kind != "redis" {
        return None;
    }
    match RedisRecoveryStore::start(settings) {
        Ok(store) => Some(Arc::new(store)),
        Err(e) => {
            log::error!("recovery store: cannot use Redis ({e}); recovery stays on this node");
            None
        }
    }
}

impl RedisRecoveryStore {
    /// Starts the writer on a thread of its own.
    pub fn start(settings: &AdapterSettings) -> redis::RedisResult<Self> {
        let client = redis::Client::open(settings.redis_url.as_str())?;
        let timeout = Duration::from_millis(settings.recovery_read_timeout_ms);
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(2));
        let node = siohub_actors::random_id()[..12].to_owned();
        let alive = liveness::hold(
            client.clone(),
            liveness::channel(&settings.key_prefix, &node),
        );
        let conn = ConnectionManager::new_lazy_with_config(client, config)?;
        let keys = Keys {
            prefix: settings.key_prefix.clone(),
        };
        let counters = Arc::new(Counters::default());
        let (queue, receiver) = mpsc::channel(settings.recovery_queue.max(1));
        let max_events = settings.recovery_stream_max_events;
        let writer = Writer::new(
            conn.clone(),
            keys.clone(),
            node.clone(),
            max_events,
            counters.clone(),
        );
        let arbiter = Arbiter::new();
        arbiter.spawn(writer.run(receiver));
        arbiter.spawn(alive);
        Ok(RedisRecoveryStore {
            offset_prefix: format!("{node}."),
            node,
            keys,
            queue,
            conn,
            counters,
            read_timeout: timeout,
            max_events,
            _arbiter: arbiter,
        })
    }

    /// Queues a write; a full queue drops it, counted.
    fn send(&self, write: Write) {
        match self.queue.try_send(write) {
            Ok(()) => {
                self.counters.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.counters.dropped_full.fetch_add(1, Ordering::Relaxed);
                siohub_actors::limited!(
                    warn,
                    "recovery store: queue full ({} writes waiting for Redis); a write dropped \
                     (raise [adapter] recovery_queue, or see whether Redis keeps up)",
                    self.queue.max_capacity()
                );
            }
        }
    }
}

impl RecoveryStore for RedisRecoveryStore {
    fn stats(&self) -> RecoveryStoreStats {
        let c = &self.counters;
        let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
        RecoveryStoreStats {
            queued: get(&c.queued),
            dropped_full: get(&c.dropped_full),
            write_errors: get(&c.write_errors),
            recovered: get(&c.recovered),
            missed_record: get(&c.missed_record),
            missed_offset: get(&c.missed_offset),
            missed_unavailable: get(&c.missed_unavailable),
            missed_owner_alive: get(&c.missed_owner_alive),
            waiting: (self.queue.max_capacity() - self.queue.capacity()) as u64,
        }
    }

    fn offset_prefix(&self) -> &str {
        &self.offset_prefix
    }

    fn append(&self, nsp: &str, event: StoredEvent, window: Duration) {
        let nsp = nsp.to_owned();
        self.send(Write::Append { nsp, event, window });
    }

    fn keep(&self, pid: &str, socket: PreservedSocket, window: Duration) {
        let record = encoding::encode_record(&self.node, &socket, false);
        let pid = pid.to_owned();
        self.send(Write::Keep {
            pid,
            record,
            window,
        });
    }

    fn finalise(&self, pid: &str, socket: PreservedSocket, window: Duration) {
        let record = encoding::encode_record(&self.node, &socket, true);
        let pid = pid.to_owned();
        self.send(Write::Finalise {
            pid,
            record,
            window,
        });
    }

    fn forget(&self, pid: &str) {
        let pid = pid.to_owned();
        self.send(Write::Forget { pid });
    }

    fn recover(
        &self,
        nsp: &str,
        pid: &str,
        offset: &str,
        window: Duration,
    ) -> BoxFuture<'static, Option<StoreRecovery>> {
        let read = reader::Read {
            conn: self.conn.clone(),
            record_key: self.keys.record(pid),
            stream_key: self.keys.stream(nsp),
            nsp: nsp.to_owned(),
            offset: offset.to_owned(),
            window,
            max_events: self.max_events,
            node: self.node.clone(),
            keys: self.keys.clone(),
        };
        let (counters, timeout) = (self.counters.clone(), self.read_timeout);
        let nsp = nsp.to_owned();
        async move {
            let outcome = tokio::time::timeout(timeout, read.run()).await;
            let outcome = outcome.unwrap_or(Err(reader::Miss::Unavailable));
            let counter = match &outcome {
                Ok(_) => &counters.recovered,
                Err(reader::Miss::Record) => &counters.missed_record,
                Err(reader::Miss::Offset) => &counters.missed_offset,
                Err(reader::Miss::Unavailable) => &counters.missed_unavailable,
                Err(reader::Miss::OwnerAlive) => &counters.missed_owner_alive,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            if let Err(miss) = &outcome {
                let nsp = siohub_actors::ClientText(&nsp);
                // A client chooses the pid and offset it sends: one line now and then.
                siohub_actors::limited!(
                    info,
                    "recovery store: a socket of {nsp} not recovered: {miss}"
                );
            }
            outcome.ok()
        }
        .boxed()
    }
}
