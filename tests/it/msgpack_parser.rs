//! `[server] parser = "msgpack"`: socket.io-client 4.8 with socket.io-msgpack-parser 3.0.2
//! on polling, on websocket and through the upgrade (connect, namespaces, events and acks both ways, binary, the
//! hub's `join`/`publish`, an HTTP API emit with acks), and bad msgpack input on both
//! transports (malformed bytes, 100,000-deep nesting, a header claiming 2^32 elements, a text
//! packet): one clear close, the other clients unaffected; the recovery log replaying
//! buffers, and a broadcast crossing two clustered nodes.

use crate::support;
use crate::support::wire;

use std::thread;

use serde_json::{json, Value};
use siohub::config::NamespacePolicy;
use siohub::server::BackgroundServer;
use siohub_actors::Target;
use siohub_protocol::{decode_msgpack_packet, encode_msgpack_packet, SocketPacket, SocketType};
use support::cluster::{node_settings, wait_counted};
use support::hub_state::socket_count;
use support::{hub_broadcast, policy, wait_until, Driver, RedisServer};
use wire::{request, Frame, Ws};

const KEY: &str = "msgpack-test-key-0123456789";

fn start_msgpack_hub() -> BackgroundServer {
    let mut settings = support::test_settings();
    settings.server.parser = "msgpack".into();
    settings.api.keys = vec![KEY.into()];
    settings.namespaces = vec![
        policy("/"),
        policy("/chat"),
        NamespacePolicy {
            recovery_s: 60,
            ..policy("/recover")
        },
    ];
    support::start_hub_from(settings)
}

/// Connects socket `name` to `nsp` on `transport` (`upgrade`: polling, then websocket);
/// acks it is asked for are answered `[name, name]`.
fn connect(d: &mut Driver, name: &str, nsp: &str, transport: &str) -> String {
    let transports = match transport {
        "upgrade" => json!(["polling", "websocket"]),
        one => json!([one]),
    };
    let reply = d.call(
        "connect",
        json!({"name": name, "nsp": nsp, "transports": transports, "answer_acks": name}),
    );
    reply["id"].as_str().expect("a socket id").to_owned()
}

