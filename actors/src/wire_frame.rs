//! Outgoing frames, encoded once: the websocket frame bytes of one Engine.IO packet, from
//! which the polling form is derived when the session is on polling. A broadcast encodes its
//! frames once and every recipient's queue holds a reference-counted copy.

use actix_codec::Encoder;
use actix_http::ws::{Codec, Message};
use bytes::{Bytes, BytesMut};
use siohub_protocol::EnginePacket;
use std::sync::{Arc, OnceLock};

/// The frames of one encoded event (a packet and its attachments), shared by every
/// recipient.
pub type Frames = std::sync::Arc<[WireFrame]>;

/// One Engine.IO packet as a ready-to-write server websocket frame.
///
/// Its clones share the forms derived from it, so a recipient that copies a broadcast's
/// frame still compresses it (or reframes it for v3) only if no other recipient has.
#[derive(Debug)]
pub struct WireFrame {
    bytes: Bytes,
    header_len: u8,
    binary: bool,
    /// What was derived from the frame, shared with its clones; allocated on the first
    /// need (most frames are never cloned, compressed nor reframed).
    derived: OnceLock<Arc<Derived>>,
}

/// The forms of a frame made on demand, each by the first recipient that needs it.
#[derive(Debug, Default)]
struct Derived {
    /// The permessage-deflate form (the compression depends on nothing per connection).
    deflated: OnceLock<Bytes>,
    /// Another encoding of the same packet (a v3 client's binary frame).
    variant: OnceLock<WireFrame>,
}

impl Clone for WireFrame {
    fn clone(&self) -> Self {
        WireFrame {
            bytes: self.bytes.clone(),
            header_len: self.header_len,
            binary: self.binary,
            derived: OnceLock::from(self.derived().clone()),
        }
    }
}

/// Frames are equal when they put the same bytes on the wire (what was derived from them
/// so far does not count).
impl PartialEq for WireFrame {
    fn eq(&self, other: &Self) -> bool {
        (&self.bytes, self.header_len, self.binary)
            == (&other.bytes, other.header_len, other.binary)
    }
}

impl Eq for WireFrame {}

impl WireFrame {
    /// Encodes a packet: a text frame for every packet but binary messages, which become
    /// binary frames.
    pub fn from_packet(packet: &EnginePacket) -> Self {
        match packet {
            EnginePacket::Binary(data) => Self::binary(data.clone()),
            other => Self::text(other.encode_text().unwrap_or_default()),
        }
    }

    /// A text frame carrying `text` (a whole Engine.IO packet, type digit included).
    pub fn text(text: String) -> Self {
        let len = text.len();
        Self::encode(Message::Text(text.into()), len, false)
    }

    /// A binary frame carrying `data`.
    pub fn binary(data: Bytes) -> Self {
        let len = data.len();
        Self::encode(Message::Binary(data), len, true)
    }

    fn encode(message: Message, payload_len: usize, binary: bool) -> Self {
        let mut out = BytesMut::with_capacity(payload_len + 10);
        Codec::new()
            .encode(message, &mut out)
            .expect("encoding a server frame into memory cannot fail");
        let header_len = (out.len() - payload_len) as u8;
        WireFrame {
            bytes: out.freeze(),
            header_len,
            binary,
            derived: OnceLock::new(),
        }
    }

    fn derived(&self) -> &Arc<Derived> {
        self.derived.get_or_init(Arc::default)
    }

    /// The other encoding of this packet that `make` builds (the one a v3 client's websocket
    /// takes): built by the first caller, shared with every clone of this frame.
    pub fn variant(&self, make: impl FnOnce(&Self) -> Self) -> Self {
        self.derived().variant.get_or_init(|| make(self)).clone()
    }

    /// The whole websocket frame.
    pub fn ws_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The frame for a connection that negotiated permessage-deflate: compressed (RSV1) when
    /// the payload has at least `threshold` bytes, else the plain frame. Compressed once,
    /// by the first connection to ask, for every connection.
    pub fn ws_bytes_deflated(&self, threshold: usize) -> &Bytes {
        if self.payload().len() < threshold {
            return &self.bytes;
        }
        self.derived().deflated.get_or_init(|| {
            let opcode = if self.binary { 2 } else { 1 };
            crate::ws::deflate::frame(opcode, &crate::ws::deflate::compress(self.payload()))
        })
    }

