//! The Socket.IO layer of a session: namespace joins (with middleware and connection state
//! recovery), events and acks in both directions, rooms, deliveries from the broadcaster,
//! server-side disconnects, and the rules that close a misbehaving connection.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use actix::prelude::*;
use bytes::Bytes;
use futures::channel::oneshot;
use serde_json::{json, Map, Value};
use siohub_protocol::{Decoded, Payload, ProtocolError, SocketDecoder, SocketPacket, SocketType};

use super::small_map::SmallMap;
use super::{App, Session};
use crate::config::EngineConfig;
use crate::connection_manager::SocketMeta;
use crate::error::AckError;
use crate::hub::Hub;
use crate::hub_messages::{
    AckReport, AckReports, AnnounceMembership, Deliver, DeliverBatch, DeliverWithAck,
    PreservedSocket, Recover, Recovered,
};
use crate::ids::next_ack_id;
use crate::messages::{
    CloseSession, SocketDisconnect, SocketEmit, SocketEmitWithAck, SocketJoin, SocketLeave,
    SocketRooms,
};
use crate::namespace::{ConnectRefusal, Namespace, Namespaces};
use crate::policy::{user_room, DeliveryPolicy};
use crate::room_table::RoomBuffering;
use crate::socket::{AckSender, ConnectRequest, DisconnectReason, Socket, SocketData};
use crate::stats::RefusalReason;
use crate::wire_frame::socket_packet_frames;

/// One joined namespace.
struct SocketState {
    socket: Socket,
    namespace: Arc<Namespace>,
    delivery: Arc<DeliveryPolicy>,
    /// The private id of connection state recovery, when the namespace has it on.
    pid: Option<String>,
    rooms: BTreeSet<String>,
    /// Server → client acks waiting for an answer, with their timeout timers. Ids come
    /// from the process-wide counter ([`next_ack_id`]).
    acks: HashMap<u64, (AckWaiter, SpawnHandle)>,
}

/// Who waits for a server → client ack.
enum AckWaiter {
    /// One `emit_with_ack` of server code.
    One(oneshot::Sender<Result<Payload, AckError>>),
    /// One recipient of a broadcast with acks: reports with its socket id.
    Broadcast { sid: Arc<str>, reports: AckReports },
}

impl AckWaiter {
    fn answer(self, result: Result<Payload, AckError>) {
        match self {
            AckWaiter::One(reply) => {
                let _ = reply.send(result);
            }
            AckWaiter::Broadcast { sid, reports } => {
                let _ = reports.unbounded_send(AckReport { sid, result });
            }
        }
    }
}

/// The Socket.IO state of a session.
pub(super) struct SocketLayer {
    namespaces: Arc<Namespaces>,
    decoder: SocketDecoder,
    sockets: SmallMap<SocketState>,
    /// Namespaces whose CONNECT is waiting for middleware or recovery.
    connecting: HashSet<String>,
    /// Live deliveries for a socket being recovered (the broadcaster put it back in its rooms
    /// already), held until its CONNECT reply and missed events are out.
    held: HashMap<String, Vec<Deliver>>,
    connect_timeout: Duration,
    /// Whether a namespace was ever joined: the connect timeout is for a first CONNECT only
    /// (a client that leaves its last namespace and joins another later is not idle).
    joined_once: bool,
    /// The deadline of the binary packet waiting for its attachments, if one waits.
    attachment_timer: Option<SpawnHandle>,
}

/// How a CONNECT ended: refused, accepted, or accepted as a recovered socket.
type Verdict = Result<Option<Recovered>, ConnectRefusal>;

impl SocketLayer {
    pub(super) fn new(namespaces: Arc<Namespaces>, config: &EngineConfig) -> Self {
        SocketLayer {
            namespaces,
            decoder: SocketDecoder::new(config.max_attachments)
                .with_max_attachment_bytes(config.max_attachment_bytes),
            sockets: SmallMap::default(),
            connecting: HashSet::new(),
            held: HashMap::new(),
            connect_timeout: config.connect_timeout,
            joined_once: false,
            attachment_timer: None,
        }
    }

