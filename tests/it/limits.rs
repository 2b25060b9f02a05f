//! Limits on the wire: a socket over its namespace's event rate, or with
//! `max_tasks_per_socket` events still being handled, gets
//! `RATE_LIMIT_EXCEEDED` and its event is not processed; an address over the handshake rate
//! gets 429 and a full server 503, at once and as JSON, on polling and websocket alike.

use crate::support;
use crate::support::backend;
use crate::support::wire;

use backend::*;
use serde_json::{json, Value};
use siohub::config::{RateLimit, Settings};
use siohub::server::BackgroundServer;
use siohub_actors::RefusalReason;
use siohub_actors::Target;
use std::sync::{Arc, Barrier};
use std::time::Duration;
use support::{test_settings, wait_until};
use wire::*;

fn hub(adjust: impl FnOnce(&mut Settings)) -> BackgroundServer {
    let mut settings = test_settings();
    adjust(&mut settings);
    support::start_hub_from(settings)
}

#[test]
fn a_socket_over_its_rate_is_refused_and_its_events_are_not_processed() {
    let server = hub(|s| {
        s.namespaces[0].rate_limit = RateLimit { per_s: 1, burst: 3 };
    });
    let (mut listener, _) = sio_connect(server.addr);
    assert_eq!(ack(&mut listener, 1, "join", json!(["r"]))["ok"], true);
    let (mut ws, _) = sio_connect(server.addr);
    // Five events written back to back, so that the session takes them far within the
    // second a token takes to come back however slowly the test runs: the burst of three
    // goes through, the fourth (with an ack) and the fifth (without) are refused.
    emit_with_ack(&mut ws, 1, "ping", json!([]));
    emit_with_ack(&mut ws, 2, "ping", json!([]));
    let publish = |data: u64| json!([{ "room": "r", "event": "news", "data": data }]);
    emit_with_ack(&mut ws, 3, "publish", publish(1));
    emit_with_ack(&mut ws, 4, "publish", publish(2));
    ws.send_text(r#"42["publish",{"room":"r","event":"news","data":3}]"#);
    let acks = acks_of(&mut ws, &[1, 2, 3, 4]);
    assert!(acks[&1]["server_time"].is_u64(), "{acks:?}");
    assert!(acks[&2]["server_time"].is_u64(), "{acks:?}");
    assert_eq!(acks[&3]["recipients"], 1, "{acks:?}");
    // Then the bucket is empty: refused, and not processed.
    let refused = &acks[&4];
    assert_eq!(
        error_code(refused),
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
    // The event without an ack is dropped quietly (for the client) but counted.
    wait_until("both refusals are counted", IO_TIMEOUT, || {
        server
            .hub
            .counters()
            .refusals(RefusalReason::EventRateLimited)
            >= 2
    });
    assert_eq!(
        server
            .hub
            .counters()
            .refusals(RefusalReason::EventRateLimited),
        2
    );
    // The listener got the one publish that passed, then a broadcast sent after all
    // five: neither refused publish reached it.
    assert_eq!(listener.text_skipping_pings(), r#"42["news",1]"#);
    support::hub_broadcast(&server, Target::namespace("/"), "sync", json!(1));
    assert_eq!(listener.text_skipping_pings(), r#"42["sync",1]"#);
    // Another socket has its own bucket.
    let (mut other, _) = sio_connect(server.addr);
    assert!(ack(&mut other, 1, "ping", json!([]))["server_time"].is_u64());
    // Tokens come back at the configured rate: a ping passes again once one is back.
    let mut id = 4;
    wait_until("a token comes back", IO_TIMEOUT, || {
        id += 1;
        ack(&mut ws, id, "ping", json!([]))["server_time"].is_u64()
    });
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
    // Six handshakes at once, three on each transport, so that all reach the bucket far
    // within the second a token takes to come back however slowly the test runs: two get
    // in, and at least one of each transport is refused.
    let start = Arc::new(Barrier::new(6));
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let start = start.clone();
            let addr = server.addr;
            std::thread::spawn(move || {
                start.wait();
                if i % 2 == 0 {
                    let res = get(addr, POLLING);
                    (res.status == 200, Some(res))
                } else {
                    match Ws::try_connect(addr, WEBSOCKET) {
                        Ok(_) => (true, None),
                        Err(e) => {
                            assert!(e.contains("429"), "{e}");
                            (false, None)
                        }
                    }
                }
            })
        })
        .collect();
    let outcomes: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|(admitted, _)| *admitted).count(), 2);
    let refused_polls: Vec<_> = outcomes
        .iter()
        .filter_map(|(admitted, res)| res.as_ref().filter(|_| !admitted))
        .collect();
    assert!(!refused_polls.is_empty() && refused_polls.len() < 4);
    for refused in refused_polls {
        assert_eq!(refused.status, 429, "{refused:?}");
        assert_eq!(refused.json()["code"], 4);
        assert!(refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("ip_connections_per_s"));
        assert_eq!(refused.header("retry-after"), Some("1"));
    }
    assert_eq!(
        server
            .hub
            .counters()
            .refusals(RefusalReason::HandshakeRateLimited),
        4
    );
    // A token comes back at the configured rate; requests of an open session are not
    // handshakes and are not limited.
    let mut sid = None;
    wait_until("a handshake is admitted again", IO_TIMEOUT, || {
        let res = get(server.addr, POLLING);
        if res.status == 200 {
            let open: Value = serde_json::from_str(&res.polling_body()[1..]).unwrap();
            sid = open["sid"].as_str().map(str::to_owned);
        }
        sid.is_some()
    });
    let sid = sid.unwrap();
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
    // A websocket-first session is registered beside its start: wait for it, so that the
    // close below is what makes room.
    wait_until("the websocket session is registered", IO_TIMEOUT, || {
        server.registry.len() == 2
    });
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
    // Its session ends, then its connection (counted against the bound while it still
    // writes out its close).
    wait_until(
        "the websocket session and connection are gone",
        IO_TIMEOUT,
        || server.registry.len() == 1 && server.hub.counters().lingering_connections() == 0,
    );
    open_polling(server.addr);
}

