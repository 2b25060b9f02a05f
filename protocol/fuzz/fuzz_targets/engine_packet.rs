//! `EnginePacket::decode_text` on any text; what decodes must decode again to itself once
//! re-encoded (in its websocket form, and in its polling form).
#![no_main]

use libfuzzer_sys::fuzz_target;
use siohub_protocol::EnginePacket;

fuzz_target!(|data: &[u8]| {
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
});
