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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_uses_camel_case_names() {
        let handshake = Handshake {
            sid: "abc".into(),
            upgrades: vec!["websocket".into()],
            ping_interval: 25000,
            ping_timeout: 20000,
            max_payload: 1_000_000,
        };
        let json = handshake.to_json();
        assert_eq!(
            json,
            r#"{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
        );
        let back: Handshake = serde_json::from_str(&json).unwrap();
        assert_eq!(back, handshake);
    }

    #[test]
    fn no_upgrades_is_an_empty_array() {
        let handshake = Handshake {
            sid: "s".into(),
            upgrades: Vec::new(),
            ping_interval: 1,
            ping_timeout: 2,
            max_payload: 3,
        };
        let value: serde_json::Value = serde_json::from_str(&handshake.to_json()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"sid":"s","upgrades":[],"pingInterval":1,"pingTimeout":2,"maxPayload":3})
        );
    }
}
