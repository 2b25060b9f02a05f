//! What a client sends never reaches the log whole, and cannot forge a line: the real
//! binary's standard error, with a client sending names that carry a newline and a fake log
//! line, and names far over the shown length; and a client repeating a refused event gets
//! one line per `warn_interval_ms`, then the count of the lines held back.

#[path = "support/backend.rs"]
mod backend;
#[path = "support/binary.rs"]
mod binary;
mod support;
#[path = "support/wire.rs"]
mod wire;

use std::time::Duration;

use backend::*;
use binary::Server;
use serde_json::json;
use wire::*;

/// A line a client would like the operator to read as the hub's own.
const FORGED: &str = "[2026-12-01T00:00:00Z WARN  siohub] admin password reset by request";

const INTERVAL_MS: u64 = 700;

fn server() -> Server {
    Server::start(
        &[],
        &[
            ("SOCKETIO_LOGGING__LEVEL", "info"),
            (
                "SOCKETIO_LOGGING__WARN_INTERVAL_MS",
                &INTERVAL_MS.to_string(),
            ),
        ],
    )
}

/// Waits until `count` lines of the server's standard error contain `needle`.
#[track_caller]
fn lines_with(server: &Server, needle: &str, count: usize) -> Vec<String> {
    let mut found = Vec::new();
    eventually(
        &format!("{count} log lines with {needle:?}"),
        IO_TIMEOUT,
        || {
            found = server
                .stderr()
                .into_iter()
                .filter(|l| l.contains(needle))
                .collect();
            found.len() >= count
        },
    );
    found
}

#[test]
fn client_text_is_escaped_and_cut_and_repeats_are_counted() {
    let server = server();
    let (mut ws, _, _) = Ws::open(server.addr());
    // A namespace name with a newline, a fake line, and 5,000 more bytes; sent 20 times.
    let nsp = format!("/x\n{FORGED}\r{}", "y".repeat(5000));
    for _ in 0..20 {
        ws.send_text(&format!("40{nsp},"));
        let refusal = ws.text_skipping_pings();
        assert!(refusal.starts_with("44/x"), "{}", &refusal[..40]);
    }
    let logged = lines_with(&server, "CONNECT to unknown namespace", 1);
    assert_eq!(logged.len(), 1, "one line for twenty refusals: {logged:?}");
    let line = &logged[0];
    assert!(
        line.contains(&format!("\"/x\\n{FORGED}\\ry")),
        "quoted and escaped: {line}"
    );
    assert!(line.contains("…(+"), "cut: {line}");
    assert!(
        line.len() < 400,
        "at most 128 bytes of the name: {} bytes",
        line.len()
    );
    let forged: Vec<_> = server
        .stderr()
        .into_iter()
        .filter(|l| l.starts_with(FORGED) || l.starts_with('\r') || l.starts_with('y'))
        .collect();
    assert!(
        forged.is_empty(),
        "a client wrote a line of its own: {forged:?}"
    );

    // The same refusals after the interval: one more line, with the count held back.
    std::thread::sleep(Duration::from_millis(INTERVAL_MS + 100));
    ws.send_text(&format!("40{nsp},"));
    assert!(ws.text_skipping_pings().starts_with("44/x"));
    let logged = lines_with(&server, "CONNECT to unknown namespace", 2);
    assert!(
        logged[1].ends_with("(19 more like this suppressed since the last one)"),
        "{}",
        logged[1]
    );

    // A refused built-in event, repeated: one line, and the client is still served.
    ws.send_text("40");
    ws.text_skipping_pings();
    let room = format!("user:\n{FORGED}");
    for id in 1..=30 {
        let body = ack(&mut ws, id, "join", json!([room]));
        assert_eq!(error_code(&body), Some("PERMISSION_DENIED"), "{body}");
    }
    let logged = lines_with(&server, "join\" refused", 1);
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(!logged[0].contains('\n'));
    assert!(server.stderr().iter().all(|l| !l.starts_with(FORGED)));
}
