//! The pages `siohub:connections` and `siohub:rooms` answer with, and the socket list of
//! `all_sockets`: read from the session registry and the membership view (their owners
//! publish them), filtered and paged here, so that a dashboard gets one page and never the
//! whole list.

use serde_json::{json, Value};

use super::serialize::{socket_json, SocketView};
use crate::connection_manager::{ConnectionInfo, SessionEntry, SessionRegistry, SocketMeta};
use crate::room_supervisor::MembershipView;
use crate::socket::HandshakeInfo;

/// The most sockets `all_sockets` lists (the official UI gets every socket in one event;
/// its maintainers call it unsuitable above about a thousand).
pub const MAX_ALL_SOCKETS: usize = 1_000;

/// A page request: 1-based `page`, `per_page` in 1..=100 (checked by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageQuery {
    /// A case-insensitive substring to look for (empty = everything).
    pub q: String,
    /// Only this namespace.
    pub nsp: Option<String>,
    /// The page, from 1.
    pub page: usize,
    /// Items per page.
    pub per_page: usize,
}

impl PageQuery {
    fn range(&self, total: usize) -> std::ops::Range<usize> {
        let start = self
            .page
            .saturating_sub(1)
            .saturating_mul(self.per_page)
            .min(total);
        start..start.saturating_add(self.per_page).min(total)
    }

    fn matches(&self, text: &str) -> bool {
        self.q.is_empty() || text.to_lowercase().contains(&self.q)
    }
}

/// Whether the session `entry` matches `query` (its sid, socket ids, user, address or a
/// room of one of its sockets contains `q`; one of its sockets is in `nsp`).
fn connection_matches(
    entry: &SessionEntry,
    query: &PageQuery,
    membership: &MembershipView,
) -> bool {
    if query.q.is_empty() && query.nsp.is_none() {
        return true;
    }
    let info = entry.1.snapshot();
    if let Some(nsp) = &query.nsp {
        if !info.sockets.iter().any(|s| *s.nsp == **nsp) {
            return false;
        }
    }
    if query.q.is_empty() {
        return true;
    }
    let plain = query.matches(&info.sid)
        || query.matches(&info.remote_address)
        || info.user.as_deref().is_some_and(|u| query.matches(u))
        || info.sockets.iter().any(|s| query.matches(&s.id));
    plain || {
        let members = membership.read();
        info.sockets.iter().any(|s| {
            members
                .socket_rooms(&s.nsp, &s.id)
                .iter()
                .any(|r| query.matches(r))
        })
    }
}

/// One page of connections, newest first.
pub(crate) fn connections_page(
    registry: &SessionRegistry,
    membership: &MembershipView,
    query: &PageQuery,
) -> Value {
    let mut entries: Vec<SessionEntry> = registry
        .entries()
        .into_iter()
        .filter(|e| connection_matches(e, query, membership))
        .collect();
    entries.sort_by(|(_, a), (_, b)| (b.connected_at, &b.sid).cmp(&(a.connected_at, &a.sid)));
    let total = entries.len();
    let members = membership.read();
    let items: Vec<Value> = entries[query.range(total)]
        .iter()
        .map(|(_, meta)| {
            let info = meta.snapshot();
            let sockets: Vec<Value> = info
                .sockets
                .iter()
                .map(|s| json!({"nsp": &*s.nsp, "id": &*s.id, "rooms": members.socket_rooms(&s.nsp, &s.id)}))
                .collect();
            json!({
                "sid": info.sid,
                "transport": info.transport,
                "address": info.remote_address,
                "user": info.user,
                "user_agent": info.user_agent,
                "namespaces": info.namespaces,
                "sockets": sockets,
                "packets_in": info.packets_in,
                "packets_out": info.packets_out,
                "bytes_in": info.bytes_in,
                "bytes_out": info.bytes_out,
                "backlog": info.outgoing_packets,
                "connected_at": info.connected_at,
            })
        })
        .collect();
    json!({"ok": true, "total": total, "page": query.page, "per_page": query.per_page, "items": items})
}