    /// The payload: the Engine.IO packet text, or the binary message.
    pub fn payload(&self) -> &[u8] {
        &self.bytes[self.header_len as usize..]
    }

    /// Whether this is a binary message.
    pub fn is_binary(&self) -> bool {
        self.binary
    }

    /// Bytes this frame takes on the wire.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the frame is empty (never: a frame has at least a header).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Appends the polling form: the packet text, or `b` + base64 for binary.
    pub fn append_polling(&self, out: &mut String) {
        use base64::Engine as _;
        if self.binary {
            out.push('b');
            base64::engine::general_purpose::STANDARD.encode_string(self.payload(), out);
        } else {
            out.push_str(std::str::from_utf8(self.payload()).unwrap_or_default());
        }
    }
}

/// A websocket close frame (no status), as raw bytes for an outbox.
pub fn ws_close_frame() -> Bytes {
    encode_raw(Message::Close(None))
}

/// A websocket close frame with a status `code` (1009 for a message too big).
pub fn ws_close_frame_with(code: u16) -> Bytes {
    encode_raw(Message::Close(Some(
        actix_http::ws::CloseCode::from(code).into(),
    )))
}

/// A websocket pong answering a ping with `data`.
pub fn ws_pong_frame(data: &[u8]) -> Bytes {
    encode_raw(Message::Pong(Bytes::copy_from_slice(data)))
}

fn encode_raw(message: Message) -> Bytes {
    let mut out = BytesMut::with_capacity(16);
    Codec::new()
        .encode(message, &mut out)
        .expect("encoding a server frame into memory cannot fail");
    out.freeze()
}

/// Joins frames into one polling body, separated by `\x1e`.
pub fn polling_body<'a>(frames: impl IntoIterator<Item = &'a WireFrame>) -> String {
    let mut out = String::new();
    for (i, frame) in frames.into_iter().enumerate() {
        if i > 0 {
            out.push(siohub_protocol::RECORD_SEPARATOR);
        }
        frame.append_polling(&mut out);
    }
    out
}

/// The frames of one Socket.IO packet in `parser`'s format: with JSON its text as an
/// Engine.IO message, then one binary frame per attachment; with msgpack one binary message
/// holding everything.
pub fn socket_packet_frames(
    packet: &siohub_protocol::SocketPacket,
    parser: siohub_protocol::Parser,
) -> Vec<WireFrame> {
    match parser {
        siohub_protocol::Parser::Json => json_packet_frames(packet),
        siohub_protocol::Parser::Msgpack => {
            let message = siohub_protocol::encode_msgpack_packet(packet);
            vec![WireFrame::binary(message.into())]
        }
    }
}

fn json_packet_frames(packet: &siohub_protocol::SocketPacket) -> Vec<WireFrame> {
    let mut text = String::with_capacity(64);
    text.push('4');
    text.push_str(&packet.encode_header_and_data());
    let mut frames = Vec::with_capacity(1 + packet.attachments.len());
    frames.push(WireFrame::text(text));
    frames.extend(packet.attachments.iter().cloned().map(WireFrame::binary));
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_frames_carry_the_packet_after_a_short_header() {
        let frame = WireFrame::from_packet(&EnginePacket::Message("hello".into()));
        assert_eq!(frame.payload(), b"4hello");
        assert_eq!(frame.ws_bytes()[0], 0x81, "FIN + text opcode");
        assert_eq!(frame.ws_bytes()[1], 6, "unmasked, length 6");
        assert!(!frame.is_binary());
        let mut body = String::new();
        frame.append_polling(&mut body);
        assert_eq!(body, "4hello");
    }

    #[test]
    fn binary_frames_become_base64_in_polling() {
        let frame = WireFrame::from_packet(&EnginePacket::Binary(Bytes::from_static(&[1, 2, 3])));
        assert_eq!(frame.ws_bytes()[0], 0x82, "FIN + binary opcode");
        assert_eq!(frame.payload(), &[1, 2, 3]);
        let text = WireFrame::from_packet(&EnginePacket::Noop);
        assert_eq!(polling_body([&frame, &text]), "bAQID\u{1e}6");
    }

    #[test]
    fn long_payloads_get_extended_lengths() {
        let frame = WireFrame::text("4".repeat(70_000));
        assert_eq!(frame.payload().len(), 70_000);
        assert_eq!(frame.len(), 70_000 + 10);
    }
}
