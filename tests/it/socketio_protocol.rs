//! Socket.IO v5 against the scenario server, in raw packets: namespace joins, events, acks
//! in both directions, binary attachments, and every malformed or out-of-place packet that
//! must close the connection without disturbing anyone else.

use crate::support;
use crate::support::wire;

use std::time::{Duration, Instant};

use serde_json::json;
use siohub::server::BackgroundServer;
use support::{start_scenario_server, test_settings, wait_gone, wait_until, Record, Records};
use wire::*;

fn scenario() -> (BackgroundServer, Records) {
    start_scenario_server(test_settings())
}

#[test]
fn connect_to_the_main_namespace() {
    let (server, records) = scenario();
    let (mut ws, _, _) = Ws::open(server.addr);
    ws.send_text("40");
    let reply = json_after(&ws.text(), "40");
    let sid = reply["sid"].as_str().unwrap();
    assert_eq!(reply, json!({ "sid": sid }));
    assert_eq!(sid.len(), 20);
    wait_until("the connect is recorded", IO_TIMEOUT, || {
        records.connected_sids() == vec![sid.to_owned()]
    });
}

#[test]
fn connect_with_an_empty_auth_object() {
    let (server, _) = scenario();
    let (mut ws, _, _) = Ws::open(server.addr);
    ws.send_text("40{}");
    let reply = json_after(&ws.text(), "40");
    assert!(reply["sid"].is_string());
}

