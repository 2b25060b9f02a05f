//! What one client can make a session hold, on the wire: the attachments of a binary packet
//! (bytes and time), the rooms of a socket, and the namespaces of a connection (how many,
//! how long a name, and the table entries of names nobody uses any more). Each test sends
//! the attack, asserts the refusal or close and its counter, and checks that a well-behaved
//! client on the same server still gets what it asked for.

mod support;
#[path = "support/wire.rs"]
mod wire;

use serde_json::{json, Value};
use siohub::config::Settings;
use siohub::server::BackgroundServer;
use siohub_actors::RefusalReason;
use support::{policy, start_hub_with, start_scenario_server, test_settings, wait_until};
use wire::*;

fn refusals(server: &BackgroundServer, reason: RefusalReason) -> u64 {
    server.hub.counters().refusals(reason)
}

/// Bytes the server has read from session `sid` (its own record).
fn bytes_in(server: &BackgroundServer, sid: &str) -> u64 {
    server
        .hub
        .registry()
        .entries()
        .into_iter()
        .find(|(_, meta)| &*meta.sid == sid)
        .map_or(0, |(_, meta)| meta.snapshot().bytes_in)
}

fn registered(server: &BackgroundServer, sid: &str) -> bool {
    server.hub.registry().get(sid).is_some()
}

fn scenario(adjust: impl FnOnce(&mut Settings)) -> BackgroundServer {
    let mut settings = test_settings();
    adjust(&mut settings);
    settings.validate().expect("valid test settings");
    start_scenario_server(settings).0
}

/// The Engine.IO message `45<n>-["echo",<placeholder 0>,…,<placeholder n-1>]`.
fn binary_header(n: usize) -> String {
    let placeholders: Vec<Value> = (0..n).map(siohub_protocol::placeholder).collect();
    let mut args = vec![json!("echo")];
    args.extend(placeholders);
    format!("45{n}-{}", Value::Array(args))
}

