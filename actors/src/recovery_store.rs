//! The seam between the hub and a recovery store shared by the nodes of a cluster (Redis,
//! in the server's `cluster` module), with no Redis in it.
//!
//! With a store, connection state recovery survives the node a socket was on: the
//! Broadcaster hands every logged event to [`RecoveryStore::append`] (a stream per
//! namespace), each session keeps its sockets' recovery records in the store while they
//! are connected ([`RecoveryStore::keep`]), finalises them at a clean disconnect
//! ([`RecoveryStore::finalise`]), and a recovering client on any node is answered by
//! [`RecoveryStore::recover`]. Writes never block their caller: an implementation queues
//! them (bounded, a full queue is a counted drop).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::hub_messages::PreservedSocket;
use crate::target::Target;
use crate::wire_frame::Frames;

/// One logged event as the store keeps it: its offset (as its recipients got it), its
/// target and its frames (as they were sent).
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// The offset appended to it by the node that published it.
    pub offset: Arc<str>,
    /// Who it went to.
    pub target: Target,
    /// The encoded event.
    pub frames: Frames,
}

/// What the store says a recovering socket missed: the events after its offset, in the
/// store's order, read when this node's broadcast number was `seen_upto`.
#[derive(Debug, Clone, Default)]
pub struct RemoteMissed {
    /// The last offset the client saw.
    pub after: String,
    /// The events after it, oldest first (every target: the Broadcaster filters).
    pub events: Vec<StoredEvent>,
    /// This node's last broadcast number when the store was read: events numbered after
    /// it may be missing from `events` and are taken from the local log instead.
    pub seen_upto: u64,
    /// Whether the socket was on this node when it went: then this node's numbering is
    /// the order the client got its events in, and says exactly which it had.
    pub here: bool,
}

/// A socket recovered from the store: its record and what it missed.
#[derive(Debug, Clone)]
pub struct StoreRecovery {
    /// The record (id, namespace, rooms, data).
    pub socket: PreservedSocket,
    /// The events after the client's offset.
    pub events: Vec<StoredEvent>,
    /// Whether this node wrote the record last: the socket was here when it went.
    pub here: bool,
}

/// What a recovery store did so far (for `/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryStoreStats {
    /// Writes (events, records) handed to the store's queue.
    pub queued: u64,
    /// Writes dropped because the queue was full.
    pub dropped_full: u64,
    /// Writes lost because the store failed them (it was down).
    pub write_errors: u64,
    /// Sockets recovered from the store.
    pub recovered: u64,
    /// Recoveries refused: no record (expired, taken, never written).
    pub missed_record: u64,
    /// Recoveries refused: the client's offset is no longer in the stream.
    pub missed_offset: u64,
    /// Recoveries refused: the store could not be read in time.
    pub missed_unavailable: u64,
    /// Recoveries refused: the socket is still connected on a node that is up.
    pub missed_owner_alive: u64,
    /// Writes waiting in the queue now (at most its bound; a batch being sent is no longer
    /// in it).
    pub waiting: u64,
}

/// A recovery store shared by the nodes (see the module documentation).
pub trait RecoveryStore: Send + Sync + std::fmt::Debug {
    /// What it did so far.
    fn stats(&self) -> RecoveryStoreStats;

    /// What this node puts before the counter in the offsets it hands out, unique in the
    /// cluster (so that an offset names one event whichever node published it).
    fn offset_prefix(&self) -> &str;

    /// Appends an event published by this node to its namespace's stream, kept for
    /// `window`. Never blocks.
    fn append(&self, nsp: &str, event: StoredEvent, window: Duration);

    /// Writes (or rewrites) the record of a connected socket and keeps it alive while the
    /// socket is connected; it outlives this node by about `window`. Never blocks.
    fn keep(&self, pid: &str, socket: PreservedSocket, window: Duration);

    /// Finalises the record of a socket that disconnected in a way that allows recovery:
    /// kept `window` from now. Never blocks.
    fn finalise(&self, pid: &str, socket: PreservedSocket, window: Duration);

    /// Removes the record of a socket that left for good. Never blocks.
    fn forget(&self, pid: &str);

    /// Takes the record of `pid` in `nsp` with the events after `offset`: `None` when the
    /// record is gone, the offset is no longer in the stream, or the store cannot be read
    /// in time (never a partial answer).
    fn recover(
        &self,
        nsp: &str,
        pid: &str,
        offset: &str,
        window: Duration,
    ) -> BoxFuture<'static, Option<StoreRecovery>>;
}

/// A shared recovery store, as the hub holds it.
pub type SharedRecoveryStore = Arc<dyn RecoveryStore>;
