//! The Session actor: one per Engine.IO client, whatever its transport. It owns the
//! heartbeat, the upgrade state machine, the bounded outgoing queue and the application on
//! top (the Socket.IO layer, or the echo used by the Engine.IO conformance server).
//!
//! The transport is a detail it is handed: polling requests send it [`Poll`] / [`BeginPost`]
//! messages and wait for packets; a websocket is an [`Outbox`] the session writes encoded
//! frames into (the connection drains it) while the connection forwards the client's frames
//! as [`WsIncoming`] messages.
//!
//! [`Poll`]: crate::messages::Poll
//! [`BeginPost`]: crate::messages::BeginPost
//! [`WsIncoming`]: crate::messages::WsIncoming

mod eio3;
mod engine;
mod handler_requests;
mod hub_commands;
mod outgoing;
mod registration;
#[cfg(test)]
mod request_order;
mod small_map;
mod socket_layer;
#[cfg(test)]
pub(crate) mod test_support;
mod transport;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::prelude::*;
use futures::channel::oneshot;
use siohub_protocol::{EnginePacket, Handshake};

use crate::config::EngineConfig;
use crate::connection_manager::SessionMeta;
use crate::disconnect_reason::DisconnectReason;
use crate::hub_handle::Hub;
use crate::namespace::Namespaces;
use crate::socket::HandshakeInfo;
use crate::wire_frame::WireFrame;
use crate::ws::Outbox;

pub use eio3::is_eio3;
pub(crate) use registration::OnRegistered;
use registration::Release;
pub use registration::{AdmissionHold, Opened, Registered, Started};
use socket_layer::SocketLayer;

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
    /// The hub: its actors, the session registry, the counters.
    pub hub: Hub,
    /// What runs on top.
    pub app: Application,
    /// The opening request.
    pub handshake: Arc<HandshakeInfo>,
}

/// A websocket attached to the session: where to write, and the id its frames carry.
struct WsLink {
    outbox: Outbox,
    id: u64,
}

enum Transport {
    Polling {
        /// The GET waiting for packets, if any.
        pending: Option<oneshot::Sender<bytes::Bytes>>,
        /// Whether a POST body is being read.
        posting: bool,
        /// Whether the session is closed and waits for the poll that takes its last
        /// packet (see [`Session::await_last_poll`]).
        awaiting_last_poll: bool,
    },
    WebSocket(WsLink),
}

/// A websocket that asked to take over from polling and has not finished the upgrade.
struct Probe {
    link: WsLink,
    /// Whether `2probe` arrived (from then on pending polls are answered with `6`).
    probed: bool,
    timer: SpawnHandle,
}

enum App {
    SocketIo(Box<SocketLayer>),
    Echo,
}

/// One queued frame of a polling session.
struct Queued {
    frame: WireFrame,
    volatile: bool,
}

/// A session's address as everything that keeps it holds it: one shared clone. Every
/// clone of an actix `Addr` makes its own sender state (two allocations, about 100 bytes),
/// and a connection's address is kept by the registry, each of its socket handles and the
/// membership's entries (its socket and each of its rooms); they share this one instead.
pub type SessionAddr = Arc<Addr<Session>>;

/// One Engine.IO session. See the module documentation.
pub struct Session {
    /// Its own address, shared with the registry, its socket handles and the membership
    /// (set before the actor runs). The sid is `meta.sid`.
    addr: Option<SessionAddr>,
    config: Arc<EngineConfig>,
    hub: Hub,
    meta: Arc<SessionMeta>,
    handshake: Arc<HandshakeInfo>,
    transport: Transport,
    probe: Option<Probe>,
    /// Frames waiting for a poll (polling only; a websocket's backlog is in its outbox).
    queue: VecDeque<Queued>,
    queued_bytes: usize,
    ping_timer: Option<SpawnHandle>,
    pong_deadline: Option<SpawnHandle>,
    /// Whether a ping went out and its pong has not come (its deadline may be held while
    /// an upgrade keeps the client from answering).
    pong_owed: bool,
    /// Whether an upgrade held the deadline of the pong owed already (once per pong).
    pong_hold_spent: bool,
    app: App,
    /// Whether a pending poll waits to be answered until the current step has written
    /// everything it writes (a CONNECT reply and what its handler emits go in one body).
    flush_deferred: bool,
    closing: bool,
    /// Whether the client speaks Engine.IO v3 (see [`eio3`]).
    eio3: bool,
    /// Whether that v3 client takes binary polling bodies (it did not ask for `b64`).
    eio3_binary_bodies: bool,
    /// Whether the first full-buffer drop of this session was logged already.
    drop_logged: bool,
}

pub(crate) use handler_requests::{capture as capture_request, task as session_task, Request};

static NEXT_WS_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh id for a websocket transport (it tags the frames the connection forwards).
pub fn next_transport_id() -> u64 {
    NEXT_WS_ID.fetch_add(1, Ordering::Relaxed)
}

