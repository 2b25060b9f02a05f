//! The transport messages a session handles: polling GET and POST, websocket frames, and
//! the upgrade from polling to websocket (`2probe` → `3probe`, `6` to pending polls, `5`).

use actix::prelude::*;
use futures::channel::oneshot;
use siohub_protocol::EnginePacket;

use super::{Probe, Session, Transport};
use crate::error::EngineError;
use crate::messages::{
    BeginPost, BeginUpgrade, EndPost, Poll, PollAborted, PollOutcome, WsClose, WsClosed, WsFrame,
    WsIncoming, WsSend,
};
use crate::socket::DisconnectReason;

impl Handler<Poll> for Session {
    type Result = Result<PollOutcome, EngineError>;

    fn handle(&mut self, _msg: Poll, ctx: &mut Context<Self>) -> Self::Result {
        let Transport::Polling { pending, .. } = &mut self.transport else {
            return Err(EngineError::BadRequest);
        };
        if pending.is_some() {
            log::warn!("session {}: overlapping GET requests; closing", self.sid);
            self.close(DisconnectReason::TransportError, ctx);
            return Err(EngineError::BadRequest);
        }
        if self.closing {
            // Either the close packet waits for this poll, or the session is already gone.
            if self.queue.is_empty() {
                return Err(EngineError::UnknownSid);
            }
            let body = self.drain_polling_body();
            ctx.stop();
            return Ok(PollOutcome::Ready(body));
        }
        if !self.queue.is_empty() {
            return Ok(PollOutcome::Ready(self.drain_polling_body()));
        }
        if self.probe.as_ref().is_some_and(|p| p.probed) {
            return Ok(PollOutcome::Ready(noop_body()));
        }
        let (tx, rx) = oneshot::channel();
        *pending = Some(tx);
        Ok(PollOutcome::Pending(rx))
    }
}

impl Handler<PollAborted> for Session {
    type Result = ();

    fn handle(&mut self, _msg: PollAborted, ctx: &mut Context<Self>) {
        if let Transport::Polling { pending, .. } = &mut self.transport {
            if pending.take().is_some() && !self.closing {
                log::info!(
                    "session {}: poll closed prematurely by the client",
                    self.sid
                );
                self.close(DisconnectReason::TransportError, ctx);
            }
        }
    }
}

impl Handler<BeginPost> for Session {
    type Result = Result<(), EngineError>;

    fn handle(&mut self, _msg: BeginPost, ctx: &mut Context<Self>) -> Self::Result {
        let Transport::Polling { posting, .. } = &mut self.transport else {
            return Err(EngineError::BadRequest);
        };
        if *posting {
            log::warn!("session {}: overlapping POST requests; closing", self.sid);
            self.close(DisconnectReason::TransportError, ctx);
            return Err(EngineError::BadRequest);
        }
        *posting = true;
        Ok(())
    }
}

impl Handler<EndPost> for Session {
    type Result = ();

    fn handle(&mut self, msg: EndPost, ctx: &mut Context<Self>) {
        if let Transport::Polling { posting, .. } = &mut self.transport {
            *posting = false;
        }
        match msg.packets {
            Ok(packets) => {
                for packet in packets {
                    self.on_packet(Ok(packet), ctx);
                }
            }
            Err(e) => self.on_packet(Err(e), ctx),
        }
    }
}

impl Handler<BeginUpgrade> for Session {
    type Result = Result<(), EngineError>;

    fn handle(&mut self, msg: BeginUpgrade, ctx: &mut Context<Self>) -> Self::Result {
        let upgradable = matches!(self.transport, Transport::Polling { .. })
            && self.probe.is_none()
            && !self.closing;
        if !upgradable {
            log::info!(
                "session {}: refused a second upgrade or an upgrade of a websocket",
                self.sid
            );
            msg.ws.do_send(WsClose);
            return Err(EngineError::BadRequest);
        }
        let timer = ctx.run_later(self.config.upgrade_timeout, |act, _ctx| {
            if let Some(probe) = act.probe.take() {
                log::info!("session {}: upgrade timed out; staying on polling", act.sid);
                probe.ws.do_send(WsClose);
            }
        });
        self.probe = Some(Probe {
            ws: msg.ws,
            id: msg.id,
            probed: false,
            timer,
        });
        Ok(())
    }
}

impl Handler<WsIncoming> for Session {
    type Result = ();

    fn handle(&mut self, msg: WsIncoming, ctx: &mut Context<Self>) {
        match &self.transport {
            Transport::WebSocket { id, .. } if *id == msg.id => self.on_packet(msg.packet, ctx),
            _ if self.probe.as_ref().is_some_and(|p| p.id == msg.id) => {
                self.on_probe_packet(msg.packet, ctx)
            }
            _ => {}
        }
    }
}

impl Handler<WsClosed> for Session {
    type Result = ();

    fn handle(&mut self, msg: WsClosed, ctx: &mut Context<Self>) {
        match &self.transport {
            Transport::WebSocket { id, .. } if *id == msg.id => {
                self.close(DisconnectReason::TransportClose, ctx)
            }
            _ => {
                if self.probe.as_ref().is_some_and(|p| p.id == msg.id) {
                    if let Some(probe) = self.probe.take() {
                        ctx.cancel_future(probe.timer);
                    }
                }
            }
        }
    }
}

impl Session {
    /// A packet on the websocket being probed: `2probe` is answered with `3probe`, `5`
    /// completes the upgrade, anything else aborts it.
    fn on_probe_packet(
        &mut self,
        packet: Result<EnginePacket, siohub_protocol::ProtocolError>,
        ctx: &mut Context<Self>,
    ) {
        let Some(probe) = self.probe.as_mut() else {
            return;
        };
        match packet {
            Ok(EnginePacket::Ping(data)) if data == "probe" && !probe.probed => {
                probe.probed = true;
                probe
                    .ws
                    .do_send(WsSend(vec![WsFrame::from_packet(EnginePacket::Pong(data))]));
                // Force a polling cycle so the client can pause polling and send `5`.
                if let Transport::Polling { pending, .. } = &mut self.transport {
                    if let Some(tx) = pending.take() {
                        let _ = tx.send(noop_body());
                    }
                }
            }
            Ok(EnginePacket::Upgrade) if probe.probed => self.complete_upgrade(ctx),
            other => {
                log::info!(
                    "session {}: unexpected packet during upgrade ({other:?}); upgrade aborted",
                    self.sid
                );
                if let Some(probe) = self.probe.take() {
                    ctx.cancel_future(probe.timer);
                    probe.ws.do_send(WsClose);
                }
            }
        }
    }

    fn complete_upgrade(&mut self, ctx: &mut Context<Self>) {
        let Some(probe) = self.probe.take() else {
            return;
        };
        ctx.cancel_future(probe.timer);
        if let Transport::Polling { pending, .. } = &mut self.transport {
            if let Some(tx) = pending.take() {
                let _ = tx.send(noop_body());
            }
        }
        self.transport = Transport::WebSocket {
            ws: probe.ws,
            id: probe.id,
        };
        log::debug!("session {}: upgraded to websocket", self.sid);
        self.flush();
    }
}

fn noop_body() -> String {
    EnginePacket::Noop.encode_text().unwrap_or_default()
}
