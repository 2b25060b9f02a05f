//! The two conformance servers of SPEC.md §1, as the public protocol test suites expect
//! them; the examples run them on port 3000 and the tests on a free port.

use std::sync::Arc;

use serde_json::json;
use siohub_actors::{Application, Namespaces};

use crate::config::{ConfigError, Settings};

/// The conformance settings (`config/conformance.toml`, compiled in) with `path`, plus
/// `overrides` (dotted key, value).
pub fn settings(path: &str, overrides: &[(&str, String)]) -> Result<Settings, ConfigError> {
    let mut all = conformance_overrides();
    all.push(("server.path", path.to_owned()));
    all.extend(overrides.iter().cloned());
    Settings::load(None, &all)
}

fn conformance_overrides() -> Vec<(&'static str, String)> {
    vec![
        ("server.port", "3000".into()),
        ("engine.ping_interval_ms", "300".into()),
        ("engine.ping_timeout_ms", "200".into()),
        ("engine.max_payload", "1000000".into()),
        ("engine.connect_timeout_ms", "1000".into()),
        ("cors.origins", "*".into()),
    ]
}

/// The Socket.IO conformance application: on connect to `/` or `/custom` emit `auth` with
/// the handshake auth; in `/`, `message` → `message-back` with the same arguments and
/// `message-with-ack` → ack with the same arguments.
pub fn socketio_application() -> Application {
    let namespaces = Namespaces::new()
        .add("/", |ns| {
            ns.on_connect(|socket, auth| socket.emit("auth", json!([auth])))
                .on("message", |socket, payload, _ack| {
                    socket.emit_payload("message-back", payload)
                })
                .on("message-with-ack", |_socket, payload, ack| {
                    if let Some(ack) = ack {
                        ack.send(payload);
                    }
                })
        })
        .add("/custom", |ns| {
            ns.on_connect(|socket, auth| socket.emit("auth", json!([auth])))
        });
    Application::SocketIo(Arc::new(namespaces))
}

/// The Engine.IO conformance application: every message goes back to its sender.
pub fn engineio_application() -> Application {
    Application::EngineEcho
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance_settings_match_the_file_and_the_spec() {
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/config/conformance.toml");
        let from_file = Settings::load(Some(file), &[]).unwrap();
        let built = settings("/socket.io/", &[]).unwrap();
        assert_eq!(built, from_file);
        assert_eq!(built.engine.ping_interval_ms, 300);
        assert_eq!(built.engine.ping_timeout_ms, 200);
        assert_eq!(built.engine.connect_timeout_ms, 1000);
        assert_eq!(built.cors.origins, vec!["*".to_owned()]);
    }
}