    /// Closes the connection if no namespace is joined within the connect timeout.
    pub(super) fn start_connect_timer(&self, ctx: &mut Context<Session>) {
        ctx.run_later(self.connect_timeout, |act, ctx| {
            if let App::SocketIo(layer) = &act.app {
                if !layer.joined_once {
                    crate::limited!(
                        info,
                        "session {}: no namespace joined in time; closing",
                        act.sid
                    );
                    act.close(DisconnectReason::ForcedClose, ctx);
                }
            }
        });
    }

    /// Tells every socket that the connection is gone.
    pub(super) fn close_all(
        &mut self,
        reason: DisconnectReason,
        hub: &Hub,
        ctx: &mut Context<Session>,
    ) {
        self.connecting.clear();
        self.held.clear();
        for (_, state) in self.sockets.drain() {
            finish_socket(state, reason, hub, ctx);
        }
    }

    fn socket_metas(&self) -> Vec<SocketMeta> {
        self.sockets
            .values()
            .map(|s| SocketMeta {
                nsp: s.socket.nsp().to_owned(),
                id: s.socket.id().to_owned(),
                user: s.socket.user(),
                rooms: s.rooms.iter().cloned().collect(),
            })
            .collect()
    }
}

/// Whether a disconnect was caused by the transport (so the socket may be recovered).
fn recoverable(reason: DisconnectReason) -> bool {
    matches!(
        reason,
        DisconnectReason::TransportClose
            | DisconnectReason::TransportError
            | DisconnectReason::PingTimeout
            | DisconnectReason::ServerShuttingDown
            | DisconnectReason::SlowConsumer
    )
}

/// Forgets a socket's rooms, keeps it for recovery if it may come back, fails its pending
/// acks and runs its disconnect handler.
fn finish_socket(
    state: SocketState,
    reason: DisconnectReason,
    hub: &Hub,
    ctx: &mut Context<Session>,
) {
    let nsp = state.socket.nsp().to_owned();
    let sid: Arc<str> = state.socket.id().into();
    hub.remove_socket(&nsp, sid, state.rooms.iter().cloned().collect());
    if let Some(pid) = &state.pid {
        if recoverable(reason) {
            hub.preserve(
                pid.clone(),
                PreservedSocket {
                    sid: state.socket.id().to_owned(),
                    nsp,
                    rooms: state.rooms.iter().cloned().collect(),
                    data: state.socket.data_snapshot(),
                    at: SystemTime::now(),
                },
            );
        }
    }
    for (_, (waiter, timer)) in state.acks {
        ctx.cancel_future(timer);
        waiter.answer(Err(AckError::Disconnected));
    }
    if let Some(handler) = &state.namespace.on_disconnect {
        guarded("disconnect handler", || handler(&state.socket, reason));
    }
}

/// Runs user code; a panic in it is logged and goes no further than this call.
fn guarded(what: &str, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        log::error!("a {what} panicked; the connection carries on");
    }
}

/// The socket data keys that say who the socket is; a recovery never restores them.
const IDENTITY_KEYS: [&str; 2] = ["user", "roles"];

/// The `pid` and `offset` a client sends to recover its socket, if both are strings.
fn recovery_request(auth: &Value) -> Option<(String, String)> {
    let pid = auth.get("pid")?.as_str()?;
    let offset = auth.get("offset")?.as_str()?;
    Some((pid.to_owned(), offset.to_owned()))
}

impl Session {
    fn layer(&mut self) -> &mut SocketLayer {
        match &mut self.app {
            App::SocketIo(layer) => layer,
            App::Echo => unreachable!("the Socket.IO layer is only reached on Socket.IO sessions"),
        }
    }

