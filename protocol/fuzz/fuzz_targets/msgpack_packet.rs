//! `decode_msgpack_packet` on any bytes (the msgpack parser's input); what decodes must decode
//! again to itself once re-encoded. A map that spells a placeholder by hand may become the
//! buffer it names on the way back, so such input is only decoded.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use siohub_protocol::{decode_msgpack_packet, encode_msgpack_packet};

fuzz_target!(|data: &[u8]| {
    let message = Bytes::copy_from_slice(data);
    let Ok(packet) = decode_msgpack_packet(&message, 10) else {
        return;
    };
    if data.windows(12).any(|w| w == b"_placeholder") {
        return;
    }
    let again = Bytes::from(encode_msgpack_packet(&packet));
    assert_eq!(decode_msgpack_packet(&again, 10), Ok(packet));
});
