//! The Engine.IO handshake (the data of the `0` open packet).

use serde::{Deserialize, Serialize};

/// What the server tells a new client in the Engine.IO `open` packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Handshake {
    /// The session id the client sends back on every request.
    pub sid: String,
    /// Transports the client may upgrade to (`["websocket"]` on polling, `[]` on websocket).
    pub upgrades: Vec<String>,
    /// Milliseconds between two server pings.
    pub ping_interval: u64,
    /// Milliseconds the server waits for a pong before it closes the session.
    pub ping_timeout: u64,
    /// The largest body, in bytes, the server accepts in one polling request.
    pub max_payload: u64,
}

impl Handshake {
    /// The JSON text carried by the open packet.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a handshake always serialises")
    }
}