#[test]
fn connect_with_auth_to_a_namespace_with_middleware() {
    let (server, records) = scenario();
    let (mut ws, _, _) = Ws::open(server.addr);
    ws.send_text(r#"40/secure,{"token":"s3cret"}"#);
    let reply = json_after(&ws.text(), "40/secure,");
    let sid = reply["sid"].as_str().unwrap().to_owned();
    assert_eq!(reply, json!({ "sid": sid }));
    assert_eq!(
        json_after(&ws.text(), "42/secure,"),
        json!(["welcome", { "auth": { "token": "s3cret" } }])
    );
    ws.send_text(r#"42/secure,7["echo-ack","x"]"#);
    assert_eq!(ws.text(), r#"43/secure,7["x"]"#);
    wait_until("the connect is recorded", IO_TIMEOUT, || {
        records.connected_sids() == vec![sid.clone()]
    });
}

#[test]
fn a_refused_connect_gets_connect_error_and_the_connection_stays_open() {
    let (server, records) = scenario();
    let (mut ws, _, _) = Ws::open(server.addr);
    ws.send_text(r#"40/secure,{"token":"wrong"}"#);
    assert_eq!(
        json_after(&ws.text(), "44/secure,"),
        json!({ "message": "unauthorized", "data": { "reason": "bad token" } })
    );
    wait_until("the refusal is recorded", IO_TIMEOUT, || {
        records.all()
            == vec![Record::Refused {
                nsp: "/secure".into(),
                auth: json!({ "token": "wrong" }),
            }]
    });
    // Same connection: the main namespace, then a second try at /secure.
    ws.send_text("40");
    json_after(&ws.text(), "40");
    assert_echoes(&mut ws, 1);
    ws.send_text(r#"40/secure,{"token":"s3cret"}"#);
    json_after(&ws.text(), "40/secure,");
}

#[test]
fn an_unknown_namespace_gets_invalid_namespace_and_the_connection_stays_open() {
    let (server, _) = scenario();
    let (mut ws, _) = sio_connect(server.addr);
    ws.send_text("40/nope,");
    assert_eq!(ws.text(), r#"44/nope,{"message":"Invalid namespace"}"#);
    // Also without the trailing comma.
    ws.send_text("40/nope");
    assert_eq!(ws.text(), r#"44/nope,{"message":"Invalid namespace"}"#);
    assert_echoes(&mut ws, 2);
}

#[test]
fn an_event_is_echoed() {
    let (server, records) = scenario();
    let (mut ws, sid) = sio_connect(server.addr);
    ws.send_text(r#"42["echo",1]"#);
    assert_eq!(ws.text(), r#"42["echo-back",1]"#);
    ws.send_text(r#"42["echo","a",{"b":[1,2]},null]"#);
    assert_eq!(ws.text(), r#"42["echo-back","a",{"b":[1,2]},null]"#);
    assert_eq!(
        records.events_of(&sid)[0],
        ("echo".to_owned(), vec![json!(1)], 0)
    );
}

#[test]
fn an_event_with_an_ack_id_is_acknowledged() {
    let (server, _) = scenario();
    let (mut ws, _) = sio_connect(server.addr);
    ws.send_text(r#"421["echo-ack","x"]"#);
    assert_eq!(ws.text(), r#"431["x"]"#);
    ws.send_text(r#"4212345["echo-ack",{"y":true},2]"#);
    assert_eq!(ws.text(), r#"4312345[{"y":true},2]"#);
}

#[test]
fn a_binary_event_is_echoed_with_its_attachment() {
    let (server, records) = scenario();
    let (mut ws, sid) = sio_connect(server.addr);
    ws.send_text(r#"451-["echo",{"_placeholder":true,"num":0}]"#);
    ws.send_binary(&[1, 2, 3, 0, 255]);
    assert_eq!(
        ws.text(),
        r#"451-["echo-back",{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(ws.binary(), vec![1, 2, 3, 0, 255]);
    assert_eq!(records.events_of(&sid)[0].2, 1, "one attachment recorded");
}

#[test]
fn a_binary_event_with_two_attachments_keeps_their_order() {
    let (server, _) = scenario();
    let (mut ws, _) = sio_connect(server.addr);
    ws.send_text(
        r#"452-["echo",{"a":{"_placeholder":true,"num":1}},{"_placeholder":true,"num":0}]"#,
    );
    ws.send_binary(b"zero");
    ws.send_binary(b"one");
    assert_eq!(
        ws.text(),
        r#"452-["echo-back",{"a":{"_placeholder":true,"num":1}},{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(ws.binary(), b"zero");
    assert_eq!(ws.binary(), b"one");
}

#[test]
fn a_binary_ack_carries_the_attachment_back() {
    let (server, _) = scenario();
    let (mut ws, _) = sio_connect(server.addr);
    ws.send_text(r#"451-3["echo-ack",{"_placeholder":true,"num":0}]"#);
    ws.send_binary(b"bin");
    assert_eq!(ws.text(), r#"461-3[{"_placeholder":true,"num":0}]"#);
    assert_eq!(ws.binary(), b"bin");
}

#[test]
fn binary_over_polling_travels_as_base64_packets() {
    let (server, _) = scenario();
    let (sid, _) = open_polling(server.addr);
    push(server.addr, &sid, "40");
    let body = poll(server.addr, &sid).polling_body();
    json_after(&body, "40");
    push(
        server.addr,
        &sid,
        "451-[\"echo\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID",
    );
    assert_eq!(
        poll(server.addr, &sid).polling_body(),
        "451-[\"echo-back\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID"
    );
}

#[test]
fn an_ack_from_the_client_answers_the_servers_question() {
    let (server, _) = scenario();
    let (mut ws, _) = sio_connect(server.addr);
    ws.send_text(r#"42["ask-client"]"#);
    let question = ws.text();
    let rest = question.strip_prefix("42").expect("an event");
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    assert!(digits > 0, "the question asks for an ack: {question:?}");
    let id = &rest[..digits];
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&rest[digits..]).unwrap(),
        json!(["question", { "q": 1 }])
    );
    ws.send_text(&format!(r#"43{id}[{{"a":2}}]"#));
    assert_eq!(ws.text(), r#"42["answer-received",{"a":2}]"#);
}

#[test]
fn an_unknown_ack_id_is_ignored() {
    let (server, _) = scenario();
    let (mut ws, _) = sio_connect(server.addr);
    ws.send_text(r#"4399["late"]"#);
    ws.send_text("43");
    assert_echoes(&mut ws, 3);
}

#[test]
fn a_disconnect_packet_leaves_the_namespace() {
    let (server, records) = scenario();
    let (mut ws, sid) = sio_connect(server.addr);
    ws.send_text("41");
    wait_until("the disconnect is recorded", IO_TIMEOUT, || {
        records.disconnect_reason(&sid).as_deref() == Some("client namespace disconnect")
    });
    // The connection stays; the namespace can be joined again.
    ws.send_text("40");
    let again = json_after(&ws.text(), "40");
    assert_ne!(again["sid"], json!(sid));
    assert_echoes(&mut ws, 4);
}

#[test]
fn leaving_a_custom_namespace_keeps_the_main_one() {
    let (server, _) = scenario();
    let (mut ws, _) = sio_connect(server.addr);
    ws.send_text(r#"40/secure,{"token":"s3cret"}"#);
    json_after(&ws.text(), "40/secure,");
    json_after(&ws.text(), "42/secure,");
    ws.send_text("41/secure");
    assert_echoes(&mut ws, 10);
    // The namespace it left is a namespace not joined again.
    ws.send_text(r#"42/secure,["echo-ack"]"#);
    ws.assert_closed();
}

#[test]
fn closing_the_transport_disconnects_with_transport_close() {
    let (server, records) = scenario();
    let (mut ws, sid) = sio_connect(server.addr);
    ws.send_text("1");
    ws.assert_closed();
    wait_until("the disconnect is recorded", IO_TIMEOUT, || {
        records.disconnect_reason(&sid).as_deref() == Some("transport close")
    });
}

#[test]
fn a_server_side_disconnect_sends_a_disconnect_packet() {
    let (server, records) = scenario();
    let (mut ws, sid) = sio_connect(server.addr);
    ws.send_text(r#"42["kick-me"]"#);
    assert_eq!(ws.text(), "41");
    wait_until("the disconnect is recorded", IO_TIMEOUT, || {
        records.disconnect_reason(&sid).as_deref() == Some("server namespace disconnect")
    });
}

#[test]
fn no_namespace_joined_within_the_connect_timeout_closes_the_connection() {
    let mut settings = test_settings();
    settings.engine.connect_timeout_ms = 500;
    let (server, _) = start_scenario_server(settings);
    let start = Instant::now();
    let (mut idle, sid, _) = Ws::open(server.addr);
    let (mut joined, _) = sio_connect(server.addr);
    idle.assert_closed();
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "closed after {:?}, before the connect timeout",
        start.elapsed()
    );
    wait_gone(&server, &sid);
    // A connection that joined in time stays.
    joined.assert_quiet(Duration::from_millis(300));
    assert_echoes(&mut joined, 5);
}

/// A client that leaves its only namespace and joins another after the connect timeout
/// has passed is not idle: the timeout is for the first CONNECT (as in the reference
/// server, which clears it then), not a deadline on every moment without a namespace.
#[test]
fn leaving_the_last_namespace_does_not_rearm_the_connect_timeout() {
    let mut settings = test_settings();
    settings.engine.connect_timeout_ms = 500;
    let (server, _) = start_scenario_server(settings);
    let (mut ws, _) = sio_connect(server.addr);
    ws.send_text("41");
    std::thread::sleep(Duration::from_millis(800));
    ws.send_text("40");
    let reply = ws.text_skipping_pings();
    assert!(reply.starts_with("40{"), "{reply}");
    assert_echoes(&mut ws, 1);
}

#[test]
fn no_namespace_joined_within_the_connect_timeout_closes_a_polling_session() {
    let mut settings = test_settings();
    settings.engine.connect_timeout_ms = 500;
    let (server, _) = start_scenario_server(settings);
    let (sid, _) = open_polling(server.addr);
    assert_eq!(poll(server.addr, &sid).polling_body(), "1");
    assert_polling_closed(server.addr, &sid);
}

// ---------------------------------------------------------------------------------------
// Malformed and out-of-place packets: each closes its connection, and only that one.

/// Joins `/` on a new connection, sends `frames` (text, or binary when `Err`), and asserts
/// the server closes that connection while `bystander` keeps working.
#[track_caller]
fn assert_closes(server: &BackgroundServer, bystander: &mut Ws, frames: &[Result<&str, &[u8]>]) {
    let (mut ws, _) = sio_connect(server.addr);
    for frame in frames {
        match frame {
            Ok(text) => ws.try_send_text(text),
            Err(data) => ws.try_send_binary(data),
        }
    }
    let before = ws.assert_closed();
    assert!(
        before.is_empty(),
        "{frames:?}: got {before:?} before the close"
    );
    assert_echoes(bystander, 6);
}

fn closes(frames: &[Result<&str, &[u8]>]) {
    let (server, _) = scenario();
    let (mut bystander, _) = sio_connect(server.addr);
    assert_closes(&server, &mut bystander, frames);
}

#[test]
fn an_unknown_packet_type_closes() {
    closes(&[Ok("49")]);
}

#[test]
fn an_empty_message_closes() {
    closes(&[Ok("4")]);
}

#[test]
fn a_reserved_event_name_closes() {
    let (server, _) = scenario();
    let (mut bystander, _) = sio_connect(server.addr);
    for name in [
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    ] {
        assert_closes(&server, &mut bystander, &[Ok(&format!(r#"42["{name}"]"#))]);
    }
}

#[test]
fn an_event_that_is_an_object_closes() {
    closes(&[Ok("42{}")]);
}

#[test]
fn an_event_that_is_a_string_closes() {
    closes(&[Ok(r#"42"x""#)]);
}

#[test]
fn an_event_without_a_name_closes() {
    closes(&[Ok("42[]")]);
}

#[test]
fn invalid_json_closes() {
    closes(&[Ok(r#"42["echo",1"#)]);
}

#[test]
fn a_binary_event_without_an_attachment_count_closes() {
    closes(&[Ok(r#"45-["echo",{"_placeholder":true,"num":0}]"#)]);
}

#[test]
fn more_than_ten_attachments_closes() {
    closes(&[Ok(r#"4511-["echo",{"_placeholder":true,"num":0}]"#)]);
}

#[test]
fn a_placeholder_pointing_nowhere_closes() {
    closes(&[
        Ok(r#"451-["echo",{"_placeholder":true,"num":5}]"#),
        Err(b"data"),
    ]);
}

#[test]
fn a_binary_frame_with_no_pending_binary_packet_closes() {
    closes(&[Err(&[1, 2, 3])]);
}

#[test]
fn a_text_frame_while_attachments_are_expected_closes() {
    closes(&[
        Ok(r#"451-["echo",{"_placeholder":true,"num":0}]"#),
        Ok(r#"42["echo",1]"#),
    ]);
}

#[test]
fn a_packet_for_a_namespace_not_joined_closes() {
    closes(&[Ok(r#"42/secure,["echo-ack"]"#)]);
}

#[test]
fn a_second_connect_to_a_joined_namespace_closes() {
    closes(&[Ok("40")]);
}

#[test]
fn a_connect_error_from_the_client_closes() {
    closes(&[Ok(r#"44{"message":"no"}"#)]);
}

#[test]
fn a_disconnect_with_data_closes() {
    closes(&[Ok(r#"41{"x":1}"#)]);
}

#[test]
fn a_connect_with_a_non_object_payload_closes() {
    let (server, _) = scenario();
    let (mut bystander, _) = sio_connect(server.addr);
    let (mut ws, _, _) = Ws::open(server.addr);
    ws.send_text(r#"40"token""#);
    ws.assert_closed();
    assert_echoes(&mut bystander, 7);
}

#[test]
fn an_event_before_any_connect_closes() {
    let (server, _) = scenario();
    let (mut ws, _, _) = Ws::open(server.addr);
    ws.send_text(r#"42["echo",1]"#);
    ws.assert_closed();
}

#[test]
fn the_server_survives_every_malformed_packet() {
    let (server, _) = scenario();
    let (mut bystander, _) = sio_connect(server.addr);
    let cases: &[&[Result<&str, &[u8]>]] = &[
        &[Ok("49")],
        &[Ok("4")],
        &[Ok(r#"42["connect"]"#)],
        &[Ok("42{}")],
        &[Ok(r#"42"x""#)],
        &[Ok("42[]")],
        &[Ok("42[1")],
        &[Ok("45-[\"a\"]")],
        &[Ok("4599999999999999999999-[\"a\"]")],
        &[Ok("4511-[\"a\"]")],
        &[Ok(r#"451-["a",{"_placeholder":true,"num":-1}]"#), Err(b"x")],
        &[Err(b"\x00")],
        &[Ok(r#"451-["a",{"_placeholder":true,"num":0}]"#), Ok("40")],
        &[Ok(r#"42/nowhere,["a"]"#)],
        &[Ok("40")],
        &[Ok(r#"44{"message":"x"}"#)],
        &[Ok("4/")],
        &[Ok("4\u{1F600}")],
    ];
    for frames in cases {
        assert_closes(&server, &mut bystander, frames);
    }
    // A fresh client is served as usual.
    let (mut fresh, _) = sio_connect(server.addr);
    assert_echoes(&mut fresh, 8);
    assert_echoes(&mut bystander, 9);
}
