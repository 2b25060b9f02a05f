//! The seam between the Broadcaster and the cluster adapter, with no Redis in it: the
//! broadcasts this node delivered that the other nodes must deliver too
//! ([`OutboundBroadcast`], queued in a bounded [`ClusterOutbox`]), and the broadcasts that
//! came from another node ([`RemoteBroadcast`], handed to the Broadcaster).
//!
//! The outbox never blocks the Broadcaster and never grows without bound: a full queue drops
//! the broadcast, counts it ([`OutboxCounters`], exported by `/metrics`) and says so in a
//! rate-limited log line. The adapter owns the receiving end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::prelude::*;
use siohub_protocol::Payload;
use tokio::sync::mpsc;

use crate::hub_messages::BroadcastOutcome;
use crate::room_history::{HistoryCounters, HistoryKey, OutboundHistory};
use crate::target::Target;

/// A broadcast this node delivered locally that the other nodes must deliver. The payload
/// is exactly what local recipients got, including the recovery offset argument the
/// Broadcaster appends in recovery namespaces (other nodes deliver it verbatim).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundBroadcast {
    /// Who gets it.
    pub target: Target,
    /// The event name.
    pub event: String,
    /// Its arguments, as local recipients got them.
    pub payload: Payload,
    /// Whether it may be dropped for a slow socket.
    pub volatile: bool,
    /// Its number on this node and what the room histories in Redis keep of it (only
    /// broadcasts of the Broadcaster have one: see `room_history`).
    pub history: Option<OutboundHistory>,
}

/// What the outbox dropped, by reason.
#[derive(Debug, Default)]
pub struct OutboxCounters {
    full: AtomicU64,
    closed: AtomicU64,
    queued: AtomicU64,
}

impl OutboxCounters {
    /// Broadcasts dropped because the queue was full (the adapter fell behind).
    pub fn dropped_full(&self) -> u64 {
        self.full.load(Ordering::Relaxed)
    }

    /// Broadcasts dropped because the adapter was gone (it stopped).
    pub fn dropped_closed(&self) -> u64 {
        self.closed.load(Ordering::Relaxed)
    }

    /// Broadcasts queued for the adapter so far.
    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }
}

/// The receiving end of a [`ClusterOutbox`], owned by the adapter.
pub type OutboxReceiver = mpsc::Receiver<OutboundBroadcast>;

/// A bounded queue of broadcasts for the other nodes. Cheap to clone; sending never
/// blocks.
#[derive(Clone, Debug)]
pub struct ClusterOutbox {
    sender: mpsc::Sender<OutboundBroadcast>,
    counters: Arc<OutboxCounters>,
    history: Arc<HistoryCounters>,
}

impl ClusterOutbox {
    /// An outbox that holds at most `capacity` broadcasts (at least 1), with its receiver.
    pub fn new(capacity: usize) -> (ClusterOutbox, OutboxReceiver) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let outbox = ClusterOutbox {
            sender,
            counters: Arc::default(),
            history: Arc::default(),
        };
        (outbox, receiver)
    }

    /// Queues a broadcast for the other nodes; a full (or closed) queue drops it, counted.
    /// Returns whether it was queued.
    pub fn offer(&self, broadcast: OutboundBroadcast) -> bool {
        match self.sender.try_send(broadcast) {
            Ok(()) => {
                self.counters.queued.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(mpsc::error::TrySendError::Full(dropped)) => {
                self.counters.full.fetch_add(1, Ordering::Relaxed);
                self.history_lost(&dropped);
                crate::limited!(
                    warn,
                    "cluster outbox full ({} broadcasts queued for Redis): a broadcast to namespace {} was not sent to the other nodes",
                    self.sender.max_capacity(),
                    crate::ClientText(&dropped.target.nsp)
                );
                false
            }
            Err(mpsc::error::TrySendError::Closed(dropped)) => {
                self.counters.closed.fetch_add(1, Ordering::Relaxed);
                self.history_lost(&dropped);
                crate::limited!(
                    warn,
                    "cluster adapter stopped: a broadcast to namespace {} was not sent to the other nodes",
                    crate::ClientText(&dropped.target.nsp)
                );
                false
            }
        }
    }

    /// Counts the room history entries of a broadcast that was not queued.
    fn history_lost(&self, dropped: &OutboundBroadcast) {
        if let Some(history) = &dropped.history {
            self.history.write_dropped(history.rooms.len() as u64);
        }
    }

    /// What the room histories in Redis did (see `room_history`).
    pub fn history_counters(&self) -> &Arc<HistoryCounters> {
        &self.history
    }

    /// Broadcasts waiting in the queue now.
    pub fn len(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }

    /// Whether the queue is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What the outbox dropped and queued.
    pub fn counters(&self) -> &Arc<OutboxCounters> {
        &self.counters
    }
}

/// A broadcast that came from another node. The Broadcaster resolves and delivers it
/// locally exactly like a `Broadcast` (buffers, SSE subscribers, counters), but never hands
/// it to the outbox again and never appends a recovery offset: the origin did, when its
/// namespace recovers (`origin_offset`).
#[derive(Message, Debug, Clone)]
#[rtype(result = "BroadcastOutcome")]
pub struct RemoteBroadcast {
    /// Who gets it.
    pub target: Target,
    /// The event name.
    pub event: String,
    /// Its arguments, as the origin's recipients got them.
    pub payload: Payload,
    /// Whether it may be dropped for a slow socket (and is neither buffered nor logged).
    pub volatile: bool,
    /// Whether the last argument is a recovery offset the origin appended (left out of
    /// what SSE subscribers see, as for local events).
    pub origin_offset: bool,
    /// Its name in the cluster, when the origin is a siohub node (kept with it in room
    /// buffers, so that the same event loaded from Redis is not kept twice).
    pub key: Option<HistoryKey>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbound(nsp: &str) -> OutboundBroadcast {
        OutboundBroadcast {
            target: Target::namespace(nsp),
            event: "e".into(),
            payload: Payload::new(vec![]),
            volatile: false,
            history: None,
        }
    }

    #[test]
    fn a_full_outbox_drops_and_counts() {
        let (outbox, mut receiver) = ClusterOutbox::new(2);
        assert!(outbox.offer(outbound("/a")));
        assert!(outbox.offer(outbound("/b")));
        assert_eq!(outbox.len(), 2);
        assert!(!outbox.offer(outbound("/c")));
        assert_eq!(outbox.counters().dropped_full(), 1);
        assert_eq!(outbox.counters().queued(), 2);
        assert_eq!(receiver.try_recv().unwrap().target.nsp, "/a");
        assert!(outbox.offer(outbound("/d")));
        drop(receiver);
        assert!(!outbox.offer(outbound("/e")));
        assert_eq!(outbox.counters().dropped_closed(), 1);
    }
}
