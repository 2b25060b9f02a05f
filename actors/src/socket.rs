//! The handle server code holds for one Socket.IO socket, and what comes with it: the
//! handshake details, per-socket data, the ack sender and disconnect reasons.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use actix::Addr;
use futures::channel::oneshot;
use serde_json::{Map, Value};
use siohub_protocol::{Payload, SocketPacket};

use crate::disconnect_reason::DisconnectReason;
use crate::error::AckError;
use crate::fields::{FieldsError, FieldsUpdate};
use crate::hub_error::{JoinError, NotConnected};
use crate::hub_handle::Hub;
use crate::messages::{
    CloseSession, SocketDisconnect, SocketEmit, SocketEmitWithAck, SocketJoin, SocketLeave,
    SocketRooms, SocketSetFields,
};
use crate::session::{capture_request, session_task, Request, Session, SessionAddr};

/// Request headers kept in one string (`name:value` lines): one allocation per session
/// instead of two per header, for data that is read rarely.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderList {
    joined: String,
}

impl HeaderList {
    /// Keeps these (name, value) pairs; names are lower-cased.
    pub fn from_pairs<'a, I>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
        I::IntoIter: Clone,
    {
        let pairs = pairs
            .into_iter()
            .filter(|(name, value)| !name.contains([':', '\n']) && !value.contains('\n'));
        // Sized once: one allocation, no growth.
        let size = pairs.clone().map(|(k, v)| k.len() + v.len() + 2).sum();
        let mut joined = String::with_capacity(size);
        for (name, value) in pairs {
            joined.extend(name.chars().map(|c| c.to_ascii_lowercase()));
            joined.push(':');
            joined.push_str(value);
            joined.push('\n');
        }
        HeaderList { joined }
    }

    /// Every (name, value), in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.joined.lines().filter_map(|line| line.split_once(':'))
    }

    /// The first value of a header (case-insensitive name).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// Request headers that carry a client's credentials (an access token, an API key, a
/// session cookie): never shown to anyone else, operators included.
pub const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
];

/// Query parameters that carry a client's credentials (`?token=`, which the hub accepts as
/// an access token): never shown to anyone else.
pub const CREDENTIAL_QUERY_PARAMS: &[&str] = &["token"];

/// What the client sent when it opened its Engine.IO session.
#[derive(Debug, Clone)]
pub struct HandshakeInfo {
    /// The request headers.
    pub headers: HeaderList,
    /// The peer address (`ip:port`), or an empty string when unknown.
    pub address: String,
    /// The request path and query (the query string is [`HandshakeInfo::query`]).
    pub url: String,
    /// When the session was opened.
    pub issued: SystemTime,
    /// Whether the connection was over TLS.
    pub secure: bool,
}

impl HandshakeInfo {
    /// The value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// The raw query string: what follows the first `?` of the url (kept once, in the
    /// url: every connection holds its handshake).
    pub fn query(&self) -> &str {
        self.url.split_once('?').map_or("", |(_, query)| query)
    }

    /// The value of a query parameter (not percent-decoded).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query().split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }
}

/// Per-socket data: a JSON object any handler or middleware can read and write.
pub type SocketData = Arc<Mutex<Map<String, Value>>>;

/// What a connect middleware sees of a CONNECT request.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    /// The namespace asked for.
    pub nsp: String,
    /// The CONNECT auth payload (`{}` when none).
    pub auth: Value,
    /// The Engine.IO session's handshake.
    pub handshake: Arc<HandshakeInfo>,
    /// The data the socket will carry; a middleware may fill it in.
    pub data: SocketData,
    /// The hub's counters, for a middleware to count what it refuses.
    pub counters: Arc<crate::stats::HubCounters>,
    /// Events to send before the CONNECT reply (see [`ConnectRequest::emit_before_connect`]).
    pub(crate) early: EarlyEmits,
}

/// Events a middleware emits before the CONNECT reply.
pub(crate) type EarlyEmits = Arc<Mutex<Vec<SocketPacket>>>;

impl ConnectRequest {
    /// Emits an event to the client ahead of the CONNECT reply, as a reference server's
    /// middleware may (`socket.emit` in `io.use`): the client keeps it and delivers it once
    /// connected. Nothing is sent if the CONNECT is refused.
    pub fn emit_before_connect(&self, event: &str, args: Value) {
        let args = match args {
            Value::Array(items) => items,
            other => vec![other],
        };
        let packet = SocketPacket::event_with_payload(&self.nsp, event, Payload::new(args));
        self.early
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(packet);
    }
}

/// A handle on one connected socket. Cheap to clone; every method is a message to the
/// socket's session actor, so it may be used from any thread.
#[derive(Clone)]
pub struct Socket {
    inner: Arc<SocketInner>,
}