/// A binary event with one buffer comes back whole (the bounds leave it alone).
#[track_caller]
fn assert_binary_echo(ws: &mut Ws) {
    ws.send_text(&binary_header(1));
    ws.send_binary(b"\x01\x02\x03");
    assert_eq!(
        ws.text_skipping_pings(),
        r#"451-["echo-back",{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(ws.binary(), b"\x01\x02\x03");
}

#[test]
fn attachments_over_the_byte_bound_close_the_connection() {
    // The defaults: 1 MB per frame, 4 MiB for the attachments of one packet.
    let server = scenario(|_| {});
    let (mut ws, _) = sio_connect(server.addr);
    assert_binary_echo(&mut ws);
    let (mut attacker, engine_sid, _) = Ws::open(server.addr);
    attacker.send_text("40");
    json_after(&attacker.text(), "40");

    // Ten attachments announced, then buffers of nearly max_payload each.
    attacker.send_text(&binary_header(10));
    let buffer = vec![7u8; 999_000];
    for _ in 0..4 {
        attacker.send_binary(&buffer);
    }
    // Four buffers (3,996,000 bytes) are within the bound: held, nothing refused.
    wait_until("the four buffers are read", IO_TIMEOUT, || {
        bytes_in(&server, &engine_sid) >= 4 * 999_000
    });
    assert!(registered(&server, &engine_sid));
    assert_eq!(refusals(&server, RefusalReason::AttachmentBytes), 0);

    // The fifth takes the packet over 4 MiB: the connection is closed, nothing echoed.
    attacker.try_send_binary(&buffer);
    let before_close = attacker.assert_closed();
    assert!(
        before_close
            .iter()
            .all(|f| !matches!(f, Frame::Text(t) if t.contains("echo-back"))),
        "{before_close:?}"
    );
    assert_eq!(refusals(&server, RefusalReason::AttachmentBytes), 1);
    wait_until("the session is gone", IO_TIMEOUT, || {
        !registered(&server, &engine_sid)
    });

    // The other client never noticed.
    assert_binary_echo(&mut ws);
    assert_echoes(&mut ws, 1);
}

#[test]
fn attachment_bytes_are_bounded_by_the_configured_key() {
    let server = scenario(|s| s.engine.max_attachment_bytes = 1000);
    let (mut ws, _) = sio_connect(server.addr);
    // Exactly at the bound is a packet like any other.
    ws.send_text(&binary_header(2));
    ws.send_binary(&[1u8; 500]);
    ws.send_binary(&[2u8; 500]);
    assert_eq!(
        ws.text_skipping_pings(),
        r#"452-["echo-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    assert_eq!(ws.binary(), vec![1u8; 500]);
    assert_eq!(ws.binary(), vec![2u8; 500]);
    // One byte over it closes the connection.
    ws.send_text(&binary_header(2));
    ws.send_binary(&[1u8; 500]);
    ws.try_send_binary(&[2u8; 501]);
    ws.assert_closed();
    assert_eq!(refusals(&server, RefusalReason::AttachmentBytes), 1);
}

#[test]
fn attachments_that_never_come_close_the_connection_at_the_deadline() {
    let server = scenario(|s| s.engine.attachment_timeout_ms = 300);
    let (mut ws, _) = sio_connect(server.addr);
    // Within the deadline a binary event works as ever.
    assert_binary_echo(&mut ws);

    let (mut attacker, engine_sid, _) = Ws::open(server.addr);
    attacker.send_text("40");
    json_after(&attacker.text(), "40");
    attacker.send_text(&binary_header(10));
    for _ in 0..9 {
        attacker.send_binary(&[9u8; 1000]);
    }
    // The tenth never comes: closed at the deadline (generous bound on the wait).
    attacker.assert_closed();
    assert_eq!(refusals(&server, RefusalReason::AttachmentTimeout), 1);
    wait_until("the session is gone", IO_TIMEOUT, || {
        !registered(&server, &engine_sid)
    });
    assert_binary_echo(&mut ws);
}

#[test]
fn attachments_that_never_come_over_polling_close_the_session_too() {
    let server = scenario(|s| s.engine.attachment_timeout_ms = 300);
    let (sid, _) = open_polling(server.addr);
    push(server.addr, &sid, "40");
    let joined = poll(server.addr, &sid).polling_body();
    assert!(joined.starts_with("40{"), "{joined}");
    // A header announcing two buffers and only one of them (base64 in the payload).
    push(server.addr, &sid, &format!("{}\x1ebBAU=", binary_header(2)));
    assert_polling_closed(server.addr, &sid);
    assert_eq!(refusals(&server, RefusalReason::AttachmentTimeout), 1);
}

// ---------------------------------------------------------------------------------------
// Rooms per socket

fn hub(adjust: impl FnOnce(&mut Settings)) -> BackgroundServer {
    start_hub_with(vec![policy("/"), policy("/tenant-{id}")], |s| {
        s.api.insecure = true;
        adjust(s);
    })
}

/// Emits `event` with `arg` and an ack id; returns the ack's first argument.
#[track_caller]
fn ack(ws: &mut Ws, id: u64, event: &str, arg: Value) -> Value {
    ws.send_text(&format!("42{id}{}", json!([event, arg])));
    let reply = ws.text_skipping_pings();
    let args = json_after(&reply, &format!("43{id}"));
    args[0].clone()
}

/// The rooms of socket `socket_id` as its session publishes them (what `/connections` shows).
fn published_rooms(server: &BackgroundServer, socket_id: &str) -> Vec<String> {
    let page = futures::executor::block_on(server.hub.list_connections(0, usize::MAX));
    page.expect("the connection manager answers")
        .connections
        .into_iter()
        .flat_map(|c| c.sockets)
        .find(|s| s.id == socket_id)
        .map(|s| s.rooms.into_iter().collect())
        .unwrap_or_default()
}

#[test]
fn joins_over_max_rooms_per_socket_are_refused_with_an_error_ack() {
    let server = hub(|s| s.limits.max_rooms_per_socket = 5);
    let (mut ws, socket_id) = sio_connect(server.addr);
    for i in 0..5 {
        let room = format!("r{i}");
        let reply = ack(&mut ws, i, "join", json!(room));
        assert_eq!(reply, json!({ "ok": true, "room": room, "replayed": 0 }));
    }
    // The sixth room is refused; the socket stays connected and in its five rooms.
    let refused = ack(&mut ws, 10, "join", json!("r5"));
    assert_eq!(refused["error"]["code"], "RATE_LIMIT_EXCEEDED", "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("max_rooms_per_socket"), "{message}");
    assert_eq!(refusals(&server, RefusalReason::RoomsPerSocket), 1);
    assert!(support::room_members(&server, "/", "r5").is_empty());
    // Joining a room it is in already is no new room: fine.
    let again = ack(&mut ws, 11, "join", json!("r0"));
    assert_eq!(again["ok"], true, "{again}");

    // The HTTP API's join is refused too, with a clear error.
    let body = json!({ "sids": [socket_id.clone()] }).to_string();
    let res = request(
        server.addr,
        "POST",
        "/api/v1/rooms/api-room/join",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(res.status, 429, "{}", res.text());
    assert_eq!(res.json()["code"], "RATE_LIMIT_EXCEEDED");
    assert_eq!(refusals(&server, RefusalReason::RoomsPerSocket), 2);

    // Leaving one makes room for another.
    let left = ack(&mut ws, 12, "leave", json!("r0"));
    assert_eq!(left["ok"], true, "{left}");
    let joined = ack(&mut ws, 13, "join", json!("r5"));
    assert_eq!(joined["ok"], true, "{joined}");
    assert_eq!(
        published_rooms(&server, &socket_id),
        ["r1", "r2", "r3", "r4", "r5"]
    );
    assert_eq!(support::room_members(&server, "/", "r5"), [socket_id]);
}

#[test]
fn many_rooms_on_one_socket_stay_consistent() {
    // Joins no longer republish every room of the socket; what is published must still be
    // exactly its rooms after many joins and leaves.
    // Pipelined, so the bound on events in flight per socket is lifted for this one.
    let server = hub(|s| {
        s.limits.max_rooms_per_socket = 3000;
        s.namespaces[0].max_tasks_per_socket = 0;
    });
    let (mut ws, socket_id) = sio_connect(server.addr);
    // 2,000 joins, then every other one left.
    for i in 0..2000u64 {
        ws.send_text(&format!("42{i}{}", json!(["join", format!("room-{i}")])));
    }
    for i in (0..2000u64).step_by(2) {
        ws.send_text(&format!(
            "42{}{}",
            10_000 + i,
            json!(["leave", format!("room-{i}")])
        ));
    }
    let mut acks = 0;
    while acks < 3000 {
        let text = ws.text_skipping_pings();
        assert!(text.starts_with("43"), "{text}");
        assert!(text.contains(r#""ok":true"#), "{text}");
        acks += 1;
    }
    let mut want: Vec<String> = (1..2000).step_by(2).map(|i| format!("room-{i}")).collect();
    want.sort();
    assert_eq!(published_rooms(&server, &socket_id), want);
    // The room table follows through the RoomSupervisor's mailbox (a leave is acked first).
    wait_until("the table has the socket's 1,000 rooms", IO_TIMEOUT, || {
        server.hub.rooms("/").len() == 1000
    });
    assert_eq!(refusals(&server, RefusalReason::RoomsPerSocket), 0);
}

// ---------------------------------------------------------------------------------------
// Namespaces

fn namespace_count(server: &BackgroundServer) -> usize {
    server.hub.namespace_count()
}

fn metrics(server: &BackgroundServer) -> String {
    request(server.addr, "GET", "/metrics", &[], b"").text()
}

#[test]
fn ten_thousand_dynamic_namespaces_in_turn_leave_nothing_behind() {
    let server = hub(|_| {});
    let (mut ws, _) = sio_connect(server.addr);
    assert_eq!(namespace_count(&server), 1);
    for i in 0..10_000 {
        let nsp = format!("/tenant-{i}");
        ws.send_text(&format!("40{nsp},"));
        let reply = ws.text_skipping_pings();
        assert!(reply.starts_with(&format!("40{nsp},{{")), "{reply}");
        ws.send_text(&format!("41{nsp},"));
    }
    // Every name was used once and left: the table and /metrics are back to `/` alone.
    wait_until("the namespaces are forgotten", IO_TIMEOUT, || {
        namespace_count(&server) == 1
    });
    let text = metrics(&server);
    assert!(!text.contains("/tenant-"), "a /tenant- series is left");
    assert!(text.contains("siohub_namespaces 1\n"), "{text}");
    assert_echoes_hub(&mut ws);
}

/// The hub's `/` socket on `ws` still answers (a built-in `ping`).
#[track_caller]
fn assert_echoes_hub(ws: &mut Ws) {
    let pong = ack(ws, 99, "ping", json!({}));
    assert!(pong["server_time"].is_u64(), "{pong}");
}

#[test]
fn namespaces_over_the_per_connection_bound_get_connect_error() {
    let server = hub(|s| s.limits.max_namespaces_per_connection = 4);
    let (mut ws, _) = sio_connect(server.addr);
    for i in 1..4 {
        ws.send_text(&format!("40/tenant-{i},"));
        assert!(ws
            .text_skipping_pings()
            .starts_with(&format!("40/tenant-{i},")));
    }
    // `/` and three tenants: the fifth namespace is refused, the connection carries on.
    ws.send_text("40/tenant-4,");
    let refused = json_after(&ws.text_skipping_pings(), "44/tenant-4,");
    assert_eq!(
        refused,
        json!({
            "message": "too many namespaces on this connection",
            "data": { "code": "RATE_LIMIT_EXCEEDED", "max": 4 }
        })
    );
    assert_eq!(refusals(&server, RefusalReason::NamespacesPerConnection), 1);
    assert_eq!(namespace_count(&server), 4);
    assert_echoes_hub(&mut ws);
    // Once one is left, another may be joined.
    ws.send_text("41/tenant-1,");
    ws.send_text("40/tenant-4,");
    assert!(ws.text_skipping_pings().starts_with("40/tenant-4,{"));
    wait_until("/tenant-1 is forgotten", IO_TIMEOUT, || {
        namespace_count(&server) == 4
    });
    // A client connecting its namespaces all at once is bounded the same way.
    let (mut burst, _) = sio_connect(server.addr);
    for i in 0..50 {
        burst.send_text(&format!("40/tenant-b{i},"));
    }
    let (mut joined, mut refused) = (0, 0);
    for _ in 0..50 {
        let text = burst.text_skipping_pings();
        if text.starts_with("40/tenant-b") {
            joined += 1;
        } else {
            assert!(text.starts_with("44/tenant-b"), "{text}");
            refused += 1;
        }
    }
    assert_eq!((joined, refused), (3, 47));
}

#[test]
fn namespace_names_over_the_length_bound_close_the_connection() {
    let server = hub(|_| {});
    let (mut ws, _) = sio_connect(server.addr);
    // At the bound (256 bytes) a name is tried as usual, dashes and all.
    let longest = format!("/tenant-{}", "-".repeat(256 - 8));
    assert_eq!(longest.len(), 256);
    ws.send_text(&format!("40{longest},"));
    assert!(ws
        .text_skipping_pings()
        .starts_with(&format!("40{longest},{{")));

    // Over it the connection is closed before any pattern is tried: a name of nearly a
    // megabyte of dashes, the worst case of the backtracking matcher this replaced.
    let (mut attacker, engine_sid, _) = Ws::open(server.addr);
    let huge = format!("/tenant-{}", "-".repeat(900_000));
    attacker.send_text(&format!("40{huge},"));
    let before = attacker.assert_closed();
    assert!(before.is_empty(), "{before:?}");
    assert_eq!(refusals(&server, RefusalReason::NamespaceNameTooLong), 1);
    wait_until("the session is gone", IO_TIMEOUT, || {
        !registered(&server, &engine_sid)
    });
    let (mut other, _, _) = Ws::open(server.addr);
    other.send_text(&format!("40/{},", "x".repeat(256)));
    other.assert_closed();
    assert_eq!(refusals(&server, RefusalReason::NamespaceNameTooLong), 2);
    assert_echoes_hub(&mut ws);
}
