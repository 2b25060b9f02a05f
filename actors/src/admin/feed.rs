//! What the other actors tell the Admin actor, and the handle they tell it through.
//!
//! Feeding costs next to nothing while nobody watches: every feeder first reads one
//! relaxed atomic, the watcher count ([`AdminFeed::watched`]), and builds nothing when it is 0. While
//! someone watches, what is fed is bounded twice: at most `MAX_QUEUED` messages wait in
//! the Admin's mailbox (one more is dropped and counted), and at most
//! `MAX_EVENTS_PER_S` client events a second are sampled (the rest are counted as
//! sampled out, never queued).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use actix::prelude::*;
use serde_json::{Map, Value};
use siohub_protocol::Payload;

use super::Admin;
use crate::socket::HandshakeInfo;
use crate::stats::ActorStats;

/// The most feed messages that may wait in the Admin's mailbox.
pub const MAX_QUEUED: u64 = 10_000;
/// The most client events (in or out) sampled each second while someone watches.
pub const MAX_EVENTS_PER_S: u64 = 1_000;
/// Event arguments larger than this (as JSON) are shown as a placeholder.
pub const MAX_ARGS_BYTES: usize = 1_024;
/// Event names longer than this are shown cut to it, with their length.
pub const MAX_NAME_BYTES: usize = 128;

/// An event name as the Admin shows it: in full up to [`MAX_NAME_BYTES`], else its first
/// bytes (cut on a character boundary) followed by its length, so a client sending huge
/// names cannot make every watcher's pushes and the recent-events ring huge.
pub fn shown_name(event: &str) -> String {
    if event.len() <= MAX_NAME_BYTES {
        return event.to_owned();
    }
    let mut cut = MAX_NAME_BYTES;
    while !event.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… [{} bytes]", &event[..cut], event.len())
}

/// A socket joined a namespace.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct SocketConnected {
    /// The namespace.
    pub nsp: String,
    /// The socket id.
    pub socket_id: String,
    /// The Engine.IO session id.
    pub sid: String,
    /// `polling` or `websocket`.
    pub transport: &'static str,
    /// The session's handshake.
    pub handshake: Arc<HandshakeInfo>,
    /// The socket's data when it connected.
    pub data: Map<String, Value>,
    /// Its first rooms.
    pub rooms: Vec<String>,
    /// When.
    pub at: SystemTime,
}

/// A socket left its namespace.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct SocketDisconnected {
    /// The namespace.
    pub nsp: String,
    /// The socket id.
    pub socket_id: String,
    /// Why (as Socket.IO names it).
    pub reason: &'static str,
    /// When.
    pub at: SystemTime,
}

/// A socket's connection changed transport (`socket_updated`).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct SocketUpdated {
    /// The namespace.
    pub nsp: String,
    /// The socket id.
    pub socket_id: String,
    /// The transport now.
    pub transport: &'static str,
}

/// A socket joined or left a room.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct RoomChanged {
    /// The namespace.
    pub nsp: String,
    /// The room.
    pub room: String,
    /// The socket id.
    pub socket_id: String,
    /// Joined (true) or left.
    pub joined: bool,
    /// When.
    pub at: SystemTime,
}

/// An event a client sent, or one sent to clients.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct EventSeen {
    /// Received from a client (true) or sent.
    pub incoming: bool,
    /// The namespace.
    pub nsp: String,
    /// The socket that sent or got it; `None` for a broadcast.
    pub socket_id: Option<String>,
    /// The event name, cut to [`MAX_NAME_BYTES`] (see [`shown_name`]).
    pub event: String,
    /// Its arguments as JSON, or a placeholder when large or binary.
    pub args: Vec<Value>,
    /// The size of its arguments as JSON (binary attachments added).
    pub bytes: usize,
    /// When.
    pub at: SystemTime,
}

impl EventSeen {
    /// Describes an event; the arguments are kept when small and plain JSON, the name cut
    /// when long.
    pub fn new(
        incoming: bool,
        nsp: &str,
        socket_id: Option<&str>,
        event: &str,
        payload: &Payload,
    ) -> Self {
        let json = serde_json::to_string(&payload.args).unwrap_or_default();
        let binary: usize = payload.attachments.iter().map(|a| a.len()).sum();
        let args = if json.len() > MAX_ARGS_BYTES || !payload.attachments.is_empty() {
            vec![Value::String(format!(
                "[{} arguments, {} bytes: not shown]",
                payload.args.len(),
                json.len() + binary
            ))]
        } else {
            payload.args.clone()
        };
        EventSeen {
            incoming,
            nsp: nsp.to_owned(),
            socket_id: socket_id.map(str::to_owned),
            event: shown_name(event),
            args,
            bytes: json.len() + binary,
            at: SystemTime::now(),
        }
    }
}

/// An Engine.IO connection opened or closed (`rawConnection` / `rawDisconnection`).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct RawConnection {
    /// `None`: opened; else closed, with the reason.
    pub closed: Option<&'static str>,
    /// When.
    pub at: SystemTime,
}

/// Counters of what the feed did not pass on.
#[derive(Debug, Default)]
pub(crate) struct FeedCounters {
    /// Messages dropped because `MAX_QUEUED` waited.
    pub(crate) queue_full: AtomicU64,
    /// Client events over `MAX_EVENTS_PER_S` in their second.
    pub(crate) sampled_out: AtomicU64,
    /// Client events sampled in the current second (reset by the Admin's tick).
    pub(crate) events_this_second: AtomicU64,
    /// Pushes to watchers dropped (over a watcher's budget).
    pub(crate) push_dropped: AtomicU64,
    /// Watchers connected now.
    pub(crate) watchers: AtomicU64,
    /// `aggregatedEvents` buckets over `aggregate::MAX_BUCKETS`.
    pub(crate) aggregate_full: AtomicU64,
    /// Other nodes of the cluster whose `server_stats` the Admin keeps now.
    pub(crate) cluster_nodes: AtomicU64,
}

