//! The Socket.IO layer of a session: its state per namespace, and the state machine of the
//! client's packets: namespace joins (with middleware and connection state recovery, the
//! CONNECT reply sent once the RoomSupervisor has the socket), events and acks in both
//! directions, and the rules that close a misbehaving connection. What the hub and socket
//! handles ask of the session is in `hub_commands`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use actix::prelude::*;
use bytes::Bytes;
use futures::channel::oneshot;
use serde_json::{json, Map, Value};
use siohub_protocol::{
    decode_msgpack_packet, Decoded, Parser, Payload, ProtocolError, SocketDecoder, SocketPacket,
    SocketType,
};

use super::small_map::SmallMap;
use super::{App, Session, SessionAddr};
use crate::admin::feed::{SocketConnected, SocketDisconnected, SocketUpdated};
use crate::broadcaster::TakePreserved;
use crate::config::EngineConfig;
use crate::connection_manager::SocketMeta;
use crate::delivery::{AckReport, AckReports, Replayed};
use crate::disconnect_reason::DisconnectReason;
use crate::error::AckError;
use crate::fields::FieldSet;
use crate::hub_handle::Hub;
use crate::hub_messages::{PreservedSocket, Recovered};
use crate::namespace::{ConnectRefusal, Namespace, Namespaces};
use crate::policy::{user_room, DeliveryPolicy, RoomBuffering};
use crate::recovery_store::RemoteMissed;
use crate::room_set::RoomSet;
use crate::room_supervisor::{
    next_incarnation, AddSocket, EndedSocket, InitialRooms, RecoveryRequest,
};
use crate::socket::{AckSender, ConnectRequest, EarlyEmits, Socket, SocketData};
use crate::stats::RefusalReason;
use crate::wire_frame::{socket_packet_frames, Frames};

/// One joined namespace.
pub(super) struct SocketState {
    pub(super) socket: Socket,
    /// The socket id, as deliveries name it.
    pub(super) socket_id: Arc<str>,
    /// Which life of the socket id this is (see `room_supervisor::next_incarnation`).
    pub(super) incarnation: u64,
    pub(super) namespace: Arc<Namespace>,
    pub(super) delivery: Arc<DeliveryPolicy>,
    /// The private id of connection state recovery, when the namespace has it on.
    pub(super) pid: Option<String>,
    pub(super) rooms: RoomSet,
    /// Its field sets, in the rooms where it has one (see `crate::fields`).
    pub(super) fields: BTreeMap<String, FieldSet>,
    /// Server → client acks waiting for an answer, with their timeout timers. Ids come
    /// from the process-wide counter ([`next_ack_id`]). Boxed while some wait, `None`
    /// otherwise: an idle socket does not carry an empty table (see [`SocketState::put_ack`]).
    pub(super) acks: Option<Box<AckTable>>,
    /// Deliveries held while a join's replay is on its way; `None` when none is (boxed
    /// for the same reason).
    pub(super) hold: Option<Box<Hold>>,
}

/// A socket's server → client acks waiting for an answer.
pub(super) type AckTable = HashMap<u64, (AckWaiter, SpawnHandle)>;

/// Deliveries held for a socket until the events replayed to it are written, so that its
/// client sees the replay before anything newer. Bounded like the outgoing queue.
#[derive(Default)]
pub(super) struct Hold {
    /// Replays on their way (joins not answered yet).
    pub(super) pending: usize,
    pub(super) events: Vec<(Frames, bool)>,
    pub(super) packets: usize,
    pub(super) bytes: usize,
}

/// A CONNECT waiting for its middleware, its recovery or the RoomSupervisor.
#[derive(Default)]
pub(super) struct Connecting {
    /// The socket id and incarnation, once the socket was handed to the RoomSupervisor:
    /// deliveries for it are held until the CONNECT reply and the replay are out.
    pub(super) added: Option<(Arc<str>, u64)>,
    /// Whether a restarted RoomSupervisor asked for every socket meanwhile: the socket is
    /// announced again once it is connected (its first membership may have been lost).
    pub(super) announce: bool,
    pub(super) hold: Hold,
    /// Acks asked of the socket before it was connected (its frames are held): waited for
    /// once it is.
    pub(super) acks: Vec<(u64, AckWaiter, Duration)>,
    /// What the middleware emitted, sent right before the CONNECT reply.
    pub(super) early: EarlyEmits,
}

