//! Polling payloads: several Engine.IO packets in one HTTP body, separated by `\x1e`.

use crate::{EnginePacket, ProtocolError};

/// The record separator between packets of a polling payload.
pub const RECORD_SEPARATOR: char = '\x1e';

/// Joins packets into one polling body.
pub fn encode_payload<'a>(packets: impl IntoIterator<Item = &'a EnginePacket>) -> String {
    let mut out = String::new();
    for (i, packet) in packets.into_iter().enumerate() {
        if i > 0 {
            out.push(RECORD_SEPARATOR);
        }
        packet.encode_polling(&mut out);
    }
    out
}

/// Splits a polling body into packets. Any malformed packet fails the whole body, as the
/// reference server closes the session with "parse error" in that case.
pub fn decode_payload(body: &[u8]) -> Result<Vec<EnginePacket>, ProtocolError> {
    let text = std::str::from_utf8(body).map_err(|_| ProtocolError::InvalidUtf8)?;
    text.split(RECORD_SEPARATOR)
        .map(EnginePacket::decode_text)
        .collect()
}
