//! The websocket transport: a small actor on an actix-web-actors `WebsocketContext` that
//! decodes frames for its session and writes the frames the session hands it.
//!
//! actix-web-actors is deprecated upstream in favour of actix-ws; keeping every use of it in
//! this one module means a move to actix-ws touches nothing else.

use std::sync::atomic::{AtomicU64, Ordering};

use actix::prelude::*;
use actix_web::{HttpRequest, HttpResponse};
use actix_web_actors::ws;
use siohub_protocol::EnginePacket;

use crate::messages::{WsClose, WsClosed, WsFrame, WsIncoming, WsSend};
use crate::session::Session;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One websocket connection, attached to one session.
pub struct WsTransport {
    id: u64,
    session: Addr<Session>,
    closed: bool,
}

impl WsTransport {
    /// Answers the upgrade request and starts the transport actor for `session`.
    /// Returns the actor, its id and the `101 Switching Protocols` response.
    pub fn start(
        session: Addr<Session>,
        req: &HttpRequest,
        stream: actix_web::web::Payload,
        max_frame: usize,
    ) -> Result<(Addr<WsTransport>, u64, HttpResponse), actix_web::Error> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let actor = WsTransport {
            id,
            session,
            closed: false,
        };
        let (addr, resp) = ws::WsResponseBuilder::new(actor, req, stream)
            .frame_size(max_frame.max(1024))
            .start_with_addr()?;
        Ok((addr, id, resp))
    }

    fn forward(&self, packet: Result<EnginePacket, siohub_protocol::ProtocolError>) {
        self.session.do_send(WsIncoming {
            id: self.id,
            packet,
        });
    }
}

impl Actor for WsTransport {
    type Context = ws::WebsocketContext<Self>;

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.session.do_send(WsClosed { id: self.id });
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for WsTransport {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        match msg {
            Ok(ws::Message::Text(text)) => self.forward(EnginePacket::decode_text(&text)),
            Ok(ws::Message::Binary(data)) => self.forward(Ok(EnginePacket::decode_binary(data))),
            Ok(ws::Message::Ping(data)) => ctx.pong(&data),
            Ok(ws::Message::Pong(_)) | Ok(ws::Message::Nop) => {}
            Ok(ws::Message::Close(reason)) => {
                // Answer the close handshake, or the client waits for it until its timeout.
                if !self.closed {
                    self.closed = true;
                    ctx.close(reason);
                }
                ctx.stop();
            }
            Ok(ws::Message::Continuation(_)) => {
                // The codec reassembles continuations into whole messages; a stray one is
                // a protocol error from the client.
                log::warn!(
                    "websocket transport {}: unexpected continuation frame",
                    self.id
                );
                ctx.stop();
            }
            Err(e) => {
                log::warn!("websocket transport {}: {e}; closing", self.id);
                ctx.stop();
            }
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl Handler<WsSend> for WsTransport {
    type Result = ();

    fn handle(&mut self, msg: WsSend, ctx: &mut Self::Context) {
        if self.closed {
            return;
        }
        for frame in msg.0 {
            match frame {
                WsFrame::Text(text) => ctx.text(text),
                WsFrame::Binary(data) => ctx.binary(data),
            }
        }
    }
}

impl Handler<WsClose> for WsTransport {
    type Result = ();

    fn handle(&mut self, _msg: WsClose, ctx: &mut Self::Context) {
        if !self.closed {
            self.closed = true;
            ctx.close(None);
        }
        ctx.stop();
    }
}