/// What happens to a delivery for a socket.
pub(super) enum Route {
    /// Written now.
    Send,
    /// Held until the socket's replay is out.
    Hold,
    /// Dropped: no such socket (it left, or the namespace has another socket now).
    Drop,
}

/// Who waits for a server → client ack.
pub(super) enum AckWaiter {
    /// One `emit_with_ack` of server code.
    One(oneshot::Sender<Result<Payload, AckError>>),
    /// One recipient of a broadcast with acks: reports with its socket id.
    Broadcast {
        socket_id: Arc<str>,
        reports: AckReports,
    },
}

impl AckWaiter {
    pub(super) fn answer(self, result: Result<Payload, AckError>) {
        match self {
            AckWaiter::One(reply) => {
                let _ = reply.send(result);
            }
            AckWaiter::Broadcast { socket_id, reports } => {
                let _ = reports.unbounded_send(AckReport { socket_id, result });
            }
        }
    }
}

/// The Socket.IO state of a session.
pub(super) struct SocketLayer {
    pub(super) namespaces: Arc<Namespaces>,
    pub(super) decoder: SocketDecoder,
    pub(super) sockets: SmallMap<SocketState, Arc<str>>,
    /// Namespaces whose CONNECT is waiting for middleware, recovery or the RoomSupervisor.
    pub(super) connecting: HashMap<String, Connecting>,
    pub(super) connect_timeout: Duration,
    /// Whether a namespace was ever joined: the connect timeout is for a first CONNECT only
    /// (a client that leaves its last namespace and joins another later is not idle).
    pub(super) joined_once: bool,
    /// The connect timeout's timer, until a namespace is joined (then it is cancelled: a
    /// timer left to run out holds its memory for the whole timeout).
    pub(super) connect_timer: Option<SpawnHandle>,
    /// The deadline of the binary packet waiting for its attachments, if one waits.
    pub(super) attachment_timer: Option<SpawnHandle>,
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
            connecting: HashMap::new(),
            connect_timeout: config.connect_timeout,
            joined_once: false,
            connect_timer: None,
            attachment_timer: None,
        }
    }

    /// Ends the wait of the CONNECT to `nsp`. The table gives its memory back once no
    /// CONNECT waits: most sessions connect once, and an idle connection keeping a table
    /// sized for a few CONNECTs cost half a KiB each.
    pub(super) fn end_connecting(&mut self, nsp: &str) -> Option<Connecting> {
        let connecting = self.connecting.remove(nsp);
        if self.connecting.is_empty() {
            self.connecting.shrink_to_fit();
        }
        connecting
    }

    /// Closes the connection if no namespace is joined within the connect timeout.
    pub(super) fn start_connect_timer(&mut self, ctx: &mut Context<Session>) {
        let timer = ctx.run_later(self.connect_timeout, |act, ctx| {
            if let App::SocketIo(layer) = &act.app {
                if !layer.joined_once {
                    crate::limited!(
                        info,
                        "session {}: no namespace joined in time; closing",
                        act.meta.sid
                    );
                    act.close(DisconnectReason::ForcedClose, ctx);
                }
            }
        });
        self.connect_timer = Some(timer);
    }

    /// Tells every socket that the connection is gone; returns them, for their membership
    /// to end with one message (the session's end goes to the ConnectionManager, which
    /// tells the RoomSupervisor: see [`Hub::session_ended`]).
    pub(super) fn close_all(
        &mut self,
        reason: DisconnectReason,
        hub: &Hub,
        ctx: &mut Context<Session>,
    ) -> Vec<EndedSocket> {
        let mut ended = Vec::new();
        for (nsp, connecting) in self.connecting.drain() {
            // Handed to the RoomSupervisor already: it goes too.
            if let Some((socket_id, incarnation)) = connecting.added {
                ended.push(EndedSocket {
                    nsp,
                    socket_id,
                    incarnation,
                });
            }
            for (_, waiter, _) in connecting.acks {
                waiter.answer(Err(AckError::Disconnected));
            }
        }
        for (_, state) in self.sockets.drain() {
            ended.push(EndedSocket {
                nsp: state.socket.nsp().to_owned(),
                socket_id: state.socket_id.clone(),
                incarnation: state.incarnation,
            });
            finish_socket(state, reason, hub, ctx);
        }
        ended
    }

    pub(super) fn socket_metas(&self) -> Vec<SocketMeta> {
        self.sockets
            .values()
            .map(|s| SocketMeta {
                nsp: s.socket.nsp_shared(),
                id: s.socket_id.clone(),
                user: s.socket.user(),
                // The ConnectionManager reads them from the membership.
                rooms: BTreeSet::new(),
            })
            .collect()
    }

    /// Where a delivery for socket `socket_id` of `nsp` goes.
    pub(super) fn route(&self, nsp: &str, socket_id: &str) -> Route {
        if let Some(state) = self.sockets.get(nsp) {
            return match () {
                _ if *state.socket_id != *socket_id => Route::Drop,
                _ if state.hold.as_ref().is_some_and(|h| h.pending > 0) => Route::Hold,
                _ => Route::Send,
            };
        }
        let added = self.connecting.get(nsp).and_then(|c| c.added.as_ref());
        match added {
            Some((id, _)) if **id == *socket_id => Route::Hold,
            _ => Route::Drop,
        }
    }

    /// The hold of the socket of `nsp` (joined, or connecting).
    pub(super) fn hold_mut(&mut self, nsp: &str) -> Option<&mut Hold> {
        match self.sockets.get_mut(nsp) {
            Some(state) => Some(&mut **state.hold.get_or_insert_with(Box::default)),
            None => self.connecting.get_mut(nsp).map(|c| &mut c.hold),
        }
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

/// A socket that leaves its namespace while the connection stays: out of its rooms, then
/// finished.
pub(super) fn leave_namespace(
    state: SocketState,
    reason: DisconnectReason,
    hub: &Hub,
    ctx: &mut Context<Session>,
) {
    hub.remove_socket(
        state.socket.nsp(),
        state.socket_id.clone(),
        state.incarnation,
    );
    finish_socket(state, reason, hub, ctx);
}

/// Keeps a socket for recovery if it may come back, fails its pending acks and runs its
/// disconnect handler (its membership is ended by the caller).
fn finish_socket(
    state: SocketState,
    reason: DisconnectReason,
    hub: &Hub,
    ctx: &mut Context<Session>,
) {
    let nsp = state.socket.nsp().to_owned();
    if hub.admin().wants(&nsp) {
        hub.admin().send(SocketDisconnected {
            nsp: nsp.clone(),
            socket_id: state.socket_id.to_string(),
            reason: reason.as_str(),
            at: SystemTime::now(),
        });
    }
    if let Some(pid) = &state.pid {
        if recoverable(reason) {
            hub.preserve(pid.clone(), state.record());
        } else if let Some(store) = hub.recovery_store() {
            // Gone for good: its record must not outlive it.
            store.forget(pid);
        }
    }
    for (_, (waiter, timer)) in state.acks.map(|acks| *acks).unwrap_or_default() {
        ctx.cancel_future(timer);
        waiter.answer(Err(AckError::Disconnected));
    }
    if let Some(handler) = &state.namespace.on_disconnect {
        guarded("disconnect handler", || handler(&state.socket, reason));
    }
}

/// Runs user code; a panic in it is logged and goes no further than this call.
pub(super) fn guarded(what: &str, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        log::error!("a {what} panicked; the connection carries on");
    }
}