#[test]
fn an_address_holding_max_connections_per_ip_gets_429_while_others_connect() {
    let server = hub(|s| s.limits.max_connections_per_ip = 2);
    let (first, _) = open_polling(server.addr);
    let (mut ws, _, _) = Ws::open(server.addr);
    // A websocket-first session is registered beside its start: wait for it, so that the
    // close below is what makes room.
    wait_until("the websocket session is registered", IO_TIMEOUT, || {
        server.registry.len() == 2
    });
    // A third connection from the same address: refused on both transports.
    let refused = get(server.addr, POLLING);
    assert_eq!(refused.status, 429, "{refused:?}");
    assert_eq!(refused.json()["code"], 4);
    assert!(refused.json()["message"]
        .as_str()
        .unwrap()
        .contains("max_connections_per_ip"));
    let err = Ws::try_connect(server.addr, WEBSOCKET)
        .err()
        .expect("the websocket handshake is refused");
    assert!(err.contains("429"), "{err}");
    assert_eq!(
        server
            .hub
            .counters()
            .refusals(RefusalReason::HandshakeIpConnections),
        2
    );
    // Another address is not held back, and the sessions already open keep working.
    let other: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    Ws::try_connect_with(Some(other), server.addr, WEBSOCKET, &[])
        .expect("another address connects");
    push(server.addr, &first, "40");
    assert!(poll(server.addr, &first).text().starts_with("40{"));
    // A close gives the address its place back.
    ws.send_text("1");
    ws.assert_closed();
    wait_until("the websocket session is gone", IO_TIMEOUT, || {
        server.registry.open_from("127.0.0.1".parse().unwrap()) == 1
    });
    open_polling(server.addr);
}

/// One handshake of a burst: the session it opened (kept open), or the refusal's status.
enum Handshake {
    Polling(String),
    WebSocket(Box<Ws>),
    Refused(u16),
}

/// A handshake on polling or on a websocket from the start.
fn handshake(addr: std::net::SocketAddr, websocket: bool) -> Handshake {
    if websocket {
        return match Ws::try_connect(addr, WEBSOCKET) {
            Ok(ws) => Handshake::WebSocket(Box::new(ws)),
            Err(e) => Handshake::Refused(match e {
                e if e.contains("429") => 429,
                e if e.contains("503") => 503,
                _ => 0,
            }),
        };
    }
    let res = get(addr, POLLING);
    match res.status {
        200 => {
            let body = res.polling_body();
            let open: serde_json::Value = serde_json::from_str(&body[1..]).expect("open packet");
            Handshake::Polling(open["sid"].as_str().expect("a sid").to_owned())
        }
        status => Handshake::Refused(status),
    }
}

/// Sends rounds of `BURST` handshakes all at once on both transports and checks that no
/// more than `max` get in and the others get `status`, whatever the interleaving of the
/// admissions with the registrations (an admitted handshake holds its place until its
/// session is registered). A handshake admitted while another is being registered may
/// count that one twice for a moment (the bound errs towards refusing), so the round
/// then fills the places left one handshake at a time: exactly `max` in all. Every
/// round's sessions close before the next.
fn assert_bursts_admit(server: &BackgroundServer, max: usize, status: u16) {
    const BURST: usize = 16;
    for round in 0..4 {
        let addr = server.addr;
        let mut outcomes = support::all_at_once(BURST, move |i| handshake(addr, i % 2 == 1));
        let refused: Vec<u16> = outcomes
            .iter()
            .filter_map(|h| match h {
                Handshake::Refused(status) => Some(*status),
                _ => None,
            })
            .collect();
        let admitted = BURST - refused.len();
        assert!(
            (1..=max).contains(&admitted),
            "round {round}: {admitted} admitted, refused {refused:?}"
        );
        assert!(
            refused.iter().all(|&s| s == status),
            "round {round}: {refused:?}"
        );
        for _ in admitted..max {
            let more = handshake(server.addr, false);
            assert!(!matches!(more, Handshake::Refused(_)), "round {round}");
            outcomes.push(more);
        }
        assert!(
            matches!(handshake(server.addr, true), Handshake::Refused(s) if s == status),
            "round {round}: one more is refused"
        );
        // Websocket-first sessions are registered beside their start.
        wait_until(
            &format!("round {round}: {max} registered"),
            IO_TIMEOUT,
            || server.registry.len() == max,
        );
        for outcome in outcomes {
            match outcome {
                Handshake::Polling(sid) => {
                    push(server.addr, &sid, "1");
                    poll(server.addr, &sid);
                }
                Handshake::WebSocket(mut ws) => {
                    ws.send_text("1");
                    ws.assert_closed();
                }
                Handshake::Refused(_) => {}
            }
        }
        wait_until("every session of the round is gone", IO_TIMEOUT, || {
            server.registry.is_empty() && server.hub.counters().lingering_connections() == 0
        });
    }
}

