//! Engine.IO v3 (socket.io-client 2.x) framing, where it differs from v4: polling payloads as `<length>:<packet>` records with the length in
//! UTF-16 code units (JavaScript string length), binary as `b4<base64>` in text payloads,
//! the binary payload encoding XHR2 clients post, and websocket binary frames that start
//! with their packet type byte.
//!
//! Every decoder here reads a body the transport already bounded (`max_payload`), and each
//! record costs at least two bytes of it, so nothing allocates more than the body's size.

use base64::Engine as _;
use bytes::Bytes;

use crate::{EnginePacket, EngineType, ProtocolError};

/// The type byte that starts a v3 binary message (websocket frame or binary payload record).
const MESSAGE_BYTE: u8 = 4;

/// The most length digits a record may carry (a body over 10^10 bytes is refused long
/// before; the reference parser stops at 310).
const MAX_LENGTH_DIGITS: usize = 10;

/// The length of `text` as JavaScript counts it: UTF-16 code units.
pub fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Appends one text packet (type digit included) as a v3 polling record.
pub fn push_text_record(out: &mut String, packet: &str) {
    out.push_str(&utf16_len(packet).to_string());
    out.push(':');
    out.push_str(packet);
}

/// Appends one binary message as a v3 text polling record, `b4` and standard base64.
pub fn push_binary_record(out: &mut String, data: &[u8]) {
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    out.push_str(&(encoded.len() + 2).to_string());
    out.push_str(":b4");
    out.push_str(&encoded);
}

/// Appends one text packet (type digit included) as a record of the v3 binary payload
/// encoding: kind 0, the UTF-8 byte length as one byte per decimal digit, 255, the text.
pub fn push_binary_payload_text(out: &mut Vec<u8>, packet: &[u8]) {
    push_binary_payload_head(out, 0, packet.len());
    out.extend_from_slice(packet);
}

/// Appends one binary message as a record of the v3 binary payload encoding: kind 1, the
/// length (type byte included), 255, the type byte 4, the data.
pub fn push_binary_payload_binary(out: &mut Vec<u8>, data: &[u8]) {
    push_binary_payload_head(out, 1, data.len() + 1);
    out.push(MESSAGE_BYTE);
    out.extend_from_slice(data);
}

fn push_binary_payload_head(out: &mut Vec<u8>, kind: u8, len: usize) {
    out.push(kind);
    out.extend(len.to_string().bytes().map(|d| d - b'0'));
    out.push(255);
}

/// A v3 polling payload with no packets (what the reference server writes for none).
pub const EMPTY_PAYLOAD: &str = "0:";

/// Decodes one v3 packet of a text payload or websocket text frame: `b<type><base64>` is a
/// binary message (only type 4 carries data), anything else decodes as in v4.
pub fn decode_text_packet(text: &str) -> Result<EnginePacket, ProtocolError> {
    let Some(rest) = text.strip_prefix('b') else {
        return EnginePacket::decode_text(text);
    };
    let mut chars = rest.chars();
    let kind = chars.next().ok_or(ProtocolError::Empty)?;
    if EngineType::from_char(kind)? != EngineType::Message {
        return Err(ProtocolError::InvalidPayload("v3 base64 binary"));
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(chars.as_str())
        .map_err(|_| ProtocolError::InvalidBase64)?;
    Ok(EnginePacket::Binary(Bytes::from(data)))
}

/// Decodes a v3 websocket binary frame: the type byte 4, then the message.
pub fn decode_binary_frame(data: Bytes) -> Result<EnginePacket, ProtocolError> {
    match data.first() {
        Some(&MESSAGE_BYTE) => Ok(EnginePacket::Binary(data.slice(1..))),
        Some(_) => Err(ProtocolError::InvalidPayload("v3 binary frame")),
        None => Err(ProtocolError::Empty),
    }
}

/// The v3 websocket binary frame payload for a binary message: its type byte, then `data`.
pub fn binary_frame_payload(data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(1 + data.len());
    out.push(MESSAGE_BYTE);
    out.extend_from_slice(data);
    Bytes::from(out)
}

/// Decodes a v3 text polling body: `<length>:<packet>` records, the length in UTF-16 code
/// units. A wrong length, a missing `:` or a malformed packet fails the whole body, as the
/// reference server then closes the session with "parse error". Empty records (`0:`) are
/// skipped, as the reference decoder does.
pub fn decode_text_payload(body: &[u8]) -> Result<Vec<EnginePacket>, ProtocolError> {
    let text = std::str::from_utf8(body).map_err(|_| ProtocolError::InvalidUtf8)?;
    if text.is_empty() {
        return Err(ProtocolError::Empty);
    }
    let mut packets = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (digits, after) = rest.split_once(':').ok_or(ProtocolError::BadLength)?;
        let units = parse_length(digits.as_bytes().iter().map(|d| d.wrapping_sub(b'0')))?;
        let end = utf16_boundary(after, units).ok_or(ProtocolError::BadLength)?;
        let (packet, tail) = after.split_at(end);
        if !packet.is_empty() {
            packets.push(decode_text_packet(packet)?);
        }
        rest = tail;
    }
    Ok(packets)
}