struct SocketInner {
    id: Arc<str>,
    /// Shared with the session's map of joined namespaces.
    nsp: Arc<str>,
    session_id: Arc<str>,
    session: SessionAddr,
    handshake: Arc<HandshakeInfo>,
    data: SocketData,
    hub: Hub,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.inner.id)
            .field("nsp", &self.inner.nsp)
            .finish_non_exhaustive()
    }
}

impl Socket {
    pub(crate) fn new(
        id: Arc<str>,
        nsp: Arc<str>,
        session_id: Arc<str>,
        session: SessionAddr,
        handshake: Arc<HandshakeInfo>,
        data: SocketData,
        hub: Hub,
    ) -> Self {
        Socket {
            inner: Arc::new(SocketInner {
                id,
                nsp,
                session_id,
                session,
                handshake,
                data,
                hub,
            }),
        }
    }

    /// The hub: broadcasts, rooms, connections.
    pub fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    /// The authenticated user (`data.user`, set by authentication), if any.
    pub fn user(&self) -> Option<String> {
        match self.data("user") {
            Some(Value::String(user)) => Some(user),
            _ => None,
        }
    }

    /// Joins a room (asked at once, whether or not the future is awaited); resolves, once
    /// the socket is a member and the room's buffered events are written to it, to their
    /// number, or to [`JoinError::TooManyRooms`] when the socket is in
    /// `max_rooms_per_socket` rooms.
    pub fn join(&self, room: &str) -> impl Future<Output = Result<usize, JoinError>> + 'static {
        let (reply, answer) = oneshot::channel();
        let join = SocketJoin {
            nsp: self.inner.nsp.to_string(),
            socket_id: self.inner.id.clone(),
            room: room.to_owned(),
            fields: None,
            reply,
        };
        if let Some(Request::Join(join)) = capture_request(self.session_id(), Request::Join(join)) {
            self.inner.session.do_send(join);
        }
        async move { answer.await.unwrap_or(Err(JoinError::NotConnected)) }
    }

    /// Joins a room as [`Socket::join`] does, taking the field set `update` names in it
    /// (see [`crate::fields`]): a member already in the room changes its set. Resolves to
    /// [`JoinError::Fields`] when the room has no room for another set (the socket is then
    /// not joined, or keeps the set it had).
    pub fn join_with_fields(
        &self,
        room: &str,
        update: FieldsUpdate,
    ) -> impl Future<Output = Result<usize, JoinError>> + 'static {
        let (reply, answer) = oneshot::channel();
        let join = SocketJoin {
            nsp: self.inner.nsp.to_string(),
            socket_id: self.inner.id.clone(),
            room: room.to_owned(),
            fields: Some(update),
            reply,
        };
        if let Some(Request::Join(join)) = capture_request(self.session_id(), Request::Join(join)) {
            self.inner.session.do_send(join);
        }
        async move { answer.await.unwrap_or(Err(JoinError::NotConnected)) }
    }

    /// Changes the field set of the socket in one of its rooms (asked at once); resolves
    /// once broadcasts resolved later see the new set.
    pub fn set_fields(
        &self,
        room: &str,
        update: FieldsUpdate,
    ) -> impl Future<Output = Result<(), FieldsError>> + 'static {
        let (reply, answer) = oneshot::channel();
        let set = SocketSetFields {
            nsp: self.inner.nsp.to_string(),
            socket_id: self.inner.id.clone(),
            room: room.to_owned(),
            update,
            reply,
        };
        let request = capture_request(self.session_id(), Request::SetFields(set));
        if let Some(Request::SetFields(set)) = request {
            self.inner.session.do_send(set);
        }
        async move { answer.await.unwrap_or(Err(FieldsError::NotConnected)) }
    }

    /// Leaves a room (asked at once); resolves once no later broadcast to the room reaches
    /// the socket.
    pub fn leave(&self, room: &str) -> impl Future<Output = Result<(), NotConnected>> + 'static {
        let (reply, answer) = oneshot::channel();
        let leave = SocketLeave {
            nsp: self.inner.nsp.to_string(),
            socket_id: self.inner.id.clone(),
            room: room.to_owned(),
            reply,
        };
        let request = capture_request(self.session_id(), Request::Leave(leave));
        if let Some(Request::Leave(leave)) = request {
            self.inner.session.do_send(leave);
        }
        async move { answer.await.unwrap_or(Err(NotConnected)) }
    }

    /// Runs `task` inside this socket's session when called from one of the session's
    /// handlers (or from a task it runs): what the task asks of the session (joins, emits,
    /// acks) is applied there directly, without a message to itself. Called from anywhere
    /// else, the task runs on its own on the current arbiter.
    pub fn run_in_session(&self, task: impl Future<Output = ()> + 'static) {
        if let Some(Request::Task(task)) = capture_request(self.session_id(), session_task(task)) {
            actix::spawn(task);
        }
    }

    /// The rooms the socket is in, sorted.
    pub async fn rooms(&self) -> Vec<String> {
        self.inner
            .session
            .send(SocketRooms {
                nsp: self.inner.nsp.to_string(),
            })
            .await
            .unwrap_or_default()
    }

    /// The socket id the client sees as `socket.id`.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The namespace the socket joined.
    pub fn nsp(&self) -> &str {
        &self.inner.nsp
    }

    /// The namespace, shared (the session keys its joined sockets by it).
    pub(crate) fn nsp_shared(&self) -> Arc<str> {
        self.inner.nsp.clone()
    }

    /// The Engine.IO session id (shared by the sockets of one connection).
    pub fn session_id(&self) -> &str {
        &self.inner.session_id
    }

    /// The handshake of the underlying connection.
    pub fn handshake(&self) -> &HandshakeInfo {
        &self.inner.handshake
    }

    /// The session actor that owns this socket.
    pub fn session(&self) -> &Addr<Session> {
        &self.inner.session
    }

    /// One value of the per-socket data.
    pub fn data(&self, key: &str) -> Option<Value> {
        self.lock_data().get(key).cloned()
    }

    /// Sets one value of the per-socket data.
    pub fn set_data(&self, key: &str, value: Value) {
        self.lock_data().insert(key.to_owned(), value);
    }

    /// All of the per-socket data.
    pub fn data_snapshot(&self) -> Map<String, Value> {
        self.lock_data().clone()
    }

    fn lock_data(&self) -> std::sync::MutexGuard<'_, Map<String, Value>> {
        // A handler that panicked while holding the lock leaves plain JSON behind; use it.
        self.inner.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Emits `event` with plain JSON arguments: an array is spread, anything else is one
    /// argument.
    pub fn emit(&self, event: &str, args: Value) {
        let args = match args {
            Value::Array(items) => items,
            other => vec![other],
        };
        self.emit_payload(event, Payload::new(args));
    }

    /// Emits `event` with arguments that may carry binary attachments.
    pub fn emit_payload(&self, event: &str, payload: Payload) {
        let admin = self.inner.hub.admin();
        admin.event(
            false,
            &self.inner.nsp,
            Some(&self.inner.id),
            event,
            &payload,
        );
        let packet = SocketPacket::event_with_payload(&self.inner.nsp, event, payload);
        // Inside one of this session's handlers the session writes it as the handler returns.
        let request = capture_request(&self.inner.session_id, Request::Emit(packet));
        if let Some(Request::Emit(packet)) = request {
            self.inner.session.do_send(SocketEmit { packet });
        }
    }

    /// Emits `event` and waits for the client's ack, at most `timeout`.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        payload: Payload,
        timeout: Duration,
    ) -> Result<Payload, AckError> {
        let (reply, answer) = oneshot::channel();
        let packet = SocketPacket::event_with_payload(&self.inner.nsp, event, payload);
        self.inner.session.do_send(SocketEmitWithAck {
            packet,
            timeout,
            reply,
        });
        answer.await.unwrap_or(Err(AckError::Disconnected))
    }

    /// Disconnects this socket from its namespace; the connection stays open for others.
    pub fn disconnect(&self) {
        self.inner.session.do_send(SocketDisconnect {
            nsp: self.inner.nsp.to_string(),
            socket_id: self.inner.id.clone(),
        });
    }

    /// Closes the whole connection (every namespace of it).
    pub fn close_connection(&self) {
        self.inner.session.do_send(CloseSession {
            reason: DisconnectReason::ForcedClose,
        });
    }
}

/// Answers one client event that asked for an ack. Dropping it without sending leaves the
/// client waiting, as in the reference server.
#[derive(Debug)]
pub struct AckSender {
    pub(crate) session: SessionAddr,
    /// The Engine.IO session id (to tell whether the session is running a handler here).
    pub(crate) session_id: Arc<str>,
    pub(crate) nsp: String,
    pub(crate) id: u64,
}

impl AckSender {
    /// Sends the ack with these arguments (binary attachments included).
    pub fn send(self, payload: Payload) {
        let packet = SocketPacket::ack(&self.nsp, self.id, payload);
        if let Some(Request::Emit(packet)) =
            capture_request(&self.session_id, Request::Emit(packet))
        {
            self.session.do_send(SocketEmit { packet });
        }
    }

    /// Sends the ack with plain JSON arguments: an array is spread, anything else is one
    /// argument.
    pub fn send_json(self, args: Value) {
        let args = match args {
            Value::Array(items) => items,
            other => vec![other],
        };
        self.send(Payload::new(args));
    }
}
