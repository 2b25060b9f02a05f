//! Every client event that asks for an ack gets one: the built-in `ping` answers
//! `{"ok":true,"server_time"}` like every built-in's success (and the same body as a `pong`
//! event without an ack), and an event the hub does not handle is answered `UNKNOWN_EVENT`
//! at once instead of leaving the client to its ack timeout. Without an ack such an event
//! is only counted.

use crate::support;
use crate::support::wire;

use serde_json::{json, Value};
use siohub::config::{NamespacePolicy, RateLimit};
use siohub::server::BackgroundServer;
use support::driver::Transport;
use support::ops::metrics_text;
use support::{policy, settle, start_hub, Driver};
use wire::*;

/// `siohub_events_received_total` in `/metrics`.
fn events_received(server: &BackgroundServer) -> u64 {
    let metrics = metrics_text(server);
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("siohub_events_received_total "))
        .unwrap_or_else(|| panic!("no siohub_events_received_total in {metrics}"))
        .trim()
        .parse()
        .unwrap()
}

#[track_caller]
fn assert_unknown_event(ack: &Value, event: &str) {
    assert_eq!(ack["error"]["code"], "UNKNOWN_EVENT", "{ack}");
    let message = ack["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(event), "names the event: {ack}");
    assert!(message.contains("forward"), "says how to handle it: {ack}");
    assert!(ack.get("ok").is_none(), "{ack}");
}

fn ping_answers_ok_with_the_server_time_by_ack_or_pong(transport: Transport) {
    let server = start_hub(vec![policy("/")]);
    let mut d = Driver::node_on(&server, transport);
    d.connect("a", "/");
    let pong = d.ack("a", "ping", json!([]));
    assert_eq!(pong["ok"], true, "{pong}");
    assert!(pong["server_time"].as_u64().unwrap() > 0, "{pong}");
    d.call(
        "emit",
        json!({ "name": "a", "event": "ping", "args": ["hi"] }),
    );
    // The client's emit returns before a polling POST reaches the hub, so a broadcast sent
    // now could overtake the ping: wait for the pong first, then settle to see that no
    // second one follows.
    d.wait_counts(&["a".to_owned()], "pong", 1);
    settle(&server, &mut d, "/", &["a"], 1);
    let pongs = d.received("a", "pong");
    assert_eq!(pongs.len(), 1, "{pongs:?}");
    assert_eq!(pongs[0]["ok"], true, "{pongs:?}");
    assert!(pongs[0]["server_time"].as_u64().unwrap() > 0);
}

fn an_unknown_event_with_an_ack_is_answered_unknown_event(transport: Transport) {
    let server = start_hub(vec![policy("/")]);
    let mut d = Driver::node_on(&server, transport);
    d.connect("a", "/");
    let reply = d.ack("a", "chat:message", json!([{ "text": "hello" }]));
    assert_unknown_event(&reply, "chat:message");
    // Several arguments, binary among them, make no difference.
    let args = json!(["x", { "$binary": "AAEC" }, 3]);
    assert_unknown_event(&d.ack("a", "upload", args), "upload");
    // The socket carries on: built-ins still answer.
    assert_eq!(d.ack("a", "ping", json!([]))["ok"], true);
    assert_eq!(
        d.call("state", json!({ "name": "a" }))["disconnects"],
        json!([])
    );
}

#[test]
fn an_unknown_event_without_an_ack_is_only_counted() {
    let server = start_hub(vec![policy("/")]);
    let (mut ws, _) = sio_connect(server.addr);
    let before = events_received(&server);
    ws.send_text(r#"42["nobody-handles-this",1]"#);
    // The session answers in order: the next packet is the ping's ack, nothing before it.
    emit_with_ack(&mut ws, 7, "ping", json!([]));
    let next = ws.text_skipping_pings();
    let pong = json_after(&next, "437");
    assert_eq!(pong[0]["ok"], true, "{next}");
    assert_eq!(events_received(&server), before + 2);
    // And with an ack id on the raw wire, the answer names the code.
    let reply = ack(&mut ws, 8, "nobody-handles-this", json!([]));
    assert_unknown_event(&reply, "nobody-handles-this");
}

#[test]
fn unknown_events_are_answered_within_the_rate_limit() {
    let limited = NamespacePolicy {
        rate_limit: RateLimit { per_s: 1, burst: 1 },
        ..policy("/")
    };
    let server = start_hub(vec![limited]);
    let (mut ws, _) = sio_connect(server.addr);
    assert_unknown_event(&ack(&mut ws, 1, "a", json!([])), "a");
    let over = ack(&mut ws, 2, "b", json!([]));
    assert_eq!(error_code(&over), Some("RATE_LIMIT_EXCEEDED"), "{over}");
}

crate::on_each_transport! {
    ping_answers_ok_with_the_server_time_by_ack_or_pong,
    an_unknown_event_with_an_ack_is_answered_unknown_event,
}
