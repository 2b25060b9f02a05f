//! [`siohub::fuzzing::socket_decoder`] on libFuzzer's input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| siohub::fuzzing::socket_decoder(data));
