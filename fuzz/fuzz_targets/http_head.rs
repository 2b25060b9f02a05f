//! [`siohub::fuzzing::http_head`] on libFuzzer's input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| siohub::fuzzing::http_head(data));