    fn layer_ref(&self) -> Option<&SocketLayer> {
        match &self.app {
            App::SocketIo(layer) => Some(layer),
            App::Echo => None,
        }
    }

    fn publish_socket_metas(&self) {
        if let Some(layer) = self.layer_ref() {
            self.meta.set_sockets(layer.socket_metas());
        }
    }

    /// A text message: a Socket.IO packet, or the header of a binary one.
    pub(super) fn on_socket_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        let decoded = self.layer().decoder.feed_text(text);
        self.on_decoded(decoded, ctx);
    }

    /// A binary message: the next attachment of a binary packet.
    pub(super) fn on_socket_binary(&mut self, data: Bytes, ctx: &mut Context<Self>) {
        let decoded = self.layer().decoder.feed_binary(data);
        self.on_decoded(decoded, ctx);
    }

    fn on_decoded(&mut self, decoded: Result<Decoded, ProtocolError>, ctx: &mut Context<Self>) {
        match decoded {
            Ok(Decoded::Packet(packet)) => {
                self.stop_attachment_timer(ctx);
                self.on_socket_packet(packet, ctx)
            }
            Ok(Decoded::NeedAttachments(_)) => self.start_attachment_timer(ctx),
            Err(e) => {
                self.stop_attachment_timer(ctx);
                if matches!(e, ProtocolError::AttachmentsTooLarge { .. }) {
                    self.hub.counters().refused(RefusalReason::AttachmentBytes);
                }
                crate::limited!(
                    warn,
                    "session {}: malformed Socket.IO packet: {}; closing",
                    self.sid,
                    crate::ClientText(&e.to_string())
                );
                self.close(DisconnectReason::ParseError, ctx);
            }
        }
    }

    /// Gives the binary packet just announced `attachment_timeout` to bring all its
    /// buffers (from its header, not from each buffer: a client trickling them in would
    /// hold the bytes as long as it liked). Past it the connection is closed as for a
    /// malformed packet: the reference parser has no deadline, but closes the connection on
    /// every other attachment fault.
    fn start_attachment_timer(&mut self, ctx: &mut Context<Self>) {
        if self.layer().attachment_timer.is_some() {
            return;
        }
        let timer = ctx.run_later(self.config.attachment_timeout, |act, ctx| {
            let App::SocketIo(layer) = &mut act.app else {
                return;
            };
            layer.attachment_timer = None;
            if act.closing || !layer.decoder.is_reconstructing() {
                return;
            }
            let held = layer.decoder.pending_bytes();
            act.hub.counters().refused(RefusalReason::AttachmentTimeout);
            log::warn!(
                "session {}: a binary packet still lacks attachments after {:?} ({held} bytes \
                 held); closing",
                act.sid,
                act.config.attachment_timeout
            );
            act.close(DisconnectReason::ParseError, ctx);
        });
        self.layer().attachment_timer = Some(timer);
    }

    fn stop_attachment_timer(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.layer().attachment_timer.take() {
            ctx.cancel_future(timer);
        }
    }

    fn on_socket_packet(&mut self, packet: SocketPacket, ctx: &mut Context<Self>) {
        let joined = self.layer().sockets.contains_key(&packet.nsp);
        let connecting = self.layer().connecting.contains(&packet.nsp);
        match packet.kind {
            SocketType::Connect if !joined && !connecting => self.on_connect(packet, ctx),
            SocketType::Connect | SocketType::ConnectError => self.invalid_state(
                &packet,
                "CONNECT to a namespace already joined, or a CONNECT_ERROR from the client",
                ctx,
            ),
            _ if !joined => self.invalid_state(&packet, "packet for a namespace not joined", ctx),
            SocketType::Disconnect => {
                if let Some(state) = self.layer().sockets.remove(&packet.nsp) {
                    let hub = self.hub.clone();
                    finish_socket(
                        state,
                        DisconnectReason::ClientNamespaceDisconnect,
                        &hub,
                        ctx,
                    );
                    self.publish_socket_metas();
                }
            }
            SocketType::Event | SocketType::BinaryEvent => self.on_event(packet, ctx),
            SocketType::Ack | SocketType::BinaryAck => self.on_ack(packet, ctx),
        }
    }

    fn invalid_state(&mut self, packet: &SocketPacket, why: &str, ctx: &mut Context<Self>) {
        crate::limited!(
            warn,
            "session {}: {why} (type {:?}, namespace {}); closing",
            self.sid,
            packet.kind,
            crate::ClientText(&packet.nsp)
        );
        self.close(DisconnectReason::ForcedClose, ctx);
    }

    fn send_socket_packet(&mut self, packet: SocketPacket, ctx: &mut Context<Self>) {
        let frames = socket_packet_frames(&packet);
        let bytes = frames.iter().map(|f| f.len()).sum();
        self.hub.counters().sent(frames.len(), bytes);
        self.send_frames(&frames, false, ctx);
    }

    fn on_connect(&mut self, packet: SocketPacket, ctx: &mut Context<Self>) {
        let nsp = packet.nsp;
        if !self.namespace_allowed(&nsp, ctx) {
            return;
        }
        let Some(namespace) = self.layer().namespaces.resolve(&nsp) else {
            crate::limited!(
                info,
                "session {}: CONNECT to unknown namespace {}",
                self.sid,
                crate::ClientText(&nsp)
            );
            let refusal = SocketPacket::connect_error(&nsp, "Invalid namespace", None);
            self.send_socket_packet(refusal, ctx);
            return;
        };
        let auth = packet.data.unwrap_or_else(|| json!({}));
        let data: SocketData = Arc::new(Mutex::new(Map::new()));
        let delivery = self.hub.policies().of(&nsp);
        let recovery = (!delivery.recovery.is_zero())
            .then(|| recovery_request(&auth))
            .flatten();
        if namespace.middleware.is_empty() && recovery.is_none() {
            self.finish_connect(nsp, namespace, auth, data, Ok(None), ctx);
            return;
        }
        self.layer().connecting.insert(nsp.clone());
        if recovery.is_some() {
            self.layer().held.insert(nsp.clone(), Vec::new());
        }
        let session = ctx.address();
        let request = ConnectRequest {
            nsp: nsp.clone(),
            auth: auth.clone(),
            handshake: self.handshake.clone(),
            data: data.clone(),
            counters: self.hub.counters().clone(),
        };
        let chain = namespace.middleware.clone();
        let hub = self.hub.clone();
        let verdict = async move {
            for middleware in chain {
                middleware(request.clone()).await?;
            }
            Ok(match recovery {
                Some((pid, offset)) => {
                    hub.recover(Recover {
                        nsp: request.nsp,
                        pid,
                        offset,
                        session,
                    })
                    .await
                }
                None => None,
            })
        };
        ctx.spawn(
            verdict
                .into_actor(self)
                .map(move |verdict: Verdict, act, ctx| {
                    if act.closing || !act.layer().connecting.remove(&nsp) {
                        act.layer().held.remove(&nsp);
                        if let Ok(Some(recovered)) = &verdict {
                            // Recovered too late: undo the membership the broadcaster restored.
                            let socket = &recovered.socket;
                            let rooms = socket.rooms.iter().cloned().collect();
                            act.hub
                                .remove_socket(&nsp, socket.sid.as_str().into(), rooms);
                        }
                        return;
                    }
                    act.finish_connect(nsp, namespace, auth, data, verdict, ctx);
                }),
        );
    }

    /// Whether a recovered socket may be handed to this CONNECT: only when its middleware
    /// established the same user the socket had (none for none). A pid and an offset are
    /// not a credential for an identity: without a valid token for that user (an expired
    /// one, another user's, none at all) the client gets a fresh socket, not the old one's
    /// rooms, missed events and `user`. The membership the broadcaster restored is undone.
    fn keeps_identity(&mut self, nsp: &str, recovered: &Recovered, data: &SocketData) -> bool {
        let before = recovered.socket.data.get("user");
        let same = data.lock().unwrap_or_else(|e| e.into_inner()).get("user") == before;
        if !same {
            log::info!(
                "session {}: socket {} on {} not recovered: this CONNECT does not establish its user",
                self.sid,
                recovered.socket.sid,
                crate::ClientText(nsp)
            );
            let socket = &recovered.socket;
            let rooms = socket.rooms.iter().cloned().collect();
            self.hub
                .remove_socket(nsp, socket.sid.as_str().into(), rooms);
            self.layer().held.remove(nsp);
        }
        same
    }

    /// The bounds on namespaces, checked before any pattern is tried: a name over
    /// `max_namespace_name_bytes` closes the connection (no well-behaved client sends one,
    /// and a refusal would have to echo it back); a CONNECT while the connection holds
    /// `max_namespaces_per_connection` namespaces gets a CONNECT_ERROR, as an unknown
    /// namespace does, and the connection carries on.
    fn namespace_allowed(&mut self, nsp: &str, ctx: &mut Context<Self>) -> bool {
        let max_len = self.config.max_namespace_name_bytes;
        if nsp.len() > max_len {
            self.hub
                .counters()
                .refused(RefusalReason::NamespaceNameTooLong);
            crate::limited!(
                warn,
                "session {}: CONNECT to a namespace name of {} bytes (at most {max_len}), \
                 starting {}; closing",
                self.sid,
                nsp.len(),
                crate::ClientText(nsp)
            );
            self.close(DisconnectReason::ParseError, ctx);
            return false;
        }
        let max = self.config.max_namespaces_per_connection;
        let layer = self.layer();
        if layer.sockets.len() + layer.connecting.len() < max {
            return true;
        }
        self.hub
            .counters()
            .refused(RefusalReason::NamespacesPerConnection);
        crate::limited!(
            info,
            "session {}: CONNECT to {} refused: {max} namespaces joined already",
            self.sid,
            crate::ClientText(nsp)
        );
        let data = json!({ "code": "RATE_LIMIT_EXCEEDED", "max": max });
        let refusal =
            SocketPacket::connect_error(nsp, "too many namespaces on this connection", Some(data));
        self.send_socket_packet(refusal, ctx);
        false
    }

    fn finish_connect(
        &mut self,
        nsp: String,
        namespace: Arc<Namespace>,
        auth: Value,
        data: SocketData,
        verdict: Verdict,
        ctx: &mut Context<Self>,
    ) {
        let recovered = match verdict {
            Ok(recovered) => recovered,
            Err(refusal) => {
                crate::limited!(
                    info,
                    "session {}: CONNECT to {} refused: {}",
                    self.sid,
                    crate::ClientText(&nsp),
                    crate::ClientText(&refusal.message)
                );
                let packet = SocketPacket::connect_error(&nsp, &refusal.message, refusal.data);
                self.send_socket_packet(packet, ctx);
                self.layer().held.remove(&nsp);
                return;
            }
        };
        let recovered = recovered.filter(|r| self.keeps_identity(&nsp, r, &data));
        let delivery = self.hub.policies().of(&nsp);
        let was_recovered = recovered.is_some();
        let (id, pid, rooms, missed) = match recovered {
            Some(Recovered { socket, missed }) => {
                let mut fresh = data.lock().unwrap_or_else(|e| e.into_inner());
                for (key, value) in socket.data {
                    // Who the socket is comes from this CONNECT (its middleware), never
                    // from the record.
                    if !IDENTITY_KEYS.contains(&key.as_str()) {
                        fresh.entry(key).or_insert(value);
                    }
                }
                let pid = auth.get("pid").and_then(Value::as_str).map(String::from);
                (socket.sid, pid, socket.rooms.into_iter().collect(), missed)
            }
            None => {
                let pid = (!delivery.recovery.is_zero()).then(crate::random_id);
                (crate::random_id(), pid, BTreeSet::new(), Vec::new())
            }
        };
        let socket = Socket::new(
            id.clone(),
            nsp.clone(),
            self.sid.clone(),
            ctx.address(),
            self.handshake.clone(),
            data,
            self.hub.clone(),
        );
        let mut reply = json!({ "sid": id });
        if let Some(pid) = &pid {
            reply["pid"] = json!(pid);
        }
        self.send_socket_packet(SocketPacket::connect(&nsp, Some(reply)), ctx);
        let sid: Arc<str> = id.as_str().into();
        self.hub.add_socket(&nsp, sid.clone(), ctx.address());
        for room in &rooms {
            self.hub
                .join_room_quietly(&nsp, room, sid.clone(), ctx.address());
        }
        for frames in &missed {
            self.send_frames(frames, false, ctx);
        }
        for held in self.layer().held.remove(&nsp).unwrap_or_default() {
            self.send_frames(&held.frames, held.volatile, ctx);
        }
        if was_recovered {
            log::debug!(
                "session {}: socket {id} on {} recovered with {} rooms and {} missed events",
                self.sid,
                crate::ClientText(&nsp),
                rooms.len(),
                missed.len()
            );
        }
        let mut rooms = rooms;
        if let Some(user) = socket.user() {
            let room = user_room(&user);
            if rooms.insert(room.clone()) {
                // Joining the user room hands over the offline queue, if the policy has one.
                let buffering = RoomBuffering::for_user(&delivery);
                self.hub
                    .join_room(&nsp, &room, sid.clone(), ctx.address(), buffering);
            }
        }
        self.layer().joined_once = true;
        self.layer().sockets.insert(
            nsp,
            SocketState {
                socket: socket.clone(),
                namespace: namespace.clone(),
                delivery,
                pid,
                rooms,
                acks: HashMap::new(),
            },
        );
        self.publish_socket_metas();
        if let Some(handler) = &namespace.on_connect {
            guarded("connect handler", || handler(&socket, &auth));
        }
    }

    fn on_event(&mut self, packet: SocketPacket, ctx: &mut Context<Self>) {
        let Some(state) = self.layer().sockets.get(&packet.nsp) else {
            return;
        };
        let socket = state.socket.clone();
        let namespace = state.namespace.clone();
        let ack = packet.id.map(|id| AckSender {
            session: ctx.address(),
            nsp: packet.nsp.clone(),
            id,
        });
        let (event, payload) = packet.into_payload();
        self.hub.counters().event_received();
        if let Some(handler) = namespace.events.get(&event) {
            guarded("event handler", || handler(&socket, payload, ack));
        } else if let Some(handler) = &namespace.on_any {
            guarded("event handler", || handler(&socket, &event, payload, ack));
        }
    }

    fn on_ack(&mut self, packet: SocketPacket, ctx: &mut Context<Self>) {
        let Some(id) = packet.id else {
            crate::limited!(info, "session {}: ack without an id ignored", self.sid);
            return;
        };
        let Some(state) = self.layer().sockets.get_mut(&packet.nsp) else {
            return;
        };
        match state.acks.remove(&id) {
            Some((waiter, timer)) => {
                ctx.cancel_future(timer);
                let (_, payload) = packet.into_payload();
                waiter.answer(Ok(payload));
            }
            None => log::debug!("session {}: ack {id} is unknown or expired", self.sid),
        }
    }

    /// The socket of namespace `nsp`, if this is a Socket.IO session that joined it.
    fn joined_mut(&mut self, nsp: &str) -> Option<&mut SocketState> {
        if !self.socket_io() {
            return None;
        }
        self.layer().sockets.get_mut(nsp)
    }

    fn socket_io(&self) -> bool {
        matches!(self.app, App::SocketIo(_))
    }

    /// Registers `waiter` for ack `id` on the socket of `nsp`, answered with a timeout after
    /// `timeout`; gives the waiter back if there is no such socket.
    fn wait_for_ack(
        &mut self,
        nsp: &str,
        id: u64,
        waiter: AckWaiter,
        timeout: Duration,
        ctx: &mut Context<Self>,
    ) -> Result<(), AckWaiter> {
        if !self.socket_io() || self.closing || !self.layer().sockets.contains_key(nsp) {
            return Err(waiter);
        }
        let timer_nsp = nsp.to_owned();
        let timer = ctx.run_later(timeout, move |act, _ctx| {
            if let Some(state) = act.layer().sockets.get_mut(&timer_nsp) {
                if let Some((waiter, _)) = state.acks.remove(&id) {
                    waiter.answer(Err(AckError::Timeout));
                }
            }
        });
        if let Some(state) = self.layer().sockets.get_mut(nsp) {
            state.acks.insert(id, (waiter, timer));
        }
        Ok(())
    }
}

