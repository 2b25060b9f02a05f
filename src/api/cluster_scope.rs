//! What the HTTP API's views take from the other nodes when `[adapter] kind = "redis"`:
//! the rooms and sockets they answer with, and how many of them answered. Every request
//! to the cluster answers with what the live nodes said within `[adapter]
//! request_timeout_ms` (a dead node is left out, never waited for past the timeout), so
//! each view says how many nodes it covers: `"cluster": {"nodes_expected",
//! "nodes_answered"}`, this node included in both.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};

use crate::cluster::{ClusterReply, RemoteSocket};

/// The views that ask the other nodes, as `/metrics` labels them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// `GET /api/v1/rooms`.
    Rooms,
    /// `GET /api/v1/rooms/{room}`.
    RoomMembers,
    /// `POST /api/v1/rooms/{room}/join` and `/leave`.
    Membership,
    /// `POST /api/v1/disconnect`.
    Disconnect,
    /// `GET /connections?scope=cluster`.
    Connections,
}

impl View {
    /// Every view, in label order.
    pub const ALL: [View; 5] = [
        View::Rooms,
        View::RoomMembers,
        View::Membership,
        View::Disconnect,
        View::Connections,
    ];

    /// Its `/metrics` label.
    pub fn as_str(self) -> &'static str {
        match self {
            View::Rooms => "rooms",
            View::RoomMembers => "room_members",
            View::Membership => "membership",
            View::Disconnect => "disconnect",
            View::Connections => "connections",
        }
    }
}

/// Cluster views answered, by view, with every expected node or without some (a node
/// slow or dead): `siohub_cluster_views_total{view,answered}`.
#[derive(Debug, Default)]
pub struct ViewCounters {
    /// (every node answered, some did not) per view, in [`View::ALL`] order.
    counts: [(AtomicU64, AtomicU64); 5],
}

impl ViewCounters {
    /// Counts one view answered with `reply`.
    pub fn count<T>(&self, view: View, reply: &ClusterReply<T>) {
        let (all, partial) = &self.counts[view as usize];
        let counter = if reply.nodes_answered >= reply.nodes_expected {
            all
        } else {
            partial
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// (every node answered, some did not) for `view`.
    pub fn get(&self, view: View) -> (u64, u64) {
        let (all, partial) = &self.counts[view as usize];
        (all.load(Ordering::Relaxed), partial.load(Ordering::Relaxed))
    }
}

/// The room prefix of a user's sockets (`user:<id>`).
const USER_ROOM_PREFIX: &str = "user:";

/// Whether a selection may have sockets on other nodes: not when it names socket ids
/// only and every one of them is here (socket ids are random, so one found here is on no
/// other node), which spares the round trip.
pub fn reaches_other_nodes(target: &siohub_actors::Target, here: usize) -> bool {
    !(target.rooms.is_empty() && target.users.is_empty() && here >= target.socket_ids.len())
}

/// `{"nodes_expected","nodes_answered"}` of a reply, this node counted in both.
pub fn nodes_json<T>(reply: &ClusterReply<T>) -> Value {
    json!({
        "nodes_expected": reply.nodes_expected + 1,
        "nodes_answered": reply.nodes_answered + 1,
    })
}

/// The cluster part of a view on a node that is alone (the memory adapter).
pub fn alone_json() -> Value {
    json!({ "nodes_expected": 1, "nodes_answered": 1 })
}

/// The user of a remote socket: `data.user` as a siohub node sends it, else the id of its
/// `user:<id>` room (siohub puts each authenticated socket there; a Node.js server's
/// sockets usually have neither).
pub fn user_of(socket: &RemoteSocket) -> Option<&str> {
    socket.data["user"].as_str().or_else(|| {
        socket
            .rooms
            .iter()
            .find_map(|room| room.strip_prefix(USER_ROOM_PREFIX))
    })
}

/// A remote socket's rooms without the one named by its own id (socket.io puts every
/// socket in it; siohub's own listings leave it out).
pub fn rooms_of(socket: &RemoteSocket) -> Vec<&str> {
    socket
        .rooms
        .iter()
        .filter(|room| **room != socket.id)
        .map(String::as_str)
        .collect()
}

/// A remote socket as `/connections?scope=cluster` lists it (no credentials: only the
/// address and user agent of its handshake).
pub fn socket_json(socket: &RemoteSocket) -> Value {
    let handshake = &socket.handshake;
    json!({
        "id": socket.id,
        "here": false,
        "user": user_of(socket),
        "rooms": rooms_of(socket),
        "address": handshake["address"],
        "user_agent": handshake["headers"]["user-agent"],
        "transport": socket.data["_admin"]["transport"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_sockets_show_their_user_and_rooms_but_not_their_own_room() {
        let socket = RemoteSocket {
            id: "s1".into(),
            handshake: json!({"address": "::1", "headers": {"user-agent": "node", "authorization": "Bearer x"}}),
            rooms: vec!["s1".into(), "user:42".into(), "news".into()],
            data: json!({}),
        };
        assert_eq!(user_of(&socket), Some("42"));
        assert_eq!(rooms_of(&socket), ["user:42", "news"]);
        let listed = socket_json(&socket);
        assert_eq!(listed["user_agent"], "node");
        assert!(!listed.to_string().contains("Bearer"), "{listed}");
        let reply = ClusterReply {
            items: (),
            nodes_expected: 2,
            nodes_answered: 1,
        };
        assert_eq!(
            nodes_json(&reply),
            json!({"nodes_expected": 3, "nodes_answered": 2})
        );
        let by_ids = |ids: &[&str]| siohub_actors::Target {
            socket_ids: ids.iter().map(|s| s.to_string()).collect(),
            ..siohub_actors::Target::namespace("/")
        };
        assert!(!reaches_other_nodes(&by_ids(&["a", "b"]), 2));
        assert!(reaches_other_nodes(&by_ids(&["a", "b"]), 1));
        let by_user = siohub_actors::Target {
            users: vec!["u".into()],
            ..by_ids(&["a"])
        };
        assert!(reaches_other_nodes(&by_user, 1));
    }
}
