//! What comes in on the broadcast channels: decoded and handed to the local Broadcaster in
//! arrival order (so each publisher's order is kept), on the subscriber's own task, with no
//! actor hop. socket.io rooms map back onto siohub targets: a room named by a socket id of
//! this node reaches that socket (socket.io puts every socket in such a room), every other
//! room (a `user:<id>` room among them) is a room.

use siohub_actors::room_history::HistoryKey;
use siohub_actors::{BufferPolicy, Hub, RemoteBroadcast, Target};

use super::broadcast_wire;
use super::channels::{Channel, Channels};
use super::status::{AdapterDrop, LinkStatus};

/// What an incoming broadcast may be, and wait for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    /// The largest message taken (`[adapter] max_message_bytes`).
    pub max_bytes: usize,
    /// Messages waiting for the Broadcaster above which one is dropped (`max_queued`).
    pub max_backlog: usize,
}

/// The siohub target of socket.io's `rooms` and `except` in namespace `nsp`: names that are
/// ids of this node's sockets become socket ids, the others rooms.
pub(crate) fn target(hub: &Hub, nsp: &str, rooms: Vec<String>, except: Vec<String>) -> Target {
    let members = hub.membership().read();
    let is_socket = |name: &String| members.session_of(nsp, name).is_some();
    let (socket_ids, rooms) = rooms.into_iter().partition(is_socket);
    let (except_socket_ids, except_rooms) = except.into_iter().partition(is_socket);
    Target {
        nsp: nsp.to_owned(),
        rooms,
        users: Vec::new(),
        socket_ids,
        except_rooms,
        except_socket_ids,
    }
}

/// Whether this node takes every broadcast of `nsp`, even for a room with no member here:
/// with recovery kept in Redis every event of a recovery namespace is logged here too (a
/// socket recovering on this node must get each once: see the Broadcaster's
/// `remote_replay`), and a room with `buffer = "always"` keeps its history on every node
/// (a joiner on any node gets it).
fn keeps_every_event(hub: &Hub, nsp: &str) -> bool {
    let policy = hub.policies().of(nsp);
    let logs = hub.recovery_store().is_some() && !policy.recovery.is_zero();
    logs || policy.buffer == BufferPolicy::Always
}

/// A message from a broadcast channel: delivered locally unless it is this node's own, for a
/// single room nobody here is in, too large or garbage (counted, one rate-limited log line).
pub(crate) fn deliver(
    hub: &Hub,
    uid: &str,
    status: &LinkStatus,
    bounds: Bounds,
    channel: Channel<'_>,
    bytes: &[u8],
) {
    let max_bytes = bounds.max_bytes;
    let Channel::Broadcast { nsp, room } = channel else {
        return;
    };
    if broadcast_wire::peek_uid(bytes) == Some(uid.as_bytes()) {
        return;
    }
    if let Some(room) = room.filter(|_| !keeps_every_event(hub, nsp)) {
        // As the Node adapter does: a single-room broadcast for a room with no member here
        // is not even decoded.
        let members = hub.membership().read();
        if !members.has_members(nsp, room) && members.session_of(nsp, room).is_none() {
            return;
        }
    }
    if bytes.len() > max_bytes {
        status.dropped(AdapterDrop::TooLarge, 1);
        hub.counters().adapter_error();
        siohub_actors::limited!(
            warn,
            "cluster adapter: a broadcast of {} bytes on namespace {} is over [adapter] max_message_bytes ({max_bytes}); dropped",
            bytes.len(),
            siohub_actors::ClientText(nsp)
        );
        return;
    }
    let incoming = match broadcast_wire::decode(bytes) {
        Ok(incoming) => incoming,
        Err(why) => {
            status.dropped(AdapterDrop::Malformed, 1);
            hub.counters().adapter_error();
            siohub_actors::limited!(
                warn,
                "cluster adapter: a malformed broadcast on namespace {} ({why}); dropped",
                siohub_actors::ClientText(nsp)
            );
            return;
        }
    };
    // Our own message, or a packet whose namespace is not the channel's: ignored, as in Node.
    if incoming.uid == uid || incoming.nsp != nsp {
        return;
    }
    hub.counters().adapter_message(false);
    // Nothing awaits the Broadcaster here (its mailbox has no bound of its own): a peer
    // publishing faster than it delivers must not pile up broadcasts there.
    if hub.broadcaster_backlog() >= bounds.max_backlog as u64 {
        status.dropped(AdapterDrop::BroadcasterBusy, 1);
        siohub_actors::limited!(
            warn,
            "cluster adapter: {} messages wait for the Broadcaster already ([adapter] max_queued); a broadcast from another node dropped",
            bounds.max_backlog
        );
        return;
    }
    let target = target(hub, nsp, incoming.rooms, incoming.except);
    let key = incoming
        .seq
        .zip(incoming.at_us)
        .map(|(seq, at_us)| HistoryKey {
            origin: Some(incoming.uid.into()),
            seq,
            at_us,
        });
    // Not awaited: the Broadcaster handles it whether or not anyone waits (see `asked`).
    drop(hub.remote_broadcast(RemoteBroadcast {
        target,
        event: incoming.event,
        payload: incoming.payload,
        volatile: incoming.volatile,
        origin_offset: incoming.origin_offset,
        key,
    }));
}

/// Whether a channel message is one this node handles: pattern messages only (the request
/// channels it also SUBSCRIBEs to, to be counted, would bring each request twice).
pub(crate) fn parse<'a>(
    channels: &Channels,
    channel: &'a str,
    from_pattern: bool,
) -> Option<Channel<'a>> {
    if !from_pattern {
        return None;
    }
    channels.parse(channel)
}