impl Handler<Deliver> for Session {
    type Result = ();

    fn handle(&mut self, msg: Deliver, ctx: &mut Context<Self>) {
        if !self.socket_io() {
            return;
        }
        let nsp: &str = &msg.nsp;
        if self.layer().sockets.contains_key(nsp) {
            self.send_frames(&msg.frames, msg.volatile, ctx);
        } else if let Some(held) = self.layer().held.get_mut(nsp) {
            held.push(msg);
        }
    }
}

impl Handler<DeliverBatch> for Session {
    type Result = ();

    fn handle(&mut self, msg: DeliverBatch, ctx: &mut Context<Self>) {
        let ready =
            self.socket_io() && !self.closing && self.layer().sockets.contains_key(&msg.nsp);
        if ready && self.push_events_bounded(&msg.events) {
            return;
        }
        for (frames, volatile) in msg.events.iter() {
            let one = Deliver {
                nsp: msg.nsp.clone(),
                frames: frames.clone(),
                volatile: *volatile,
            };
            <Self as Handler<Deliver>>::handle(self, one, ctx);
        }
    }
}

impl Handler<SocketEmit> for Session {
    type Result = ();

    fn handle(&mut self, msg: SocketEmit, ctx: &mut Context<Self>) {
        if self.socket_io() && self.layer().sockets.contains_key(&msg.packet.nsp) {
            self.send_socket_packet(msg.packet, ctx);
        }
    }
}

