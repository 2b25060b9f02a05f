//! The seam between the Broadcaster and the room histories kept in Redis (in the server's
//! `cluster::history` module), with no Redis in it: a room with `buffer = "always"` keeps
//! its history on every node, and a node that starts later (or whose subscription to Redis
//! was lost while others published) loads it from Redis.
//!
//! - Every broadcast the Broadcaster offers to the other nodes carries its own number
//!   ([`OutboundHistory::seq`]); with the node's uid it names the event in the cluster
//!   ([`HistoryKey`]), and every event a room buffer keeps holds that name, so an event that
//!   arrives both live and from the store is kept once.
//! - A broadcast that lands in always-rooms carries what Redis keeps of it
//!   ([`OutboundHistory::rooms`] and the frames): the adapter writes it in the same pipeline
//!   as, and before, its PUBLISH.
//! - On every (re)subscription the adapter tells the Broadcaster a load starts
//!   ([`HistoryLoadStart`]), reads the histories and hands them over ([`HistoryLoaded`]);
//!   meanwhile joins of always-rooms wait for their replay (at most the load's timeout).
//!
//! [`HistoryCounters`] count what happened, for `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::wire_frame::Frames;

/// The name of a broadcast in the cluster: the node that published it and its number there.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HistoryKey {
    /// The publishing node's uid; `None`: this node.
    pub origin: Option<Arc<str>>,
    /// The publishing node's number for it.
    pub seq: u64,
    /// When the publishing node published it (µs since the epoch, by its clock): what a
    /// merge orders events by, so one node's events keep their order whichever way they
    /// came.
    pub at_us: u64,
}

/// What the other nodes and the store get of a broadcast besides its message.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundHistory {
    /// This node's number for the broadcast (sent to the other nodes in the message).
    pub seq: u64,
    /// The rooms with `buffer = "always"` that keep it (empty: the store gets nothing).
    pub rooms: Vec<String>,
    /// Events such a room keeps at most (`buffer_size`).
    pub size: usize,
    /// How long they stay replayable (`buffer_ttl`).
    pub ttl: Duration,
    /// When it was published, in µs since the epoch.
    pub at_us: u64,
    /// The event as it was sent.
    pub frames: Frames,
}

/// One event of a room's history read from the store.
#[derive(Debug, Clone)]
pub struct LoadedEvent {
    /// Its room.
    pub room: String,
    /// Its name in the cluster.
    pub key: HistoryKey,
    /// How long ago it was published (by the wall clock).
    pub age: Duration,
    /// The event as it was sent.
    pub frames: Frames,
}

/// A load of the histories from the store starts (sent when the subscription to Redis is
/// confirmed, before any message it brings): the joins of always-rooms wait for it, at
/// most `timeout`.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct HistoryLoadStart {
    /// The load's number (a later one replaces it).
    pub id: u64,
    /// How long joins wait for it at most.
    pub timeout: Duration,
}

/// How a load ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadOutcome {
    /// Everything was read (within the bounds).
    #[default]
    Complete,
    /// Redis failed or did not answer: what was read is merged, the rest is missing.
    Failed,
}

/// The histories a load read, per namespace, each oldest first.
#[derive(Message, Debug, Default)]
#[rtype(result = "()")]
pub struct HistoryLoaded {
    /// The load's number.
    pub id: u64,
    /// The events of each namespace.
    pub namespaces: Vec<(String, Vec<LoadedEvent>)>,
    /// Whether all of it could be read.
    pub outcome: LoadOutcome,
}

/// What the room histories did so far (written by the adapter and the Broadcaster, read by
/// `/metrics`).
#[derive(Debug, Default)]
pub struct HistoryCounters {
    written: AtomicU64,
    write_failed: AtomicU64,
    write_dropped: AtomicU64,
    loads: [AtomicU64; 3],
    loaded: AtomicU64,
    skipped: [AtomicU64; 4],
    held: AtomicU64,
    evicted: AtomicU64,
}

/// How a load ended, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadCount {
    /// Read and merged.
    Complete = 0,
    /// Redis failed it.
    Failed = 1,
    /// Not read within the timeout: the waiting joins were answered without it.
    TimedOut = 2,
}

/// Why a loaded event was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadSkip {
    /// This node holds it already (it arrived live).
    Duplicate = 0,
    /// Past its TTL.
    Expired = 1,
    /// Over `buffer_size` or the namespace's `max_buffer_bytes`.
    OverBound = 2,
    /// Not something a siohub node wrote: an entry without our fields (or with garbage in
    /// them), or a key of the wrong type under the histories' names (counted once per key
    /// and load); skipped by the loader.
    Invalid = 3,
}

impl HistoryCounters {
    /// Room entries written to Redis.
    pub fn written(&self, n: u64) {
        self.written.fetch_add(n, Ordering::Relaxed);
    }

    /// Room entries lost because Redis failed the write (it was down).
    pub fn write_failed(&self, n: u64) {
        self.write_failed.fetch_add(n, Ordering::Relaxed);
    }

    /// Room entries dropped because the outbox was full.
    pub fn write_dropped(&self, n: u64) {
        self.write_dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// A load ended.
    pub fn load(&self, how: LoadCount) {
        self.loads[how as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Loaded events merged into the buffers.
    pub fn loaded(&self, n: u64) {
        self.loaded.fetch_add(n, Ordering::Relaxed);
    }

    /// Loaded events not kept.
    pub fn skipped(&self, why: LoadSkip, n: u64) {
        self.skipped[why as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// Rooms whose history Redis dropped for `[adapter] history_max_rooms`.
    pub fn rooms_evicted(&self, n: u64) {
        self.evicted.fetch_add(n, Ordering::Relaxed);
    }

    /// Rooms whose history Redis dropped for the bound, so far.
    pub fn evicted_rooms(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// A join's replay waited for a load.
    pub fn held(&self) {
        self.held.fetch_add(1, Ordering::Relaxed);
    }

    /// Room entries written, failed, dropped.
    pub fn writes(&self) -> (u64, u64, u64) {
        let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
        (
            get(&self.written),
            get(&self.write_failed),
            get(&self.write_dropped),
        )
    }

    /// Loads that ended so.
    pub fn loads(&self, how: LoadCount) -> u64 {
        self.loads[how as usize].load(Ordering::Relaxed)
    }

    /// Loaded events merged.
    pub fn events_loaded(&self) -> u64 {
        self.loaded.load(Ordering::Relaxed)
    }

    /// Loaded events not kept for this reason.
    pub fn events_skipped(&self, why: LoadSkip) -> u64 {
        self.skipped[why as usize].load(Ordering::Relaxed)
    }

    /// Join replays that waited for a load.
    pub fn joins_held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }
}
