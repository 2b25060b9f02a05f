//! Engine.IO over websocket, on the wire: the handshake, echo, heartbeat, close, and the
//! upgrade from polling (`2probe` / `3probe` / `6` / `5`).

use crate::support;
use crate::support::wire;

use std::time::{Duration, Instant};

use support::hub_state::held_poll;
use support::{fast_heartbeat, start_echo, test_settings, wait_gone, wait_until};
use wire::*;

#[test]
fn the_first_frame_is_the_open_packet_with_no_upgrades() {
    let mut settings = fast_heartbeat();
    settings.engine.max_payload = 1000;
    let server = start_echo(settings);
    let mut ws = Ws::connect(server.addr, WEBSOCKET);
    let open = ws.text();
    let sid = &open[9..29];
    assert_eq!(
        open,
        format!(
            r#"0{{"sid":"{sid}","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000}}"#
        )
    );
    // A websocket-first session is registered beside its start.
    wait_until("the session is registered", IO_TIMEOUT, || {
        server.registry.get(sid).is_some()
    });
}

#[test]
fn text_and_binary_are_echoed() {
    let server = start_echo(test_settings());
    let (mut ws, _, _) = Ws::open(server.addr);
    ws.send_text("4hello €");
    assert_eq!(ws.text(), "4hello €");
    ws.send_binary(&[0, 1, 2, 255]);
    assert_eq!(ws.binary(), vec![0, 1, 2, 255]);
    ws.send_text("4");
    assert_eq!(ws.text(), "4");
}

#[test]
fn the_first_ping_comes_one_full_interval_after_the_handshake() {
    let mut settings = test_settings();
    settings.engine.ping_interval_ms = 1000;
    settings.engine.ping_timeout_ms = 5000;
    let server = start_echo(settings);
    let start = Instant::now();
    let (mut ws, _, _) = Ws::open(server.addr);
    ws.assert_quiet(Duration::from_millis(700).saturating_sub(start.elapsed()));
    assert_eq!(
        ws.recv_within(Duration::from_millis(2300)),
        Some(Frame::Text("2".into()))
    );
    assert!(start.elapsed() >= Duration::from_millis(700));
}

#[test]
fn a_session_that_answers_pings_stays_open() {
    // Pings every 300 ms, a second for each pong: a test descheduled for a moment still
    // answers in time, and eight pings take well past one interval and timeout, so an
    // answer the session did not take would have closed it.
    let mut settings = fast_heartbeat();
    settings.engine.ping_timeout_ms = 1000;
    let server = start_echo(settings);
    let (mut ws, _, _) = Ws::open(server.addr);
    for _ in 0..8 {
        assert_eq!(ws.recv(), Frame::Text("2".into()));
        ws.send_text("3");
    }
    ws.send_text("4alive");
    assert_eq!(ws.text_skipping_pings(), "4alive");
}

#[test]
fn a_session_that_does_not_answer_pings_is_closed() {
    let server = start_echo(fast_heartbeat());
    let (mut ws, sid, _) = Ws::open(server.addr);
    assert_eq!(ws.text(), "2");
    let ping_seen = Instant::now();
    let before = ws.assert_closed();
    assert!(before.is_empty(), "{before:?}");
    assert!(
        ping_seen.elapsed() >= Duration::from_millis(100),
        "closed {:?} after the ping, before the ping timeout",
        ping_seen.elapsed()
    );
    wait_gone(&server, &sid);
}

#[test]
fn a_ping_from_the_client_closes_the_session() {
    let server = start_echo(test_settings());
    let (mut ws, sid, _) = Ws::open(server.addr);
    ws.send_text("2");
    ws.assert_closed();
    wait_gone(&server, &sid);
}

#[test]
fn a_close_packet_closes_the_websocket() {
    let server = start_echo(test_settings());
    let (mut ws, sid, _) = Ws::open(server.addr);
    ws.send_text("1");
    ws.assert_closed();
    wait_gone(&server, &sid);
}

#[test]
fn closing_the_websocket_ends_the_session() {
    let server = start_echo(test_settings());
    let (ws, sid, _) = Ws::open(server.addr);
    drop(ws);
    wait_gone(&server, &sid);
}

#[test]
fn a_malformed_packet_closes_the_websocket() {
    let server = start_echo(test_settings());
    let (mut bystander, _, _) = Ws::open(server.addr);
    for bad in ["9", "", "x4hello"] {
        let (mut ws, sid, _) = Ws::open(server.addr);
        ws.send_text(bad);
        ws.assert_closed();
        wait_gone(&server, &sid);
    }
    bystander.send_text("4still here");
    assert_eq!(bystander.text(), "4still here");
}

#[test]
fn a_message_over_max_payload_closes_the_websocket() {
    let mut settings = test_settings();
    settings.engine.max_payload = 1000;
    let server = start_echo(settings);
    let (mut ws, sid, _) = Ws::open(server.addr);
    ws.send_text(&format!("4{}", "x".repeat(999)));
    assert_eq!(ws.text().len(), 1000);
    ws.try_send_text(&format!("4{}", "x".repeat(5000)));
    ws.assert_closed();
    wait_gone(&server, &sid);
}