impl Handler<SocketEmitWithAck> for Session {
    type Result = ();

    fn handle(&mut self, msg: SocketEmitWithAck, ctx: &mut Context<Self>) {
        let id = next_ack_id();
        let nsp = msg.packet.nsp.clone();
        match self.wait_for_ack(&nsp, id, AckWaiter::One(msg.reply), msg.timeout, ctx) {
            Ok(()) => self.send_socket_packet(msg.packet.with_id(id), ctx),
            Err(waiter) => waiter.answer(Err(AckError::Disconnected)),
        }
    }
}

impl Handler<DeliverWithAck> for Session {
    type Result = ();

    fn handle(&mut self, msg: DeliverWithAck, ctx: &mut Context<Self>) {
        let waiter = AckWaiter::Broadcast {
            sid: msg.sid,
            reports: msg.reports,
        };
        match self.wait_for_ack(&msg.nsp, msg.ack_id, waiter, msg.timeout, ctx) {
            // A full outgoing buffer closes the session, which answers the waiter.
            Ok(()) => {
                self.send_frames(&msg.frames, false, ctx);
            }
            Err(waiter) => waiter.answer(Err(AckError::Disconnected)),
        }
    }
}

impl Handler<SocketDisconnect> for Session {
    type Result = ();

    fn handle(&mut self, msg: SocketDisconnect, ctx: &mut Context<Self>) {
        if !self.socket_io() {
            return;
        }
        if let Some(state) = self.layer().sockets.remove(&msg.nsp) {
            self.send_socket_packet(SocketPacket::disconnect(&msg.nsp), ctx);
            let hub = self.hub.clone();
            finish_socket(
                state,
                DisconnectReason::ServerNamespaceDisconnect,
                &hub,
                ctx,
            );
            self.publish_socket_metas();
        }
    }
}

