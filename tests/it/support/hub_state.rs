//! What a test reads from inside a running hub, and the few things it does there as server
//! code would (a broadcast, closing a session). Every read of the hub's internal tables is
//! here, so a change of how the hub publishes them changes this file alone.

use std::time::Duration;

use serde_json::Value;
use siohub::server::BackgroundServer;
use siohub_actors::{Broadcast, BroadcastOutcome, DisconnectReason, Payload, Target};

use super::wait::wait_until;
use super::wire::IO_TIMEOUT;

/// Broadcasts `event` with `data` to `target` from the test, as server code would.
pub fn hub_broadcast(
    server: &BackgroundServer,
    target: Target,
    event: &str,
    data: Value,
) -> BroadcastOutcome {
    let broadcast = Broadcast {
        target,
        event: event.into(),
        payload: Payload::new(vec![data]),
        volatile: false,
        dedupe_id: None,
    };
    futures::executor::block_on(server.hub.broadcast(broadcast)).expect("the broadcaster answers")
}

/// Members of `room` in namespace `nsp`, from the RoomSupervisor's membership.
pub fn room_members(server: &BackgroundServer, nsp: &str, room: &str) -> Vec<String> {
    server.hub.members(nsp, room)
}

/// The rooms of namespace `nsp` with their member counts, from the RoomSupervisor's membership.
pub fn rooms(server: &BackgroundServer, nsp: &str) -> Vec<(String, usize)> {
    server.hub.rooms(nsp)
}

/// The sockets connected to namespace `nsp`, from the RoomSupervisor's membership.
pub fn socket_count(server: &BackgroundServer, nsp: &str) -> usize {
    server.hub.socket_count(nsp)
}

/// The namespaces the RoomSupervisor's membership holds.
pub fn namespace_count(server: &BackgroundServer) -> usize {
    server.hub.namespace_count()
}

/// Events buffered for `room` of `nsp` (younger than an hour).
pub fn buffered(server: &BackgroundServer, nsp: &str, room: &str) -> usize {
    buffered_within(server, nsp, room, Duration::from_secs(3600))
}

/// Events buffered for `room` of `nsp` that are younger than `ttl`.
pub fn buffered_within(server: &BackgroundServer, nsp: &str, room: &str, ttl: Duration) -> usize {
    futures::executor::block_on(server.hub.buffered(nsp, room, ttl))
        .expect("the broadcaster answers")
}

/// The `/api/v1/sse` subscribers the hub holds.
pub fn subscriber_count(server: &BackgroundServer) -> usize {
    server.hub.subscriber_count()
}

/// Whether Engine.IO session `sid` is registered.
pub fn registered(server: &BackgroundServer, sid: &str) -> bool {
    server.hub.registry().get(sid).is_some()
}

/// Bytes the server has read from session `sid` (its own record).
pub fn bytes_in(server: &BackgroundServer, sid: &str) -> u64 {
    server
        .hub
        .registry()
        .entries()
        .into_iter()
        .find(|(_, meta)| &*meta.sid == sid)
        .map_or(0, |(_, meta)| meta.snapshot().bytes_in)
}

/// The session's outgoing backlog (what its writer has not taken), in bytes.
pub fn backlog_bytes(server: &BackgroundServer, sid: &str) -> u64 {
    server
        .registry
        .entries()
        .iter()
        .find(|(_, meta)| meta.snapshot().sid == sid)
        .map_or(0, |(_, meta)| meta.snapshot().outgoing_bytes)
}

/// The rooms of socket `socket_id` as `/connections` shows them.
pub fn published_rooms(server: &BackgroundServer, socket_id: &str) -> Vec<String> {
    let page = futures::executor::block_on(server.hub.list_connections(0, usize::MAX));
    page.expect("the connection manager answers")
        .connections
        .into_iter()
        .flat_map(|c| c.sockets)
        .find(|s| &*s.id == socket_id)
        .map(|s| s.rooms.into_iter().collect())
        .unwrap_or_default()
}

/// Ends session `sid` as a server-side disconnect would (the socket may still be writing).
pub fn close_session(server: &BackgroundServer, sid: &str) {
    server
        .hub
        .close_session(sid, DisconnectReason::ServerShuttingDown)
        .expect("the session");
}

/// Waits until the session `sid` is no longer registered on `server`.
#[track_caller]
pub fn wait_gone(server: &BackgroundServer, sid: &str) {
    wait_until(&format!("session {sid} is gone"), IO_TIMEOUT, || {
        server.registry.get(sid).is_none()
    });
}

/// A polling GET on session `sid` on a thread, returned once the session holds it (it
/// waits for packets): what the test sends next reaches a session with a GET pending.
#[track_caller]
pub fn held_poll(
    server: &BackgroundServer,
    sid: &str,
) -> std::thread::JoinHandle<super::wire::Response> {
    let before = server.hub.counters().polls_held();
    let pending = super::wire::spawn_poll(server.addr, sid);
    wait_poll_held(server, before);
    pending
}

/// Waits until the hub has held one more polling GET than `before` (its
/// `HubCounters::polls_held` then).
#[track_caller]
pub fn wait_poll_held(server: &BackgroundServer, before: u64) {
    wait_until("the session holds the GET", IO_TIMEOUT, || {
        server.hub.counters().polls_held() > before
    });
}

/// Waits until the hub has begun one more polling POST than `before` (its
/// `HubCounters::posts_begun` then): the session expects that POST's body.
#[track_caller]
pub fn wait_post_begun(server: &BackgroundServer, before: u64) {
    wait_until("the session takes the POST", IO_TIMEOUT, || {
        server.hub.counters().posts_begun() > before
    });
}

/// Engine.IO packets the server has sent session `sid` (its own record).
pub fn packets_out(server: &BackgroundServer, sid: &str) -> u64 {
    server
        .registry
        .entries()
        .iter()
        .find(|(_, meta)| &*meta.sid == sid)
        .map_or(0, |(_, meta)| meta.snapshot().packets_out)
}