/// Decodes a v3 binary polling body (`application/octet-stream`): records of a kind byte
/// (0 text, 1 binary), the length as one byte per decimal digit, 255, then the packet (UTF-8
/// text, or a type byte and the message).
pub fn decode_binary_payload(body: &[u8]) -> Result<Vec<EnginePacket>, ProtocolError> {
    if body.is_empty() {
        return Err(ProtocolError::Empty);
    }
    let mut packets = Vec::new();
    let mut rest = body;
    while let Some((&kind, after)) = rest.split_first() {
        let end = after
            .iter()
            .position(|&b| b == 255)
            .ok_or(ProtocolError::BadLength)?;
        let len = parse_length(after[..end].iter().copied())?;
        let data = &after[end + 1..];
        if data.len() < len {
            return Err(ProtocolError::BadLength);
        }
        let (packet, tail) = data.split_at(len);
        packets.push(match kind {
            0 => decode_text_packet(
                std::str::from_utf8(packet).map_err(|_| ProtocolError::InvalidUtf8)?,
            )?,
            1 => decode_binary_frame(Bytes::copy_from_slice(packet))?,
            _ => return Err(ProtocolError::InvalidPayload("v3 binary payload")),
        });
        rest = tail;
    }
    Ok(packets)
}

/// A record length from its decimal digits (as values 0..=9).
fn parse_length(digits: impl ExactSizeIterator<Item = u8>) -> Result<usize, ProtocolError> {
    if digits.len() == 0 || digits.len() > MAX_LENGTH_DIGITS {
        return Err(ProtocolError::BadLength);
    }
    let mut n: usize = 0;
    for d in digits {
        if d > 9 {
            return Err(ProtocolError::BadLength);
        }
        n = n * 10 + usize::from(d);
    }
    Ok(n)
}