impl SocketState {
    /// Waits for ack `id` (the table is made on the first).
    pub(super) fn put_ack(&mut self, id: u64, waiter: AckWaiter, timer: SpawnHandle) {
        let acks = self.acks.get_or_insert_with(Box::default);
        acks.insert(id, (waiter, timer));
    }

    /// Takes ack `id`, if it still waits (the table goes with the last).
    pub(super) fn take_ack(&mut self, id: u64) -> Option<(AckWaiter, SpawnHandle)> {
        let acks = self.acks.as_mut()?;
        let taken = acks.remove(&id);
        if acks.is_empty() {
            self.acks = None;
        }
        taken
    }

    /// What the socket leaves for recovery, as of now.
    pub(super) fn record(&self) -> PreservedSocket {
        PreservedSocket {
            socket_id: self.socket.id().to_owned(),
            nsp: self.socket.nsp().to_owned(),
            rooms: self.rooms.iter().cloned().collect(),
            fields: self.fields.clone(),
            data: self.socket.data_snapshot(),
            at: SystemTime::now(),
        }
    }

    /// Writes the socket's recovery record to the shared store, if there is one (at
    /// connect, join and leave): a node killed without a word leaves it behind.
    pub(super) fn keep_record(&self, hub: &Hub) {
        if let (Some(store), Some(pid)) = (hub.recovery_store(), &self.pid) {
            store.keep(pid, self.record(), self.delivery.recovery);
        }
    }
}

