//! The Socket.IO layer of a session: namespace joins (with middleware), events and acks in
//! both directions, server-side disconnects, and the rules that close a misbehaving
//! connection.

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use bytes::Bytes;
use futures::channel::oneshot;
use serde_json::{json, Map, Value};
use siohub_protocol::{
    Decoded, EnginePacket, Payload, ProtocolError, SocketDecoder, SocketPacket, SocketType,
};

use super::{App, Session};
use crate::config::EngineConfig;
use crate::error::AckError;
use crate::messages::{CloseSession, SocketDisconnect, SocketEmit, SocketEmitWithAck};
use crate::namespace::{ConnectRefusal, Namespace, Namespaces};
use crate::socket::{AckSender, ConnectRequest, DisconnectReason, Socket, SocketData};

/// One joined namespace.
struct SocketState {
    socket: Socket,
    namespace: Arc<Namespace>,
    /// Server → client acks waiting for an answer, with their timeout timers.
    acks: HashMap<u64, (oneshot::Sender<Result<Payload, AckError>>, SpawnHandle)>,
    next_ack_id: u64,
}

/// The Socket.IO state of a session.
pub(super) struct SocketLayer {
    namespaces: Arc<Namespaces>,
    decoder: SocketDecoder,
    sockets: HashMap<String, SocketState>,
    /// Namespaces whose CONNECT is waiting for middleware.
    connecting: HashSet<String>,
    connect_timeout: Duration,
}

impl SocketLayer {
    pub(super) fn new(namespaces: Arc<Namespaces>, config: &EngineConfig) -> Self {
        SocketLayer {
            namespaces,
            decoder: SocketDecoder::new(config.max_attachments),
            sockets: HashMap::new(),
            connecting: HashSet::new(),
            connect_timeout: config.connect_timeout,
        }
    }

    /// Closes the connection if no namespace is joined within the connect timeout.
    pub(super) fn start_connect_timer(&self, ctx: &mut Context<Session>) {
        ctx.run_later(self.connect_timeout, |act, ctx| {
            if let App::SocketIo(layer) = &act.app {
                if layer.sockets.is_empty() {
                    log::info!("session {}: no namespace joined in time; closing", act.sid);
                    act.close(DisconnectReason::ForcedClose, ctx);
                }
            }
        });
    }

    /// Tells every socket that the connection is gone.
    pub(super) fn close_all(&mut self, reason: DisconnectReason, ctx: &mut Context<Session>) {
        self.connecting.clear();
        for (_, state) in self.sockets.drain() {
            finish_socket(state, reason, ctx);
        }
    }
}

