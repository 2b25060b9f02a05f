//! SIGTERM on the real binary with connected clients: `/ready` turns 503 at once, new
//! handshakes are refused, every client is disconnected (websocket: close frame; polling:
//! close packet), and the process exits 0 within `[shutdown] grace_s`. Also the JSON log
//! format of the binary.

#[path = "support/binary.rs"]
mod binary;
#[path = "support/wire.rs"]
mod wire;

use std::time::{Duration, Instant};

use binary::Server;
use serde_json::Value;
use wire::*;

const GRACE_S: u64 = 3;

#[test]
fn sigterm_drains_connected_clients_and_exits_zero_within_the_grace_period() {
    let grace = GRACE_S.to_string();
    let mut server = Server::start(
        &[],
        &[
            ("SOCKETIO_SHUTDOWN__GRACE_S", grace.as_str()),
            ("SOCKETIO_LOGGING__FORMAT", "json"),
        ],
    );
    let addr = server.addr();
    // A websocket client, a polling client waiting on a GET, and a polling client that does
    // not poll (so the drain has to wait for the grace period).
    let (mut ws, _) = sio_connect(addr);
    let (polling, _) = open_polling(addr);
    push(addr, &polling, "40");
    assert!(poll(addr, &polling).text().starts_with("40{"));
    let pending = spawn_poll(addr, &polling);
    let (idle, _) = open_polling(addr);
    push(addr, &idle, "40");
    assert!(poll(addr, &idle).text().starts_with("40{"));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(request(addr, "GET", "/ready", &[], b"").status, 200);

    let signalled = Instant::now();
    server.signal("-TERM");

    // Every connected client is told at once.
    ws.assert_closed_within(Duration::from_secs(GRACE_S));
    assert_eq!(pending.join().unwrap().text(), "1");
    // While the drain waits for the idle client, the server says it is not ready and
    // refuses handshakes.
    let ready = request(addr, "GET", "/ready", &[], b"");
    assert_eq!(ready.status, 503, "{ready:?}");
    assert_eq!(ready.json()["code"], "DRAINING");
    assert_eq!(get(addr, POLLING).status, 503);

    let code = server.wait_exit(Duration::from_secs(GRACE_S + 2));
    assert_eq!(code, Some(0), "stderr: {:?}", server.stderr());
    assert!(
        signalled.elapsed() < Duration::from_millis(GRACE_S * 1000 + 1000),
        "exited after {:?}, the grace period is {GRACE_S} s",
        signalled.elapsed()
    );

    // The log is JSON, one object per line, and tells the story.
    eventually("the last log line is read", IO_TIMEOUT, || {
        server.stderr().iter().any(|l| l.contains("siohub stopped"))
    });
    let lines = server.stderr();
    let records: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?} ({e})")))
        .collect();
    let messages: Vec<&str> = records
        .iter()
        .map(|r| r["message"].as_str().unwrap_or_default())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("SIGTERM: draining")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("closing 3 sessions")),
        "{messages:?}"
    );
    assert!(records
        .iter()
        .all(|r| r["level"].is_string() && r["ts"].is_string()));
}

#[test]
fn sigterm_with_no_clients_exits_at_once() {
    let mut server = Server::start(&[], &[("SOCKETIO_SHUTDOWN__GRACE_S", "30")]);
    let signalled = Instant::now();
    server.signal("-TERM");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "a drain with nothing to drain does not wait for the grace period: {:?}",
        signalled.elapsed()
    );
}

#[test]
fn a_second_signal_stops_at_once() {
    let mut server = Server::start(&[], &[("SOCKETIO_SHUTDOWN__GRACE_S", "60")]);
    let (idle, _) = open_polling(server.addr());
    push(server.addr(), &idle, "40");
    server.signal("-TERM");
    eventually("the drain starts", IO_TIMEOUT, || {
        request(server.addr(), "GET", "/ready", &[], b"").status == 503
    });
    let signalled = Instant::now();
    server.signal("-INT");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(signalled.elapsed() < Duration::from_secs(5));
}