/// What the Admin's bounds left out, by bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AdminDrops {
    /// Feed messages dropped: `MAX_QUEUED` waited in the Admin's mailbox.
    pub queue_full: u64,
    /// Per-socket events not pushed: over a watcher's `MAX_PUSHES_PER_S`.
    pub push_budget: u64,
    /// Client events not sampled: over `MAX_EVENTS_PER_S` in their second.
    pub sampled_out: u64,
    /// `aggregatedEvents` buckets dropped: over `MAX_BUCKETS` between two `server_stats`.
    pub aggregate_full: u64,
}

impl AdminDrops {
    /// All of them.
    pub fn total(&self) -> u64 {
        self.queue_full + self.push_budget + self.sampled_out + self.aggregate_full
    }
}

/// The handle the other actors feed the Admin through. Cheap to clone.
#[derive(Clone)]
pub struct AdminFeed {
    addr: Addr<Admin>,
    stats: Arc<ActorStats>,
    pub(crate) counters: Arc<FeedCounters>,
}

impl std::fmt::Debug for AdminFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminFeed")
            .field("watched", &self.watched())
            .finish_non_exhaustive()
    }
}

impl AdminFeed {
    pub(crate) fn new(
        addr: Addr<Admin>,
        stats: Arc<ActorStats>,
        counters: Arc<FeedCounters>,
    ) -> Self {
        AdminFeed {
            addr,
            stats,
            counters,
        }
    }

    /// Whether someone watches (the count the Admin publishes): feeders build nothing when
    /// not.
    #[inline]
    pub fn watched(&self) -> bool {
        self.counters.watchers.load(Ordering::Relaxed) > 0
    }

    /// Whether what happens in namespace `nsp` is wanted now: someone watches, and it is
    /// not the admin namespace itself (whose pushes would feed themselves).
    #[inline]
    pub fn wants(&self, nsp: &str) -> bool {
        self.watched() && nsp != super::ADMIN_NSP
    }

    /// Feeds a client event (received, or sent to one socket or as a broadcast) if it is
    /// wanted and within this second's sample.
    pub fn event(
        &self,
        incoming: bool,
        nsp: &str,
        socket_id: Option<&str>,
        event: &str,
        payload: &Payload,
    ) {
        if self.wants(nsp) && self.sample_event() {
            self.send(EventSeen::new(incoming, nsp, socket_id, event, payload));
        }
    }

    /// Feeds an Engine.IO connection opened (`None`) or closed (with the reason).
    pub fn raw_connection(&self, closed: Option<&'static str>) {
        if self.watched() {
            self.send(RawConnection {
                closed,
                at: SystemTime::now(),
            });
        }
    }

    /// Whether one more client event may be sampled this second (counts it either way).
    pub fn sample_event(&self) -> bool {
        let n = self
            .counters
            .events_this_second
            .fetch_add(1, Ordering::Relaxed);
        if n < MAX_EVENTS_PER_S {
            return true;
        }
        self.counters.sampled_out.fetch_add(1, Ordering::Relaxed);
        false
    }

    /// Sends `msg` to the Admin unless `MAX_QUEUED` messages wait (then it is counted as
    /// dropped).
    pub(crate) fn send<M>(&self, msg: M)
    where
        M: Message<Result = ()> + Send + 'static,
        Admin: Handler<M>,
    {
        if self.stats.mailbox_depth() >= MAX_QUEUED {
            self.counters.queue_full.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.stats.enqueued();
        self.addr.do_send(msg);
    }

    /// The Admin's address, for requests that wait for an answer.
    pub(crate) fn addr(&self) -> &Addr<Admin> {
        &self.addr
    }

    /// The Admin's stats (to count a request sent to it).
    pub(crate) fn stats(&self) -> &Arc<ActorStats> {
        &self.stats
    }

    /// What the Admin's bounds left out so far: feed messages over the mailbox cap,
    /// pushes over a watcher's budget, client events over the per-second sample, and
    /// `aggregatedEvents` buckets over their bound.
    pub fn dropped(&self) -> AdminDrops {
        Self::drops(&self.counters)
    }

    /// The drops `counters` hold.
    pub(crate) fn drops(c: &FeedCounters) -> AdminDrops {
        AdminDrops {
            queue_full: c.queue_full.load(Ordering::Relaxed),
            push_budget: c.push_dropped.load(Ordering::Relaxed),
            sampled_out: c.sampled_out.load(Ordering::Relaxed),
            aggregate_full: c.aggregate_full.load(Ordering::Relaxed),
        }
    }

    /// Watchers of `/admin` connected now.
    pub fn watchers(&self) -> u64 {
        self.counters.watchers.load(Ordering::Relaxed)
    }

    /// Other nodes of the cluster the Admin heard from lately (their `server_stats`).
    pub fn cluster_nodes(&self) -> u64 {
        self.counters.cluster_nodes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_feed_cuts_long_event_names_on_a_character_boundary() {
        assert_eq!(shown_name("chat"), "chat");
        let exact = "x".repeat(MAX_NAME_BYTES);
        assert_eq!(shown_name(&exact), exact);
        let long = "é".repeat(100_000);
        let shown = shown_name(&long);
        assert!(shown.len() <= MAX_NAME_BYTES + 32, "{}", shown.len());
        assert!(shown.ends_with("… [200000 bytes]"), "{shown}");
        let seen = EventSeen::new(true, "/", Some("s"), &long, &Payload::new(vec![]));
        assert_eq!(seen.event, shown);
    }
}
