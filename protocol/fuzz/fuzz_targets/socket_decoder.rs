//! A `SocketDecoder` fed a sequence of frames. The input is split on `\x1e` like a polling
//! body: a piece starting with `b` is a binary frame (the bytes after the `b`, raw), any
//! other piece a text frame. Errors are ignored and the same decoder goes on, to reach the
//! states that follow one. Every packet that comes out must encode to frames that a fresh
//! decoder reads back as the same packet.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use siohub_protocol::{Decoded, SocketDecoder, SocketPacket};

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
    assert_eq!(decoded, Decoded::Packet(packet.clone()));
    assert!(!decoder.is_reconstructing());
}

fuzz_target!(|data: &[u8]| {
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
});
