//! [`siohub::fuzzing::ws_frames`] on libFuzzer's input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| siohub::fuzzing::ws_frames(data));
