//! The Session actor: one per Engine.IO client, whatever its transport. It owns the
//! heartbeat, the upgrade state machine, the bounded outgoing queue and the application on
//! top (the Socket.IO layer, or the echo used by the Engine.IO conformance server).
//!
//! The transport is a detail it is handed: polling requests send it [`Poll`] / [`BeginPost`]
//! messages and wait for packets; a websocket is a [`WsTransport`] actor that forwards frames.
//!
//! [`Poll`]: crate::messages::Poll
//! [`BeginPost`]: crate::messages::BeginPost

mod engine;
mod sockets;
mod transport;

use std::collections::VecDeque;
use std::sync::Arc;

use actix::prelude::*;
use futures::channel::oneshot;
use siohub_protocol::{EnginePacket, Handshake};

use crate::config::EngineConfig;
use crate::messages::{WsClose, WsFrame, WsSend};
use crate::namespace::Namespaces;
use crate::registry::SessionRegistry;
use crate::socket::{DisconnectReason, HandshakeInfo};
use crate::ws_transport::WsTransport;

use sockets::SocketLayer;

/// What runs on top of the Engine.IO session.
#[derive(Debug, Clone)]
pub enum Application {
    /// Socket.IO with these namespaces.
    SocketIo(Arc<Namespaces>),
    /// Every message is sent back to its sender (the Engine.IO conformance server).
    EngineEcho,
}

/// Everything a new session needs.
#[derive(Debug, Clone)]
pub struct SessionParams {
    /// The engine settings.
    pub config: Arc<EngineConfig>,
    /// Where the session registers itself.
    pub registry: SessionRegistry,
    /// What runs on top.
    pub app: Application,
    /// The opening request.
    pub handshake: Arc<HandshakeInfo>,
}

enum Transport {
    Polling {
        /// The GET waiting for packets, if any.
        pending: Option<oneshot::Sender<String>>,
        /// Whether a POST body is being read.
        posting: bool,
    },
    WebSocket {
        ws: Addr<WsTransport>,
        id: u64,
    },
}

/// A websocket that asked to take over from polling and has not finished the upgrade.
struct Probe {
    ws: Addr<WsTransport>,
    id: u64,
    /// Whether `2probe` arrived (from then on pending polls are answered with `6`).
    probed: bool,
    timer: SpawnHandle,
}

enum App {
    SocketIo(Box<SocketLayer>),
    Echo,
}

/// One Engine.IO session. See the module documentation.
pub struct Session {
    sid: Arc<str>,
    config: Arc<EngineConfig>,
    registry: SessionRegistry,
    handshake: Arc<HandshakeInfo>,
    transport: Transport,
    probe: Option<Probe>,
    queue: VecDeque<EnginePacket>,
    queued_bytes: usize,
    ping_timer: Option<SpawnHandle>,
    pong_deadline: Option<SpawnHandle>,
    app: App,
    closing: bool,
}

impl Session {
    fn new(sid: Arc<str>, params: SessionParams, transport: Transport) -> Self {
        let upgrades = match transport {
            Transport::Polling { .. } if params.config.allow_websocket => vec!["websocket".into()],
            _ => vec![],
        };
        let open = Handshake {
            sid: sid.to_string(),
            upgrades,
            ping_interval: params.config.ping_interval.as_millis() as u64,
            ping_timeout: params.config.ping_timeout.as_millis() as u64,
            max_payload: params.config.max_payload as u64,
        };
        let app = match params.app {
            Application::SocketIo(namespaces) => {
                App::SocketIo(Box::new(SocketLayer::new(namespaces, &params.config)))
            }
            Application::EngineEcho => App::Echo,
        };
        let mut queue = VecDeque::new();
        queue.push_back(EnginePacket::Open(open.to_json()));
        Session {
            sid,
            config: params.config,
            registry: params.registry,
            handshake: params.handshake,
            transport,
            probe: None,
            queue,
            queued_bytes: 0,
            ping_timer: None,
            pong_deadline: None,
            app,
            closing: false,
        }
    }

    /// Starts a session whose first transport is HTTP long-polling. The open packet waits in
    /// its queue for the handshake GET to [`Poll`](crate::messages::Poll) it.
    pub fn start_polling(params: SessionParams) -> (Arc<str>, Addr<Session>) {
        let sid: Arc<str> = crate::random_id().into();
        let registry = params.registry.clone();
        let transport = Transport::Polling {
            pending: None,
            posting: false,
        };
        let addr = Session::new(sid.clone(), params, transport).start();
        registry.insert(sid.clone(), addr.clone());
        (sid, addr)
    }

    /// Starts a session whose transport is a websocket from the start, and answers the
    /// upgrade request.
    pub fn start_websocket(
        params: SessionParams,
        req: &actix_web::HttpRequest,
        stream: actix_web::web::Payload,
    ) -> Result<(Arc<str>, actix_web::HttpResponse), actix_web::Error> {
        let sid: Arc<str> = crate::random_id().into();
        let ctx = Context::<Session>::new();
        let addr = ctx.address();
        let (ws, id, response) =
            WsTransport::start(addr.clone(), req, stream, params.config.max_payload)?;
        let registry = params.registry.clone();
        let session = Session::new(sid.clone(), params, Transport::WebSocket { ws, id });
        ctx.run(session);
        registry.insert(sid.clone(), addr);
        Ok((sid, response))
    }

