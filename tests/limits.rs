//! Limits on the wire: a socket over its namespace's event rate gets
//! `RATE_LIMIT_EXCEEDED` and its event is not processed; an address over the handshake rate
//! gets 429 and a full server 503, at once and as JSON, on polling and websocket alike.

#[path = "support/backend.rs"]
mod backend;
mod support;
#[path = "support/wire.rs"]
mod wire;

use backend::*;
use serde_json::json;
use siohub::config::{RateLimit, Settings};
use siohub::server::BackgroundServer;
use siohub_actors::RefusalReason;
use std::time::Duration;
use support::test_settings;
use wire::*;

fn hub(adjust: impl FnOnce(&mut Settings)) -> BackgroundServer {
    let mut settings = test_settings();
    adjust(&mut settings);
    settings.validate().expect("valid test settings");
    let app = siohub::hub::application(&settings);
    BackgroundServer::start(settings, app).expect("the hub starts")
}

#[test]
fn a_socket_over_its_rate_is_refused_and_its_events_are_not_processed() {
    let server = hub(|s| {
        s.namespaces[0].rate_limit = RateLimit { per_s: 1, burst: 3 };
    });
    let (mut listener, _) = sio_connect(server.addr);
    assert_eq!(ack(&mut listener, 1, "join", json!(["r"]))["ok"], true);
    let (mut ws, _) = sio_connect(server.addr);
    // The burst: three events go through.
    assert!(ack(&mut ws, 1, "ping", json!([]))["server_time"].is_u64());
    assert_eq!(ack(&mut ws, 2, "join", json!(["r"]))["ok"], true);
    let published = ack(
        &mut ws,
        3,
        "publish",
        json!([{ "room": "r", "event": "news", "data": 1 }]),
    );
    assert_eq!(published["recipients"], 1);
    assert_eq!(listener.text_skipping_pings(), r#"42["news",1]"#);
    // Then the bucket is empty: refused, and not processed.
    let refused = ack(
        &mut ws,
        4,
        "publish",
        json!([{ "room": "r", "event": "news", "data": 2 }]),
    );
    assert_eq!(
        error_code(&refused),
        Some("RATE_LIMIT_EXCEEDED"),
        "{refused}"
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1 events a second"),
        "{refused}"
    );
    listener.assert_quiet(Duration::from_millis(300));
    // Events without an ack are dropped quietly (for the client) but counted.
    ws.send_text(r#"42["publish",{"room":"r","event":"news","data":3}]"#);
    listener.assert_quiet(Duration::from_millis(200));
    assert_eq!(
        server
            .hub
            .counters()
            .refusals(RefusalReason::EventRateLimited),
        2
    );
    // Another socket has its own bucket.
    let (mut other, _) = sio_connect(server.addr);
    assert!(ack(&mut other, 1, "ping", json!([]))["server_time"].is_u64());
    // Tokens come back at the configured rate.
    std::thread::sleep(Duration::from_millis(1100));
    assert!(ack(&mut ws, 5, "ping", json!([]))["server_time"].is_u64());
}

#[test]
fn no_rate_limit_by_default() {
    let server = hub(|_| {});
    let (mut ws, _) = sio_connect(server.addr);
    for id in 1..=100 {
        emit_with_ack(&mut ws, id, "ping", json!([]));
    }
    for id in 1..=100 {
        assert!(wait_ack(&mut ws, id)["server_time"].is_u64());
    }
}

#[test]
fn an_address_over_the_handshake_rate_gets_429_at_once() {
    let server = hub(|s| {
        s.limits.ip_connections_per_s = 1;
        s.limits.ip_connection_burst = 2;
    });
    open_polling(server.addr);
    open_polling(server.addr);
    let refused = get(server.addr, POLLING);
    assert_eq!(refused.status, 429, "{refused:?}");
    assert_eq!(refused.json()["code"], 4);
    assert!(refused.json()["message"]
        .as_str()
        .unwrap()
        .contains("ip_connections_per_s"));
    assert_eq!(refused.header("retry-after"), Some("1"));
    let ws = Ws::try_connect(server.addr, WEBSOCKET);
    let err = ws.err().expect("the websocket handshake is refused");
    assert!(err.contains("429"), "{err}");
    assert_eq!(
        server
            .hub
            .counters()
            .refusals(RefusalReason::HandshakeRateLimited),
        2
    );
    // Requests of an open session are not handshakes and are not limited.
    std::thread::sleep(Duration::from_millis(1100));
    let (sid, _) = open_polling(server.addr);
    for _ in 0..5 {
        push(server.addr, &sid, "40");
        assert!(poll(server.addr, &sid).text().starts_with("40{"));
        push(server.addr, &sid, "41");
    }
}

#[test]
fn a_full_server_gets_503_at_once_until_a_connection_closes() {
    let server = hub(|s| s.limits.max_connections = 2);
    let (first, _) = open_polling(server.addr);
    let (mut ws, _, _) = Ws::open(server.addr);
    let refused = get(server.addr, POLLING);
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.json()["code"], 4);
    assert!(refused.json()["message"]
        .as_str()
        .unwrap()
        .contains("max_connections"));
    let err = Ws::try_connect(server.addr, WEBSOCKET)
        .err()
        .expect("the websocket handshake is refused");
    assert!(err.contains("503"), "{err}");
    assert_eq!(
        server
            .hub
            .counters()
            .refusals(RefusalReason::HandshakeMaxConnections),
        2
    );
    // Sessions already open keep working.
    push(server.addr, &first, "40");
    assert!(poll(server.addr, &first).text().starts_with("40{"));
    // A close makes room.
    ws.send_text("1");
    ws.assert_closed();
    eventually("the websocket session is gone", IO_TIMEOUT, || {
        server.registry.len() == 1
    });
    open_polling(server.addr);
}
