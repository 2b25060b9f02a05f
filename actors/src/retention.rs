//! What the Broadcaster keeps for later besides the room buffers (whose sizes it publishes
//! on every change, see `BufferSizesView`): the dedupe windows, the connection state recovery logs and the sockets
//! preserved for recovery, as sizes. The Broadcaster owns that state; it publishes this
//! read-only view after each periodic sweep, so `/metrics` reads it without a message.

use std::sync::{Arc, Mutex};

/// The recovery and dedupe sizes of one namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceRetention {
    /// The namespace.
    pub nsp: String,
    /// Event ids the dedupe window remembers.
    pub dedupe_ids: usize,
    /// Events in the recovery log.
    pub recovery_events: usize,
    /// Bytes of those events (frames and bookkeeping).
    pub recovery_bytes: usize,
}

/// Everything the Broadcaster keeps, as sizes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionSnapshot {
    /// Per namespace that keeps something, sorted by name.
    pub namespaces: Vec<NamespaceRetention>,
    /// Disconnected sockets waiting to be recovered.
    pub preserved_sockets: usize,
}

/// The published view: written by the Broadcaster only, read by anyone.
#[derive(Debug, Clone, Default)]
pub struct RetentionView(Arc<Mutex<RetentionSnapshot>>);

impl RetentionView {
    /// Replaces the published sizes.
    pub(crate) fn publish(&self, snapshot: RetentionSnapshot) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = snapshot;
    }

    /// The sizes as of the Broadcaster's last sweep.
    pub fn snapshot(&self) -> RetentionSnapshot {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