/// Fails a socket's pending acks and runs its disconnect handler.
fn finish_socket(state: SocketState, reason: DisconnectReason, ctx: &mut Context<Session>) {
    for (_, (reply, timer)) in state.acks {
        ctx.cancel_future(timer);
        let _ = reply.send(Err(AckError::Disconnected));
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

impl Session {
    fn layer(&mut self) -> &mut SocketLayer {
        match &mut self.app {
            App::SocketIo(layer) => layer,
            App::Echo => unreachable!("the Socket.IO layer is only reached on Socket.IO sessions"),
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
            Ok(Decoded::Packet(packet)) => self.on_socket_packet(packet, ctx),
            Ok(Decoded::NeedAttachments(_)) => {}
            Err(e) => {
                log::warn!(
                    "session {}: malformed Socket.IO packet: {e}; closing",
                    self.sid
                );
                self.close(DisconnectReason::ParseError, ctx);
            }
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
                    finish_socket(state, DisconnectReason::ClientNamespaceDisconnect, ctx);
                }
            }
            SocketType::Event | SocketType::BinaryEvent => self.on_event(packet, ctx),
            SocketType::Ack | SocketType::BinaryAck => self.on_ack(packet, ctx),
        }
    }

    fn invalid_state(&mut self, packet: &SocketPacket, why: &str, ctx: &mut Context<Self>) {
        log::warn!(
            "session {}: {why} (type {:?}, namespace {}); closing",
            self.sid,
            packet.kind,
            packet.nsp
        );
        self.close(DisconnectReason::ForcedClose, ctx);
    }

    fn send_socket_packet(&mut self, packet: SocketPacket, ctx: &mut Context<Self>) {
        let text = packet.encode_header_and_data();
        self.send(EnginePacket::Message(text), ctx);
        for attachment in packet.attachments {
            self.send(EnginePacket::Binary(attachment), ctx);
        }
    }

    fn on_connect(&mut self, packet: SocketPacket, ctx: &mut Context<Self>) {
        let nsp = packet.nsp;
        let Some(namespace) = self.layer().namespaces.resolve(&nsp) else {
            log::info!("session {}: CONNECT to unknown namespace {nsp}", self.sid);
            let refusal = SocketPacket::connect_error(&nsp, "Invalid namespace", None);
            self.send_socket_packet(refusal, ctx);
            return;
        };
        let auth = packet.data.unwrap_or_else(|| json!({}));
        let data: SocketData = Arc::new(Mutex::new(Map::new()));
        if namespace.middleware.is_empty() {
            self.finish_connect(nsp, namespace, auth, data, Ok(()), ctx);
            return;
        }
        self.layer().connecting.insert(nsp.clone());
        let request = ConnectRequest {
            nsp: nsp.clone(),
            auth: auth.clone(),
            handshake: self.handshake.clone(),
            data: data.clone(),
        };
        let chain = namespace.middleware.clone();
        let verdict = async move {
            for middleware in chain {
                middleware(request.clone()).await?;
            }
            Ok(())
        };
        ctx.spawn(verdict.into_actor(self).map(move |verdict, act, ctx| {
            if act.closing || !act.layer().connecting.remove(&nsp) {
                return;
            }
            act.finish_connect(nsp, namespace, auth, data, verdict, ctx);
        }));
    }

    fn finish_connect(
        &mut self,
        nsp: String,
        namespace: Arc<Namespace>,
        auth: Value,
        data: SocketData,
        verdict: Result<(), ConnectRefusal>,
        ctx: &mut Context<Self>,
    ) {
        if let Err(refusal) = verdict {
            log::info!(
                "session {}: CONNECT to {nsp} refused: {}",
                self.sid,
                refusal.message
            );
            let packet = SocketPacket::connect_error(&nsp, &refusal.message, refusal.data);
            self.send_socket_packet(packet, ctx);
            return;
        }
        let id = crate::random_id();
        let socket = Socket::new(
            id.clone(),
            nsp.clone(),
            self.sid.clone(),
            ctx.address(),
            self.handshake.clone(),
            data,
        );
        self.send_socket_packet(SocketPacket::connect(&nsp, Some(json!({ "sid": id }))), ctx);
        self.layer().sockets.insert(
            nsp,
            SocketState {
                socket: socket.clone(),
                namespace: namespace.clone(),
                acks: HashMap::new(),
                next_ack_id: 0,
            },
        );
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
        if let Some(handler) = namespace.events.get(&event) {
            guarded("event handler", || handler(&socket, payload, ack));
        } else if let Some(handler) = &namespace.on_any {
            guarded("event handler", || handler(&socket, &event, payload, ack));
        }
    }

    fn on_ack(&mut self, packet: SocketPacket, ctx: &mut Context<Self>) {
        let Some(id) = packet.id else {
            log::info!("session {}: ack without an id ignored", self.sid);
            return;
        };
        let Some(state) = self.layer().sockets.get_mut(&packet.nsp) else {
            return;
        };
        match state.acks.remove(&id) {
            Some((reply, timer)) => {
                ctx.cancel_future(timer);
                let (_, payload) = packet.into_payload();
                let _ = reply.send(Ok(payload));
            }
            None => log::debug!("session {}: ack {id} is unknown or expired", self.sid),
        }
    }
}

impl Handler<SocketEmit> for Session {
    type Result = ();

    fn handle(&mut self, msg: SocketEmit, ctx: &mut Context<Self>) {
        if matches!(self.app, App::SocketIo(_))
            && self.layer().sockets.contains_key(&msg.packet.nsp)
        {
            self.send_socket_packet(msg.packet, ctx);
        }
    }
}

impl Handler<SocketEmitWithAck> for Session {
    type Result = ();

    fn handle(&mut self, msg: SocketEmitWithAck, ctx: &mut Context<Self>) {
        if !matches!(self.app, App::SocketIo(_)) || self.closing {
            let _ = msg.reply.send(Err(AckError::Disconnected));
            return;
        }
        let nsp = msg.packet.nsp.clone();
        let Some(state) = self.layer().sockets.get_mut(&nsp) else {
            let _ = msg.reply.send(Err(AckError::Disconnected));
            return;
        };
        let id = state.next_ack_id;
        state.next_ack_id += 1;
        let timer_nsp = nsp.clone();
        let timer = ctx.run_later(msg.timeout, move |act, _ctx| {
            if let Some(state) = act.layer().sockets.get_mut(&timer_nsp) {
                if let Some((reply, _)) = state.acks.remove(&id) {
                    let _ = reply.send(Err(AckError::Timeout));
                }
            }
        });
        if let Some(state) = self.layer().sockets.get_mut(&nsp) {
            state.acks.insert(id, (msg.reply, timer));
        }
        self.send_socket_packet(msg.packet.with_id(id), ctx);
    }
}

impl Handler<SocketDisconnect> for Session {
    type Result = ();

    fn handle(&mut self, msg: SocketDisconnect, ctx: &mut Context<Self>) {
        if !matches!(self.app, App::SocketIo(_)) {
            return;
        }
        if let Some(state) = self.layer().sockets.remove(&msg.nsp) {
            self.send_socket_packet(SocketPacket::disconnect(&msg.nsp), ctx);
            finish_socket(state, DisconnectReason::ServerNamespaceDisconnect, ctx);
        }
    }
}

impl Handler<CloseSession> for Session {
    type Result = ();

    fn handle(&mut self, msg: CloseSession, ctx: &mut Context<Self>) {
        self.close(msg.reason, ctx);
    }
}
