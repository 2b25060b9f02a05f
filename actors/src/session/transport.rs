//! The transport messages a session handles: polling GET and POST, websocket frames, and
//! the upgrade from polling to websocket (`2probe` → `3probe`, `6` to pending polls, `5`).

use actix::prelude::*;
use futures::channel::oneshot;
use siohub_protocol::{EnginePacket, ProtocolError};

use super::{close_link, Probe, Session, Transport, WsLink};
use crate::disconnect_reason::DisconnectReason;
use crate::error::EngineError;
use crate::messages::{
    BeginPost, BeginUpgrade, EndPost, Poll, PollAborted, PollOutcome, PostAborted, WsIncoming,
};
use crate::wire_frame::{ws_pong_frame, WireFrame};
use crate::ws::WsEvent;

impl Handler<Poll> for Session {
    type Result = Result<PollOutcome, EngineError>;

    fn handle(&mut self, _msg: Poll, ctx: &mut Context<Self>) -> Self::Result {
        let Transport::Polling { pending, .. } = &mut self.transport else {
            return Err(EngineError::BadRequest);
        };
        if let Some(earlier) = pending {
            if earlier.is_canceled() {
                // The earlier GET was aborted and its notice is still on its way (from
                // another worker): this GET gets what it would get after the notice.
                pending.take();
                self.close(DisconnectReason::TransportError, ctx);
                return Err(EngineError::UnknownSid);
            }
            crate::limited!(
                warn,
                "session {}: overlapping GET requests; closing",
                self.meta.sid
            );
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
            return Ok(PollOutcome::Ready(self.noop_body()));
        }
        let (tx, rx) = oneshot::channel();
        *pending = Some(tx);
        self.hub.counters().poll_held();
        Ok(PollOutcome::Pending(rx))
    }
}

impl Handler<PollAborted> for Session {
    type Result = ();

    /// The client went away before its GET was answered (the reference server closes the
    /// session then), or after the session had answered it and before the answer left the
    /// server. The message may come after the client's next GET (the two are served by
    /// different workers): a pending poll is only the aborted one if its receiver is gone,
    /// so a newer poll is never taken for it.
    fn handle(&mut self, msg: PollAborted, ctx: &mut Context<Self>) {
        let Transport::Polling { pending, .. } = &mut self.transport else {
            return;
        };
        if self.closing {
            return;
        }
        let still_pending = pending.as_ref().is_some_and(oneshot::Sender::is_canceled);
        if still_pending {
            pending.take();
            crate::limited!(
                info,
                "session {}: poll closed prematurely by the client",
                self.meta.sid
            );
        } else if msg.lost_packets {
            crate::limited!(
                info,
                "session {}: poll closed by the client before its answer left; its packets are lost",
                self.meta.sid
            );
        } else {
            return;
        }
        self.close(DisconnectReason::TransportError, ctx);
    }
}

impl Handler<BeginPost> for Session {
    type Result = Result<(), EngineError>;

    fn handle(&mut self, _msg: BeginPost, ctx: &mut Context<Self>) -> Self::Result {
        let Transport::Polling { posting, .. } = &mut self.transport else {
            return Err(EngineError::BadRequest);
        };
        if self.closing {
            // Closed, waiting only for its last poll: nothing it is sent goes anywhere,
            // so the body is not read.
            return Err(EngineError::UnknownSid);
        }
        if *posting {
            crate::limited!(
                warn,
                "session {}: overlapping POST requests; closing",
                self.meta.sid
            );
            self.close(DisconnectReason::TransportError, ctx);
            return Err(EngineError::BadRequest);
        }
        *posting = true;
        self.hub.counters().post_begun();
        Ok(())
    }
}

impl Handler<EndPost> for Session {
    type Result = Result<(), EngineError>;

    fn handle(&mut self, msg: EndPost, ctx: &mut Context<Self>) -> Self::Result {
        if let Transport::Polling { posting, .. } = &mut self.transport {
            *posting = false;
        }
        let count = msg.packets.as_ref().map_or(0, Vec::len);
        if count > 0 {
            self.meta.received(count, msg.bytes);
        }
        if self.closing {
            // The session closed while the body was on its way (a ping timeout on a busy
            // machine, typically). Its packets go nowhere: answering `ok` would tell the
            // client they arrived, and a client pausing polling for an upgrade would then
            // wait in silence for a reply that cannot come. The reference server destroys
            // such a request; an error answer makes the client see the close at once.
            log::debug!(
                "session {}: a POST body came in after the session closed; refused",
                self.meta.sid
            );
            return Err(EngineError::UnknownSid);
        }
        match msg.packets {
            Ok(packets) => {
                for packet in packets {
                    self.on_packet(Ok(packet), ctx);
                }
            }
            Err(e) => self.on_packet(Err(e), ctx),
        }
        Ok(())
    }
}

impl Handler<PostAborted> for Session {
    type Result = ();

    /// Closes the session, as the reference server does, so that the outcome is the same
    /// whether this notice or the client's next POST (served by another worker, where it
    /// would be refused as an overlap) reaches the session first.
    fn handle(&mut self, _msg: PostAborted, ctx: &mut Context<Self>) {
        let Transport::Polling { posting, .. } = &mut self.transport else {
            return;
        };
        // Not marked: the POST was refused, and whatever refused it decided already.
        if !std::mem::take(posting) || self.closing {
            return;
        }
        crate::limited!(
            info,
            "session {}: POST closed by the client before its body ended; closing",
            self.meta.sid
        );
        self.close(DisconnectReason::TransportError, ctx);
    }
}

