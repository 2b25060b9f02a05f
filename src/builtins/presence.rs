//! The built-in `presence {"room", "cursor"?, "limit"?}`: a room's members, answered
//! `{"ok":true,"room","count","members":[{"sid","user"}],"next_cursor"?}` to a socket that
//! may join the room (the namespace's `client_join`; user rooms never). With the Redis
//! adapter the members of every node are listed (the other nodes' through a `fetchSockets`
//! request of the room, as the HTTP API's room view does).
//!
//! Members are sorted by socket id and paged: at most `limit` (1 to [`MAX_PAGE`], default
//! [`MAX_PAGE`]) per answer; when more follow, `next_cursor` is the last sid listed, and
//! the next page is asked with `"cursor": <it>` (members whose sid sorts after it).
//! `count` is the whole room's. A room with no member anywhere is `NOT_FOUND`. A page of
//! this node's members costs one pass over the room and a heap of `limit + 1` (not a sorted
//! copy of the room); the other nodes still send their whole part of the room (not done:
//! a paged cluster request).
//! `GET /api/v1/rooms/{room}/presence` answers the same through [`read`].

use serde_json::{json, Value};
use siohub_actors::{AckSender, Hub, Payload, Socket, Target};

use super::answer::answer;
use super::policy::{denied, roles_of};
use super::room_query::room_query;
use super::rooms::check_room_name;
use crate::cluster::{ClusterHandle, ClusterReply};
use crate::config::NamespacePolicy;
use crate::error_code::{ErrorCode, EventError};
use crate::limits::TaskPermit;

/// Most members one answer lists.
pub const MAX_PAGE: usize = 1000;

/// Longest cursor taken (a socket id is far shorter).
const MAX_CURSOR: usize = 256;

/// What a presence read asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceQuery {
    /// The room.
    pub room: String,
    /// List members whose sid sorts after this one.
    pub cursor: Option<String>,
    /// Most members listed.
    pub limit: usize,
}

impl PresenceQuery {
    /// Checks the parts of a query (the same for the built-in and the HTTP API).
    pub fn new(
        room: String,
        cursor: Option<String>,
        limit: Option<u64>,
    ) -> Result<Self, EventError> {
        check_room_name(&room)?;
        if cursor
            .as_ref()
            .is_some_and(|c| c.is_empty() || c.len() > MAX_CURSOR)
        {
            return Err(EventError::invalid(format!(
                "\"cursor\" is the next_cursor of a previous answer (1 to {MAX_CURSOR} characters)"
            )));
        }
        let limit = match limit {
            None => MAX_PAGE,
            Some(n) if (1..=MAX_PAGE as u64).contains(&n) => n as usize,
            Some(n) => {
                return Err(EventError::invalid(format!(
                    "\"limit\" is 1 to {MAX_PAGE}, not {n}"
                )))
            }
        };
        Ok(PresenceQuery {
            room,
            cursor,
            limit,
        })
    }
}

/// A page of a room's members.
#[derive(Debug, Clone, PartialEq)]
pub struct PresencePage {
    /// The room's members in all (every node's, with the Redis adapter).
    pub count: usize,
    /// This page's members, `{"sid","user"}`, sorted by sid.
    pub members: Vec<Value>,
    /// The cursor of the next page, when there is one.
    pub next_cursor: Option<String>,
    /// How many other nodes were asked and answered, with the Redis adapter.
    pub cluster: Option<ClusterReply<()>>,
}

impl PresencePage {
    /// The answer's common part, `{"room","count","members","next_cursor"?}`, as the
    /// built-in and the HTTP API both give it.
    pub fn to_json(&self, room: &str) -> Value {
        let mut body = json!({
            "room": room,
            "count": self.count,
            "members": self.members,
        });
        if let Some(cursor) = &self.next_cursor {
            body["next_cursor"] = json!(cursor);
        }
        body
    }
}

