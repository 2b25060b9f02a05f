//! Turns decoded websocket frames into whole messages: continuation frames are reassembled
//! (within the message size limit), pongs are dropped, pings and closes reported.

use actix_http::ws::{Frame, Item};
use bytes::{Bytes, BytesMut};

/// One thing that happened on the websocket.
#[derive(Debug)]
pub enum WsEvent {
    /// A whole text message (not yet checked for UTF-8).
    Text(Bytes),
    /// A whole binary message.
    Binary(Bytes),
    /// A websocket-level ping, to be answered with a pong carrying the same data.
    Ping(Bytes),
    /// The client started the closing handshake, or went away.
    Close,
    /// The client broke the websocket protocol (or sent a message over the size limit).
    Error(String),
}

impl WsEvent {
    /// Whether nothing follows this event.
    pub fn is_last(&self) -> bool {
        matches!(self, WsEvent::Close | WsEvent::Error(_))
    }
}

/// A partly received fragmented message.
struct Fragments {
    binary: bool,
    data: BytesMut,
}

/// Reassembles fragmented messages.
pub struct Assembler {
    /// Boxed: held only while a fragmented message arrives, and every idle connection's
    /// task holds the assembler (a `BytesMut` inline would cost it 32 bytes).
    fragments: Option<Box<Fragments>>,
    max_message: usize,
    /// Whether the last error was a fragmented message over the limit.
    too_big: bool,
}

impl Assembler {
    /// An assembler refusing messages over `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Assembler {
            fragments: None,
            max_message,
            too_big: false,
        }
    }

    /// Whether the error returned last was a fragmented message over the size limit.
    pub fn too_big(&self) -> bool {
        self.too_big
    }

    /// Turns one decoded frame into an event, or `None` while a fragmented message goes on.
    pub fn on_frame(&mut self, frame: Frame) -> Option<WsEvent> {
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
            self.fragments = Some(Box::new(Fragments {
                binary,
                data: BytesMut::from(&chunk[..]),
            }));
            return None;
        }
        let Some(fragments) = self.fragments.as_mut() else {
            return Some(WsEvent::Error(
                "a continuation frame with no message to continue".into(),
            ));
        };
        fragments.data.extend_from_slice(&chunk);
        if fragments.data.len() > self.max_message {
            self.too_big = true;
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
