//! The incoming side of a websocket: the raw request payload decoded into whole messages
//! (continuation frames reassembled), as a stream the session adds to its context.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_codec::Decoder;
use actix_http::ws::{Codec, Frame, Item, ProtocolError};
use actix_web::web;
use bytes::{Bytes, BytesMut};
use futures::Stream;

/// One thing that happened on the websocket.
#[derive(Debug)]
pub enum WsEvent {
    /// A whole text message (not yet checked for UTF-8).
    Text(Bytes),
    /// A whole binary message.
    Binary(Bytes),
    /// A websocket-level ping, to be answered with a pong carrying the same data.
    Ping(Bytes),
    /// The client started the closing handshake.
    Close,
    /// The client broke the websocket protocol (or sent a message over the size limit).
    Error(String),
}

/// A partly received fragmented message.
struct Fragments {
    binary: bool,
    data: BytesMut,
}

/// The stream of [`WsEvent`]s of one websocket.
pub struct Inbound {
    payload: web::Payload,
    codec: Codec,
    buf: BytesMut,
    fragments: Option<Fragments>,
    max_message: usize,
    done: bool,
}

impl Inbound {
    /// Decodes `payload`, refusing messages over `max_message` bytes.
    pub fn new(payload: web::Payload, max_message: usize) -> Self {
        Inbound {
            payload,
            codec: Codec::new().max_size(max_message),
            buf: BytesMut::new(),
            fragments: None,
            max_message,
            done: false,
        }
    }

    /// Turns one decoded frame into an event, or `None` while a fragmented message goes on.
    fn on_frame(&mut self, frame: Frame) -> Option<WsEvent> {
        match frame {
            Frame::Text(data) => Some(WsEvent::Text(data)),
            Frame::Binary(data) => Some(WsEvent::Binary(data)),
            Frame::Ping(data) => Some(WsEvent::Ping(data)),
            Frame::Pong(_) => None,
            Frame::Close(_) => Some(WsEvent::Close),
            Frame::Continuation(item) => self.on_fragment(item),
        }
    }

    fn on_fragment(&mut self, item: Item) -> Option<WsEvent> {
        let (first, binary, chunk, last) = match item {
            Item::FirstText(b) => (true, false, b, false),
            Item::FirstBinary(b) => (true, true, b, false),
            Item::Continue(b) => (false, false, b, false),
            Item::Last(b) => (false, false, b, true),
        };
        if first {
            if self.fragments.is_some() {
                return Some(WsEvent::Error(
                    "a new fragmented message began inside another".into(),
                ));
            }
            self.fragments = Some(Fragments {
                binary,
                data: BytesMut::from(&chunk[..]),
            });
            return None;
        }
        let Some(fragments) = self.fragments.as_mut() else {
            return Some(WsEvent::Error(
                "a continuation frame with no message to continue".into(),
            ));
        };
        fragments.data.extend_from_slice(&chunk);
        if fragments.data.len() > self.max_message {
            return Some(WsEvent::Error(format!(
                "fragmented message over {} bytes",
                self.max_message
            )));
        }
        if !last {
            return None;
        }
        let done = self.fragments.take()?;
        let data = done.data.freeze();
        Some(if done.binary {
            WsEvent::Binary(data)
        } else {
            WsEvent::Text(data)
        })
    }
}

impl Stream for Inbound {
    type Item = WsEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WsEvent>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match this.codec.decode(&mut this.buf) {
                Ok(Some(frame)) => {
                    if let Some(event) = this.on_frame(frame) {
                        if matches!(event, WsEvent::Close | WsEvent::Error(_)) {
                            this.done = true;
                        }
                        return Poll::Ready(Some(event));
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(WsEvent::Error(describe(e))));
                }
            }
            match Pin::new(&mut this.payload).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => this.buf.extend_from_slice(&chunk),
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(WsEvent::Error(e.to_string())));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

fn describe(e: ProtocolError) -> String {
    format!("websocket protocol error: {e}")
}
