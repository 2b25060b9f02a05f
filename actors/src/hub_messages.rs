//! The typed messages of the hub's singleton actors: room membership for the
//! RoomSupervisor, broadcasts and recovery for the Broadcaster, the registry for the
//! ConnectionManager, and the delivery a session receives.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::SystemTime;

use actix::prelude::*;
use serde_json::{Map, Value};
use siohub_protocol::Payload;

use crate::connection_manager::{ConnectionsPage, SessionMeta};
use crate::room_table::{Frames, RoomBuffering, Target};
use crate::session::Session;

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

/// A socket joined a namespace.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AddSocket {
    /// The namespace.
    pub nsp: String,
    /// The socket id.
    pub sid: Arc<str>,
    /// Its session.
    pub session: Addr<Session>,
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
}

/// A socket brought back by connection state recovery.
#[derive(Debug, Clone)]
pub struct Recovered {
    /// The preserved state.
    pub socket: PreservedSocket,
    /// The events it missed, oldest first.
    pub missed: Vec<Frames>,
}

/// A session started.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RegisterSession {
    /// Its metadata, updated by the session as it goes.
    pub meta: Arc<SessionMeta>,
    /// The session.
    pub session: Addr<Session>,
}

/// A session ended.
#[derive(Message)]
#[rtype(result = "()")]
pub struct UnregisterSession {
    /// Its id.
    pub sid: Arc<str>,
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