impl Handler<SocketJoin> for Session {
    type Result = ();

    fn handle(&mut self, msg: SocketJoin, ctx: &mut Context<Self>) {
        let addr = ctx.address();
        let hub = self.hub.clone();
        let max = self.config.max_rooms_per_socket;
        let Some(state) = self.joined_mut(&msg.nsp) else {
            let _ = msg.reply.send(Err(crate::hub::HubError::NotConnected));
            return;
        };
        if state.rooms.len() >= max && !state.rooms.contains(&msg.room) {
            hub.counters().refused(RefusalReason::RoomsPerSocket);
            // A client can ask again and again, in a namespace name of its own choosing.
            crate::limited!(
                info,
                "socket {} on {}: join refused: in {max} rooms already",
                state.socket.id(),
                crate::ClientText(&msg.nsp)
            );
            let _ = msg
                .reply
                .send(Err(crate::hub::HubError::TooManyRooms { max }));
            return;
        }
        state.rooms.insert(msg.room.clone());
        let sid: Arc<str> = state.socket.id().into();
        let buffering = RoomBuffering::for_room(&state.delivery);
        self.meta.room_joined(&msg.nsp, &msg.room);
        let joined = hub.join_room_async(&msg.nsp, &msg.room, sid, addr, buffering);
        let reply = msg.reply;
        actix_web::rt::spawn(async move {
            let _ = reply.send(joined.await);
        });
    }
}

