//! The Engine.IO side of a session: heartbeat and the packets that arrive on the session's
//! current transport.

use actix::prelude::*;
use siohub_protocol::{EnginePacket, ProtocolError};

use super::{App, Session};
use crate::disconnect_reason::DisconnectReason;

impl Session {
    /// Schedules the next ping one full interval from now (never at once: the first ping
    /// goes out one interval after the handshake).
    pub(super) fn schedule_ping(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.ping_timer.take() {
            ctx.cancel_future(handle);
        }
        self.ping_timer = Some(ctx.run_later(self.config.ping_interval, |act, ctx| {
            act.ping_timer = None;
            act.send(EnginePacket::Ping(String::new()), ctx);
            act.pong_owed = true;
            if act.upgrade_holds_pong() && !act.pong_hold_spent {
                act.pong_hold_spent = true;
            } else {
                act.arm_pong_deadline(ctx);
            }
        }));
    }

    /// Starts the wait for the pong owed: one ping timeout, then the session closes.
    fn arm_pong_deadline(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.pong_deadline.take() {
            ctx.cancel_future(handle);
        }
        self.pong_deadline = Some(ctx.run_later(self.config.ping_timeout, |act, ctx| {
            act.pong_deadline = None;
            crate::limited!(
                info,
                "session {}: no pong within the ping timeout; closing",
                act.meta.sid
            );
            act.close(DisconnectReason::PingTimeout, ctx);
        }));
    }

    /// Whether an upgrade keeps the client from answering a ping: once `3probe` went out,
    /// the client pauses polling (the ping waits in a queue it no longer reads) and holds
    /// everything it sends, the pong included, until it has sent `5` on the websocket.
    fn upgrade_holds_pong(&self) -> bool {
        self.probe.as_ref().is_some_and(|p| p.probed)
    }

    /// The probe was answered: a pong owed cannot come before the upgrade ends, so its
    /// deadline waits for that (the upgrade timeout bounds the wait). Once per pong: a
    /// client that probes again and again does not keep a session without answering.
    pub(super) fn hold_pong_deadline(&mut self, ctx: &mut Context<Self>) {
        if !self.pong_owed || self.pong_hold_spent {
            // No pong owed yet (a ping during the upgrade is held when it goes out), or
            // this one was held already.
            return;
        }
        self.pong_hold_spent = true;
        if let Some(handle) = self.pong_deadline.take() {
            ctx.cancel_future(handle);
        }
    }

    /// The upgrade ended (switched, aborted or timed out): a pong still owed gets a full
    /// ping timeout from now, the time the client has had to answer on a transport it
    /// reads.
    pub(super) fn resume_pong_deadline(&mut self, ctx: &mut Context<Self>) {
        if self.pong_owed && self.pong_deadline.is_none() && !self.closing {
            self.arm_pong_deadline(ctx);
        }
    }

    /// Handles a packet that arrived on the current transport (or the decode error that
    /// stands for a malformed one).
    pub(super) fn on_packet(
        &mut self,
        packet: Result<EnginePacket, ProtocolError>,
        ctx: &mut Context<Self>,
    ) {
        if self.closing {
            return;
        }
        let packet = match packet {
            Ok(p) => p,
            Err(e) => {
                crate::limited!(
                    warn,
                    "session {}: malformed Engine.IO packet: {}; closing",
                    self.meta.sid,
                    crate::ClientText(&e.to_string())
                );
                self.close(DisconnectReason::ParseError, ctx);
                return;
            }
        };
        match packet {
            EnginePacket::Ping(_) | EnginePacket::Pong(_) if self.eio3 => {
                self.on_v3_heartbeat(packet, ctx)
            }
            EnginePacket::Pong(_) => {
                self.pong_owed = false;
                self.pong_hold_spent = false;
                if let Some(handle) = self.pong_deadline.take() {
                    ctx.cancel_future(handle);
                }
                self.schedule_ping(ctx);
            }
            EnginePacket::Ping(_) => {
                crate::limited!(
                    warn,
                    "session {}: ping from the client (invalid heartbeat direction in v4); closing",
                    self.meta.sid
                );
                self.close(DisconnectReason::TransportError, ctx);
            }
            EnginePacket::Close => self.close(DisconnectReason::TransportClose, ctx),
            EnginePacket::Message(text) => match &mut self.app {
                App::Echo => self.send(EnginePacket::Message(text), ctx),
                App::SocketIo(_) => self.on_socket_text(&text, ctx),
            },
            EnginePacket::Binary(data) => match &mut self.app {
                App::Echo => self.send(EnginePacket::Binary(data), ctx),
                App::SocketIo(_) => self.on_socket_binary(data, ctx),
            },
            // The reference server ignores these on an established transport.
            EnginePacket::Open(_) | EnginePacket::Upgrade | EnginePacket::Noop => {}
        }
    }
}
