//! The typed messages sessions receive: from HTTP handlers, from their websocket reader
//! tasks, and from socket handles.

use std::time::Duration;

use actix::prelude::*;
use futures::channel::oneshot;
use siohub_protocol::{EnginePacket, Payload, ProtocolError, SocketPacket};

use crate::disconnect_reason::DisconnectReason;
use crate::error::{AckError, EngineError};
use crate::hub_error::{JoinError, NotConnected};
use crate::ws::{Credit, Outbox, WsEvent};

/// How a polling GET is answered.
#[derive(Debug)]
pub enum PollOutcome {
    /// Packets were waiting: here is the body (text, but for a v3 client's binary payload,
    /// which starts with byte 0 or 1).
    Ready(bytes::Bytes),
    /// Nothing yet: the body arrives on this channel (closed channel = session gone).
    Pending(oneshot::Receiver<bytes::Bytes>),
}

/// A polling GET arrived.
#[derive(Message)]
#[rtype(result = "Result<PollOutcome, EngineError>")]
pub struct Poll;

/// The client went away before the answer to its GET left the server: the GET was
/// pending, or it had been answered and the HTTP handler had not written the answer yet.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PollAborted {
    /// Whether the session had answered with packets that now never reach the client
    /// (a `6` that forced a polling cycle carries none).
    pub lost_packets: bool,
}

/// A polling POST arrived; its body is still being read.
#[derive(Message)]
#[rtype(result = "Result<(), EngineError>")]
pub struct BeginPost;

/// The body of the POST announced by [`BeginPost`], decoded (or the reason it did not).
/// Answered `Err(UnknownSid)` when the session closed while the body was being read: its
/// packets were not taken, and the POST must not be answered `ok`.
#[derive(Message)]
#[rtype(result = "Result<(), EngineError>")]
pub struct EndPost {
    /// The packets, or the decode error that closes the session.
    pub packets: Result<Vec<EnginePacket>, ProtocolError>,
    /// The body's length in bytes, counted in the session's traffic (what `/connections`
    /// shows), as a websocket message's is.
    pub bytes: usize,
}

/// The POST announced by [`BeginPost`] ended without its whole body: its client went away
/// mid-body (or the body broke). The reference server closes the session then.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PostAborted;

/// A websocket opened with this session's sid: it wants to take over from polling.
#[derive(Message)]
#[rtype(result = "()")]
pub struct BeginUpgrade {
    /// Where frames for that websocket go.
    pub outbox: Outbox,
    /// Its id, which tags the frames it forwards.
    pub id: u64,
}

/// Something that happened on one of the session's websockets.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WsIncoming {
    /// Which websocket.
    pub id: u64,
    /// What happened.
    pub event: WsEvent,
    /// The message's share of the reader's in-flight bound, given back when the message is
    /// dropped (handled, or its session gone); `None` for the reader's last word.
    pub credit: Option<Credit>,
}

/// Sends a Socket.IO packet on the session.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct SocketEmit {
    /// The packet (its namespace names the socket).
    pub packet: SocketPacket,
}

/// Sends an event that asks for an ack and reports the answer.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct SocketEmitWithAck {
    /// The event (the session assigns its ack id).
    pub packet: SocketPacket,
    /// How long to wait for the answer.
    pub timeout: Duration,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<Payload, AckError>>,
}

/// Disconnects the socket of one namespace, if it is still the socket named.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct SocketDisconnect {
    /// The namespace.
    pub nsp: String,
    /// The socket id.
    pub socket_id: std::sync::Arc<str>,
}

/// Closes the whole session.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct CloseSession {
    /// The reason given to every socket's disconnect handler.
    pub reason: DisconnectReason,
}

/// Adds a socket to a room; answers with the number of buffered events replayed to it.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct SocketJoin {
    /// The socket's namespace.
    pub nsp: String,
    /// The socket id (a socket that left meanwhile is not joined).
    pub socket_id: std::sync::Arc<str>,
    /// The room.
    pub room: String,
    /// The field set to take in the room, if the join names one (`None`: a member keeps
    /// the set it has).
    pub fields: Option<crate::fields::FieldsUpdate>,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<usize, JoinError>>,
}

/// Changes the field set of a socket in one of its rooms.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct SocketSetFields {
    /// The socket's namespace.
    pub nsp: String,
    /// The socket id.
    pub socket_id: std::sync::Arc<str>,
    /// The room.
    pub room: String,
    /// The change.
    pub update: crate::fields::FieldsUpdate,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<(), crate::fields::FieldsError>>,
}

/// Removes a socket from a room; answers once the membership no longer has it there.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct SocketLeave {
    /// The socket's namespace.
    pub nsp: String,
    /// The socket id.
    pub socket_id: std::sync::Arc<str>,
    /// The room.
    pub room: String,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<(), NotConnected>>,
}

/// The rooms of the socket of one namespace.
#[derive(Message)]
#[rtype(result = "Vec<String>")]
pub(crate) struct SocketRooms {
    /// The socket's namespace.
    pub nsp: String,
}

/// Asks a session to tell the RoomSupervisor every socket and room it has (after the
/// supervisor restarted).
#[derive(Message)]
#[rtype(result = "()")]
pub struct AnnounceMembership;