impl Handler<SocketLeave> for Session {
    type Result = ();

    fn handle(&mut self, msg: SocketLeave, _ctx: &mut Context<Self>) {
        let hub = self.hub.clone();
        let Some(state) = self.joined_mut(&msg.nsp) else {
            let _ = msg.reply.send(Err(crate::hub::HubError::NotConnected));
            return;
        };
        state.rooms.remove(&msg.room);
        let sid: Arc<str> = state.socket.id().into();
        hub.leave_room(&msg.nsp, &msg.room, sid);
        self.meta.room_left(&msg.nsp, &msg.room);
        let _ = msg.reply.send(Ok(()));
    }
}

impl Handler<SocketRooms> for Session {
    type Result = MessageResult<SocketRooms>;

    fn handle(&mut self, msg: SocketRooms, _ctx: &mut Context<Self>) -> Self::Result {
        let rooms = self
            .layer_ref()
            .and_then(|l| l.sockets.get(&msg.nsp))
            .map(|s| s.rooms.iter().cloned().collect())
            .unwrap_or_default();
        MessageResult(rooms)
    }
}

impl Handler<AnnounceMembership> for Session {
    type Result = ();

    fn handle(&mut self, _msg: AnnounceMembership, ctx: &mut Context<Self>) {
        let Some(layer) = self.layer_ref() else {
            return;
        };
        for state in layer.sockets.values() {
            let nsp = state.socket.nsp();
            let sid: Arc<str> = state.socket.id().into();
            self.hub.add_socket(nsp, sid.clone(), ctx.address());
            for room in &state.rooms {
                self.hub
                    .join_room_quietly(nsp, room, sid.clone(), ctx.address());
            }
        }
    }
}

impl Handler<CloseSession> for Session {
    type Result = ();

    fn handle(&mut self, msg: CloseSession, ctx: &mut Context<Self>) {
        self.close(msg.reason, ctx);
    }
}