#[test]
fn upgrade_from_polling() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    let pending = held_poll(&server, &sid);
    let mut ws = Ws::connect(server.addr, &format!("{WEBSOCKET}&sid={sid}"));
    ws.send_text("2probe");
    assert_eq!(ws.text(), "3probe");
    // The pending GET is released with a noop so the client can pause polling.
    assert_eq!(pending.join().unwrap().polling_body(), "6");
    ws.send_text("5");
    ws.send_text("4over websocket");
    assert_eq!(ws.text(), "4over websocket");
    ws.send_binary(&[9, 8, 7]);
    assert_eq!(ws.binary(), vec![9, 8, 7]);
    // Polling is over for this session.
    poll(server.addr, &sid).assert_engine_error(400, 3, "Bad request");
    assert!(server.registry.get(&sid).is_some());
}

#[test]
fn polls_during_the_upgrade_are_answered_with_noop() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    let mut ws = Ws::connect(server.addr, &format!("{WEBSOCKET}&sid={sid}"));
    ws.send_text("2probe");
    assert_eq!(ws.text(), "3probe");
    assert_eq!(poll(server.addr, &sid).polling_body(), "6");
    ws.send_text("5");
    ws.send_text("4x");
    assert_eq!(ws.text(), "4x");
}

#[test]
fn messages_posted_before_the_upgrade_completes_are_not_lost() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    let mut ws = Ws::connect(server.addr, &format!("{WEBSOCKET}&sid={sid}"));
    ws.send_text("2probe");
    assert_eq!(ws.text(), "3probe");
    // Echoed while the session is still on polling, never polled: the websocket gets it.
    push(server.addr, &sid, "4queued");
    ws.send_text("5");
    assert_eq!(ws.text(), "4queued");
}

#[test]
fn a_second_websocket_with_the_same_sid_is_closed() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    let mut ws = upgrade(server.addr, &sid);
    ws.send_text("4first");
    assert_eq!(ws.text(), "4first");
    let mut second = Ws::connect(server.addr, &format!("{WEBSOCKET}&sid={sid}"));
    second.try_send_text("2probe");
    second.assert_closed();
    // The upgraded websocket is unaffected.
    ws.send_text("4still");
    assert_eq!(ws.text(), "4still");
}

#[test]
fn a_second_probe_during_an_upgrade_is_closed() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    let mut first = Ws::connect(server.addr, &format!("{WEBSOCKET}&sid={sid}"));
    first.send_text("2probe");
    assert_eq!(first.text(), "3probe");
    let mut second = Ws::connect(server.addr, &format!("{WEBSOCKET}&sid={sid}"));
    second.assert_closed();
    first.send_text("5");
    first.send_text("4done");
    assert_eq!(first.text(), "4done");
}

#[test]
fn a_websocket_session_cannot_be_upgraded_again() {
    let server = start_echo(test_settings());
    let (mut ws, sid, _) = Ws::open(server.addr);
    // Registered beside its start: until then its sid is unknown (a 400, not a close).
    wait_until("the session is registered", IO_TIMEOUT, || {
        server.registry.get(&sid).is_some()
    });
    let mut second = Ws::connect(server.addr, &format!("{WEBSOCKET}&sid={sid}"));
    second.assert_closed();
    ws.send_text("4mine");
    assert_eq!(ws.text(), "4mine");
}

#[test]
fn an_upgrade_without_5_times_out_and_polling_goes_on() {
    let mut settings = test_settings();
    settings.engine.upgrade_timeout_ms = 500;
    let server = start_echo(settings);
    let (sid, _) = open_polling(server.addr);
    let mut ws = Ws::connect(server.addr, &format!("{WEBSOCKET}&sid={sid}"));
    let start = Instant::now();
    ws.send_text("2probe");
    assert_eq!(ws.text(), "3probe");
    ws.assert_closed();
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "the probe was closed after {:?}, before the upgrade timeout",
        start.elapsed()
    );
    push(server.addr, &sid, "4on polling");
    poll_until(server.addr, &sid, "4on polling");
}

#[test]
fn an_unexpected_packet_on_the_probe_aborts_the_upgrade() {
    let server = start_echo(test_settings());
    for unexpected in ["4hello", "2", "5", "3probe", "9"] {
        let (sid, _) = open_polling(server.addr);
        let mut ws = Ws::connect(server.addr, &format!("{WEBSOCKET}&sid={sid}"));
        ws.send_text(unexpected);
        ws.assert_closed();
        push(server.addr, &sid, "4on polling");
        assert_eq!(
            poll(server.addr, &sid).polling_body(),
            "4on polling",
            "after {unexpected:?}"
        );
    }
}

#[test]
fn closing_the_probe_leaves_the_session_on_polling() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    let mut ws = Ws::connect(server.addr, &format!("{WEBSOCKET}&sid={sid}"));
    ws.send_text("2probe");
    assert_eq!(ws.text(), "3probe");
    drop(ws);
    // A new upgrade is possible once the session has seen the first probe go (until then
    // a second probe is closed and the session stays on polling, untouched).
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut ws = loop {
        let mut ws = Ws::connect(server.addr, &format!("{WEBSOCKET}&sid={sid}"));
        ws.send_text("2probe");
        match ws.recv() {
            Frame::Text(t) if t == "3probe" => break ws,
            Frame::Closed => assert!(Instant::now() < deadline, "the first probe never went"),
            other => panic!("3probe or a closed probe, got {other:?}"),
        }
    };
    ws.send_text("5");
    ws.send_text("4second try");
    assert_eq!(ws.text(), "4second try");
    assert!(server.registry.get(&sid).is_some());
}
