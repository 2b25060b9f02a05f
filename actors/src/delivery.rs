//! What the Broadcaster and the RoomSupervisor hand a session: encoded events addressed to
//! one socket by its id, acks asked of it, and the events replayed to it when it joins a
//! room or is recovered. Plain data: these messages carry no actor address.
//!
//! A delivery names the socket by its id (an `Arc<str>` the membership holds already) as
//! well as by its namespace: the session finds the socket by namespace and drops the
//! delivery when the socket there now has another id (it left and joined again), so an
//! event resolved for an old socket never reaches a new one.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures::channel::mpsc;
use siohub_protocol::Payload;

use crate::error::AckError;
use crate::wire_frame::Frames;

/// An encoded event for one socket of a session.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct Deliver {
    /// The namespace of the socket.
    pub nsp: Arc<str>,
    /// The socket's id.
    pub socket_id: Arc<str>,
    /// The frames, shared with every other recipient.
    pub frames: Frames,
    /// Whether the event may be dropped when the socket's buffer is full.
    pub volatile: bool,
}

/// Several encoded events for one socket of a session, in order.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DeliverBatch {
    /// The namespace of the socket.
    pub nsp: Arc<str>,
    /// The socket's id.
    pub socket_id: Arc<str>,
    /// The events: frames, and whether each may be dropped when the buffer is full
    /// (shared by every recipient of the run).
    pub events: Arc<[(Frames, bool)]>,
}

/// How one recipient of a broadcast with acks answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckReport {
    /// The socket id.
    pub socket_id: Arc<str>,
    /// Its ack arguments, or why there are none.
    pub result: Result<Payload, AckError>,
}

/// Where the recipients of one broadcast with acks report (one report each).
pub type AckReports = mpsc::UnboundedSender<AckReport>;

/// An encoded event that asks for an ack, for one socket: the session waits for ack id
/// `ack_id` on that socket and reports the answer (or a timeout, or the disconnect) to
/// `reports`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DeliverWithAck {
    /// The namespace of the socket.
    pub nsp: Arc<str>,
    /// The socket's id (what its report carries).
    pub socket_id: Arc<str>,
    /// The frames (carrying `ack_id`), shared with every other recipient.
    pub frames: Frames,
    /// The ack id every recipient shares.
    pub ack_id: u64,
    /// How long to wait for the answer.
    pub timeout: Duration,
    /// Where the answer goes.
    pub reports: AckReports,
}

/// What a socket is handed when it joins rooms or is recovered: the buffered (or logged)
/// events resolved without it, oldest first. Everything broadcast later reaches it live.
#[derive(Debug, Clone, Default)]
pub struct Replayed {
    /// The events.
    pub frames: Vec<Frames>,
    /// Why a join with a field set was refused (the socket was not joined).
    pub refused: Option<crate::fields::FieldsError>,
}

/// Where a join's or a recovery's replay is answered.
pub type ReplayReply = futures::channel::oneshot::Sender<Replayed>;
