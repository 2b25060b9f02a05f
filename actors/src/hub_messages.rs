//! The typed messages of the hub's singleton actors: room membership for the
//! RoomSupervisor, broadcasts and recovery for the Broadcaster, the registry for the
//! ConnectionManager, and the delivery a session receives.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::prelude::*;
use futures::channel::mpsc;
use serde_json::{Map, Value};
use siohub_protocol::Payload;

use crate::connection_manager::ConnectionsPage;
use crate::error::AckError;
use crate::room_table::{Frames, Recipients, RoomBuffering, RoomMember, Target};
use crate::session::Session;
use crate::subscription::Subscription;

/// An encoded event for the socket of namespace `nsp` on a session.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct Deliver {
    /// The namespace whose socket gets it.
    pub nsp: Arc<str>,
    /// The frames, shared with every other recipient.
    pub frames: Frames,
    /// Whether the event may be dropped when the socket's buffer is full.
    pub volatile: bool,
}

/// Several encoded events for the socket of namespace `nsp`, in order.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DeliverBatch {
    /// The namespace whose socket gets them.
    pub nsp: Arc<str>,
    /// The events: frames, and whether each may be dropped when the buffer is full
    /// (shared by every recipient of the run).
    pub events: Arc<[(Frames, bool)]>,
}

/// A socket left its namespace: forget it and its rooms.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoveSocket {
    /// The namespace.
    pub nsp: String,
    /// The socket id.
    pub sid: Arc<str>,
    /// Every room it was in.
    pub rooms: Vec<String>,
}

/// A socket joins a room; buffered events are replayed to it per `buffering`.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct JoinRoom {
    /// The namespace.
    pub nsp: String,
    /// The room.
    pub room: String,
    /// The socket id.
    pub sid: Arc<str>,
    /// Its session (where replayed events go).
    pub session: Addr<Session>,
    /// The room's buffering (what to replay).
    pub buffering: RoomBuffering,
    /// Told the number of events replayed once the membership is in place. The join is
    /// sent with `do_send` and answers here, rather than through `send`'s reply: `send`
    /// queues nothing while the mailbox is full (only once its future is polled), so a
    /// `LeaveRoom` sent right after could overtake the join and leave a stale member.
    pub replayed: Option<futures::channel::oneshot::Sender<usize>>,
}

/// A socket leaves a room.
#[derive(Message)]
#[rtype(result = "()")]
pub struct LeaveRoom {
    /// The namespace.
    pub nsp: String,
    /// The room.
    pub room: String,
    /// The socket id.
    pub sid: Arc<str>,
}

/// Asks a session to tell the RoomSupervisor every socket and room it has (after the
/// supervisor restarted).
#[derive(Message)]
#[rtype(result = "()")]
pub struct AnnounceMembership;

/// The rooms of a namespace that have members, with their sizes.
#[derive(Message)]
#[rtype(result = "Vec<(String, usize)>")]
pub struct ListRooms {
    /// The namespace.
    pub nsp: String,
}

/// The socket ids in one room.
#[derive(Message)]
#[rtype(result = "Vec<String>")]
pub struct ListMembers {
    /// The namespace.
    pub nsp: String,
    /// The room.
    pub room: String,
}

/// Emits an event to a target.
#[derive(Message, Debug, Clone)]
#[rtype(result = "BroadcastOutcome")]
pub struct Broadcast {
    /// Who gets it.
    pub target: Target,
    /// The event name.
    pub event: String,
    /// Its arguments.
    pub payload: Payload,
    /// Whether it may be dropped for a slow socket (and is neither buffered nor logged).
    pub volatile: bool,
    /// An id for the dedupe window, if the publisher gave one.
    pub dedupe_id: Option<String>,
}

/// What a broadcast did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BroadcastOutcome {
    /// Sockets it was handed to.
    pub recipients: usize,
    /// Whether it was dropped as a duplicate.
    pub duplicate: bool,
}

/// What a socket leaves behind for connection state recovery.
#[derive(Debug, Clone)]
pub struct PreservedSocket {
    /// Its id, which a recovered socket keeps.
    pub sid: String,
    /// The namespace.
    pub nsp: String,
    /// Its rooms.
    pub rooms: HashSet<String>,
    /// Its data.
    pub data: Map<String, Value>,
    /// When it disconnected.
    pub at: SystemTime,
}