impl Session {
    fn new(sid: Arc<str>, params: SessionParams, transport: Transport) -> Self {
        let websocket = matches!(transport, Transport::WebSocket(_));
        let upgrades =
            if !websocket && params.config.allow_websocket && params.config.allow_upgrades {
                vec!["websocket".into()]
            } else {
                vec![]
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
        let eio3 = params.config.allow_eio3 && is_eio3(&params.handshake);
        let eio3_binary_bodies = eio3 && eio3::takes_binary_bodies(&params.handshake);
        let meta = Arc::new(SessionMeta::new(
            sid.clone(),
            params.handshake.clone(),
            if websocket { "websocket" } else { "polling" },
        ));
        let mut session = Session {
            addr: None,
            config: params.config,
            hub: params.hub,
            meta,
            handshake: params.handshake,
            transport,
            probe: None,
            queue: VecDeque::new(),
            queued_bytes: 0,
            ping_timer: None,
            pong_deadline: None,
            pong_owed: false,
            pong_hold_spent: false,
            app,
            flush_deferred: false,
            closing: false,
            eio3,
            eio3_binary_bodies,
            drop_logged: false,
        };
        session.write_frames(
            &[WireFrame::from_packet(&EnginePacket::Open(open.to_json()))],
            false,
        );
        session
    }

    /// Runs the session on the current arbiter and asks the ConnectionManager to register
    /// it, `on_registered` (given the session's address) saying what that ends. The context
    /// is built first, so that its address exists to be registered; the registration is
    /// asked before the session runs, so that it reaches the manager before anything the
    /// session's end sends there.
    fn start(
        mut self,
        on_registered: impl FnOnce(&SessionAddr) -> OnRegistered,
    ) -> (Arc<str>, SessionAddr) {
        let ctx = Context::<Session>::new();
        let session = Arc::new(ctx.address());
        self.addr = Some(session.clone());
        let sid = self.meta.sid.clone();
        let then = on_registered(&session);
        self.hub
            .register_session(sid.clone(), session.clone(), self.meta.clone(), then);
        self.hub.admin().raw_connection(None);
        ctx.run(self);
        (sid, session)
    }

    /// Starts a session whose first transport is HTTP long-polling. The open packet waits in
    /// its queue for the handshake GET to [`Poll`](crate::messages::Poll) it, which is to
    /// wait for [`Started::registered`] first.
    pub fn start_polling(params: SessionParams) -> Started {
        let sid: Arc<str> = crate::random_id().into();
        let transport = Transport::Polling {
            pending: None,
            posting: false,
            awaiting_last_poll: false,
        };
        let (reply, answer) = oneshot::channel();
        let (sid, session) =
            Session::new(sid, params, transport).start(|_| OnRegistered::Answer(reply));
        Started {
            registered: Registered::new(answer, Addr::clone(&session)),
            sid,
            session: Addr::clone(&session),
        }
    }

    /// Starts a session whose transport is a websocket from the start: frames go to
    /// `outbox` (its open packet first), and the connection tags what it forwards with
    /// `id`. The connection may start at once: no request names a websocket-first
    /// session's sid, so nothing waits for its registration, which gives `admitted` (its
    /// place among the open connections) back once it is done.
    pub fn start_websocket(
        params: SessionParams,
        outbox: Outbox,
        id: u64,
        admitted: AdmissionHold,
    ) -> Opened {
        let sid: Arc<str> = crate::random_id().into();
        let transport = Transport::WebSocket(WsLink { outbox, id });
        let release =
            |session: &SessionAddr| OnRegistered::Release(Release::new(admitted, session.clone()));
        let (sid, session) = Session::new(sid, params, transport).start(release);
        Opened { sid, session }
    }

    /// Offers a websocket that carries this session's sid as the upgrade probe; the session
    /// closes it if it cannot upgrade.
    pub fn begin_upgrade(session: &Addr<Session>, outbox: Outbox, id: u64) {
        session.do_send(crate::messages::BeginUpgrade { outbox, id });
    }

    /// The session id.
    pub fn sid(&self) -> &str {
        &self.meta.sid
    }

    /// Its own address, shared (see [`SessionAddr`]).
    fn addr(&self) -> SessionAddr {
        match &self.addr {
            Some(addr) => addr.clone(),
            None => unreachable!("a session's address is set before it runs"),
        }
    }

    /// Ends the session: sockets are told why, the transport is closed as the reference
    /// server does (a `1` to a pending poll, a close frame to a websocket), then the actor
    /// stops.
    fn close(&mut self, reason: DisconnectReason, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        log::debug!("session {}: closing ({reason})", self.meta.sid);
        self.hub.admin().raw_connection(Some(reason.as_str()));
        for handle in [self.ping_timer.take(), self.pong_deadline.take()]
            .into_iter()
            .flatten()
        {
            ctx.cancel_future(handle);
        }
        if let App::SocketIo(layer) = &mut self.app {
            let hub = self.hub.clone();
            let ended = layer.close_all(reason, &hub, ctx);
            if !ended.is_empty() {
                // Now: a polling session may stay registered a while after (see
                // `await_last_poll`), its sockets gone.
                self.hub.session_ended(self.meta.sid.clone(), ended, false);
            }
        }
        if let Some(probe) = self.probe.take() {
            ctx.cancel_future(probe.timer);
            close_link(&probe.link);
        }
        match &mut self.transport {
            Transport::WebSocket(link) => {
                if reason == DisconnectReason::SlowConsumer {
                    // It does not read: drop its backlog and cut the connection.
                    link.outbox.abort();
                } else {
                    close_link(link);
                }
                self.closing = true;
                ctx.stop();
            }
            Transport::Polling { .. } => self.close_polling(reason, ctx),
        }
    }

    /// Ends a polling session. The last packet (`6` for the client's own close, `1` for
    /// any other) answers the poll pending, if any, and the session stops.
    ///
    /// With no poll pending, a close the client asked for (its `1`) or one the server
    /// decided on keeps the closed session answerable for one more poll, at most a ping
    /// timeout: see [`Session::await_last_poll`]. A close caused by a client fault (a
    /// transport error, a missed pong, a malformed payload) ends the session at once, as
    /// in the reference server: from then on its sid is unknown (a request that still
    /// finds it registered reaches a stopped actor, which is answered as an unknown sid,
    /// until the ConnectionManager unregisters it).
    fn close_polling(&mut self, reason: DisconnectReason, ctx: &mut Context<Self>) {
        // Taken first: writing the last packet would otherwise answer it already.
        let pending = match &mut self.transport {
            Transport::Polling { pending, .. } => pending.take(),
            Transport::WebSocket(_) => None,
        };
        let last = if reason == DisconnectReason::TransportClose {
            EnginePacket::Noop
        } else {
            EnginePacket::Close
        };
        self.write_frames(&[WireFrame::from_packet(&last)], false);
        self.closing = true;
        let at_once = matches!(
            reason,
            DisconnectReason::TransportError
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
                ctx.stop();
            }
            None => self.await_last_poll(ctx),
        }
    }

