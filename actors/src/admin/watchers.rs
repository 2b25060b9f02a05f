//! The sockets watching the hub through `/admin`: official admin UIs (they get the
//! per-socket events) and dashboard watchers (after `siohub:watch`: aggregates only).
//!
//! What goes to a watcher is throttled: each gets at most [`MAX_PUSHES_PER_S`] per-socket
//! events a second (the rest are dropped and counted); the periodic aggregates are not
//! counted against it. A push is an emit on the watcher's socket, which its session
//! bounds like any other outgoing queue.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::Value;

use super::feed::FeedCounters;
use crate::socket::Socket;

/// Per-socket events one watcher gets each second at most.
pub const MAX_PUSHES_PER_S: u32 = 200;

struct Watcher {
    socket: Socket,
    /// Sent `siohub:watch`: aggregates only.
    dashboard: bool,
    /// Per-socket events it may still get this second.
    budget: u32,
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
            budget: MAX_PUSHES_PER_S,
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
            w.budget = MAX_PUSHES_PER_S;
        }
    }

    /// One per-socket event to every official-UI watcher that has budget left.
    pub(crate) fn push_socket_event(&mut self, event: &str, args: &Value) {
        for w in self.by_id.values_mut().filter(|w| !w.dashboard) {
            if w.budget == 0 {
                self.counters.push_dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            w.budget -= 1;
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
