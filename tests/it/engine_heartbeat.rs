//! A session that closes while a client's packets are on their way: a ping timeout during a
//! POST, and a close during an upgrade (the client has paused polling and waits for its
//! POST to end before it switches). The client must be told — an error answer, a closed
//! websocket — never `ok` for packets that went nowhere. The pong deadline waits while an
//! upgrade keeps the client from answering, within the upgrade timeout. And the
//! well-behaved upgrade still carries an event posted mid-upgrade to its reply on the
//! websocket.

use crate::support;
use crate::support::wire;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};

use siohub::server::BackgroundServer;
use support::{start_echo, test_settings, wait_gone};
use wire::*;

/// Ping every 300 ms, and a generous second for the pong: the tests never pong, and the
/// requests they start meanwhile are long parsed when the session times out.
fn heartbeat_settings() -> siohub::config::Settings {
    let mut settings = test_settings();
    settings.engine.ping_interval_ms = 300;
    settings.engine.ping_timeout_ms = 1000;
    settings
}

/// A polling POST whose chunked body is sent in two parts, on a raw socket.
struct SlowPost {
    stream: TcpStream,
}

impl SlowPost {
    /// Sends the head and the first chunk.
    fn begin(addr: SocketAddr, sid: &str, first: &[u8]) -> SlowPost {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n",
            target(&sid_query(sid))
        );
        stream.write_all(head.as_bytes()).unwrap();
        let mut post = SlowPost { stream };
        post.chunk(first);
        post
    }

    fn chunk(&mut self, data: &[u8]) {
        let mut out = format!("{:x}\r\n", data.len()).into_bytes();
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
        self.stream.write_all(&out).unwrap();
    }

    /// Asserts that no answer came yet: the server took the POST and waits for its body
    /// (a POST refused at its head would have been answered at once).
    fn assert_unanswered(&self) {
        self.stream.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let peeked = self.stream.peek(&mut byte);
        self.stream.set_nonblocking(false).unwrap();
        match peeked {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => panic!("the POST was answered before its body ended: {other:?}"),
        }
    }

    /// Sends the rest of the body and the last chunk; returns the status line and body.
    fn finish(mut self, rest: &[u8]) -> (String, String) {
        self.chunk(rest);
        self.chunk(b"");
        let mut answer = String::new();
        self.stream.read_to_string(&mut answer).unwrap();
        let status = answer.lines().next().unwrap_or_default().to_owned();
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }
}

