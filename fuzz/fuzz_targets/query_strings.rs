//! [`siohub::fuzzing::query_strings`] on libFuzzer's input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| siohub::fuzzing::query_strings(data));
