//! Engine.IO (v4 and v3) and Socket.IO decoders.

use bytes::Bytes;
use serde_json::Value;
use siohub_protocol::{
    decode_msgpack_packet, decode_payload, eio3, encode_msgpack_packet, encode_payload, Decoded,
    EnginePacket, SocketDecoder, SocketPacket,
};

/// `EnginePacket::decode_text` on any text; what decodes must decode again to itself once
/// re-encoded (in its websocket form, and in its polling form).
pub fn engine_packet(data: &[u8]) {
    let _ = EnginePacket::decode_binary(Bytes::copy_from_slice(data));
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(packet) = EnginePacket::decode_text(text) else {
        return;
    };
    match packet.encode_text() {
        Some(frame) => assert_eq!(EnginePacket::decode_text(&frame).as_ref(), Ok(&packet)),
        None => {
            let EnginePacket::Binary(bytes) = &packet else {
                panic!("only a binary message lacks a text form: {packet:?}");
            };
            assert_eq!(EnginePacket::decode_binary(bytes.clone()), packet);
        }
    }
    let mut polling = String::new();
    packet.encode_polling(&mut polling);
    assert_eq!(EnginePacket::decode_text(&polling), Ok(packet));
}

/// `decode_payload` on any body; a body that decodes must encode to one that decodes to the
/// same packets.
pub fn polling_payload(data: &[u8]) {
    let Ok(packets) = decode_payload(data) else {
        return;
    };
    assert!(!packets.is_empty());
    let body = encode_payload(&packets);
    assert_eq!(decode_payload(body.as_bytes()), Ok(packets));
}

/// The Engine.IO v3 decoders on any body: a text payload that decodes must encode to one
/// that decodes to the same packets; the binary decoders must refuse, never panic.
pub fn eio3_payload(data: &[u8]) {
    let _ = eio3::decode_binary_payload(data);
    let _ = eio3::decode_binary_frame(Bytes::copy_from_slice(data));
    let Ok(packets) = eio3::decode_text_payload(data) else {
        return;
    };
    let mut body = String::new();
    for packet in &packets {
        match packet {
            EnginePacket::Binary(bytes) => eio3::push_binary_record(&mut body, bytes),
            other => eio3::push_text_record(
                &mut body,
                &other.encode_text().expect("only binary lacks a text form"),
            ),
        }
    }
    if !packets.is_empty() {
        assert_eq!(eio3::decode_text_payload(body.as_bytes()), Ok(packets));
    }
}

/// A `SocketDecoder` fed a sequence of frames, which assembles binary packets from their
/// attachments. The input is split on `\x1e` like a polling body: a piece starting with `b`
/// is a binary frame (the bytes after the `b`, raw), any other piece a text frame. Errors
/// are ignored and the same decoder goes on, to reach the states that follow one. Every
/// packet that comes out must encode to frames that a fresh decoder reads back as the same
/// packet (all but its data when that holds a float: the JSON parser reads a float's
/// shortest form back to the same value only with serde_json's `float_roundtrip`).
pub fn socket_decoder(data: &[u8]) {
    let mut decoder = SocketDecoder::default();
    for piece in data.split(|&b| b == 0x1e) {
        let result = match piece.split_first() {
            Some((b'b', rest)) => decoder.feed_binary(Bytes::copy_from_slice(rest)),
            _ => decoder.feed_text(&String::from_utf8_lossy(piece)),
        };
        match result {
            Ok(Decoded::Packet(packet)) => {
                assert!(!decoder.is_reconstructing());
                assert!(packet.nsp.starts_with('/') && !packet.nsp.contains(','));
                if packet.kind.is_binary() {
                    assert!(!packet.attachments.is_empty());
                } else {
                    assert!(packet.attachments.is_empty());
                }
                check_round_trip(&packet);
            }
            Ok(Decoded::NeedAttachments(n)) => {
                assert!(n > 0);
                assert!(decoder.is_reconstructing());
            }
            Err(_) => {}
        }
    }
}

fn check_round_trip(packet: &SocketPacket) {
    let text = packet.encode_header_and_data();
    let mut decoder = SocketDecoder::default();
    let mut decoded = decoder
        .feed_text(&text)
        .unwrap_or_else(|e| panic!("{packet:?} encoded as {text:?} fails: {e}"));
    for buffer in &packet.attachments {
        assert!(matches!(decoded, Decoded::NeedAttachments(_)));
        decoded = decoder.feed_binary(buffer.clone()).expect("attachment");
    }
    let Decoded::Packet(again) = decoded else {
        panic!("{text:?} decodes to {decoded:?}");
    };
    if packet.data.as_ref().is_some_and(has_float) {
        let head = |p: &SocketPacket| (p.kind, p.nsp.clone(), p.id, p.attachments.clone());
        assert_eq!(head(&again), head(packet));
    } else {
        assert_eq!(&again, packet);
    }
    assert!(!decoder.is_reconstructing());
}

/// Whether a JSON value holds a number that is neither an integer.
fn has_float(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_f64(),
        Value::Array(items) => items.iter().any(has_float),
        Value::Object(map) => map.values().any(has_float),
        _ => false,
    }
}

/// `decode_msgpack_packet` on any bytes (the msgpack parser's input); what decodes must
/// decode again to itself once re-encoded. A map that spells a placeholder by hand may
/// become the buffer it names on the way back, so such input is only decoded.
pub fn msgpack_packet(data: &[u8]) {
    let message = Bytes::copy_from_slice(data);
    let Ok(packet) = decode_msgpack_packet(&message, 10) else {
        return;
    };
    if data.windows(12).any(|w| w == b"_placeholder") {
        return;
    }
    let again = Bytes::from(encode_msgpack_packet(&packet));
    assert_eq!(decode_msgpack_packet(&again, 10), Ok(packet));
}