#[track_caller]
fn assert_session_unknown(status: &str, body: &str) {
    assert!(status.starts_with("HTTP/1.1 400"), "{status}: {body}");
    assert!(
        body.contains(r#""code":1"#) && body.contains("Session ID unknown"),
        "{body}"
    );
}

#[test]
fn a_post_whose_body_comes_after_a_ping_timeout_is_refused_not_answered_ok() {
    let server = start_echo(heartbeat_settings());
    let (sid, _) = open_polling(server.addr);
    let post = SlowPost::begin(server.addr, &sid, b"4hel");
    // Nobody polls and nobody pongs: the ping waits in the queue and the session times out
    // while the POST's body is still coming.
    wait_gone(&server, &sid);
    post.assert_unanswered();
    let (status, body) = post.finish(b"lo");
    assert_session_unknown(&status, &body);
    assert!(server.registry.is_empty());
}

#[test]
fn a_session_closing_mid_upgrade_closes_the_probe_and_refuses_the_post_in_flight() {
    let mut settings = heartbeat_settings();
    settings.engine.upgrade_timeout_ms = 1500;
    let server = start_echo(settings);
    let (sid, _) = open_polling(server.addr);
    let pending = spawn_poll(server.addr, &sid);
    let mut probe = Ws::connect(server.addr, &format!("{WEBSOCKET}&sid={sid}"));
    probe.send_text("2probe");
    assert_eq!(probe.text(), "3probe");
    // The probe answers the pending GET with a noop: the client pauses polling there.
    assert_eq!(pending.join().unwrap().polling_body(), "6");
    // The client's last POST (an event) is still coming in; it will send `5` once it ends.
    let post = SlowPost::begin(server.addr, &sid, b"4mess");
    // The ping went into the polling queue nobody reads any more, and `5` never comes: the
    // upgrade times out, the pong owed gets its timeout, and the session closes.
    let before_close = probe.assert_closed();
    assert!(
        before_close.is_empty(),
        "nothing but the close on the probe: {before_close:?}"
    );
    wait_gone(&server, &sid);
    post.assert_unanswered();
    // The event went nowhere, and the client hears so: not `ok`.
    let (status, body) = post.finish(b"age");
    assert_session_unknown(&status, &body);
    poll(server.addr, &sid).assert_engine_error(400, 1, "Session ID unknown");
}

#[test]
fn an_event_posted_while_the_upgrade_is_probed_gets_its_reply_on_the_websocket() {
    let server =
        BackgroundServer::start(test_settings(), siohub::conformance::socketio_application())
            .unwrap();
    let (sid, _) = open_polling(server.addr);
    push(server.addr, &sid, "40");
    poll_until_prefix(server.addr, &sid, "40{");
    let pending = spawn_poll(server.addr, &sid);
    let mut ws = Ws::connect(server.addr, &format!("{WEBSOCKET}&sid={sid}"));
    ws.send_text("2probe");
    assert_eq!(ws.text(), "3probe");
    let noop = pending.join().unwrap().polling_body();
    // The `auth` event of the connect may still have been waiting for this GET.
    assert_eq!(
        packets(&noop).last().map(String::as_str),
        Some("6"),
        "{noop}"
    );
    // An event on the polling session in the middle of its upgrade: taken (`ok`), and its
    // reply waits for the transport the client switches to.
    push(server.addr, &sid, r#"42["message",7,"x"]"#);
    ws.send_text("5");
    loop {
        let text = ws.text_skipping_pings();
        if text.starts_with(r#"42["auth""#) {
            continue;
        }
        assert_eq!(text, r#"42["message-back",7,"x"]"#);
        break;
    }
    // From then on the websocket carries the session.
    ws.send_text(r#"42["message",8]"#);
    assert_eq!(ws.text_skipping_pings(), r#"42["message-back",8]"#);
    poll(server.addr, &sid).assert_engine_error(400, 3, "Bad request");
}

/// Ping every second, a 300 ms timeout, and a short upgrade timeout.
fn upgrade_settings() -> siohub::config::Settings {
    let mut settings = test_settings();
    settings.engine.ping_interval_ms = 1000;
    settings.engine.ping_timeout_ms = 300;
    settings.engine.upgrade_timeout_ms = 1500;
    settings
}

/// Opens a polling session and answers its probe; returns the sid and the probe, with the
/// client's polling paused as socket.io-client pauses it.
fn probed_session(server: &BackgroundServer) -> (String, Ws) {
    let (sid, _) = open_polling(server.addr);
    let pending = spawn_poll(server.addr, &sid);
    let mut probe = Ws::connect(server.addr, &format!("{WEBSOCKET}&sid={sid}"));
    probe.send_text("2probe");
    assert_eq!(probe.text(), "3probe");
    // The probe's noop (or the first ping, if it came first) ends the pending GET.
    let body = pending.join().unwrap().polling_body();
    assert!(body == "6" || body == "2", "{body}");
    (sid, probe)
}

/// Waits until the first ping of a probed session is sent: the session's record counts
/// one packet before it (the open packet), two after (had the ping ended the pending GET
/// before the probe's noop, the noop makes the second).
#[track_caller]
fn wait_ping_sent(server: &BackgroundServer, sid: &str) {
    support::wait_until("the first ping is sent", IO_TIMEOUT, || {
        support::hub_state::packets_out(server, sid) >= 2
    });
}

#[test]
fn a_ping_the_upgrade_keeps_from_the_client_does_not_time_out_before_the_switch() {
    let mut settings = upgrade_settings();
    // The switch comes well within the upgrade timeout.
    settings.engine.upgrade_timeout_ms = 10_000;
    let server = start_echo(settings);
    let (sid, mut ws) = probed_session(&server);
    // The client neither polls nor sends anything until it switches; the ping waits in the
    // polling queue. Once it is there (the open packet, the noop and the ping sent, in
    // either order), and for well past its timeout, the session is still there.
    wait_ping_sent(&server, &sid);
    std::thread::sleep(std::time::Duration::from_millis(300 + 300));
    assert!(
        server.registry.get(&sid).is_some(),
        "closed during the upgrade"
    );
    ws.send_text("5");
    // The held ping comes on the websocket (unless it went out on polling before the
    // probe); the pong arrives within its timeout, counted from the switch.
    ws.send_text("3");
    ws.send_text("4hello");
    assert_eq!(ws.text_skipping_pings(), "4hello");
    std::thread::sleep(std::time::Duration::from_millis(300 + 200));
    ws.send_text("4still");
    assert_eq!(ws.text_skipping_pings(), "4still");
    assert!(server.registry.get(&sid).is_some());
}

#[test]
fn a_probe_that_never_switches_ends_the_hold_at_the_upgrade_timeout_then_the_ping_times_out() {
    let server = start_echo(upgrade_settings());
    let (sid, mut probe) = probed_session(&server);
    // No `5`, no pong: the upgrade timeout drops the probe, the pong owed gets its timeout,
    // and the session closes.
    probe.assert_closed();
    wait_gone(&server, &sid);
    poll(server.addr, &sid).assert_engine_error(400, 1, "Session ID unknown");
}

#[test]
fn probing_again_does_not_hold_the_same_pong_twice() {
    let mut settings = upgrade_settings();
    // Long enough that a second hold would outlast the test's deadline.
    settings.engine.upgrade_timeout_ms = 30_000;
    let server = start_echo(settings);
    let (sid, first) = probed_session(&server);
    // The first ping comes (one interval after the handshake) and its deadline is held;
    // then the client drops that probe and opens another.
    wait_ping_sent(&server, &sid);
    drop(first);
    let mut second = Ws::connect(server.addr, &format!("{WEBSOCKET}&sid={sid}"));
    second.send_text("2probe");
    // Whether or not the second probe is answered before the deadline, the pong owed is
    // not held again: the session closes within its ping timeout, and the probe with it.
    second.assert_closed();
    wait_gone(&server, &sid);
}

/// Polls (answering pings) until a packet starting with `prefix` arrives.
#[track_caller]
fn poll_until_prefix(addr: SocketAddr, sid: &str, prefix: &str) {
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    while std::time::Instant::now() < deadline {
        for packet in packets(&poll(addr, sid).polling_body()) {
            if packet.starts_with(prefix) {
                return;
            }
            if packet == "2" {
                push(addr, sid, "3");
            }
        }
    }
    panic!("no packet starting with {prefix:?}");
}
