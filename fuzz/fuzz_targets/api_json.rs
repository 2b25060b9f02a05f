//! [`siohub::fuzzing::api_json`] on libFuzzer's input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| siohub::fuzzing::api_json(data));