/// A burst of handshakes from one address beyond `max_connections_per_ip`: no more than
/// the bound get in, the others get 429.
#[test]
fn a_burst_of_handshakes_from_one_address_gets_no_more_than_its_bound() {
    let server = hub(|s| s.limits.max_connections_per_ip = 3);
    assert_bursts_admit(&server, 3, 429);
}

/// A burst of handshakes beyond `max_connections`: no more than the bound get in, the
/// others get 503.
#[test]
fn a_burst_of_handshakes_gets_no_more_than_max_connections() {
    let server = hub(|s| s.limits.max_connections = 3);
    assert_bursts_admit(&server, 3, 503);
}

/// Reads the socket's packets until the acks of every id in `ids` are in (in whatever order
/// they come), and returns them by id.
#[track_caller]
fn acks_of(ws: &mut Ws, ids: &[u64]) -> std::collections::BTreeMap<u64, serde_json::Value> {
    let mut acks = std::collections::BTreeMap::new();
    while acks.len() < ids.len() {
        let text = ws.text_skipping_pings();
        let Some(rest) = text.strip_prefix("43") else {
            continue;
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let Ok(id) = digits.parse::<u64>() else {
            continue;
        };
        if ids.contains(&id) {
            acks.insert(id, json_after(&text, &format!("43{id}"))[0].clone());
        }
    }
    acks
}

#[test]
fn a_socket_with_too_many_events_in_flight_is_refused_and_others_are_not() {
    let backend = Backend::start();
    let server = hub(|s| {
        s.webhook.url = backend.url("/hold");
        s.webhook.timeout_ms = 60_000;
        s.namespaces[0].max_tasks_per_socket = 3;
    });
    let (mut listener, _) = sio_connect(server.addr);
    assert_eq!(ack(&mut listener, 1, "join", json!(["r"]))["ok"], true);
    let (mut greedy, _) = sio_connect(server.addr);
    // Eight requests at once: three are started and wait for the backend; five are refused.
    for id in 1..=8 {
        emit_with_ack(
            &mut greedy,
            id,
            "request",
            json!([{ "action": "a", "request_id": id }]),
        );
    }
    let refused = acks_of(&mut greedy, &[4, 5, 6, 7, 8]);
    for (id, body) in &refused {
        assert_eq!(
            error_code(body),
            Some("RATE_LIMIT_EXCEEDED"),
            "{id}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("max_tasks_per_socket"), "{message}");
    }
    // A publish while the bound is taken starts nothing either; a ping starts no task.
    let publish = json!([{ "room": "r", "event": "news", "data": 1 }]);
    let body = ack(&mut greedy, 9, "publish", publish.clone());
    assert_eq!(error_code(&body), Some("RATE_LIMIT_EXCEEDED"), "{body}");
    listener.assert_quiet(Duration::from_millis(200));
    assert!(ack(&mut greedy, 10, "ping", json!([]))["server_time"].is_u64());
    // Another socket has its own bound: its request is started and its publish delivered.
    let (mut other, _) = sio_connect(server.addr);
    emit_with_ack(&mut other, 1, "request", json!([{ "action": "b" }]));
    let published = ack(&mut other, 2, "publish", publish.clone());
    assert_eq!(published, json!({ "ok": true, "recipients": 1 }));
    assert_eq!(listener.text_skipping_pings(), r#"42["news",1]"#);
    wait_until("four calls wait at the backend", IO_TIMEOUT, || {
        backend.calls().len() == 4
    });
    assert_eq!(
        server
            .hub
            .counters()
            .refusals(RefusalReason::SocketTasksFull),
        6
    );
    // Once the backend answers, the started ones are acked and the bound is free again.
    backend.release();
    let done = acks_of(&mut greedy, &[1, 2, 3]);
    for (id, body) in &done {
        assert_eq!(body["ok"], true, "{id}: {body}");
        assert_eq!(body["data"], json!({ "held": true }), "{id}: {body}");
    }
    assert_eq!(acks_of(&mut other, &[1])[&1]["ok"], true);
    let again = ack(&mut greedy, 11, "publish", publish);
    assert_eq!(again, json!({ "ok": true, "recipients": 1 }));
    assert_eq!(listener.text_skipping_pings(), r#"42["news",1]"#);
    assert_eq!(
        backend.calls().len(),
        4,
        "the refused requests never reached it"
    );
}