/// Takes a recovering socket's record and missed events from the shared store, or its
/// preserved state from this node's Broadcaster when there is no store.
async fn take_for_recovery(hub: Hub, take: TakePreserved, window: Duration) -> Option<Recovered> {
    let Some(store) = hub.recovery_store().cloned() else {
        return hub.take_preserved(take).await;
    };
    // Read before the store: this node's events numbered after it may not be there yet.
    let seen_upto = hub.broadcast_number();
    let found = store
        .recover(&take.nsp, &take.pid, &take.offset, window)
        .await?;
    let remote = RemoteMissed {
        after: take.offset,
        events: found.events,
        seen_upto,
        here: found.here,
    };
    Some(Recovered {
        socket: found.socket,
        offset: 0,
        remote: Some(Arc::new(remote)),
    })
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
    pub(super) fn layer(&mut self) -> &mut SocketLayer {
        match &mut self.app {
            App::SocketIo(layer) => layer,
            App::Echo => unreachable!("the Socket.IO layer is only reached on Socket.IO sessions"),
        }
    }

    pub(super) fn layer_ref(&self) -> Option<&SocketLayer> {
        match &self.app {
            App::SocketIo(layer) => Some(layer),
            App::Echo => None,
        }
    }

    /// Tells the Admin (if someone watches) that this session's sockets are on a
    /// websocket now (`socket_updated`).
    pub(super) fn announce_upgrade(&self) {
        let Some(layer) = self.layer_ref() else {
            return;
        };
        let admin = self.hub.admin();
        for state in layer
            .sockets
            .values()
            .filter(|s| admin.wants(s.socket.nsp()))
        {
            admin.send(SocketUpdated {
                nsp: state.socket.nsp().to_owned(),
                socket_id: state.socket_id.to_string(),
                transport: "websocket",
            });
        }
    }

    pub(super) fn publish_socket_metas(&self) {
        if let Some(layer) = self.layer_ref() {
            self.meta.set_sockets(layer.socket_metas());
        }
    }

    /// A text message: a Socket.IO packet, or the header of a binary one.
    pub(super) fn on_socket_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        let decoded = match self.config.parser {
            Parser::Json => self.layer().decoder.feed_text(text),
            Parser::Msgpack => Err(ProtocolError::TextUnderMsgpack),
        };
        self.on_decoded(decoded, ctx);
    }

    /// A binary message: the next attachment of a binary packet, or with msgpack a packet.
    pub(super) fn on_socket_binary(&mut self, data: Bytes, ctx: &mut Context<Self>) {
        let decoded = match self.config.parser {
            Parser::Json => self.layer().decoder.feed_binary(data),
            Parser::Msgpack => {
                decode_msgpack_packet(&data, self.config.max_attachments).map(Decoded::Packet)
            }
        };
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
                match e {
                    ProtocolError::AttachmentsTooLarge { .. } => {
                        self.hub.counters().refused(RefusalReason::AttachmentBytes);
                    }
                    ProtocolError::MsgpackTooDeep { .. } => {
                        self.hub.counters().refused(RefusalReason::MsgpackTooDeep);
                    }
                    _ => {}
                }
                crate::limited!(
                    warn,
                    "session {}: malformed Socket.IO packet: {}; closing",
                    self.meta.sid,
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
                act.meta.sid,
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
        let connecting = self.layer().connecting.contains_key(&packet.nsp);
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
                    leave_namespace(
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
            self.meta.sid,
            packet.kind,
            crate::ClientText(&packet.nsp)
        );
        self.close(DisconnectReason::ForcedClose, ctx);
    }

    pub(super) fn send_socket_packet(&mut self, packet: SocketPacket, ctx: &mut Context<Self>) {
        let frames = socket_packet_frames(&packet, self.config.parser);
        let bytes = frames.iter().map(|f| f.len()).sum();
        self.hub.counters().sent(frames.len(), bytes);
        self.send_frames(&frames, false, ctx);
    }

    /// Connects a v3 client to `/` as if it had sent the CONNECT (see [`super::eio3`]).
    pub(super) fn connect_implicitly(&mut self, ctx: &mut Context<Self>) {
        self.on_connect(SocketPacket::connect("/", None), ctx);
    }

    fn on_connect(&mut self, mut packet: SocketPacket, ctx: &mut Context<Self>) {
        if !self.namespace_allowed(&packet.nsp, ctx) {
            return;
        }
        if self.eio3 {
            // Protocol v4: the auth payload is the namespace's query, whatever else the
            // packet carries, as the reference server reads it.
            let (nsp, auth) = super::eio3::split_namespace_query(&packet.nsp);
            let renamed = nsp != packet.nsp;
            (packet.nsp, packet.data) = (nsp, Some(auth));
            let busy = self.layer().sockets.contains_key(&packet.nsp)
                || self.layer().connecting.contains_key(&packet.nsp);
            if renamed && busy {
                let why = "CONNECT to a namespace already joined";
                return self.invalid_state(&packet, why, ctx);
            }
        }
        let nsp = packet.nsp;
        let Some(namespace) = self.layer().namespaces.resolve(&nsp) else {
            crate::limited!(
                info,
                "session {}: CONNECT to unknown namespace {}",
                self.meta.sid,
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
        let window = delivery.recovery;
        let connecting = Connecting::default();
        let early = connecting.early.clone();
        self.layer().connecting.insert(nsp.clone(), connecting);
        if namespace.middleware.is_empty() && recovery.is_none() {
            self.finish_connect(nsp, namespace, auth, data, Ok(None), ctx);
            return;
        }
        let session = ctx.address();
        let request = ConnectRequest {
            nsp: nsp.clone(),
            auth: auth.clone(),
            handshake: self.handshake.clone(),
            data: data.clone(),
            counters: self.hub.counters().clone(),
            early,
        };
        let chain = namespace.middleware.clone();
        let hub = self.hub.clone();
        let verdict = async move {
            for middleware in chain {
                middleware(request.clone()).await?;
            }
            Ok(match recovery {
                Some((pid, offset)) => {
                    let nsp = request.nsp;
                    let take = TakePreserved {
                        nsp,
                        pid,
                        offset,
                        session,
                    };
                    take_for_recovery(hub, take, window).await
                }
                None => None,
            })
        };
        ctx.spawn(
            verdict
                .into_actor(self)
                .map(move |verdict: Verdict, act, ctx| {
                    // Closed meanwhile: a preserved socket taken is dropped with the session.
                    if act.closing || !act.layer().connecting.contains_key(&nsp) {
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
    /// rooms, missed events and `user`. Checked before the socket is back in any room.
    fn keeps_identity(&self, nsp: &str, recovered: &Recovered, data: &SocketData) -> bool {
        let before = recovered.socket.data.get("user");
        let same = data.lock().unwrap_or_else(|e| e.into_inner()).get("user") == before;
        if !same {
            log::info!(
                "session {}: socket {} on {} not recovered: this CONNECT does not establish its user",
                self.meta.sid,
                recovered.socket.socket_id,
                crate::ClientText(nsp)
            );
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
                self.meta.sid,
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
            self.meta.sid,
            crate::ClientText(nsp)
        );
        let data = json!({ "code": "RATE_LIMIT_EXCEEDED", "max": max });
        let refusal =
            SocketPacket::connect_error(nsp, "too many namespaces on this connection", Some(data));
        self.send_socket_packet(refusal, ctx);
        false
    }

    /// Settles a CONNECT once its middleware (and recovery) answered: a refusal is sent
    /// at once; an accepted socket is handed to the RoomSupervisor with its first rooms, and
    /// the CONNECT reply waits for its answer (see [`Session::complete_connect`]).
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
                    self.meta.sid,
                    crate::ClientText(&nsp),
                    crate::ClientText(&refusal.message)
                );
                let packet = match self.eio3 {
                    true => SocketPacket {
                        kind: SocketType::ConnectError,
                        data: Some(super::eio3::connect_error_data(
                            &refusal.message,
                            refusal.data,
                        )),
                        ..SocketPacket::connect(&nsp, None)
                    },
                    false => SocketPacket::connect_error(&nsp, &refusal.message, refusal.data),
                };
                self.send_socket_packet(packet, ctx);
                self.layer().end_connecting(&nsp);
                return;
            }
        };
        let recovered = recovered.filter(|r| self.keeps_identity(&nsp, r, &data));
        let delivery = self.hub.policies().of(&nsp);
        let mut fields = BTreeMap::new();
        let (id, pid, rooms, recovery) = match recovered {
            Some(Recovered {
                socket,
                offset,
                remote,
            }) => {
                let mut fresh = data.lock().unwrap_or_else(|e| e.into_inner());
                for (key, value) in socket.data {
                    // Who the socket is comes from this CONNECT (its middleware), never
                    // from the record.
                    if !IDENTITY_KEYS.contains(&key.as_str()) {
                        fresh.entry(key).or_insert(value);
                    }
                }
                let pid = auth.get("pid").and_then(Value::as_str).map(String::from);
                let rooms = socket.rooms.iter().cloned().collect();
                fields = socket.fields;
                let recovery = RecoveryRequest {
                    offset,
                    rooms: socket.rooms,
                    remote,
                };
                (socket.socket_id, pid, rooms, Some(recovery))
            }
            None => {
                let pid = (!delivery.recovery.is_zero()).then(crate::random_id);
                let id = match self.eio3 {
                    true => super::eio3::socket_id(&nsp, &self.meta.sid),
                    false => crate::random_id(),
                };
                (id, pid, RoomSet::new(), None)
            }
        };
        // The socket, its state and the membership share one copy of the id, and the name
        // of the namespace when it is the namespace's own (not a dynamic child's).
        let socket_id: Arc<str> = id.as_str().into();
        let shared_nsp = match namespace.name() == nsp {
            true => namespace.shared_name(),
            false => nsp.as_str().into(),
        };
        let socket = Socket::new(
            socket_id.clone(),
            shared_nsp,
            self.meta.sid.clone(),
            self.addr(),
            self.handshake.clone(),
            data,
            self.hub.clone(),
        );
        // A recovered socket's rooms come back quietly (its log replay covers them); a new
        // user room hands over the offline queue, if the policy has one.
        let mut initial: InitialRooms = rooms
            .iter()
            .map(|room| (room.clone(), RoomBuffering::quiet()))
            .collect();
        let mut rooms = rooms;
        if let Some(user) = socket.user() {
            let room = user_room(&user);
            if rooms.insert(room.clone()) {
                initial.push((room, RoomBuffering::for_user(&delivery)));
            }
        }
        let incarnation = next_incarnation();
        if let Some(connecting) = self.layer().connecting.get_mut(&nsp) {
            connecting.added = Some((socket_id.clone(), incarnation));
        }
        let added = self.hub.add_socket(AddSocket {
            nsp: nsp.clone(),
            socket_id: socket_id.clone(),
            incarnation,
            session: self.addr(),
            rooms: initial,
            recovery,
            fields: fields.iter().map(|(r, f)| (r.clone(), f.clone())).collect(),
            reply: None,
        });
        let state = SocketState {
            socket,
            socket_id,
            incarnation,
            namespace,
            delivery,
            pid,
            rooms,
            fields,
            acks: None,
            hold: None,
        };
        ctx.spawn(
            added.into_actor(self).map(move |replayed, act, ctx| {
                act.complete_connect(nsp, state, auth, replayed, ctx)
            }),
        );
    }

    /// The RoomSupervisor has the socket in its rooms: sends the CONNECT reply, then what
    /// the socket missed, then what was held for it meanwhile, and runs the connect
    /// handler. Only now can a broadcast to its rooms (its user room included) be resolved
    /// with it, and only now does its client learn it is connected.
    fn complete_connect(
        &mut self,
        nsp: String,
        state: SocketState,
        auth: Value,
        replayed: Option<Replayed>,
        ctx: &mut Context<Self>,
    ) {
        let incarnation = state.incarnation;
        let connecting = match self.closing {
            true => None,
            false => self.layer().end_connecting(&nsp),
        };
        let ours = connecting.filter(|c| c.added.as_ref().is_some_and(|a| a.1 == incarnation));
        let Some(connecting) = ours else {
            // The session closed (or the namespace went) meanwhile: undo the membership.
            self.hub
                .remove_socket(&nsp, state.socket_id.clone(), incarnation);
            return;
        };
        if replayed.is_none() || connecting.announce {
            // The RoomSupervisor restarted meanwhile: announce the socket again.
            self.hub.announce_socket(announcement(&state, self.addr()));
        }
        let replayed = replayed.unwrap_or_default();
        // One polling body for the reply, the replay, what was held and what the connect
        // handler emits.
        self.flush_deferred = true;
        let mut reply = json!({ "sid": state.socket.id() });
        if let Some(pid) = &state.pid {
            reply["pid"] = json!(pid);
        }
        let early =
            std::mem::take(&mut *connecting.early.lock().unwrap_or_else(|e| e.into_inner()));
        for packet in early {
            self.send_socket_packet(packet, ctx);
        }
        // A v3 client's CONNECT reply carries no payload (Socket.IO protocol v4).
        let reply = (!self.eio3).then_some(reply);
        self.send_socket_packet(SocketPacket::connect(&nsp, reply), ctx);
        for frames in &replayed.frames {
            self.send_frames(frames, false, ctx);
        }
        for (frames, volatile) in connecting.hold.events {
            self.send_frames(&frames, volatile, ctx);
        }
        if !replayed.frames.is_empty() {
            log::debug!(
                "session {}: socket {} on {} in {} rooms, {} events replayed",
                self.meta.sid,
                state.socket_id,
                crate::ClientText(&nsp),
                state.rooms.len(),
                replayed.frames.len()
            );
        }
        let (socket, namespace) = (state.socket.clone(), state.namespace.clone());
        if self.hub.admin().wants(&nsp) {
            let mut rooms = vec![state.socket_id.to_string()];
            rooms.extend(state.rooms.iter().cloned());
            self.hub.admin().send(SocketConnected {
                nsp: nsp.clone(),
                socket_id: state.socket_id.to_string(),
                sid: self.meta.sid.to_string(),
                transport: self.meta.transport(),
                handshake: self.handshake.clone(),
                data: socket.data_snapshot(),
                rooms,
                at: SystemTime::now(),
            });
        }
        state.keep_record(&self.hub);
        self.layer().joined_once = true;
        if let Some(timer) = self.layer().connect_timer.take() {
            ctx.cancel_future(timer);
        }
        self.layer()
            .sockets
            .insert(state.socket.nsp_shared(), state);
        for (id, waiter, timeout) in connecting.acks {
            if let Err(waiter) = self.wait_for_ack(&nsp, id, waiter, timeout, ctx) {
                waiter.answer(Err(AckError::Disconnected));
            }
        }
        self.publish_socket_metas();
        if let Some(handler) = &namespace.on_connect {
            self.run_handler(
                || guarded("connect handler", || handler(&socket, &auth)),
                ctx,
            );
        }
        self.flush_deferred = false;
        self.flush_polling();
    }

    fn on_event(&mut self, packet: SocketPacket, ctx: &mut Context<Self>) {
        let Some(state) = self.layer().sockets.get(&packet.nsp) else {
            return;
        };
        let socket = state.socket.clone();
        let namespace = state.namespace.clone();
        let ack = packet.id.map(|id| AckSender {
            session: self.addr(),
            session_id: self.meta.sid.clone(),
            nsp: packet.nsp.clone(),
            id,
        });
        let (event, payload) = packet.into_payload();
        self.hub.counters().event_received();
        self.hub
            .admin()
            .event(true, socket.nsp(), Some(socket.id()), &event, &payload);
        if let Some(handler) = namespace.events.get(&event) {
            let run = || guarded("event handler", || handler(&socket, payload, ack));
            self.run_handler(run, ctx);
        } else if let Some(handler) = &namespace.on_any {
            let run = || guarded("event handler", || handler(&socket, &event, payload, ack));
            self.run_handler(run, ctx);
        }
    }

    fn on_ack(&mut self, packet: SocketPacket, ctx: &mut Context<Self>) {
        let Some(id) = packet.id else {
            crate::limited!(info, "session {}: ack without an id ignored", self.meta.sid);
            return;
        };
        let Some(state) = self.layer().sockets.get_mut(&packet.nsp) else {
            return;
        };
        match state.take_ack(id) {
            Some((waiter, timer)) => {
                ctx.cancel_future(timer);
                let (_, payload) = packet.into_payload();
                waiter.answer(Ok(payload));
            }
            None => log::debug!("session {}: ack {id} is unknown or expired", self.meta.sid),
        }
    }

    /// The socket `socket_id` of namespace `nsp`, if this is a Socket.IO session that still
    /// has it.
    pub(super) fn socket_mut(&mut self, nsp: &str, socket_id: &str) -> Option<&mut SocketState> {
        if !self.socket_io() {
            return None;
        }
        let state = self.layer().sockets.get_mut(nsp)?;
        (*state.socket_id == *socket_id).then_some(state)
    }

    pub(super) fn socket_io(&self) -> bool {
        matches!(self.app, App::SocketIo(_))
    }

    /// Registers `waiter` for ack `id` on the socket of `nsp`, answered with a timeout after
    /// `timeout`; gives the waiter back if there is no such socket.
    pub(super) fn wait_for_ack(
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
                if let Some((waiter, _)) = state.take_ack(id) {
                    waiter.answer(Err(AckError::Timeout));
                }
            }
        });
        if let Some(state) = self.layer().sockets.get_mut(nsp) {
            state.put_ack(id, waiter, timer);
        }
        Ok(())
    }
}

/// A socket's membership as its session knows it, announced again to a restarted
/// RoomSupervisor (nothing is replayed).
pub(super) fn announcement(state: &SocketState, session: SessionAddr) -> AddSocket {
    AddSocket {
        nsp: state.socket.nsp().to_owned(),
        socket_id: state.socket_id.clone(),
        incarnation: state.incarnation,
        session,
        rooms: state
            .rooms
            .iter()
            .map(|room| (room.clone(), RoomBuffering::quiet()))
            .collect(),
        recovery: None,
        fields: state
            .fields
            .iter()
            .map(|(r, f)| (r.clone(), f.clone()))
            .collect(),
        reply: None,
    }
}
