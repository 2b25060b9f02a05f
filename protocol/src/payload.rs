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

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn join_and_split() {
        let packets = vec![
            EnginePacket::Message("hello".into()),
            EnginePacket::Binary(Bytes::from_static(&[1, 2, 3])),
            EnginePacket::Ping(String::new()),
            EnginePacket::Noop,
        ];
        let body = encode_payload(&packets);
        assert_eq!(body, "4hello\x1ebAQID\x1e2\x1e6");
        assert_eq!(decode_payload(body.as_bytes()), Ok(packets));
    }

    #[test]
    fn single_packet_has_no_separator() {
        let body = encode_payload([&EnginePacket::Message("x".into())]);
        assert_eq!(body, "4x");
        assert_eq!(
            decode_payload(b"4x"),
            Ok(vec![EnginePacket::Message("x".into())])
        );
    }

    #[test]
    fn no_packets_is_an_empty_body() {
        assert_eq!(encode_payload(&[]), "");
        // An empty body is one empty packet, which is malformed.
        assert_eq!(decode_payload(b""), Err(ProtocolError::Empty));
    }

    #[test]
    fn a_bad_packet_fails_the_whole_body() {
        assert_eq!(
            decode_payload(b"4a\x1e9b\x1e4c"),
            Err(ProtocolError::UnknownEngineType('9'))
        );
        assert_eq!(
            decode_payload(b"4a\x1eb!!\x1e4c"),
            Err(ProtocolError::InvalidBase64)
        );
        assert_eq!(decode_payload(b"4a\x1e\x1e4c"), Err(ProtocolError::Empty));
        assert_eq!(decode_payload(b"4a\x1e"), Err(ProtocolError::Empty));
    }

    #[test]
    fn non_utf8_body() {
        assert_eq!(
            decode_payload(b"4\xff\xfe"),
            Err(ProtocolError::InvalidUtf8)
        );
    }

    #[test]
    fn separator_constant() {
        assert_eq!(RECORD_SEPARATOR as u32, 0x1e);
    }
}
