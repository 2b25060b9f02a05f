//! Durable subscriptions (`[subscriptions] store = "postgres"`): the rooms an identified
//! user (a socket with a user id, see [`crate::auth`]) joined through the built-in `join`
//! are kept in PostgreSQL, with the join's options; every new socket of that user joins
//! them again on connect ([`restore`]), and `leave` removes them ([`hooks`]).
//! `GET /api/v1/users/{user}/subscriptions` lists them.
//!
//! PostgreSQL is reached from a thread of the store's own ([`worker`]), never from the
//! hub's actors: joins and leaves put their write in a bounded queue ([`queue`]) and their
//! ack waits for it at most `timeout_ms`; while PostgreSQL is down the hub serves, the
//! writes wait (in order) and are retried once it is back, `/health` says degraded, and
//! everything is counted ([`status`], `/metrics`). Several nodes may share one database:
//! a user who joined on node A and connects to node B gets the room there, as soon as A's
//! write is in (a join's ack says `"durable":"kept"` once it is).

pub mod hooks;
mod postgres;
mod queue;
pub mod restore;
mod schema;
pub mod status;
mod worker;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::oneshot;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;

pub use postgres::StoreError;
pub use queue::{WriteOp, Written};
pub use status::StoreStatus;

use crate::config::SubscriptionSettings;
use worker::{Read, Shared};

/// A room a user keeps, as a new socket of theirs joins it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptRoom {
    /// The room.
    pub room: String,
    /// The join's JSON object without `room`.
    pub options: Value,
}

/// A room a user keeps, as the API lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListedRoom {
    /// The namespace.
    pub namespace: String,
    /// The room.
    pub room: String,
    /// The join's JSON object without `room`.
    pub options: Value,
    /// When it was first kept, in milliseconds since the epoch.
    pub since_ms: i64,
}

/// The store: a cheap handle (clones share it) on the queue, the reads and the status.
#[derive(Clone)]
pub struct Subscriptions {
    inner: Arc<Inner>,
}

struct Inner {
    settings: SubscriptionSettings,
    shared: Arc<Shared>,
    reads: mpsc::UnboundedSender<Read>,
    /// Sockets whose kept rooms are being read, with the rooms their client joined or
    /// left meanwhile (the restore leaves those alone: the client's word is later).
    restoring: Mutex<HashMap<Arc<str>, Touched>>,
    /// How many entries `restoring` holds: a join or leave while no restore runs (the
    /// usual case) does not take its lock.
    restores: AtomicUsize,
}

/// The rooms a client touched while its socket's rooms were being read.
#[derive(Debug, Default)]
pub(crate) struct Touched {
    rooms: HashSet<String>,
    /// More rooms than a user keeps were touched: the restore joins nothing.
    all: bool,
}

impl Touched {
    /// Whether the restore should leave `room` alone.
    pub(crate) fn has(&self, room: &str) -> bool {
        self.all || self.rooms.contains(room)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl std::fmt::Debug for Subscriptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriptions")
            .field("url", &self.inner.settings.masked_url())
            .field("connected", &self.status().is_connected())
            .finish_non_exhaustive()
    }
}

impl Subscriptions {
    /// The store `settings` configure, its thread started (it connects in the
    /// background); `None` with `store = "none"`.
    pub fn start(settings: &SubscriptionSettings) -> std::io::Result<Option<Subscriptions>> {
        if !settings.is_enabled() {
            return Ok(None);
        }
        let mut config: tokio_postgres::Config = settings
            .postgres_url
            .parse()
            .map_err(|e| std::io::Error::other(format!("subscriptions.postgres_url: {e}")))?;
        let timeout = Duration::from_millis(settings.timeout_ms);
        config.connect_timeout(timeout);
        if config.get_application_name().is_none() {
            config.application_name("siohub");
        }
        let status = Arc::new(StoreStatus::new());
        let shared = Arc::new(Shared {
            queue: queue::WriteQueue::new(
                settings.queue_size,
                settings.max_rooms_per_user.saturating_mul(2),
                status.clone(),
            ),
            status,
            closed: Default::default(),
        });
        let link = postgres::Link::new(config, timeout, settings.max_rooms_per_user);
        let (reads, receiver) = mpsc::unbounded_channel();
        worker::spawn(shared.clone(), link, receiver)?;
        log::info!(
            "subscriptions: kept in PostgreSQL at {}",
            settings.masked_url()
        );
        Ok(Some(Subscriptions {
            inner: Arc::new(Inner {
                settings: settings.clone(),
                shared,
                reads,
                restoring: Mutex::new(HashMap::new()),
                restores: AtomicUsize::new(0),
            }),
        }))
    }

