//! 200 socket.io-client 4 connections at once on the Socket.IO conformance server (ping
//! 300/200 ms), each emitting `message` and waiting for its `message-back`. On a busy
//! machine many sessions miss a pong and are closed; that is allowed, silence is not: every
//! client must end with its reply or a `disconnect` / `connect_error` it can see, within
//! 10 s (`tests/clients/node/many_messages.mjs` does the counting).

use crate::support::clients;

use serde_json::Value;
use siohub::conformance;
use siohub::server::BackgroundServer;

const CLIENTS: u64 = 200;
const DEADLINE_MS: u64 = 10_000;

#[test]
fn two_hundred_clients_each_get_their_reply_or_see_a_disconnect() {
    let settings = conformance::settings(
        "/socket.io/",
        &[
            ("server.host", "127.0.0.1".into()),
            ("server.port", "0".into()),
        ],
    )
    .unwrap();
    let server = BackgroundServer::start(settings, conformance::socketio_application()).unwrap();
    let out = clients::node("many_messages.mjs")
        .args([server.url(), CLIENTS.to_string(), DEADLINE_MS.to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "no summary from the script ({e}): {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    eprintln!("200 clients: {summary}");
    assert_eq!(
        summary["silent"],
        Value::Array(vec![]),
        "silent clients: {summary}"
    );
    let counted = |key: &str| -> u64 {
        summary[key]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum()
    };
    assert_eq!(
        summary["replied"].as_u64().unwrap() + counted("disconnects") + counted("connect_errors"),
        CLIENTS,
        "every client is accounted for: {summary}"
    );
    assert!(out.status.success(), "{stdout}");
}