/// The byte offset in `text` after `units` UTF-16 code units, if `text` has that many and
/// the count does not end inside a surrogate pair.
fn utf16_boundary(text: &str, units: usize) -> Option<usize> {
    let mut counted = 0;
    for (offset, c) in text.char_indices() {
        if counted == units {
            return Some(offset);
        }
        counted += c.len_utf16();
        if counted > units {
            return None;
        }
    }
    (counted == units).then_some(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(packets: &[&str]) -> String {
        let mut out = String::new();
        for p in packets {
            push_text_record(&mut out, p);
        }
        out
    }

    #[test]
    fn lengths_count_utf16_code_units() {
        // "é" is 1 unit (2 bytes), "😀" is 2 units (4 bytes).
        assert_eq!(text(&["4é😀"]), "4:4é😀");
        assert_eq!(text(&["2", "4hi"]), "1:23:4hi");
        assert_eq!(
            decode_text_payload("4:4é😀1:2".as_bytes()),
            Ok(vec![
                EnginePacket::Message("é😀".into()),
                EnginePacket::Ping(String::new())
            ])
        );
    }

    #[test]
    fn binary_records_are_b4_base64() {
        let mut out = String::new();
        push_binary_record(&mut out, &[1, 2, 3]);
        assert_eq!(out, "6:b4AQID");
        assert_eq!(
            decode_text_payload(out.as_bytes()),
            Ok(vec![EnginePacket::Binary(Bytes::from_static(&[1, 2, 3]))])
        );
    }

    #[test]
    fn wrong_lengths_fail_the_body() {
        for bad in [
            "5:4hi",  // longer than the body
            "2:4hi",  // leaves "i" with no length
            "x:4hi",  // not a number
            ":4hi",   // no length
            "4hi",    // no separator
            "2:4é",   // fine: "4é" is 2 units
            "1:😀",   // ends inside a surrogate pair
            "3:9ab",  // unknown type
            "4:b2AA", // base64 binary of a non-message type
            "99999999999:4",
        ] {
            let result = decode_text_payload(bad.as_bytes());
            if bad == "2:4é" {
                assert_eq!(result, Ok(vec![EnginePacket::Message("é".into())]));
            } else {
                assert!(result.is_err(), "{bad:?} decoded: {result:?}");
            }
        }
        assert_eq!(decode_text_payload(b""), Err(ProtocolError::Empty));
        assert_eq!(decode_text_payload(b"0:"), Ok(vec![]));
    }

    #[test]
    fn binary_payloads_encode_as_the_v3_suite_expects() {
        let mut out = Vec::new();
        push_binary_payload_text(&mut out, b"4hello");
        push_binary_payload_binary(&mut out, &[1, 2, 3, 4]);
        assert_eq!(
            out,
            [0, 6, 255, 52, 104, 101, 108, 108, 111, 1, 5, 255, 4, 1, 2, 3, 4]
        );
        assert_eq!(
            decode_binary_payload(&out),
            Ok(vec![
                EnginePacket::Message("hello".into()),
                EnginePacket::Binary(Bytes::from_static(&[1, 2, 3, 4]))
            ])
        );
        let mut long = Vec::new();
        push_binary_payload_binary(&mut long, &[0; 10]);
        assert_eq!(&long[..4], &[1, 1, 1, 255]);
    }

    #[test]
    fn binary_payloads_decode() {
        // "4hi" as text, then [1, 2] as binary.
        let body = [0, 3, 255, b'4', b'h', b'i', 1, 3, 255, 4, 1, 2];
        assert_eq!(
            decode_binary_payload(&body),
            Ok(vec![
                EnginePacket::Message("hi".into()),
                EnginePacket::Binary(Bytes::from_static(&[1, 2]))
            ])
        );
        assert!(decode_binary_payload(&[0, 9, 255, b'4']).is_err());
        assert!(decode_binary_payload(&[0, 12, 255, b'4']).is_err());
        assert!(decode_binary_payload(&[2, 1, 255, b'4']).is_err());
        assert!(decode_binary_payload(&[1, 1, 255, 3]).is_err());
        assert!(decode_binary_payload(&[0, 1]).is_err());
        assert_eq!(decode_binary_payload(&[]), Err(ProtocolError::Empty));
    }

    #[test]
    fn websocket_binary_frames_carry_their_type_byte() {
        let payload = binary_frame_payload(&[7, 8]);
        assert_eq!(&payload[..], &[4, 7, 8]);
        assert_eq!(
            decode_binary_frame(payload),
            Ok(EnginePacket::Binary(Bytes::from_static(&[7, 8])))
        );
        assert!(decode_binary_frame(Bytes::from_static(&[3, 1])).is_err());
        assert_eq!(decode_binary_frame(Bytes::new()), Err(ProtocolError::Empty));
    }
}