    /// `[subscriptions]`.
    pub fn settings(&self) -> &SubscriptionSettings {
        &self.inner.settings
    }

    /// Whether PostgreSQL is reachable, and the counters.
    pub fn status(&self) -> &StoreStatus {
        &self.inner.shared.status
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.inner.settings.timeout_ms)
    }

    /// Queues `op`; resolves once PostgreSQL answered it, or to `Queued` when it is down
    /// or took longer than `timeout_ms` (the write stays queued), or `Dropped`.
    pub fn write(&self, op: WriteOp) -> impl std::future::Future<Output = Written> + 'static {
        let answer = self.inner.shared.queue.push(op);
        let timeout = self.timeout();
        async move {
            match tokio::time::timeout(timeout, answer).await {
                Ok(Ok(written)) => written,
                // The store's thread is gone (the server is stopping) or too slow.
                Ok(Err(_)) | Err(_) => Written::Queued,
            }
        }
    }

    /// Queues `op` without waiting for its answer (its outcome is counted).
    pub fn enqueue(&self, op: WriteOp) {
        drop(self.inner.shared.queue.push(op));
    }

    /// The rooms `user` keeps in `nsp`, oldest first.
    pub fn rooms_of(
        &self,
        user: &str,
        nsp: &str,
    ) -> impl std::future::Future<Output = Result<Vec<KeptRoom>, StoreError>> + 'static {
        let (reply, answer) = oneshot::channel();
        let read = Read::Rooms {
            user: user.to_owned(),
            nsp: nsp.to_owned(),
            reply,
        };
        self.read(read, answer)
    }

    /// The rooms `user` keeps, in `nsp` or in every namespace.
    pub fn list(
        &self,
        user: &str,
        nsp: Option<&str>,
    ) -> impl std::future::Future<Output = Result<Vec<ListedRoom>, StoreError>> + 'static {
        let (reply, answer) = oneshot::channel();
        let read = Read::List {
            user: user.to_owned(),
            nsp: nsp.map(String::from),
            reply,
        };
        self.read(read, answer)
    }

    fn read<T: 'static>(
        &self,
        read: Read,
        answer: oneshot::Receiver<Result<T, StoreError>>,
    ) -> impl std::future::Future<Output = Result<T, StoreError>> + 'static {
        let max = self.inner.settings.max_pending_reads;
        let status = &self.inner.shared.status;
        let sent = match status.try_begin_read(max) {
            false => Err(StoreError::Busy(max)),
            true => self.inner.reads.send(read).map_err(|_| {
                status.end_read();
                StoreError::Unavailable("the store has stopped".into())
            }),
        };
        // The store's thread bounds each read by timeout_ms; this one bounds the wait
        // for the thread itself.
        let timeout = self.timeout() * 2;
        async move {
            sent?;
            match tokio::time::timeout(timeout, answer).await {
                Ok(Ok(result)) => result,
                Ok(Err(_)) => Err(StoreError::Unavailable("the store has stopped".into())),
                Err(_) => Err(StoreError::Timeout(timeout.as_millis() as u64)),
            }
        }
    }

    fn restoring(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Touched>> {
        self.inner
            .restoring
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Notes that `socket`'s kept rooms are being read, until the guard is ended (or
    /// dropped, as when the socket's session ends first).
    pub(crate) fn begin_restore(&self, socket: &str) -> RestoreGuard {
        let socket: Arc<str> = socket.into();
        let mut restoring = self.restoring();
        if restoring
            .insert(socket.clone(), Touched::default())
            .is_none()
        {
            self.inner.restores.fetch_add(1, Ordering::SeqCst);
        }
        drop(restoring);
        RestoreGuard {
            subs: self.clone(),
            socket,
        }
    }

    /// Resolves once PostgreSQL is connected again, unless `max_pending_reads` restores
    /// wait already (`None`).
    pub(crate) fn wait_until_up(&self) -> Option<impl std::future::Future<Output = ()> + 'static> {
        let max = self.inner.settings.max_pending_reads;
        self.inner.shared.status.wait_until_up(max)
    }

    /// Notes that the client of `socket` joined or left `room` (while its kept rooms are
    /// being read, the restore then leaves that room alone).
    pub(crate) fn touch(&self, socket: &str, room: &str) {
        // Begun before the join or leave was asked (a socket's restore begins at its
        // connect), so a restore this must reach is counted already.
        if self.inner.restores.load(Ordering::SeqCst) == 0 {
            return;
        }
        let max = self.inner.settings.max_rooms_per_user;
        if let Some(touched) = self.restoring().get_mut(socket) {
            if touched.rooms.len() >= max {
                touched.all = true;
            } else {
                touched.rooms.insert(room.to_owned());
            }
        }
    }

    fn end_restore(&self, socket: &str) -> Touched {
        let Some(touched) = self.restoring().remove(socket) else {
            return Touched::default();
        };
        self.inner.restores.fetch_sub(1, Ordering::SeqCst);
        touched
    }
}

