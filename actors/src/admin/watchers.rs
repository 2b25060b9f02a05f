//! The sockets watching the hub through `/admin`: official admin UIs (they get the
//! per-socket events) and dashboard watchers (after `siohub:watch`: aggregates only).
//!
//! What goes to a watcher is throttled: each gets at most [`MAX_PUSHES_PER_S`] per-socket
//! events and [`MAX_PUSH_BYTES_PER_S`] bytes of them a second (the rest are dropped and
//! counted); the periodic aggregates are not counted against it. A push is an emit on the watcher's socket, which its session
//! bounds like any other outgoing queue.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::Value;

use super::feed::FeedCounters;
use crate::socket::Socket;

/// Per-socket events one watcher gets each second at most.
pub const MAX_PUSHES_PER_S: u32 = 200;
/// Bytes of per-socket events (their arguments as JSON) one watcher gets each second at
/// most.
pub const MAX_PUSH_BYTES_PER_S: usize = 256 * 1024;

/// What one watcher may still get this second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Budget {
    pushes: u32,
    bytes: usize,
}

impl Budget {
    /// A new second's.
    const FULL: Budget = Budget {
        pushes: MAX_PUSHES_PER_S,
        bytes: MAX_PUSH_BYTES_PER_S,
    };

    /// Takes one push of `bytes` if both a push and the bytes are left; else takes
    /// nothing.
    fn take(&mut self, bytes: usize) -> bool {
        if self.pushes == 0 || bytes > self.bytes {
            return false;
        }
        self.pushes -= 1;
        self.bytes -= bytes;
        true
    }
}

struct Watcher {
    socket: Socket,
    /// Sent `siohub:watch`: aggregates only.
    dashboard: bool,
    /// Per-socket events it may still get this second.
    budget: Budget,
}

/// The watchers, by socket id.
pub(crate) struct Watchers {
    by_id: HashMap<String, Watcher>,
    counters: Arc<FeedCounters>,
}

impl Watchers {
    pub(crate) fn new(counters: Arc<FeedCounters>) -> Self {
        Watchers {
            by_id: HashMap::new(),
            counters,
        }
    }

    fn publish_count(&self) {
        let n = self.by_id.len() as u64;
        self.counters.watchers.store(n, Ordering::Relaxed);
    }

    /// Adds an official-UI watcher.
    pub(crate) fn add(&mut self, socket: Socket) {
        let watcher = Watcher {
            socket: socket.clone(),
            dashboard: false,
            budget: Budget::FULL,
        };
        self.by_id.insert(socket.id().to_owned(), watcher);
        self.publish_count();
    }

    /// Removes a watcher.
    pub(crate) fn remove(&mut self, socket_id: &str) {
        self.by_id.remove(socket_id);
        self.publish_count();
    }

    /// Makes a watcher a dashboard watcher; false when it is not watching.
    pub(crate) fn make_dashboard(&mut self, socket_id: &str) -> bool {
        match self.by_id.get_mut(socket_id) {
            Some(w) => {
                w.dashboard = true;
                true
            }
            None => false,
        }
    }

    /// Watchers now.
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether any official-UI watcher wants per-socket events.
    pub(crate) fn any_official(&self) -> bool {
        self.by_id.values().any(|w| !w.dashboard)
    }

    /// Whether any dashboard watcher is connected.
    pub(crate) fn any_dashboard(&self) -> bool {
        self.by_id.values().any(|w| w.dashboard)
    }

    /// A new second: every watcher's budget is full again.
    pub(crate) fn refill(&mut self) {
        for w in self.by_id.values_mut() {
            w.budget = Budget::FULL;
        }
    }

    /// One per-socket event to every official-UI watcher that has budget left (pushes
    /// and bytes).
    pub(crate) fn push_socket_event(&mut self, event: &str, args: &Value) {
        let mut size = None;
        for w in self.by_id.values_mut().filter(|w| !w.dashboard) {
            let bytes = *size.get_or_insert_with(|| event.len() + json_len(args));
            if !w.budget.take(bytes) {
                self.counters.push_dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            w.socket.emit(event, args.clone());
        }
    }

    /// An aggregate to every watcher (`dashboard`: only to dashboard watchers).
    pub(crate) fn push_aggregate(&self, event: &str, args: &Value, dashboard_only: bool) {
        for w in self
            .by_id
            .values()
            .filter(|w| w.dashboard || !dashboard_only)
        {
            w.socket.emit(event, args.clone());
        }
    }

    /// One watcher's socket.
    pub(crate) fn socket(&self, socket_id: &str) -> Option<&Socket> {
        self.by_id.get(socket_id).map(|w| &w.socket)
    }
}

/// The length of `value` as JSON.
fn json_len(value: &Value) -> usize {
    serde_json::to_string(value).map_or(0, |s| s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_push_budget_counts_pushes_and_bytes() {
        let mut budget = Budget::FULL;
        // Small pushes: the count runs out first.
        for _ in 0..MAX_PUSHES_PER_S {
            assert!(budget.take(10));
        }
        assert!(!budget.take(1));
        // Large pushes: the bytes run out first, and a push that does not fit takes
        // nothing (a smaller one still may).
        let mut budget = Budget::FULL;
        let big = MAX_PUSH_BYTES_PER_S / 4;
        for _ in 0..4 {
            assert!(budget.take(big));
        }
        assert!(!budget.take(1));
        let mut budget = Budget::FULL;
        assert!(budget.take(MAX_PUSH_BYTES_PER_S - 100));
        assert!(!budget.take(101));
        assert!(budget.take(100));
        assert_eq!(budget.pushes, MAX_PUSHES_PER_S - 2);
        let mut full = Budget::FULL;
        assert!(!full.take(MAX_PUSH_BYTES_PER_S + 1));
    }
}
