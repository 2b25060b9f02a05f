//! [`siohub::fuzzing::polling_payload`] on libFuzzer's input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| siohub::fuzzing::polling_payload(data));
