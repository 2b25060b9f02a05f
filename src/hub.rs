//! The hub's own namespaces: what a client can do with no server code. The built-in events
//! are written on the same [`Namespaces`] API server code uses.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use siohub_actors::{Application, Namespace, Namespaces};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Adds the built-in `ping` event: answered through the ack when the client asks for one,
/// else with a `pong` event, carrying `{"server_time": ms}`.
pub fn with_ping(ns: Namespace) -> Namespace {
    ns.on("ping", |socket, _payload, ack| {
        let reply = json!({ "server_time": now_ms() });
        match ack {
            Some(ack) => ack.send_json(json!([reply])),
            None => socket.emit("pong", json!([reply])),
        }
    })
}

/// The namespaces the `siohub` binary serves: `/` with the built-in events.
pub fn namespaces() -> Namespaces {
    Namespaces::new().add("/", with_ping)
}

/// The application the binary runs.
pub fn application() -> Application {
    Application::SocketIo(Arc::new(namespaces()))
}
