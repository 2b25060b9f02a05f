//! `decode_payload` on any body; a body that decodes must encode to one that decodes to the
//! same packets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siohub_protocol::{decode_payload, encode_payload};

fuzz_target!(|data: &[u8]| {
    let Ok(packets) = decode_payload(data) else {
        return;
    };
    assert!(!packets.is_empty());
    let body = encode_payload(&packets);
    assert_eq!(decode_payload(body.as_bytes()), Ok(packets));
});