    /// The session id.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// Queues a packet and writes what the transport can take now. A queue over its bounds
    /// closes the session: a client that does not read must not grow the server's memory.
    fn send(&mut self, packet: EnginePacket, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        self.queued_bytes += packet_size(&packet);
        self.queue.push_back(packet);
        if self.queue.len() > self.config.max_buffer_packets
            || self.queued_bytes > self.config.max_buffer_bytes
        {
            log::warn!(
                "session {}: outgoing buffer full ({} packets, {} bytes); closing",
                self.sid,
                self.queue.len(),
                self.queued_bytes
            );
            self.queue.clear();
            self.queued_bytes = 0;
            self.close(DisconnectReason::ForcedClose, ctx);
            return;
        }
        self.flush();
    }

    /// Writes queued packets to the websocket, or answers the pending poll with them.
    fn flush(&mut self) {
        if self.queue.is_empty() {
            return;
        }
        match &mut self.transport {
            Transport::WebSocket { ws, .. } => {
                let frames = self.queue.drain(..).map(WsFrame::from_packet).collect();
                self.queued_bytes = 0;
                ws.do_send(WsSend(frames));
            }
            Transport::Polling { pending, .. } => {
                if let Some(tx) = pending.take() {
                    let body = self.drain_polling_body();
                    let _ = tx.send(body);
                }
            }
        }
    }

    /// Everything queued, as one polling body.
    fn drain_polling_body(&mut self) -> String {
        let body = siohub_protocol::encode_payload(self.queue.iter());
        self.queue.clear();
        self.queued_bytes = 0;
        body
    }

    /// Ends the session: sockets are told why, the transport is closed as the reference
    /// server does (a `1` to a pending poll, a close frame to a websocket), then the actor
    /// stops.
    fn close(&mut self, reason: DisconnectReason, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        self.closing = true;
        log::debug!("session {}: closing ({reason})", self.sid);
        for handle in [self.ping_timer.take(), self.pong_deadline.take()]
            .into_iter()
            .flatten()
        {
            ctx.cancel_future(handle);
        }
        if let App::SocketIo(layer) = &mut self.app {
            layer.close_all(reason, ctx);
        }
        if let Some(probe) = self.probe.take() {
            ctx.cancel_future(probe.timer);
            probe.ws.do_send(WsClose);
        }
        match &mut self.transport {
            Transport::WebSocket { ws, .. } => {
                let frames: Vec<WsFrame> = self.queue.drain(..).map(WsFrame::from_packet).collect();
                if !frames.is_empty() {
                    ws.do_send(WsSend(frames));
                }
                ws.do_send(WsClose);
                ctx.stop();
            }
            Transport::Polling { pending, .. } => {
                let pending = pending.take();
                // A close the client asked for answers the pending poll with `6`; any other
                // close hands the client the close packet `1`.
                self.queue
                    .push_back(if reason == DisconnectReason::TransportClose {
                        EnginePacket::Noop
                    } else {
                        EnginePacket::Close
                    });
                // A close caused by the client (its `1`, a transport error, a missed pong, a
                // malformed payload) ends the session at once, as in the reference server:
                // from then on its sid is unknown. A close the server decides on waits for
                // the client's next poll to hand it the close packet.
                let at_once = matches!(
                    reason,
                    DisconnectReason::TransportClose
                        | DisconnectReason::TransportError
                        | DisconnectReason::PingTimeout
                        | DisconnectReason::ParseError
                );
                match pending {
                    Some(tx) => {
                        let body = self.drain_polling_body();
                        let _ = tx.send(body);
                        ctx.stop();
                    }
                    None if at_once => {
                        self.queue.clear();
                        self.queued_bytes = 0;
                        self.registry.remove(&self.sid);
                        ctx.stop();
                    }
                    // Wait for that poll, but not longer than a ping timeout.
                    None => {
                        ctx.run_later(self.config.ping_timeout, |_, ctx| ctx.stop());
                    }
                }
            }
        }
    }
}

impl Actor for Session {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.schedule_ping(ctx);
        if let App::SocketIo(layer) = &mut self.app {
            layer.start_connect_timer(ctx);
        }
        self.flush();
    }

    fn stopped(&mut self, ctx: &mut Self::Context) {
        // A stop that did not go through `close` (the arbiter shutting down) still owes the
        // sockets their disconnect.
        if !self.closing {
            self.closing = true;
            if let App::SocketIo(layer) = &mut self.app {
                layer.close_all(DisconnectReason::ServerShuttingDown, ctx);
            }
        }
        if let Transport::Polling { pending, .. } = &mut self.transport {
            if let Some(tx) = pending.take() {
                let _ = tx.send(EnginePacket::Close.encode_text().unwrap_or_default());
            }
        }
        self.registry.remove(&self.sid);
        log::debug!("session {}: stopped", self.sid);
    }
}

/// Bytes a packet takes in the queue, for the byte bound.
fn packet_size(packet: &EnginePacket) -> usize {
    match packet {
        EnginePacket::Open(d)
        | EnginePacket::Ping(d)
        | EnginePacket::Pong(d)
        | EnginePacket::Message(d) => d.len() + 1,
        EnginePacket::Binary(b) => b.len() + 1,
        EnginePacket::Close | EnginePacket::Upgrade | EnginePacket::Noop => 1,
    }
}
