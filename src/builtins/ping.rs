//! The built-in `ping`: answered `{"ok": true, "server_time": <ms since the epoch>}` through
//! the ack (the `ok` every built-in's success carries), or as a `pong` event with the same
//! body when the client asked for no ack.

use serde_json::json;
use siohub_actors::{AckSender, Payload, Socket};

use crate::clock::now_ms;

/// The handler of `ping`.
pub(super) fn on_ping(socket: &Socket, _payload: Payload, ack: Option<AckSender>) {
    let reply = json!({ "ok": true, "server_time": now_ms() });
    match ack {
        Some(ack) => ack.send_json(json!([reply])),
        None => socket.emit("pong", json!([reply])),
    }
}
