//! The Engine.IO side of a session: heartbeat and the packets that arrive on the session's
//! current transport.

use actix::prelude::*;
use siohub_protocol::{EnginePacket, ProtocolError};

use super::{App, Session};
use crate::socket::DisconnectReason;

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
            act.pong_deadline = Some(ctx.run_later(act.config.ping_timeout, |act, ctx| {
                act.pong_deadline = None;
                crate::limited!(
                    info,
                    "session {}: no pong within the ping timeout; closing",
                    act.sid
                );
                act.close(DisconnectReason::PingTimeout, ctx);
            }));
        }));
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
                    self.sid,
                    crate::ClientText(&e.to_string())
                );
                self.close(DisconnectReason::ParseError, ctx);
                return;
            }
        };
        match packet {
            EnginePacket::Pong(_) => {
                if let Some(handle) = self.pong_deadline.take() {
                    ctx.cancel_future(handle);
                }
                self.schedule_ping(ctx);
            }
            EnginePacket::Ping(_) => {
                crate::limited!(
                    warn,
                    "session {}: ping from the client (invalid heartbeat direction in v4); closing",
                    self.sid
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
