//! What the adapter publishes about itself for `/health`, `/metrics` and its handle: whether
//! each Redis connection is up (and why not), the node count, and its counters. The adapter's
//! tasks write it; everyone else reads.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Why something coming from or going to the other nodes was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterDrop {
    /// A publish to Redis failed (Redis down or too slow): the message is lost.
    PublishFailed,
    /// Redis took a message after it came back while fewer nodes were subscribed than
    /// before it went down (they had not subscribed again yet): lost for those.
    Unsubscribed,
    /// A message from Redis was larger than `[adapter] max_message_bytes`.
    TooLarge,
    /// A message from Redis could not be decoded, or made no sense.
    Malformed,
    /// A request to the other nodes while `[adapter] max_pending_requests` were waiting.
    PendingFull,
    /// A request from another node while as many of its answers were being prepared.
    RespondersBusy,
    /// The adapter's own message (a request, an answer, a remote join / leave /
    /// disconnect) while `[adapter] max_queued` of them waited for Redis.
    QueueFull,
    /// Another node's broadcast while `[adapter] max_queued` messages waited for the
    /// Broadcaster already.
    BroadcasterBusy,
}

impl AdapterDrop {
    /// Every reason, for exporting all series.
    pub const ALL: [AdapterDrop; 8] = [
        AdapterDrop::PublishFailed,
        AdapterDrop::Unsubscribed,
        AdapterDrop::TooLarge,
        AdapterDrop::Malformed,
        AdapterDrop::PendingFull,
        AdapterDrop::RespondersBusy,
        AdapterDrop::QueueFull,
        AdapterDrop::BroadcasterBusy,
    ];

    /// The reason's label.
    pub fn as_str(self) -> &'static str {
        match self {
            AdapterDrop::PublishFailed => "publish_failed",
            AdapterDrop::Unsubscribed => "unsubscribed",
            AdapterDrop::TooLarge => "too_large",
            AdapterDrop::Malformed => "malformed",
            AdapterDrop::PendingFull => "pending_full",
            AdapterDrop::RespondersBusy => "responders_busy",
            AdapterDrop::QueueFull => "queue_full",
            AdapterDrop::BroadcasterBusy => "broadcaster_busy",
        }
    }
}

/// The state of the adapter's two Redis connections, the node count and its counters.
#[derive(Debug, Default)]
pub struct LinkStatus {
    publisher_up: AtomicBool,
    subscriber_up: AtomicBool,
    publisher_error: Mutex<Option<String>>,
    subscriber_error: Mutex<Option<String>>,
    node_count: AtomicUsize,
    pending: AtomicUsize,
    drops: [AtomicU64; AdapterDrop::ALL.len()],
    reconnects: AtomicU64,
}

impl LinkStatus {
    /// Records whether the publishing connection works (`error`: why not).
    pub(crate) fn set_publisher(&self, error: Option<String>) {
        self.publisher_up.store(error.is_none(), Ordering::Relaxed);
        *self
            .publisher_error
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = error;
    }

    /// Records whether the subscribing connection works (`error`: why not).
    pub(crate) fn set_subscriber(&self, error: Option<String>) {
        self.subscriber_up.store(error.is_none(), Ordering::Relaxed);
        *self
            .subscriber_error
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = error;
    }

    /// Whether both connections are up.
    pub fn is_connected(&self) -> bool {
        self.publisher_up.load(Ordering::Relaxed) && self.subscriber_up.load(Ordering::Relaxed)
    }

    /// Why the adapter is not connected (`None` when it is).
    pub fn down_reason(&self) -> Option<String> {
        let lock = |m: &Mutex<Option<String>>| m.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut reasons = Vec::new();
        if !self.publisher_up.load(Ordering::Relaxed) {
            let why = lock(&self.publisher_error).unwrap_or_else(|| "not connected yet".into());
            reasons.push(format!("publishing connection: {why}"));
        }
        if !self.subscriber_up.load(Ordering::Relaxed) {
            let why = lock(&self.subscriber_error).unwrap_or_else(|| "not connected yet".into());
            reasons.push(format!("subscribing connection: {why}"));
        }
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }

    /// Records the node count Redis reported.
    pub(crate) fn set_node_count(&self, n: usize) {
        self.node_count.store(n, Ordering::Relaxed);
    }

    /// The last node count Redis reported (0 until known).
    pub fn node_count(&self) -> usize {
        self.node_count.load(Ordering::Relaxed)
    }

    /// Records how many requests wait for the other nodes.
    pub(crate) fn set_pending(&self, n: usize) {
        self.pending.store(n, Ordering::Relaxed);
    }

    /// Requests waiting for the other nodes.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Counts `n` messages dropped for `reason`.
    pub(crate) fn dropped(&self, reason: AdapterDrop, n: u64) {
        let at = AdapterDrop::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.drops[at].fetch_add(n, Ordering::Relaxed);
    }

    /// Messages dropped for `reason` so far.
    pub fn drops(&self, reason: AdapterDrop) -> u64 {
        let at = AdapterDrop::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.drops[at].load(Ordering::Relaxed)
    }

    /// Counts a new subscribing connection after the first.
    pub(crate) fn reconnected(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// Subscribing connections made after the first.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }
}
