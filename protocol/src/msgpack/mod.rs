//! The `socket.io-msgpack-parser` 3.x wire format: every Socket.IO packet is ONE msgpack map
//! `{type, nsp, data?, id?}` carried in a binary Engine.IO message. Buffers travel inside the
//! map as msgpack `bin`, so there are no BINARY_EVENT/BINARY_ACK packets on the wire.
//!
//! Inside siohub a packet keeps one shape whatever the parser: JSON data whose buffers are
//! `{"_placeholder":true,"num":i}` objects indexing [`SocketPacket::attachments`]. Decoding
//! turns each `bin` into such a placeholder (and an EVENT/ACK carrying one into a
//! BINARY_EVENT/BINARY_ACK); encoding writes each placeholder back as a `bin`.
//!
//! The decoder reads untrusted input: it bounds nesting ([`MAX_DEPTH`]), never reserves
//! memory from a length the peer claims before checking that the bytes are there, and never
//! recurses deeper than that bound.
//!
//! ```
//! use siohub_protocol::{decode_msgpack_packet, encode_msgpack_packet, SocketPacket};
//!
//! let packet = SocketPacket::event("/chat", "hello", serde_json::json!(["world"]));
//! let bytes = encode_msgpack_packet(&packet);
//! assert_eq!(decode_msgpack_packet(&bytes.into(), 10).unwrap(), packet);
//! ```

mod reader;
mod writer;

use bytes::Bytes;
use serde_json::Value;

use crate::socket::check_payload;
use crate::{ProtocolError, SocketPacket, SocketType};

pub use reader::MAX_DEPTH;

/// Encodes `packet` as one msgpack map; its attachments go where their placeholders are.
pub fn encode_msgpack_packet(packet: &SocketPacket) -> Vec<u8> {
    writer::packet(packet)
}

/// Decodes one binary message into a packet, refusing more than `max_attachments` buffers.
///
/// The rules are those of `socket.io-msgpack-parser` 3.0.2: an integer `type` 0–4, a string
/// `nsp`, CONNECT data absent or a map, DISCONNECT without data, CONNECT_ERROR data a string
/// or a map, EVENT and ACK data an array, `id` absent or an integer. On top of them siohub
/// applies the rules its JSON decoder applies (an event's name is a string or a number, and
/// not a reserved one; an ack id is not negative).
pub fn decode_msgpack_packet(
    message: &Bytes,
    max_attachments: usize,
) -> Result<SocketPacket, ProtocolError> {
    let (root, attachments) = reader::read(message, max_attachments)?;
    let Value::Object(mut fields) = root else {
        return Err(ProtocolError::InvalidMsgpack(
            "a packet must be a msgpack map".into(),
        ));
    };
    let kind = packet_type(fields.get("type"))?;
    let nsp = match fields.remove("nsp") {
        Some(Value::String(nsp)) => nsp,
        _ => return Err(ProtocolError::InvalidMsgpack("invalid namespace".into())),
    };
    let id = match fields.get("id") {
        None => None,
        Some(id) => Some(id.as_u64().ok_or(ProtocolError::InvalidAckId)?),
    };
    let data = fields.remove("data");
    let kind = match (kind, attachments.is_empty()) {
        (SocketType::Event, false) => SocketType::BinaryEvent,
        (SocketType::Ack, false) => SocketType::BinaryAck,
        (kind, _) => kind,
    };
    // The msgpack parser wants data on an ACK, where the JSON one lets it go.
    if matches!(kind, SocketType::Ack | SocketType::BinaryAck) && data.is_none() {
        return Err(ProtocolError::InvalidPayload("ACK"));
    }
    check_payload(kind, data.as_ref())?;
    Ok(SocketPacket {
        kind,
        nsp,
        id,
        data,
        attachments,
    })
}

/// The packet type: an integer 0–4 (the msgpack parser has no BINARY_EVENT/BINARY_ACK).
fn packet_type(value: Option<&Value>) -> Result<SocketType, ProtocolError> {
    Ok(match value.and_then(Value::as_u64) {
        Some(0) => SocketType::Connect,
        Some(1) => SocketType::Disconnect,
        Some(2) => SocketType::Event,
        Some(3) => SocketType::Ack,
        Some(4) => SocketType::ConnectError,
        _ => {
            return Err(ProtocolError::InvalidMsgpack(
                "invalid packet type (an integer 0 to 4)".into(),
            ))
        }
    })
}

#[cfg(test)]
mod tests;
