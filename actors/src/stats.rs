//! Counters every singleton actor keeps about itself (messages handled, mailbox depth,
//! restarts, uptime), readable from any thread without a message, and the hub-wide
//! counters of what was dropped or refused and why.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

/// One actor's own counters.
#[derive(Debug)]
pub struct ActorStats {
    name: &'static str,
    started: Instant,
    handled: AtomicU64,
    queued: AtomicI64,
    restarts: AtomicU64,
}

/// A snapshot of [`ActorStats`], as `/connections` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ActorStatsSnapshot {
    /// The actor's name.
    pub name: &'static str,
    /// Messages handled since start.
    pub messages_handled: u64,
    /// Messages sent to it and not handled yet.
    pub mailbox_depth: u64,
    /// Times it was restarted by its supervisor.
    pub restarts: u64,
    /// Seconds since it first started.
    pub uptime_s: u64,
}

impl ActorStats {
    /// Fresh counters for the actor called `name`.
    pub fn new(name: &'static str) -> Arc<Self> {
        Arc::new(ActorStats {
            name,
            started: Instant::now(),
            handled: AtomicU64::new(0),
            queued: AtomicI64::new(0),
            restarts: AtomicU64::new(0),
        })
    }

    /// A message was sent to the actor.
    pub fn enqueued(&self) {
        self.queued.fetch_add(1, Ordering::Relaxed);
    }

    /// The actor handled a message.
    pub fn handled(&self) {
        self.handled.fetch_add(1, Ordering::Relaxed);
        self.queued.fetch_sub(1, Ordering::Relaxed);
    }

    /// The actor was restarted.
    pub fn restarted(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
    }

    /// Restarts so far.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// The current values.
    pub fn snapshot(&self) -> ActorStatsSnapshot {
        ActorStatsSnapshot {
            name: self.name,
            messages_handled: self.handled.load(Ordering::Relaxed),
            mailbox_depth: self.queued.load(Ordering::Relaxed).max(0) as u64,
            restarts: self.restarts.load(Ordering::Relaxed),
            uptime_s: self.started.elapsed().as_secs(),
        }
    }
}

/// Why an event did not reach a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// A volatile event met a full outgoing buffer.
    VolatileBufferFull,
    /// The offline queue of a user was full; its oldest event went.
    OfflineQueueFull,
    /// A room buffer was full; its oldest event went.
    RoomBufferFull,
    /// The event's `id` repeated within the dedupe window.
    Duplicate,
    /// The recipient's connection was closed as a slow consumer with this event queued.
    SlowConsumer,
}

impl DropReason {
    /// Every reason, for exporting all series.
    pub const ALL: [DropReason; 5] = [
        DropReason::VolatileBufferFull,
        DropReason::OfflineQueueFull,
        DropReason::RoomBufferFull,
        DropReason::Duplicate,
        DropReason::SlowConsumer,
    ];

    /// The reason's label.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::VolatileBufferFull => "volatile_buffer_full",
            DropReason::OfflineQueueFull => "offline_queue_full",
            DropReason::RoomBufferFull => "room_buffer_full",
            DropReason::Duplicate => "duplicate",
            DropReason::SlowConsumer => "slow_consumer",
        }
    }
}

/// Hub-wide counters.
#[derive(Debug, Default)]
pub struct HubCounters {
    drops: [AtomicU64; 5],
    slow_consumer_disconnects: AtomicU64,
    broadcasts: AtomicU64,
    deliveries: AtomicU64,
}

impl HubCounters {
    /// Counts `n` events dropped for `reason`.
    pub fn dropped(&self, reason: DropReason, n: u64) {
        let index = DropReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.drops[index].fetch_add(n, Ordering::Relaxed);
    }

    /// Events dropped for `reason` so far.
    pub fn drops(&self, reason: DropReason) -> u64 {
        let index = DropReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.drops[index].load(Ordering::Relaxed)
    }

    /// Counts a connection closed for reading too slowly.
    pub fn slow_consumer_disconnect(&self) {
        self.slow_consumer_disconnects
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Connections closed for reading too slowly, so far.
    pub fn slow_consumer_disconnects(&self) -> u64 {
        self.slow_consumer_disconnects.load(Ordering::Relaxed)
    }

    /// Counts a broadcast and the sockets it was handed to.
    pub fn broadcast(&self, recipients: u64) {
        self.broadcasts.fetch_add(1, Ordering::Relaxed);
        self.deliveries.fetch_add(recipients, Ordering::Relaxed);
    }

    /// Broadcasts and deliveries so far.
    pub fn fanout(&self) -> (u64, u64) {
        (
            self.broadcasts.load(Ordering::Relaxed),
            self.deliveries.load(Ordering::Relaxed),
        )
    }
}
