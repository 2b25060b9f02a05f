//! The typed messages sessions receive: from HTTP handlers, from their websocket transport,
//! and from socket handles.

use actix::prelude::*;
use bytes::Bytes;
use futures::channel::oneshot;
use siohub_protocol::{EnginePacket, Payload, ProtocolError, SocketPacket};
use std::time::Duration;

use crate::error::{AckError, EngineError};
use crate::socket::DisconnectReason;
use crate::ws_transport::WsTransport;

/// How a polling GET is answered.
#[derive(Debug)]
pub enum PollOutcome {
    /// Packets were waiting: here is the body.
    Ready(String),
    /// Nothing yet: the body arrives on this channel (closed channel = session gone).
    Pending(oneshot::Receiver<String>),
}

/// A polling GET arrived.
#[derive(Message)]
#[rtype(result = "Result<PollOutcome, EngineError>")]
pub struct Poll;

/// The client went away while its GET was pending.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PollAborted;

/// A polling POST arrived; its body is still being read.
#[derive(Message)]
#[rtype(result = "Result<(), EngineError>")]
pub struct BeginPost;

/// The body of the POST announced by [`BeginPost`], decoded (or the reason it did not).
#[derive(Message)]
#[rtype(result = "()")]
pub struct EndPost {
    /// The packets, or the decode error that closes the session.
    pub packets: Result<Vec<EnginePacket>, ProtocolError>,
}

/// A websocket opened without a sid: it becomes the session's transport.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AttachWebSocket {
    /// The transport actor.
    pub ws: Addr<WsTransport>,
    /// Its id, which tags the frames it forwards.
    pub id: u64,
}

/// A websocket opened with this session's sid: it wants to take over from polling.
#[derive(Message)]
#[rtype(result = "Result<(), EngineError>")]
pub struct BeginUpgrade {
    /// The transport actor being probed.
    pub ws: Addr<WsTransport>,
    /// Its id, which tags the frames it forwards.
    pub id: u64,
}

/// A frame from a websocket transport, decoded.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WsIncoming {
    /// Which transport sent it.
    pub id: u64,
    /// The packet, or why it did not decode.
    pub packet: Result<EnginePacket, ProtocolError>,
}

/// A websocket transport closed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WsClosed {
    /// Which transport.
    pub id: u64,
}

/// A frame for the websocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsFrame {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Bytes),
}

impl WsFrame {
    /// The frame carrying one Engine.IO packet.
    pub fn from_packet(packet: EnginePacket) -> Self {
        match packet {
            EnginePacket::Binary(data) => WsFrame::Binary(data),
            other => WsFrame::Text(other.encode_text().unwrap_or_default()),
        }
    }
}

/// Frames for a websocket transport to write, in order.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WsSend(pub Vec<WsFrame>);

/// Tells a websocket transport to close.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WsClose;

/// Sends a Socket.IO packet on the session.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SocketEmit {
    /// The packet (its namespace names the socket).
    pub packet: SocketPacket,
}

/// Sends an event that asks for an ack and reports the answer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SocketEmitWithAck {
    /// The event (the session assigns its ack id).
    pub packet: SocketPacket,
    /// How long to wait for the answer.
    pub timeout: Duration,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<Payload, AckError>>,
}

/// Disconnects the socket of one namespace.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SocketDisconnect {
    /// The namespace.
    pub nsp: String,
}

/// Closes the whole session.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CloseSession {
    /// The reason given to every socket's disconnect handler.
    pub reason: DisconnectReason,
}
