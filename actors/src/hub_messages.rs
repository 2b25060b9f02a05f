//! The plain-data messages of the hub's singleton actors (those that carry no actor
//! address): broadcasts and what they did, and the state a socket leaves for recovery.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::prelude::*;
use serde_json::{Map, Value};
use siohub_protocol::Payload;

use crate::delivery::AckReports;
use crate::recovery_store::RemoteMissed;
use crate::target::Target;

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
    pub socket_id: String,
    /// The namespace.
    pub nsp: String,
    /// Its rooms.
    pub rooms: HashSet<String>,
    /// Its field sets, in the rooms where it has one.
    pub fields: std::collections::BTreeMap<String, crate::fields::FieldSet>,
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

/// A preserved socket handed to a recovering client, with the offset it last saw (the
/// events after it are replayed once the socket is back in its rooms).
#[derive(Debug, Clone)]
pub struct Recovered {
    /// The preserved state.
    pub socket: PreservedSocket,
    /// The last offset the client saw (in this node's local log).
    pub offset: u64,
    /// What the shared recovery store says it missed, when it was recovered from there
    /// (then `offset` is unused).
    pub remote: Option<Arc<RemoteMissed>>,
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