/// Keeps a socket's state for recovery under its private id.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Preserve {
    /// The private session id (`pid`).
    pub pid: String,
    /// The state.
    pub socket: PreservedSocket,
}

/// Asks for a preserved socket and the events it missed after `offset`.
#[derive(Message)]
#[rtype(result = "Option<Recovered>")]
pub struct Recover {
    /// The namespace.
    pub nsp: String,
    /// The private session id the client sent.
    pub pid: String,
    /// The last offset the client saw.
    pub offset: String,
    /// The session the socket comes back on: a recovered socket is put back in its rooms
    /// in the same step that computes what it missed, so no event falls in between.
    pub session: Addr<Session>,
}

/// A socket brought back by connection state recovery.
#[derive(Debug, Clone)]
pub struct Recovered {
    /// The preserved state.
    pub socket: PreservedSocket,
    /// The events it missed, oldest first.
    pub missed: Vec<Frames>,
}

/// One page of the connection list.
#[derive(Message)]
#[rtype(result = "ConnectionsPage")]
pub struct ListConnections {
    /// Connections to skip.
    pub offset: usize,
    /// Most connections to return.
    pub limit: usize,
}

/// The live sockets of a user, as (session id, namespace, socket id).
#[derive(Message)]
#[rtype(result = "Vec<(String, String, String)>")]
pub struct UserSockets {
    /// The user id.
    pub user: String,
}

/// How one recipient of a broadcast with acks answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckReport {
    /// The socket id.
    pub sid: Arc<str>,
    /// Its ack arguments, or why there are none.
    pub result: Result<Payload, AckError>,
}

/// Where the recipients of one broadcast with acks report (one report each).
pub type AckReports = mpsc::UnboundedSender<AckReport>;

/// An encoded event that asks for an ack, for the socket of namespace `nsp`: the session
/// waits for ack id `ack_id` on that socket and reports the answer (or a timeout, or the
/// disconnect) to `reports`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DeliverWithAck {
    /// The namespace whose socket gets it.
    pub nsp: Arc<str>,
    /// That socket's id (what its report carries).
    pub sid: Arc<str>,
    /// The frames (carrying `ack_id`), shared with every other recipient.
    pub frames: Frames,
    /// The ack id every recipient shares.
    pub ack_id: u64,
    /// How long to wait for the answer.
    pub timeout: Duration,
    /// Where the answer goes.
    pub reports: AckReports,
}

/// Emits an event that asks every recipient for an ack: encoded once with one ack id (from
/// the process-wide counter), never buffered, deduplicated or kept for recovery. Answers
/// with the number of recipients, each of which reports once to `reports`.
#[derive(Message)]
#[rtype(result = "BroadcastOutcome")]
pub struct BroadcastWithAck {
    /// The event and its target (`volatile` and `dedupe_id` are ignored).
    pub broadcast: Broadcast,
    /// How long each recipient waits for its client's answer.
    pub timeout: Duration,
    /// Where recipients report.
    pub reports: AckReports,
}

/// The sockets a target resolves to, with their sessions.
#[derive(Message)]
#[rtype(result = "Recipients")]
pub struct ResolveTarget {
    /// The target.
    pub target: Target,
}

/// The members of one room with their users (empty when the room has none).
#[derive(Message)]
#[rtype(result = "Vec<RoomMember>")]
pub struct DescribeRoom {
    /// The namespace.
    pub nsp: String,
    /// The room.
    pub room: String,
}

/// Subscribes to the events of a namespace (optionally only those sent to `rooms`).
#[derive(Message)]
#[rtype(result = "Subscription")]
pub struct Subscribe {
    /// The namespace.
    pub nsp: String,
    /// The rooms; empty = every event of the namespace.
    pub rooms: Vec<String>,
    /// Events queued for the consumer at most; one more cuts it off.
    pub capacity: usize,
}

/// Ends a subscription.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    /// The namespace.
    pub nsp: String,
    /// The subscription id.
    pub id: u64,
}
