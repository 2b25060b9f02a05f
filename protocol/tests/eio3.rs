//! Property tests of the Engine.IO v3 codec: what the encoders write, the decoders read
//! back unchanged (text records counted in UTF-16 code units, `b4` base64, the binary
//! payload encoding), and no body, however malformed, makes a decoder panic.

use bytes::Bytes;
use proptest::prelude::*;
use siohub_protocol::eio3;
use siohub_protocol::EnginePacket;

/// A text message (any Unicode, astral characters included) or a binary one.
fn packet() -> impl Strategy<Value = EnginePacket> {
    prop_oneof![
        any::<String>().prop_map(EnginePacket::Message),
        prop::collection::vec(any::<u8>(), 0..64)
            .prop_map(|b| EnginePacket::Binary(Bytes::from(b))),
    ]
}

fn text_of(packet: &EnginePacket) -> String {
    packet.encode_text().expect("a text packet")
}

/// `packets` as a v3 text payload.
fn text_body(packets: &[EnginePacket]) -> String {
    let mut body = String::new();
    for p in packets {
        match p {
            EnginePacket::Binary(data) => eio3::push_binary_record(&mut body, data),
            other => eio3::push_text_record(&mut body, &text_of(other)),
        }
    }
    body
}

/// `packets` as a v3 binary payload.
fn binary_body(packets: &[EnginePacket]) -> Vec<u8> {
    let mut body = Vec::new();
    for p in packets {
        match p {
            EnginePacket::Binary(data) => eio3::push_binary_payload_binary(&mut body, data),
            other => eio3::push_binary_payload_text(&mut body, text_of(other).as_bytes()),
        }
    }
    body
}

proptest! {
    #[test]
    fn text_payloads_round_trip(packets in prop::collection::vec(packet(), 1..8)) {
        let mut body = String::new();
        for p in &packets {
            match p {
                EnginePacket::Binary(data) => eio3::push_binary_record(&mut body, data),
                other => eio3::push_text_record(&mut body, &text_of(other)),
            }
        }
        prop_assert_eq!(eio3::decode_text_payload(body.as_bytes()), Ok(packets));
    }

    #[test]
    fn binary_payloads_round_trip(packets in prop::collection::vec(packet(), 1..8)) {
        let mut body = Vec::new();
        for p in &packets {
            match p {
                EnginePacket::Binary(data) => eio3::push_binary_payload_binary(&mut body, data),
                other => eio3::push_binary_payload_text(&mut body, text_of(other).as_bytes()),
            }
        }
        prop_assert_eq!(eio3::decode_binary_payload(&body), Ok(packets));
    }

    #[test]
    fn any_body_is_decoded_or_refused(body in prop::collection::vec(any::<u8>(), 0..128)) {
        // A body a decoder takes is one its encoder writes back to what decodes the same.
        if let Ok(packets) = eio3::decode_text_payload(&body) {
            prop_assert_eq!(eio3::decode_text_payload(text_body(&packets).as_bytes()), Ok(packets));
        }
        if let Ok(packets) = eio3::decode_binary_payload(&body) {
            prop_assert_eq!(eio3::decode_binary_payload(&binary_body(&packets)), Ok(packets));
        }
        // A binary frame: a message exactly when it starts with the message type byte 4,
        // and then all the rest is the message.
        let frame = eio3::decode_binary_frame(Bytes::from(body.clone()));
        match body.first() {
            Some(4) => prop_assert_eq!(frame, Ok(EnginePacket::Binary(Bytes::from(body[1..].to_vec())))),
            _ => prop_assert!(frame.is_err(), "{:?}", frame),
        }
    }

    #[test]
    fn any_text_body_is_decoded_or_refused(body in "[0-9:a-z4b😀é]{0,64}") {
        // A body without a record separator `:` is refused unless empty; one that decodes
        // is written back to what decodes the same.
        let decoded = eio3::decode_text_payload(body.as_bytes());
        if !body.contains(':') && !body.is_empty() {
            prop_assert!(decoded.is_err(), "{:?}: {:?}", body, decoded);
        }
        if let Ok(packets) = decoded {
            prop_assert_eq!(eio3::decode_text_payload(text_body(&packets).as_bytes()), Ok(packets));
        }
    }
}