/// Reads a page of `query.room`'s members in `nsp`: this node's, and with `cluster` the
/// other nodes' (what answered within the request timeout). `NOT_FOUND` when the room has
/// no member.
pub async fn read(
    hub: &Hub,
    cluster: Option<&ClusterHandle>,
    nsp: &str,
    query: &PresenceQuery,
) -> Result<PresencePage, EventError> {
    // One more than a page, to know whether a next page follows.
    let (mut count, local) =
        hub.room_member_page(nsp, &query.room, query.cursor.as_deref(), query.limit + 1);
    let mut members: Vec<(String, Option<String>)> =
        local.into_iter().map(|m| (m.socket_id, m.user)).collect();
    let mut nodes = None;
    if let Some(cluster) = cluster {
        // The other nodes answer with their whole part of the room (the Socket.IO adapter
        // protocol has no paged request): counted, and only what sorts after the cursor
        // is kept.
        let target = Target {
            rooms: vec![query.room.clone()],
            ..Target::namespace(nsp)
        };
        let remote = cluster.fetch_sockets(&target).await;
        let mut remote_ids: Vec<&str> = remote.items.iter().map(|s| s.id.as_str()).collect();
        remote_ids.sort_unstable();
        remote_ids.dedup();
        count += remote_ids.len();
        let after = |sid: &str| query.cursor.as_deref().is_none_or(|c| sid > c);
        let users = remote.items.iter().filter(|s| after(&s.id)).map(|socket| {
            let user = crate::api::cluster_scope::user_of(socket).map(str::to_owned);
            (socket.id.clone(), user)
        });
        members.extend(users);
        members.sort();
        members.dedup_by(|a, b| a.0 == b.0);
        nodes = Some(ClusterReply {
            items: (),
            nodes_expected: remote.nodes_expected,
            nodes_answered: remote.nodes_answered,
        });
    }
    if count == 0 {
        return Err(EventError::new(
            ErrorCode::NotFound,
            format!("room {:?} has no members in namespace {nsp}", query.room),
        ));
    }
    // One more than a page was read (of this node, and all of the others'): when it is
    // there, a next page follows.
    let more = members.len() > query.limit;
    members.truncate(query.limit);
    let next_cursor = match more {
        true => members.last().map(|(sid, _)| sid.clone()),
        false => None,
    };
    Ok(PresencePage {
        count,
        members: members
            .into_iter()
            .map(|(sid, user)| json!({ "sid": sid, "user": user }))
            .collect(),
        next_cursor,
        cluster: nodes,
    })
}

/// The query of a `presence` payload: `{"room", "cursor"?, "limit"?}` (or the room alone).
fn query_of(payload: &Payload) -> Result<PresenceQuery, EventError> {
    let q = room_query(payload, "cursor", MAX_PAGE)?;
    PresenceQuery::new(q.room, q.from, q.limit)
}

/// The handler of `presence`.
pub(super) fn on_presence(
    policy: &NamespacePolicy,
    socket: &Socket,
    payload: Payload,
    ack: Option<AckSender>,
    permit: TaskPermit,
) {
    let query = match query_of(&payload) {
        Ok(query) => query,
        Err(e) => return answer(socket, "presence", ack, Err(e)),
    };
    if !policy.may_join(&query.room, &roles_of(socket)) {
        let refusal = denied(
            socket,
            format!(
                "reading the presence of room {:?} takes the right to join it (client_join of namespace {})",
                query.room,
                socket.nsp()
            ),
        );
        return answer(socket, "presence", ack, Err(refusal));
    }
    let (hub, nsp) = (socket.hub().clone(), socket.nsp().to_owned());
    let cluster = hub.attached::<ClusterHandle>();
    let session = socket.clone();
    let socket = socket.clone();
    session.run_in_session(async move {
        let _permit = permit;
        let page = read(&hub, cluster.as_deref(), &nsp, &query).await;
        let result = page.map(|page| {
            let mut body = page.to_json(&query.room);
            body["ok"] = json!(true);
            body
        });
        answer(&socket, "presence", ack, result);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(v: Value) -> Payload {
        Payload::new(vec![v])
    }

    #[test]
    fn queries_are_checked() {
        let q = query_of(&payload(json!("r"))).unwrap();
        assert_eq!((q.room.as_str(), q.limit, q.cursor), ("r", MAX_PAGE, None));
        let q = query_of(&payload(json!({"room": "r", "cursor": "s1", "limit": 5}))).unwrap();
        assert_eq!((q.limit, q.cursor.as_deref()), (5, Some("s1")));
        for bad in [
            json!({"room": "r", "limit": 0}),
            json!({"room": "r", "limit": 1001}),
            json!({"room": "r", "limit": "ten"}),
            json!({"room": "r", "cursor": ""}),
            json!({"room": "r", "cursor": 5}),
            json!({"room": ""}),
            json!({}),
            json!(3),
        ] {
            let err = query_of(&payload(bad.clone())).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidPayload, "{bad}");
        }
    }
}
