//! The other nodes of a cluster as the Admin knows them: from the `server_stats` each node
//! emits into `/admin` every 2 s (as a Node.js server with `@socket.io/admin-ui` does),
//! which the cluster adapter hands to the Admin. The dashboard's cluster view lists them
//! with the age of their last stats.
//!
//! A peer decides what it sends, so what is kept of it is bounded: at most [`MAX_NODES`]
//! nodes (one more pushes out the one heard from longest ago), names cut to
//! [`MAX_FIELD_BYTES`], and a node not heard from for [`FORGET_AFTER`] is forgotten (it
//! died or left; a live node speaks every 2 s).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The most other nodes the Admin remembers.
pub const MAX_NODES: usize = 256;
/// The longest server id, host name or uid kept of a peer's stats.
pub const MAX_FIELD_BYTES: usize = 128;
/// A node not heard from for this long is forgotten.
pub const FORGET_AFTER: Duration = Duration::from_secs(30);

/// One other node, as its last `server_stats` described it.
#[derive(Debug, Clone, PartialEq)]
struct NodeSeen {
    uid: Option<String>,
    hostname: String,
    pid: u64,
    connections: u64,
    sockets: u64,
    rooms: Option<u64>,
    at: Instant,
}

/// The other nodes, by server id.
#[derive(Debug, Default)]
pub(crate) struct ClusterNodes {
    by_id: HashMap<String, NodeSeen>,
}

/// `value` as a string of at most [`MAX_FIELD_BYTES`] (cut at a character boundary).
fn short_text(value: &Value) -> Option<String> {
    let text = value.as_str()?;
    let mut end = text.len().min(MAX_FIELD_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(text[..end].to_owned())
}

impl ClusterNodes {
    /// Records a peer's `server_stats`; false (nothing kept) when it has no `serverId`.
    pub(crate) fn record(&mut self, stats: &Value, now: Instant) -> bool {
        let Some(id) = short_text(&stats["serverId"]).filter(|id| !id.is_empty()) else {
            return false;
        };
        // The sockets of every namespace it lists (bounded by the message size the
        // adapter accepts; a count that is not a number counts 0).
        let sockets = stats["namespaces"].as_array().map_or(0, |list| {
            list.iter()
                .filter_map(|n| n["socketsCount"].as_u64())
                .fold(0u64, u64::saturating_add)
        });
        let seen = NodeSeen {
            uid: short_text(&stats["siohub"]["uid"]),
            hostname: short_text(&stats["hostname"]).unwrap_or_default(),
            pid: stats["pid"].as_u64().unwrap_or(0),
            connections: stats["clientsCount"].as_u64().unwrap_or(0),
            sockets,
            rooms: stats["siohub"]["rooms"].as_u64(),
            at: now,
        };
        if !self.by_id.contains_key(&id) && self.by_id.len() >= MAX_NODES {
            self.forget_oldest();
        }
        self.by_id.insert(id, seen);
        true
    }

    /// Forgets the node heard from longest ago.
    fn forget_oldest(&mut self) {
        let oldest = self
            .by_id
            .iter()
            .min_by_key(|(_, n)| n.at)
            .map(|(id, _)| id.clone());
        if let Some(id) = oldest {
            self.by_id.remove(&id);
        }
    }

    /// Forgets the nodes not heard from for [`FORGET_AFTER`].
    pub(crate) fn expire(&mut self, now: Instant) {
        self.by_id
            .retain(|_, n| now.saturating_duration_since(n.at) < FORGET_AFTER);
    }

    /// Nodes known now.
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// The nodes as the dashboard lists them, sorted by server id: `{id, uid, hostname,
    /// pid, connections, sockets, rooms, stats_age_ms}`.
    pub(crate) fn to_json(&self, now: Instant) -> Vec<Value> {
        let mut ids: Vec<&String> = self.by_id.keys().collect();
        ids.sort();
        ids.into_iter()
            .map(|id| {
                let n = &self.by_id[id];
                json!({
                    "id": id,
                    "uid": n.uid,
                    "hostname": n.hostname,
                    "pid": n.pid,
                    "connections": n.connections,
                    "sockets": n.sockets,
                    "rooms": n.rooms,
                    "stats_age_ms": now.saturating_duration_since(n.at).as_millis() as u64,
                    "this": false,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(id: &str, sockets: u64) -> Value {
        json!({
            "serverId": id, "hostname": "h", "pid": 7, "clientsCount": 3,
            "namespaces": [{"name": "/", "socketsCount": sockets}, {"name": "/a", "socketsCount": "x"}],
            "siohub": {"uid": "abc123", "rooms": 4},
        })
    }

    #[test]
    fn cluster_nodes_record_expire_and_bound() {
        let start = Instant::now();
        let mut nodes = ClusterNodes::default();
        assert!(nodes.record(&stats("n1", 5), start));
        assert!(!nodes.record(&json!({"hostname": "no id"}), start));
        assert!(!nodes.record(&json!("garbage"), start));
        let listed = nodes.to_json(start + Duration::from_millis(1500));
        assert_eq!(listed.len(), 1);
        let n = &listed[0];
        assert_eq!(
            (n["id"].as_str(), n["uid"].as_str()),
            (Some("n1"), Some("abc123"))
        );
        assert_eq!(
            (n["sockets"].as_u64(), n["rooms"].as_u64()),
            (Some(5), Some(4))
        );
        assert_eq!(n["stats_age_ms"], 1500);
        // A Node.js server's stats have no siohub part.
        let node_js = json!({"serverId": "n2", "clientsCount": 1, "namespaces": []});
        assert!(nodes.record(&node_js, start + FORGET_AFTER));
        nodes.expire(start + FORGET_AFTER);
        let listed = nodes.to_json(start + FORGET_AFTER);
        assert_eq!(listed.len(), 1, "n1 is forgotten, n2 kept: {listed:?}");
        assert!(listed[0]["uid"].is_null() && listed[0]["rooms"].is_null());
        // Bounded: one more than MAX_NODES pushes out the oldest, long names are cut.
        let mut nodes = ClusterNodes::default();
        for i in 0..=MAX_NODES {
            let at = start + Duration::from_millis(i as u64);
            nodes.record(&stats(&format!("{i:04}-{}", "é".repeat(100)), 1), at);
        }
        assert_eq!(nodes.len(), MAX_NODES);
        let listed = nodes.to_json(start);
        assert!(listed
            .iter()
            .all(|n| n["id"].as_str().unwrap().len() <= MAX_FIELD_BYTES));
        assert!(!listed[0]["id"].as_str().unwrap().starts_with("0000"));
    }
}
