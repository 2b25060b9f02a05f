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
        let _ = eio3::decode_text_payload(&body);
        let _ = eio3::decode_binary_payload(&body);
        let _ = eio3::decode_binary_frame(Bytes::from(body));
    }

    #[test]
    fn any_text_body_is_decoded_or_refused(body in "[0-9:a-z4b😀é]{0,64}") {
        let _ = eio3::decode_text_payload(body.as_bytes());
    }
}
