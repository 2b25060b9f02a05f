//! The aggregates the Admin pushes and answers with: `server_stats` as the official UI
//! reads it, and `siohub:stats` / the `siohub:overview` answer for the dashboard.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::history::Totals;
use super::{Admin, AdminFeed};
use crate::stats::DropReason;

/// The most namespaces `server_stats` remembers having listed (see
/// `Admin::listed_namespaces`).
pub(crate) const MAX_LISTED_NAMESPACES: usize = 256;

impl Admin {
    /// (websocket, polling) sessions now.
    pub(super) fn transports(&self) -> (u64, u64) {
        let mut counts = (0, 0);
        for (_, meta) in self.links.registry.entries() {
            match meta.transport() {
                "websocket" => counts.0 += 1,
                _ => counts.1 += 1,
            }
        }
        counts
    }

    /// `server_stats`'s `namespaces`: every namespace listed before (0 sockets once it
    /// empties), then the new ones. The official UI merges each `server_stats` into the
    /// last one index by index (lodash `merge`), so a list that shrank would leave its
    /// last entries behind, counted twice; socket.io never drops a namespace from its
    /// list, and neither does this, up to [`MAX_LISTED_NAMESPACES`] (past that, empty
    /// ones are forgotten, oldest first).
    fn listed_namespaces(&mut self) -> Vec<Value> {
        let counts: HashMap<String, usize> = self
            .links
            .membership
            .read()
            .namespace_counts()
            .into_iter()
            .map(|(name, sockets, _)| (name, sockets))
            .collect();
        let listed = &mut self.listed_namespaces;
        let mut new: Vec<&String> = counts.keys().filter(|n| !listed.contains(n)).collect();
        new.sort();
        listed.extend(new.into_iter().cloned());
        while listed.len() > MAX_LISTED_NAMESPACES {
            match listed.iter().position(|n| !counts.contains_key(n)) {
                Some(empty) => listed.remove(empty),
                None => break,
            };
        }
        listed
            .iter()
            .map(|name| json!({"name": name, "socketsCount": counts.get(name).copied().unwrap_or(0)}))
            .collect()
    }

    /// `server_stats` as the official UI reads it, with these `aggregatedEvents` (the tick
    /// hands over the buckets it takes; a watcher's welcome none, so it takes nothing from
    /// the others' next push). `siohub` is siohub's own part (the official UI ignores it):
    /// the node's adapter uid and its rooms, for the other nodes' dashboards.
    pub(super) fn server_stats(&mut self, aggregated: Value) -> Value {
        let (websocket, polling) = self.transports();
        let namespaces = self.listed_namespaces();
        let rooms = self.room_count();
        json!({
            "serverId": self.node_id,
            "hostname": self.hostname,
            "pid": std::process::id(),
            "uptime": self.started.elapsed().as_secs_f64(),
            "clientsCount": websocket + polling,
            "pollingClientsCount": polling,
            "aggregatedEvents": aggregated,
            "namespaces": namespaces,
            "siohub": {"uid": self.cluster_uid(), "rooms": rooms},
        })
    }

    /// Rooms with members, in every namespace.
    fn room_count(&self) -> usize {
        let members = self.links.membership.read();
        members.namespace_counts().iter().map(|c| c.2).sum()
    }

    /// The dashboard's node list: this node first, then the others from their stats.
    fn node_list(&self, connections: u64, rooms: usize) -> Vec<Value> {
        let sockets: usize = self
            .links
            .membership
            .read()
            .namespace_counts()
            .iter()
            .map(|c| c.1)
            .sum();
        let mut nodes = vec![json!({
            "id": self.node_id,
            "uid": self.cluster_uid(),
            "hostname": self.hostname,
            "pid": std::process::id(),
            "connections": connections,
            "sockets": sockets,
            "rooms": rooms,
            "stats_age_ms": 0,
            "this": true,
        })];
        nodes.extend(self.nodes.to_json(std::time::Instant::now()));
        nodes
    }

    /// `siohub:stats`: the newest history point (`full`: every point).
    pub(super) fn stats_json(&self, full: bool) -> Value {
        let counters = &self.links.counters;
        let (websocket, polling) = self.transports();
        let (namespaces, rooms) = {
            let members = self.links.membership.read();
            let counts = members.namespace_counts();
            (counts.len(), counts.iter().map(|c| c.2).sum::<usize>())
        };
        let totals = Totals::read(counters);
        let latest = self.history.latest();
        let history: Vec<Value> = if full {
            self.history.all().map(|s| json!(s)).collect()
        } else {
            self.history.last_n(1).map(|s| json!(s)).collect()
        };
        let actors: Vec<Value> = self
            .links
            .actor_stats
            .iter()
            .map(|a| {
                let s = a.snapshot();
                json!({"name": s.name, "restarts": s.restarts, "mailbox_depth": s.mailbox_depth, "handled": s.messages_handled})
            })
            .collect();
        let dropped: u64 = DropReason::ALL.iter().map(|r| counters.drops(*r)).sum();
        let admin_dropped = AdminFeed::drops(&self.links.feed).total();
        let total = websocket + polling;
        json!({
            "node": {
                "id": self.node_id,
                "hostname": self.hostname,
                "pid": std::process::id(),
                "uptime_s": self.started.elapsed().as_secs(),
                "version": env!("CARGO_PKG_VERSION"),
            },
            "read_only": self.read_only,
            "connections": {"websocket": websocket, "polling": polling, "total": total},
            "namespaces": namespaces,
            "rooms": rooms,
            "rates": {
                "events_in": latest.events_in,
                "events_out": latest.events_out,
                "bytes_in": latest.bytes_in,
                "bytes_out": latest.bytes_out,
            },
            "totals": {
                "events_in": totals.events_in,
                "events_out": totals.events_out,
                "bytes_in": totals.bytes_in,
                "bytes_out": totals.bytes_out,
                "dropped": dropped,
                "slow_consumer_disconnects": counters.slow_consumer_disconnects(),
            },
            "history": history,
            "actors": actors,
            "nodes": self.node_list(total, rooms),
            "cluster": {"uid": self.cluster_uid(), "nodes_known": self.nodes.len() + 1},
            "admin": {"watchers": self.watchers.len(), "dropped": admin_dropped},
        })
    }
}
