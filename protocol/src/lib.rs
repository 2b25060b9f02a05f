//! Engine.IO v4 and Socket.IO v5 packets: encoding, decoding and validation.
//!
//! This crate is pure: no I/O, no async, no actix. Everything here can be fuzzed and
//! benchmarked on its own. The rules follow the reference Node.js implementation
//! (engine.io 6.6, socket.io-parser 4.2); where siohub is stricter the item says so.
//!
//! ```
//! use siohub_protocol::{EnginePacket, SocketPacket, SocketDecoder, Decoded};
//!
//! let packet = SocketPacket::event("/chat", "hello", serde_json::json!(["world"]));
//! let text = packet.encode_header_and_data();
//! assert_eq!(text, r#"2/chat,["hello","world"]"#);
//!
//! let mut decoder = SocketDecoder::default();
//! match decoder.feed_text(&text).unwrap() {
//!     Decoded::Packet(p) => assert_eq!(p, packet),
//!     Decoded::NeedAttachments(_) => unreachable!(),
//! }
//! assert_eq!(EnginePacket::Message(text.clone()).encode_text().unwrap(), format!("4{text}"));
//! ```
#![warn(missing_docs)]

mod binary;
pub mod eio3;
mod engine;
mod error;
mod handshake;
mod lone_surrogates;
mod msgpack;
mod parser;
mod payload;
mod socket;

pub use binary::{placeholder, Payload};
pub use engine::{EnginePacket, EngineType};
pub use error::ProtocolError;
pub use handshake::Handshake;
pub use msgpack::{decode_msgpack_packet, encode_msgpack_packet, MAX_DEPTH as MSGPACK_MAX_DEPTH};
pub use parser::Parser;
pub use payload::{decode_payload, encode_payload, RECORD_SEPARATOR};
pub use socket::{
    Decoded, SocketDecoder, SocketPacket, SocketType, DEFAULT_MAX_ATTACHMENTS,
    DEFAULT_MAX_ATTACHMENT_BYTES, RESERVED_EVENTS,
};
