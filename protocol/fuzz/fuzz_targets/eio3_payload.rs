//! The Engine.IO v3 decoders on any body: a text payload that decodes must encode to one
//! that decodes to the same packets; the binary decoders must refuse, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siohub_protocol::{eio3, EnginePacket};

fuzz_target!(|data: &[u8]| {
    let _ = eio3::decode_binary_payload(data);
    let _ = eio3::decode_binary_frame(bytes::Bytes::copy_from_slice(data));
    let Ok(packets) = eio3::decode_text_payload(data) else {
        return;
    };
    let mut body = String::new();
    for packet in &packets {
        match packet {
            EnginePacket::Binary(bytes) => eio3::push_binary_record(&mut body, bytes),
            other => eio3::push_text_record(&mut body, &other.encode_text().unwrap()),
        }
    }
    if !packets.is_empty() {
        assert_eq!(eio3::decode_text_payload(body.as_bytes()), Ok(packets));
    }
});
