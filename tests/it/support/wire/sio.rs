//! Socket.IO packets over the websocket client: a socket connected to `/`, events sent with
//! an ack id and their acks awaited.

use std::net::SocketAddr;

use serde_json::{json, Value};

use super::Ws;

/// Asserts that `text` is `prefix` followed by JSON, and returns the JSON.
#[track_caller]
pub fn json_after(text: &str, prefix: &str) -> Value {
    let rest = text
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("expected {prefix:?}…, got {text:?}"));
    serde_json::from_str(rest).unwrap_or_else(|e| panic!("JSON after {prefix:?} in {text:?}: {e}"))
}

/// Opens a websocket session and joins `/`; returns the websocket and the socket id.
#[track_caller]
pub fn sio_connect(addr: SocketAddr) -> (Ws, String) {
    let (ws, _, socket_id) = sio_connect_session(addr);
    (ws, socket_id)
}

/// Opens a websocket session and joins `/`; returns the websocket, the Engine.IO session
/// id and the socket id.
#[track_caller]
pub fn sio_connect_session(addr: SocketAddr) -> (Ws, String, String) {
    let (mut ws, engine_sid, _) = Ws::open(addr);
    ws.send_text("40");
    let reply = json_after(&ws.text_skipping_pings(), "40");
    let socket_id = reply["sid"].as_str().expect("a socket id").to_owned();
    (ws, engine_sid, socket_id)
}

/// Asserts that the `/` socket on `ws` still works: an `echo` comes back.
#[track_caller]
pub fn assert_echoes(ws: &mut Ws, n: u64) {
    ws.send_text(&format!(r#"42["echo",{n}]"#));
    assert_eq!(ws.text_skipping_pings(), format!(r#"42["echo-back",{n}]"#));
}

/// Emits `event` with `args` (a JSON array) asking for ack `id`.
pub fn emit_with_ack(ws: &mut Ws, id: u64, event: &str, args: Value) {
    let mut packet = vec![json!(event)];
    packet.extend(args.as_array().cloned().unwrap_or_default());
    ws.send_text(&format!("42{id}{}", Value::Array(packet)));
}

/// Waits for ack `id` (skipping pings and other packets) and returns its first argument.
#[track_caller]
pub fn wait_ack(ws: &mut Ws, id: u64) -> Value {
    let prefix = format!("43{id}");
    loop {
        let text = ws.text_skipping_pings();
        if text.starts_with(&prefix) && text[prefix.len()..].starts_with('[') {
            return json_after(&text, &prefix)[0].clone();
        }
    }
}

/// Emits `event` with `args` and returns the ack's first argument.
#[track_caller]
pub fn ack(ws: &mut Ws, id: u64, event: &str, args: Value) -> Value {
    emit_with_ack(ws, id, event, args);
    wait_ack(ws, id)
}

/// The error code of an ack body, if it is an error.
pub fn error_code(body: &Value) -> Option<&str> {
    body["error"]["code"].as_str()
}