    /// Keeps the closed session registered, its last packet queued, until a poll takes it
    /// or a ping timeout passes, whichever comes first.
    ///
    /// Why: a client's poll may be on its way when the session closes. The client sends
    /// its GET and its POST `1` at once, on two connections the server may serve on two
    /// workers, and the two reach this actor in either order; had the GET come first it
    /// would have been answered `6`, so it is answered `6` when it comes second too (and
    /// a close the server decides on reaches the client as `1` whenever it polls next).
    /// The bound: a client that stayed open would have had to get a request through
    /// within a ping timeout to keep its session, so a poll later than that is no poll
    /// that was in flight. What waits is counted ([`HubCounters::closed_polling_sessions`])
    /// and, being in the registry, counts against `max_connections` and holds the drain.
    ///
    /// [`HubCounters::closed_polling_sessions`]: crate::HubCounters::closed_polling_sessions
    fn await_last_poll(&mut self, ctx: &mut Context<Self>) {
        if let Transport::Polling {
            awaiting_last_poll, ..
        } = &mut self.transport
        {
            *awaiting_last_poll = true;
            self.hub.counters().closed_polling_started();
        }
        ctx.run_later(self.config.ping_timeout, |_, ctx| ctx.stop());
    }
}

/// Writes a close frame and ends the websocket's response once it is written.
fn close_link(link: &WsLink) {
    let close = crate::wire_frame::ws_close_frame();
    link.outbox.push([close], false);
    link.outbox.close();
}

impl Actor for Session {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if self.eio3 {
            self.arm_v3_heartbeat(ctx);
        } else {
            self.schedule_ping(ctx);
        }
        if let App::SocketIo(layer) = &mut self.app {
            layer.start_connect_timer(ctx);
        }
        if self.eio3 && self.socket_io() {
            // A v3 client is connected to `/` without asking, as in the reference server.
            self.connect_implicitly(ctx);
        }
    }

    fn stopped(&mut self, ctx: &mut Self::Context) {
        // A stop that did not go through `close` (the arbiter shutting down) still owes the
        // sockets their disconnect.
        let mut ended = Vec::new();
        if !self.closing {
            self.closing = true;
            if let App::SocketIo(layer) = &mut self.app {
                let hub = self.hub.clone();
                ended = layer.close_all(DisconnectReason::ServerShuttingDown, &hub, ctx);
            }
            if let Transport::WebSocket(link) = &self.transport {
                close_link(link);
            }
        }
        // A websocket still probing has no one left to answer it: end it, so the client's
        // upgrade fails now instead of waiting on a connection nobody serves.
        if let Some(probe) = self.probe.take() {
            close_link(&probe.link);
        }
        let close = self.single_packet_body(&EnginePacket::Close);
        if let Transport::Polling {
            pending,
            awaiting_last_poll,
            ..
        } = &mut self.transport
        {
            if let Some(tx) = pending.take() {
                let _ = tx.send(close);
            }
            if *awaiting_last_poll {
                self.hub.counters().closed_polling_ended();
            }
        }
        // Unregistered by its owner; meanwhile a request that finds the sid gets no answer
        // from this actor and is answered as an unknown sid.
        self.hub.session_ended(self.meta.sid.clone(), ended, true);
        log::debug!("session {}: stopped", self.meta.sid);
    }
}