impl Handler<BeginUpgrade> for Session {
    type Result = ();

    fn handle(&mut self, msg: BeginUpgrade, ctx: &mut Context<Self>) {
        let link = WsLink {
            outbox: msg.outbox,
            id: msg.id,
        };
        let upgradable = matches!(self.transport, Transport::Polling { .. })
            && self.probe.is_none()
            && !self.closing;
        if !upgradable {
            crate::limited!(
                info,
                "session {}: refused a second upgrade or an upgrade of a websocket",
                self.meta.sid
            );
            close_link(&link);
            return;
        }
        let timer = ctx.run_later(self.config.upgrade_timeout, |act, ctx| {
            if let Some(probe) = act.probe.take() {
                crate::limited!(
                    info,
                    "session {}: upgrade timed out; staying on polling",
                    act.meta.sid
                );
                close_link(&probe.link);
                act.resume_pong_deadline(ctx);
            }
        });
        self.probe = Some(Probe {
            link,
            probed: false,
            timer,
        });
    }
}

impl Handler<WsIncoming> for Session {
    type Result = ();

    fn handle(&mut self, msg: WsIncoming, ctx: &mut Context<Self>) {
        let main = matches!(&self.transport, Transport::WebSocket(link) if link.id == msg.id);
        let probe = self.probe.as_ref().is_some_and(|p| p.link.id == msg.id);
        if !main && !probe {
            return;
        }
        let packet = match msg.event {
            WsEvent::Text(data) => {
                self.meta.received(1, data.len());
                self.hub.counters().received(1, data.len());
                match std::str::from_utf8(&data) {
                    Ok(text) => self.decode_ws_text(text),
                    Err(_) => Err(ProtocolError::InvalidUtf8),
                }
            }
            WsEvent::Binary(data) => {
                self.meta.received(1, data.len());
                self.hub.counters().received(1, data.len());
                self.decode_ws_binary(data)
            }
            WsEvent::Ping(data) => {
                let link = if main {
                    self.ws_link()
                } else {
                    self.probe.as_ref().map(|p| &p.link)
                };
                if let Some(link) = link {
                    link.outbox.push([ws_pong_frame(&data)], false);
                }
                return;
            }
            WsEvent::Close | WsEvent::Error(_) => {
                if let WsEvent::Error(e) = &msg.event {
                    crate::limited!(
                        info,
                        "session {}: websocket error: {}; closing it",
                        self.meta.sid,
                        crate::ClientText(&e.to_string())
                    );
                }
                if main {
                    self.close(DisconnectReason::TransportClose, ctx);
                } else if let Some(probe) = self.probe.take() {
                    ctx.cancel_future(probe.timer);
                    close_link(&probe.link);
                    self.resume_pong_deadline(ctx);
                }
                return;
            }
        };
        if main {
            self.on_packet(packet, ctx);
        } else {
            self.on_probe_packet(packet, ctx);
        }
    }
}

impl Session {
    fn ws_link(&self) -> Option<&WsLink> {
        match &self.transport {
            Transport::WebSocket(link) => Some(link),
            Transport::Polling { .. } => None,
        }
    }

    /// A packet on the websocket being probed: `2probe` is answered with `3probe`, `5`
    /// completes the upgrade, anything else aborts it.
    fn on_probe_packet(
        &mut self,
        packet: Result<EnginePacket, ProtocolError>,
        ctx: &mut Context<Self>,
    ) {
        let Some(probe) = self.probe.as_mut() else {
            return;
        };
        match packet {
            Ok(EnginePacket::Ping(data)) if data == "probe" && !probe.probed => {
                probe.probed = true;
                let pong = WireFrame::from_packet(&EnginePacket::Pong(data));
                probe.link.outbox.push_frames([&pong], false);
                self.hold_pong_deadline(ctx);
                // Force a polling cycle so the client can pause polling and send `5`.
                let noop = self.noop_body();
                if let Transport::Polling { pending, .. } = &mut self.transport {
                    if let Some(tx) = pending.take() {
                        let _ = tx.send(noop);
                    }
                }
            }
            Ok(EnginePacket::Upgrade) if probe.probed => self.complete_upgrade(ctx),
            other => {
                crate::limited!(
                    info,
                    "session {}: unexpected packet during upgrade ({}); upgrade aborted",
                    self.meta.sid,
                    crate::ClientText(&format!("{other:?}"))
                );
                if let Some(probe) = self.probe.take() {
                    ctx.cancel_future(probe.timer);
                    close_link(&probe.link);
                }
                self.resume_pong_deadline(ctx);
            }
        }
    }

    fn complete_upgrade(&mut self, ctx: &mut Context<Self>) {
        let Some(probe) = self.probe.take() else {
            return;
        };
        ctx.cancel_future(probe.timer);
        let noop = self.noop_body();
        if let Transport::Polling { pending, .. } = &mut self.transport {
            if let Some(tx) = pending.take() {
                let _ = tx.send(noop);
            }
        }
        self.transport = Transport::WebSocket(probe.link);
        self.meta.set_transport("websocket");
        self.announce_upgrade();
        self.move_queue_to_websocket();
        self.resume_pong_deadline(ctx);
        log::debug!("session {}: upgraded to websocket", self.meta.sid);
    }
}