#[test]
fn msgpack_node_clients_on_polling_and_websocket() {
    let server = start_msgpack_hub();
    let mut d = Driver::node_msgpack(&server);
    for transport in ["polling", "websocket", "upgrade"] {
        let (a, b, c) = (
            format!("a-{transport}"),
            format!("b-{transport}"),
            format!("c-{transport}"),
        );
        connect(&mut d, &a, "/", transport);
        let b_sid = connect(&mut d, &b, "/", transport);
        // Client -> server event with an ack, on `/` and on another namespace.
        assert_eq!(d.ack(&a, "ping", json!([]))["ok"], true, "{transport}");
        connect(&mut d, &c, "/chat", transport);
        assert_eq!(d.ack(&c, "ping", json!([]))["ok"], true, "{transport}");
        // The hub's join and publish, with binary in the data both ways.
        let room = format!("room-{transport}");
        for name in [&a, &b] {
            let ack = d.ack(name, "join", json!([room]));
            assert_eq!(ack["ok"], true, "{transport} join: {ack}");
        }
        let data = json!({"n": 1, "bin": {"$binary": "AQID"}, "nested": [{"$binary": "/w=="}]});
        let ack = d.ack(
            &a,
            "publish",
            json!([{"room": room, "event": "news", "data": data}]),
        );
        assert_eq!(ack, json!({"ok": true, "recipients": 1}), "{transport}");
        support::wait_until("the publish reaches b", wire::IO_TIMEOUT, || {
            !d.received(&b, "news").is_empty()
        });
        assert_eq!(d.received(&b, "news"), vec![data.clone()], "{transport}");
        assert!(d.received(&a, "news").is_empty(), "the sender is excluded");

        // An HTTP API emit asking for acks: server -> client event, client -> server ack.
        let addr = server.addr;
        let body = json!({"rooms": room, "event": "question", "data": {"q": transport}, "ack": true, "timeout_ms": 10_000});
        let res = thread::spawn(move || {
            request(
                addr,
                "POST",
                "/api/v1/emit",
                &[("X-API-Key", KEY), ("Content-Type", "application/json")],
                body.to_string().as_bytes(),
            )
        })
        .join()
        .unwrap();
        assert_eq!(res.status, 200, "{transport}: {}", res.text());
        let out = res.json();
        assert_eq!(out["recipients"], 2, "{transport}: {out}");
        assert_eq!(out["timeouts"], 0, "{transport}: {out}");
        let mut acked: Vec<String> = out["acks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["data"].as_str().unwrap_or_default().to_owned())
            .collect();
        acked.sort();
        assert_eq!(acked, vec![a.clone(), b.clone()], "{transport}: {out}");
        assert_eq!(d.received(&b, "question"), vec![json!({"q": transport})]);
        let _ = b_sid;
    }
}

/// Broadcasts `event` with `payload` (buffers included) to `target`, as server code would.
fn broadcast_payload(
    server: &BackgroundServer,
    target: Target,
    event: &str,
    payload: siohub_protocol::Payload,
) -> siohub_actors::BroadcastOutcome {
    let broadcast = siohub_actors::Broadcast {
        target,
        event: event.into(),
        payload,
        volatile: false,
        dedupe_id: None,
    };
    futures::executor::block_on(server.hub.broadcast(broadcast)).expect("the broadcaster answers")
}

#[test]
fn msgpack_recovery_replays_missed_binary_events() {
    let server = start_msgpack_hub();
    let mut d = Driver::node_msgpack(&server);
    let connected = d.call("connect", json!({ "name": "a", "nsp": "/recover" }));
    let id = connected["id"].as_str().unwrap().to_owned();
    assert_eq!(d.ack("a", "join", json!(["r"]))["ok"], true);
    let to_room = Target {
        rooms: vec!["r".into()],
        ..Target::namespace("/recover")
    };
    hub_broadcast(&server, to_room.clone(), "ev", json!(0));
    d.wait_counts(&["a".into()], "ev", 1);

    d.call("hold", json!({ "name": "a" }));
    d.call("close_transport", json!({ "name": "a" }));
    wait_until("the server dropped the socket", wire::IO_TIMEOUT, || {
        socket_count(&server, "/recover") == 0
    });
    let missed: Vec<Value> = (1..=3)
        .map(|n| json!({"n": n, "bin": {"$binary": "AAE="}}))
        .collect();
    for data in &missed {
        let mut payload = siohub_protocol::Payload::default();
        let bin = payload.push_binary(vec![0u8, 1]);
        let n = data["n"].clone();
        payload.push_arg(json!({"n": n, "bin": bin}));
        let out = broadcast_payload(&server, to_room.clone(), "ev", payload);
        assert_eq!(out.recipients, 0);
    }
    d.call("resume", json!({ "name": "a" }));
    let state = d.wait_connects("a", 2);
    assert_eq!(state["recovered"], true, "{state}");
    assert_eq!(state["id"], id.as_str(), "{state}");
    d.wait_counts(&["a".into()], "ev", 4);
    let got = d.received("a", "ev");
    assert_eq!(got[0], json!(0));
    assert_eq!(&got[1..], &missed[..]);
}

#[test]
fn msgpack_cluster_broadcasts_reach_the_other_node() {
    let redis = RedisServer::start();
    let nodes: Vec<BackgroundServer> = (0..2)
        .map(|_| {
            let mut settings = node_settings(&redis);
            settings.server.parser = "msgpack".into();
            support::start_hub_from(settings)
        })
        .collect();
    wait_counted(&nodes, 2);
    let mut d0 = Driver::node_msgpack(&nodes[0]);
    let mut d1 = Driver::node_msgpack(&nodes[1]);
    connect(&mut d0, "p", "/", "websocket");
    connect(&mut d1, "q", "/", "polling");
    assert_eq!(d1.ack("q", "join", json!(["x"]))["ok"], true);
    // A broadcast from node 0 is resolved against node 1's rooms there: q joined with an ack.
    let data = json!({"from": "node 0", "bin": {"$binary": "AQID"}});
    let ack = d0.ack(
        "p",
        "publish",
        json!([{"room": "x", "event": "news", "data": data}]),
    );
    assert_eq!(ack["ok"], true, "{ack}");
    d1.wait_counts(&["q".into()], "news", 1);
    assert_eq!(d1.received("q", "news"), vec![data]);
}

/// A websocket speaking msgpack by hand, connected to `/`; returns it with its socket id.
fn raw_msgpack_socket(server: &BackgroundServer) -> (Ws, String) {
    let (mut ws, _, _) = Ws::open(server.addr);
    ws.send_binary(&encode_msgpack_packet(&SocketPacket::connect("/", None)));
    let reply = decode_msgpack_packet(&ws.binary().into(), 10).expect("a msgpack CONNECT");
    assert_eq!(reply.kind, SocketType::Connect);
    let sid = reply.data.as_ref().and_then(|d| d["sid"].as_str());
    (ws, sid.expect("a socket id").to_owned())
}

/// The packet map `{type: 2, nsp: "/", data: <data>}` with `data` written as raw bytes.
fn event_with_raw_data(data: &[u8]) -> Vec<u8> {
    let mut bytes = vec![
        0x83, 0xa4, b't', b'y', b'p', b'e', 2, 0xa3, b'n', b's', b'p', 0xa1,
    ];
    bytes.extend_from_slice(b"/\xa4data");
    bytes.extend_from_slice(data);
    bytes
}

fn bad_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let mut deep = vec![0x91; 100_000];
    deep.push(0xc0);
    vec![
        ("malformed", vec![0x83, 0xc1, 0xff]),
        ("100,000 deep", event_with_raw_data(&deep)),
        (
            "2^32 elements claimed",
            event_with_raw_data(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
        ),
        (
            "bin beyond the frame",
            event_with_raw_data(&[0xc6, 0xff, 0xff, 0xff, 0xff, 1]),
        ),
    ]
}

#[test]
fn msgpack_bad_input_closes_that_connection_only() {
    let server = start_msgpack_hub();
    let mut d = Driver::node_msgpack(&server);
    connect(&mut d, "bystander", "/", "websocket");
    let (mut neighbour, _) = raw_msgpack_socket(&server);

    for (what, bytes) in bad_inputs() {
        let (mut ws, _) = raw_msgpack_socket(&server);
        ws.send_binary(&bytes);
        let before = ws.assert_closed();
        assert!(
            before.iter().all(|f| !matches!(f, Frame::Binary(_))),
            "{what}: nothing but the close came back: {before:?}"
        );
        assert_eq!(d.ack("bystander", "ping", json!([]))["ok"], true, "{what}");
    }
    let metrics = support::ops::metrics_text(&server);
    assert!(
        metrics.contains(r#"siohub_refused_total{reason="msgpack_too_deep"} 1"#),
        "the deep packet is counted"
    );
    // A text packet is not msgpack: refused the same way.
    let (mut ws, _) = raw_msgpack_socket(&server);
    ws.send_text(r#"42["ping"]"#);
    ws.assert_closed();

    // Polling: the same bytes as a `b`+base64 packet close that session.
    use base64::Engine as _;
    for (what, bytes) in bad_inputs() {
        let (sid, _) = wire::open_polling(server.addr);
        let connect = encode_msgpack_packet(&SocketPacket::connect("/", None));
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        wire::push(server.addr, &sid, &format!("b{}", b64(&connect)));
        let body = wire::poll(server.addr, &sid).polling_body();
        let reply = body.strip_prefix('b').expect("a binary CONNECT reply");
        let reply = base64::engine::general_purpose::STANDARD
            .decode(reply)
            .unwrap();
        let reply = decode_msgpack_packet(&reply.into(), 10).unwrap();
        assert_eq!(reply.kind, SocketType::Connect, "{what}");
        // Every body is within max_payload: taken (`ok`), then the session closes.
        let body = format!("b{}", b64(&bytes));
        assert!(body.len() <= 1_000_000, "{what}: {} bytes", body.len());
        let res = wire::post(server.addr, &wire::sid_query(&sid), body.as_bytes());
        assert_eq!((res.status, res.text()), (200, "ok".to_owned()), "{what}");
        wire::assert_polling_closed(server.addr, &sid);
    }

    // The neighbour on websocket still talks: an event with an ack comes back.
    let ping = SocketPacket::event("/", "ping", json!([])).with_id(1);
    neighbour.send_binary(&encode_msgpack_packet(&ping));
    let ack = loop {
        match neighbour.recv() {
            Frame::Binary(bytes) => break decode_msgpack_packet(&bytes.into(), 10).unwrap(),
            Frame::Text(t) if t == "2" => neighbour.send_text("3"),
            other => panic!("an ack, got {other:?}"),
        }
    };
    assert_eq!((ack.kind, ack.id), (SocketType::Ack, Some(1)));
    assert_eq!(ack.data.unwrap()[0]["ok"], Value::Bool(true));
    assert_eq!(d.ack("bystander", "ping", json!([]))["ok"], true);
}

#[test]
fn msgpack_parser_is_set_by_the_environment_and_validated() {
    use support::binary::run;
    let out = run(
        &["--print-config"],
        &[("SOCKETIO_SERVER__PARSER", "msgpack")],
    );
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains(r#""parser": "msgpack""#), "{printed}");
    let default = run(&["--print-config"], &[]);
    assert!(String::from_utf8_lossy(&default.stdout).contains(r#""parser": "json""#));

    let out = run(&["--print-config"], &[("SOCKETIO_SERVER__PARSER", "xml")]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("server.parser") && err.contains(r#""json" or "msgpack""#),
        "{err}"
    );
}
