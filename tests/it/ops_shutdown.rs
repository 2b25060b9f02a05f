//! SIGTERM on the real binary with connected clients: `/ready` turns 503 at once, new
//! handshakes are refused, every client is disconnected (websocket: close frame; polling:
//! close packet), and the process exits 0 within `[shutdown] grace_s`. What was queued
//! for a client is delivered before its close within the grace; what a client that does
//! not read cannot take is cut at the grace, counted and logged. Also the JSON log format
//! of the binary.

use crate::support::binary;
use crate::support::temp_file::TempFile;
use crate::support::wait_until;
use crate::support::wire;

use std::time::{Duration, Instant};

use binary::Server;
use serde_json::Value;
use wire::*;

const GRACE_S: u64 = 3;

/// Events of this many bytes, 50 of them: far more than the kernel buffers of a client
/// with a small receive buffer, so most of it waits in the server's queue at SIGTERM.
const BIG_EVENT: usize = 200_000;

/// A config file letting a client publish `BIG_EVENT`s and queue all 50 of them.
fn big_queue_config() -> TempFile {
    TempFile::with(
        "[outgoing]\nmax_packets = 100000\nmax_bytes = 67108864\nwrite_timeout_ms = 60000\n\n\
         [[namespaces]]\nname = \"/\"\nmax_event_bytes = 1000000\n",
    )
}

/// A `/` socket in `room`.
fn member(addr: std::net::SocketAddr, room: &str) -> Ws {
    let (mut ws, _) = sio_connect(addr);
    ws.send_text(&format!(r#"421["join","{room}"]"#));
    assert!(ws.text().starts_with("431[{"), "joined {room}");
    ws
}

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
    let held = |addr| -> u64 {
        let metrics = request(addr, "GET", "/metrics", &[], b"").text();
        metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix("siohub_polling_held_requests_total ")?
                    .parse()
                    .ok()
            })
            .expect("the series")
    };
    let held_before = held(addr);
    let pending = spawn_poll(addr, &polling);
    let (idle, _) = open_polling(addr);
    push(addr, &idle, "40");
    assert!(poll(addr, &idle).text().starts_with("40{"));
    // The drain must find the GET held by its session.
    wait_until("the polling GET is held", IO_TIMEOUT, || {
        held(addr) > held_before
    });
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
    wait_until("the last log line is read", IO_TIMEOUT, || {
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
    wait_until("the drain starts", IO_TIMEOUT, || {
        request(server.addr(), "GET", "/ready", &[], b"").status == 503
    });
    let signalled = Instant::now();
    server.signal("-INT");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(signalled.elapsed() < Duration::from_secs(5));
}

#[test]
fn sigterm_flushes_what_was_queued_before_the_close_and_cuts_what_cannot_be_at_the_grace() {
    // Room for the slow reader to take 10 MB on a busy machine.
    const GRACE_S: u64 = 6;
    let config = big_queue_config();
    let grace = GRACE_S.to_string();
    let mut server = Server::start(
        &["--config", config.path()],
        &[("SOCKETIO_SHUTDOWN__GRACE_S", grace.as_str())],
    );
    let addr = server.addr();
    let mut slow = member(addr, "big");
    let never_reads = member(addr, "big");
    // Its kernel buffers hold little: nearly all of its 10 MB waits in the server.
    socket2::SockRef::from(never_reads.socket())
        .set_recv_buffer_size(4096)
        .expect("SO_RCVBUF");
    // A polling client with events waiting for its next poll.
    let (polling, _) = open_polling(addr);
    push(addr, &polling, "40");
    assert!(poll(addr, &polling).text().starts_with("40{"));
    push(addr, &polling, r#"421["join","p"]"#);
    wait_until("the polling client joined", IO_TIMEOUT, || {
        packets(&poll(addr, &polling).polling_body())
            .iter()
            .any(|p| p.starts_with("431["))
    });

    let (mut publisher, _) = sio_connect(addr);
    let filler = "x".repeat(BIG_EVENT);
    for (room, count) in [("big", 50), ("p", 5)] {
        for i in 0..count {
            publisher.send_text(&format!(
                r#"42{i}["publish",{{"room":"{room}","event":"tick","data":[{i},"{filler}"]}}]"#
            ));
            let ack = publisher.text_skipping_pings();
            assert!(
                ack.starts_with(&format!("43{i}[")),
                "publish ack: {ack:.200}"
            );
        }
    }

    let signalled = Instant::now();
    server.signal("-TERM");
    // The slow reader gets every event, in order, then the disconnect and the close frame.
    let mut ticks = Vec::new();
    loop {
        match slow.recv() {
            Frame::Text(t) if t.starts_with("42[\"tick\"") => {
                let args: Value = serde_json::from_str(&t[2..]).unwrap();
                ticks.push(args[1][0].as_u64().unwrap());
                std::thread::sleep(Duration::from_millis(5));
            }
            Frame::Closed => break,
            Frame::Text(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        ticks,
        (0..50).collect::<Vec<_>>(),
        "every queued event arrived"
    );
    assert!(
        slow.saw_close_frame(),
        "the websocket close frame came last"
    );
    // The polling client's next poll gets what waited for it, then the close packet.
    let seen = poll_until(addr, &polling, "1");
    let polled = seen.iter().filter(|p| p.starts_with("42[\"tick\"")).count();
    assert_eq!(
        polled,
        5,
        "{:?}",
        seen.iter()
            .map(|p| &p[..p.len().min(40)])
            .collect::<Vec<_>>()
    );

    // The client that never reads holds the drain until the grace, then is cut.
    let code = server.wait_exit(Duration::from_secs(GRACE_S + 2));
    assert_eq!(code, Some(0), "stderr: {:?}", server.stderr());
    assert!(
        signalled.elapsed() < Duration::from_millis(GRACE_S * 1000 + 1000),
        "exited after {:?}, the grace period is {GRACE_S} s",
        signalled.elapsed()
    );
    wait_until("the last log line is read", IO_TIMEOUT, || {
        server.stderr().iter().any(|l| l.contains("siohub stopped"))
    });
    let lines = server.stderr();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("drain: 1 websocket connections had not written out their queue")),
        "{lines:?}"
    );
}
