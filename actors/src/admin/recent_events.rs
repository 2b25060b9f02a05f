//! The most recent client events the Admin sampled, for `siohub:events`: a ring of at most
//! [`RECENT_LEN`] entries (the oldest goes first).

use std::collections::VecDeque;

use serde_json::{json, Value};

use super::dates::unix_ms;
use super::feed::EventSeen;

/// Events kept.
pub const RECENT_LEN: usize = 100;

/// One sampled event (its arguments are not kept: the dashboard lists names and sizes).
#[derive(Debug, Clone)]
struct Recent {
    at: u64,
    incoming: bool,
    nsp: String,
    socket_id: Option<String>,
    event: String,
    bytes: usize,
}

/// The ring.
#[derive(Debug, Default)]
pub(crate) struct RecentEvents {
    ring: VecDeque<Recent>,
}

impl RecentEvents {
    /// Keeps `seen`, forgetting the oldest when full.
    pub(crate) fn push(&mut self, seen: &EventSeen) {
        if self.ring.len() == RECENT_LEN {
            self.ring.pop_front();
        }
        self.ring.push_back(Recent {
            at: unix_ms(seen.at),
            incoming: seen.incoming,
            nsp: seen.nsp.clone(),
            socket_id: seen.socket_id.clone(),
            event: seen.event.clone(),
            bytes: seen.bytes,
        });
    }

    /// Newest first, as `siohub:events` answers them.
    pub(crate) fn to_json(&self) -> Value {
        let items: Vec<Value> = self
            .ring
            .iter()
            .rev()
            .map(|r| {
                json!({
                    "at": r.at,
                    "direction": if r.incoming { "in" } else { "out" },
                    "nsp": r.nsp,
                    "socket_id": r.socket_id,
                    "event": r.event,
                    "bytes": r.bytes,
                })
            })
            .collect();
        Value::Array(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use siohub_protocol::Payload;

    #[test]
    fn the_ring_keeps_the_newest_hundred_newest_first() {
        let mut recent = RecentEvents::default();
        for i in 0..150 {
            let payload = Payload::new(vec![json!(i)]);
            recent.push(&EventSeen::new(
                true,
                "/",
                Some("s"),
                &format!("e{i}"),
                &payload,
            ));
        }
        let items = recent.to_json();
        let items = items.as_array().unwrap();
        assert_eq!(items.len(), RECENT_LEN);
        assert_eq!(items[0]["event"], "e149");
        assert_eq!(items[99]["event"], "e50");
        assert_eq!(items[0]["direction"], "in");
    }
}