/// A restore in progress: the rooms its client touches meanwhile are noted.
pub(crate) struct RestoreGuard {
    subs: Subscriptions,
    socket: Arc<str>,
}

impl RestoreGuard {
    /// Ends the restore: the rooms the client touched since it began.
    pub(crate) fn end(self) -> Touched {
        self.subs.end_restore(&self.socket)
    }
}

impl Drop for RestoreGuard {
    fn drop(&mut self) {
        self.subs.end_restore(&self.socket);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store whose database is never reached (nothing listens on port 1).
    fn unreachable() -> Subscriptions {
        let settings = SubscriptionSettings {
            store: "postgres".into(),
            postgres_url: "postgres://siohub@127.0.0.1:1/siohub".into(),
            timeout_ms: 200,
            max_rooms_per_user: 2,
            ..SubscriptionSettings::default()
        };
        Subscriptions::start(&settings)
            .expect("the thread starts")
            .expect("a store")
    }

    #[test]
    fn none_starts_nothing() {
        let none = SubscriptionSettings::default();
        assert!(Subscriptions::start(&none).unwrap().is_none());
    }

    #[test]
    fn rooms_the_client_touched_during_a_restore_are_left_to_it() {
        let subs = unreachable();
        subs.touch("s1", "ignored: no restore running");
        let s1 = subs.begin_restore("s1");
        subs.touch("s1", "a");
        subs.touch("s2", "b");
        let touched = s1.end();
        assert!(touched.has("a"));
        assert!(!touched.has("b"));
        assert!(!touched.has("ignored: no restore running"));
        assert!(subs.restoring().is_empty(), "ended");
        assert_eq!(subs.inner.restores.load(Ordering::SeqCst), 0);

        // More rooms touched than a user keeps: the restore joins nothing.
        let s3 = subs.begin_restore("s3");
        for room in ["x", "y", "z"] {
            subs.touch("s3", room);
        }
        assert!(s3.end().has("anything"));
        // A restore dropped unfinished (its session ended) leaves nothing behind.
        drop(subs.begin_restore("s4"));
        assert!(subs.restoring().is_empty());
        assert_eq!(
            subs.inner.restores.load(Ordering::SeqCst),
            0,
            "counted down once"
        );
    }

    #[actix_rt::test]
    async fn with_the_database_unreachable_writes_queue_and_reads_fail_fast() {
        let subs = unreachable();
        let op = WriteOp::Forget {
            nsp: "/".into(),
            user: "u".into(),
            room: "r".into(),
        };
        assert_eq!(subs.write(op).await, Written::Queued);
        assert_eq!(subs.status().queued(), 1);
        let read = subs.rooms_of("u", "/").await;
        assert!(matches!(read, Err(StoreError::Unavailable(_))), "{read:?}");
        assert!(subs.status().down_reason().is_some());
    }
}