/// One page of rooms (with their member counts) and every namespace's counts.
pub(crate) fn rooms_page(membership: &MembershipView, query: &PageQuery) -> Value {
    let members = membership.read();
    let counts = members.namespace_counts();
    let namespaces: Vec<Value> = counts
        .iter()
        .map(|(name, sockets, rooms)| json!({"name": name, "sockets": sockets, "rooms": rooms}))
        .collect();
    let mut rooms: Vec<(String, String, usize)> = Vec::new();
    for (nsp, _, _) in counts
        .iter()
        .filter(|(n, _, _)| query.nsp.as_ref().is_none_or(|q| q == n))
    {
        for (room, size) in members.rooms(nsp) {
            if query.matches(&room) {
                rooms.push((nsp.clone(), room, size));
            }
        }
    }
    drop(members);
    let total = rooms.len();
    let items: Vec<Value> = rooms[query.range(total)]
        .iter()
        .map(|(nsp, room, size)| json!({"nsp": nsp, "room": room, "members": size}))
        .collect();
    json!({
        "ok": true,
        "namespaces": namespaces,
        "total": total,
        "page": query.page,
        "per_page": query.per_page,
        "items": items,
    })
}

/// Every socket (at most [`MAX_ALL_SOCKETS`]), serialized as the official UI reads them,
/// leaving out the `/admin` namespace's own; with whether the list was cut.
pub(crate) fn all_sockets(
    registry: &SessionRegistry,
    membership: &MembershipView,
) -> (Vec<Value>, bool) {
    let mut out = Vec::new();
    for (_, meta) in registry.entries() {
        let info = meta.snapshot();
        let handshake = meta.handshake();
        let members = membership.read();
        for socket in info.sockets.iter().filter(|s| &*s.nsp != super::ADMIN_NSP) {
            if out.len() == MAX_ALL_SOCKETS {
                return (out, true);
            }
            let rooms = members.socket_rooms(&socket.nsp, &socket.id);
            out.push(listed_socket(&info, Some(&**handshake), socket, rooms));
        }
    }
    (out, false)
}

/// The sockets of namespace `target.nsp` that `target` resolves to (at most `max`),
/// serialized as socket.io's `fetchSockets` sends them to other nodes: `{id, handshake,
/// rooms, data: {user?, _admin: {transport}}}` (plus the admin UI's `clientId`,
/// `transport` and `nsp`, which the wire does not carry).
pub(crate) fn sockets_of(
    registry: &SessionRegistry,
    membership: &MembershipView,
    target: &crate::target::Target,
    max: usize,
) -> Vec<Value> {
    let wanted: std::collections::HashSet<std::sync::Arc<str>> = membership
        .read()
        .resolve(target)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut out = Vec::new();
    if wanted.is_empty() {
        return out;
    }
    for (_, meta) in registry.entries() {
        let info = meta.snapshot();
        let handshake = meta.handshake();
        let members = membership.read();
        let mine = info
            .sockets
            .iter()
            .filter(|s| *s.nsp == *target.nsp && wanted.contains(&*s.id));
        for socket in mine {
            if out.len() == max {
                return out;
            }
            let rooms = members.socket_rooms(&socket.nsp, &socket.id);
            out.push(listed_socket(&info, Some(&**handshake), socket, rooms));
        }
    }
    out
}

/// One socket as the admin UI lists it: its own id first among its rooms, and
/// `_admin.transport` in its data as @socket.io/admin-ui keeps it, so that an admin UI on
/// another node (siohub's or Node's) shows it. The Engine.IO sid (admin-ui's `clientId`)
/// is not in the data: it is a polling session's credential.
fn listed_socket(
    info: &ConnectionInfo,
    handshake: Option<&HandshakeInfo>,
    socket: &SocketMeta,
    mut rooms: Vec<String>,
) -> Value {
    rooms.insert(0, socket.id.to_string());
    let mut data = json!({ "_admin": { "transport": info.transport } });
    if let Some(user) = &socket.user {
        data["user"] = json!(user);
    }
    socket_json(&SocketView {
        id: &socket.id,
        sid: &info.sid,
        transport: &info.transport,
        nsp: &socket.nsp,
        data,
        handshake,
        address: &info.remote_address,
        rooms,
    })
}
