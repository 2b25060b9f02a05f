//! The bodies of the fuzz targets (`fuzz/`, run with `cargo +nightly fuzz run TARGET`), one
//! function per decoder that a client, an API caller or an operator feeds: each takes
//! arbitrary bytes, runs the decoder, and panics only when an invariant breaks (a decoded
//! value that does not encode back to itself, a bound not kept). Decoders must refuse bad
//! input with an error, never panic.
//!
//! The same functions replay the committed corpora (`fuzz/corpus/TARGET/`) in the test suite
//! on stable Rust (`tests/it/fuzz_corpus.rs`), so every input the fuzzer kept is checked on
//! every run.

mod api;
mod config;
mod http;
mod protocol;
mod websocket;

pub use api::api_json;
pub use config::config_values;
pub use http::{http_head, query_strings};
pub use protocol::{eio3_payload, engine_packet, msgpack_packet, polling_payload, socket_decoder};
pub use websocket::{inflate, ws_frames};

/// A target's body.
pub type Body = fn(&[u8]);

/// Every target: its name (the fuzz binary and the corpus directory) and its body.
pub const TARGETS: &[(&str, Body)] = &[
    ("engine_packet", engine_packet),
    ("polling_payload", polling_payload),
    ("eio3_payload", eio3_payload),
    ("socket_decoder", socket_decoder),
    ("msgpack_packet", msgpack_packet),
    ("http_head", http_head),
    ("query_strings", query_strings),
    ("api_json", api_json),
    ("config_values", config_values),
    ("ws_frames", ws_frames),
    ("inflate", inflate),
];

/// The body of the target called `name`.
pub fn target(name: &str) -> Option<Body> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}
