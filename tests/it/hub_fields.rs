//! Field-filtered joins with real socket.io-client 4.8 sockets: `join {"room", "fields"}`
//! and the built-in `fields` shape what each member gets of events whose data is one JSON
//! object (publishes, HTTP emits, server broadcasts, replays of buffered rooms, recovery,
//! SSE), other events go unchanged, a socket reached by several paths gets the union, and
//! bad or too many field sets are refused with a clear ack error. Also with the msgpack
//! parser.
//!
//! Delivery is checked without sleeping: `settle` sends a namespace-wide `sync` after a
//! phase and waits for it on every socket (a session delivers in order).

use crate::support;

use std::time::Duration;

use serde_json::{json, Value};
use siohub::config::{BufferName, NamespacePolicy};
use siohub::server::BackgroundServer;
use siohub_actors::Target;
use support::hub_state::socket_count;
use support::ops::metrics_text;
use support::sse::{Sse, SseReader};
use support::wait_until;
use support::wire::request;
use support::{hub_broadcast, policy, room_members, settle, start_hub, start_hub_from, Driver};

const WAIT: Duration = Duration::from_secs(15);
const KEY: &str = "fields-test-key-0123456789";

const TICK: fn() -> Value = || json!({"sym": "ACME", "price": 10.5, "volume": 300, "ts": 1});

fn join_with(d: &mut Driver, name: &str, room: &str, fields: Value) -> Value {
    d.ack(name, "join", json!([{ "room": room, "fields": fields }]))
}

fn publish(d: &mut Driver, from: &str, room: &str, event: &str, data: Value) {
    let ack = d.ack(
        from,
        "publish",
        json!([{ "room": room, "event": event, "data": data }]),
    );
    assert_eq!(ack["ok"], true, "{ack}");
}

fn to_rooms(nsp: &str, rooms: &[&str]) -> Target {
    Target {
        rooms: rooms.iter().map(|r| r.to_string()).collect(),
        ..Target::namespace(nsp)
    }
}

fn assert_error(ack: &Value, code: &str, words: &str) {
    assert_eq!(ack["error"]["code"], code, "{ack}");
    let message = ack["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(words), "{ack}");
}

/// Every `event` socket `name` received, with all its arguments.
fn all_args(d: &mut Driver, name: &str, event: &str) -> Vec<Value> {
    let events = d.call("events", json!({ "name": name, "event": event }));
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["args"].clone())
        .collect()
}

fn api_emit(server: &BackgroundServer, body: Value) {
    let body = body.to_string();
    let res = request(
        server.addr,
        "POST",
        "/api/v1/emit",
        &[("X-API-Key", KEY), ("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(res.status, 200, "{}", res.text());
}

fn start_with_api(namespaces: Vec<NamespacePolicy>, msgpack: bool) -> BackgroundServer {
    let mut settings = support::test_settings();
    settings.api.keys = vec![KEY.into()];
    settings.namespaces = namespaces;
    if msgpack {
        settings.server.parser = "msgpack".into();
    }
    start_hub_from(settings)
}

/// One room with members on two field sets, one unfiltered, a publisher outside; what each
/// gets of object events, other events, HTTP emits and server broadcasts.
fn filtered_and_unfiltered_members(d: &mut Driver, server: &BackgroundServer) {
    for name in ["a", "a2", "b", "c", "p"] {
        d.connect(name, "/");
    }
    let ack = join_with(d, "a", "r", json!(["price", "volume"]));
    assert_eq!(
        ack,
        json!({"ok": true, "room": "r", "replayed": 0, "fields": ["price", "volume"]})
    );
    // Same set, other order: the same set (sorted in the echo).
    let ack = join_with(d, "a2", "r", json!(["volume", "price", "price"]));
    assert_eq!(ack["fields"], json!(["price", "volume"]), "{ack}");
    assert_eq!(join_with(d, "b", "r", json!(["price"]))["ok"], true);
    // A plain join: everything.
    assert_eq!(
        d.ack("c", "join", json!(["r"])),
        json!({"ok": true, "room": "r", "replayed": 0})
    );
    let names = ["a", "a2", "b", "c", "p"];

    publish(d, "p", "r", "tick", TICK());
    publish(d, "p", "r", "count", json!(7));
    publish(d, "p", "r", "list", json!([{"price": 1}]));
    api_emit(
        server,
        json!({"rooms": "r", "event": "tick", "data": {"price": 2, "volume": 3, "x": 4}}),
    );
    api_emit(
        server,
        json!({"rooms": "r", "event": "two", "args": [{"price": 1, "x": 2}, 5]}),
    );
    let out = hub_broadcast(
        server,
        to_rooms("/", &["r"]),
        "tick",
        json!({"price": 3, "x": 0}),
    );
    assert_eq!(out.recipients, 4);
    settle(server, d, "/", &names, 1);

    for name in ["a", "a2"] {
        assert_eq!(
            d.received(name, "tick"),
            vec![
                json!({"price": 10.5, "volume": 300}),
                json!({"price": 2, "volume": 3}),
                json!({"price": 3})
            ],
            "{name}"
        );
    }
    assert_eq!(
        d.received("b", "tick"),
        vec![
            json!({"price": 10.5}),
            json!({"price": 2}),
            json!({"price": 3})
        ]
    );
    assert_eq!(
        d.received("c", "tick"),
        vec![
            TICK(),
            json!({"price": 2, "volume": 3, "x": 4}),
            json!({"price": 3, "x": 0})
        ]
    );
    // Data that is not one object goes unchanged to everyone.
    for name in ["a", "b", "c"] {
        assert_eq!(d.received(name, "count"), vec![json!(7)], "{name}");
        assert_eq!(
            d.received(name, "list"),
            vec![json!([{"price": 1}])],
            "{name}"
        );
        assert_eq!(
            all_args(d, name, "two"),
            vec![json!([{"price": 1, "x": 2}, 5])],
            "{name}"
        );
    }
    assert!(d.received("p", "tick").is_empty());
}

#[test]
fn filtered_and_unfiltered_members_of_one_room() {
    let server = start_with_api(vec![policy("/")], false);
    let mut d = Driver::node(&server);
    filtered_and_unfiltered_members(&mut d, &server);
}

#[test]
fn msgpack_clients_get_filtered_events_too() {
    let server = start_with_api(vec![policy("/")], true);
    let mut d = Driver::node_msgpack(&server);
    filtered_and_unfiltered_members(&mut d, &server);
}

#[test]
fn several_paths_give_the_union_and_direct_targets_everything() {
    let server = start_hub(vec![policy("/")]);
    let mut d = Driver::node(&server);
    let id = d.connect("a", "/");
    d.connect("p", "/");
    assert_eq!(
        join_with(&mut d, "a", "prices", json!(["price"]))["ok"],
        true
    );
    assert_eq!(
        join_with(&mut d, "a", "volumes", json!(["volume"]))["ok"],
        true
    );
    assert_eq!(d.ack("a", "join", json!(["all"]))["ok"], true);

    let data = TICK();
    // Both filtered rooms: the union of their sets.
    hub_broadcast(
        &server,
        to_rooms("/", &["prices", "volumes"]),
        "both",
        data.clone(),
    );
    // A filtered and an unfiltered room: everything.
    hub_broadcast(
        &server,
        to_rooms("/", &["prices", "all"]),
        "mixed",
        data.clone(),
    );
    // By socket id (with a filtered room too), or the whole namespace: everything.
    let by_id = Target {
        socket_ids: vec![id.clone()],
        ..to_rooms("/", &["prices"])
    };
    hub_broadcast(&server, by_id, "direct", data.clone());
    hub_broadcast(&server, Target::namespace("/"), "everyone", data.clone());
    // One filtered room only: its set.
    publish(&mut d, "p", "volumes", "one", data.clone());
    settle(&server, &mut d, "/", &["a", "p"], 1);

    assert_eq!(
        d.received("a", "both"),
        vec![json!({"price": 10.5, "volume": 300})]
    );
    assert_eq!(d.received("a", "mixed"), vec![data.clone()]);
    assert_eq!(d.received("a", "direct"), vec![data.clone()]);
    assert_eq!(d.received("a", "everyone"), vec![data.clone()]);
    assert_eq!(d.received("a", "one"), vec![json!({"volume": 300})]);
}

#[test]
fn the_fields_built_in_changes_the_set_and_null_means_everything() {
    let server = start_hub(vec![policy("/")]);
    let mut d = Driver::node(&server);
    d.connect("a", "/");
    d.connect("p", "/");
    assert_eq!(join_with(&mut d, "a", "r", json!(["price"]))["ok"], true);
    publish(&mut d, "p", "r", "tick", json!({"price": 1, "volume": 1}));

    let ack = d.ack(
        "a",
        "fields",
        json!([{"room": "r", "fields": ["volume", "ts"]}]),
    );
    assert_eq!(
        ack,
        json!({"ok": true, "room": "r", "fields": ["ts", "volume"]})
    );
    publish(
        &mut d,
        "p",
        "r",
        "tick",
        json!({"price": 2, "volume": 2, "ts": 2}),
    );

    let ack = d.ack("a", "fields", json!([{"room": "r", "fields": null}]));
    assert_eq!(ack, json!({"ok": true, "room": "r", "fields": null}));
    publish(&mut d, "p", "r", "tick", json!({"price": 3, "volume": 3}));

    // A join naming another set changes it too, without replaying anything.
    let ack = join_with(&mut d, "a", "r", json!(["price"]));
    assert_eq!(
        ack,
        json!({"ok": true, "room": "r", "replayed": 0, "fields": ["price"]})
    );
    // A plain join of a room it is in keeps the set.
    assert_eq!(d.ack("a", "join", json!(["r"]))["ok"], true);
    publish(&mut d, "p", "r", "tick", json!({"price": 4, "volume": 4}));
    // An empty set: only an empty object.
    assert_eq!(
        d.ack("a", "fields", json!([{"room": "r", "fields": []}]))["ok"],
        true
    );
    publish(&mut d, "p", "r", "tick", json!({"price": 5}));
    settle(&server, &mut d, "/", &["a", "p"], 1);
    assert_eq!(
        d.received("a", "tick"),
        vec![
            json!({"price": 1}),
            json!({"volume": 2, "ts": 2}),
            json!({"price": 3, "volume": 3}),
            json!({"price": 4}),
            json!({}),
        ]
    );

    // After a leave and a plain join, the set is gone.
    assert_eq!(d.ack("a", "leave", json!(["r"]))["ok"], true);
    assert_eq!(d.ack("a", "join", json!(["r"]))["ok"], true);
    publish(&mut d, "p", "r", "late", json!({"price": 6, "volume": 6}));
    settle(&server, &mut d, "/", &["a", "p"], 2);
    assert_eq!(
        d.received("a", "late"),
        vec![json!({"price": 6, "volume": 6})]
    );

    // `fields` for a room the socket is not in.
    let ack = d.ack("a", "fields", json!([{"room": "nope", "fields": ["x"]}]));
    assert_error(&ack, "INVALID_PAYLOAD", "not in the room");
}

#[test]
fn bad_fields_are_refused_with_a_clear_ack_error() {
    let server = start_hub(vec![policy("/")]);
    let mut d = Driver::node(&server);
    let id = d.connect("a", "/");
    let many: Vec<String> = (0..65).map(|i| format!("f{i}")).collect();
    let cases = [
        (json!("price"), "array of field names"),
        (json!({"price": true}), "array of field names"),
        (json!([1, 2]), "array of field names"),
        (json!(["ok", null]), "array of field names"),
        (json!([""]), "1 to 128 bytes"),
        (json!(["x".repeat(129)]), "1 to 128 bytes"),
        (json!(many), "at most 64 fields"),
    ];
    for (fields, words) in &cases {
        let ack = join_with(&mut d, "a", "r", fields.clone());
        assert_error(&ack, "INVALID_PAYLOAD", words);
        let ack = d.ack("a", "fields", json!([{"room": "r", "fields": fields}]));
        assert_error(&ack, "INVALID_PAYLOAD", words);
    }
    // Nothing was joined.
    assert!(room_members(&server, "/", "r").is_empty());
    // `fields` needs a room and a `fields` key.
    for bad in [
        json!([]),
        json!(["r"]),
        json!([{"fields": ["x"]}]),
        json!([{"room": "r"}]),
    ] {
        let ack = d.ack("a", "fields", bad.clone());
        assert_eq!(ack["error"]["code"], "INVALID_PAYLOAD", "{bad}: {ack}");
    }
    // The socket is fine.
    let state = d.call("state", json!({"name": "a"}));
    assert_eq!(state["connected"], true);
    assert_eq!(state["id"], id.as_str());
    assert_eq!(join_with(&mut d, "a", "r", json!(["x"]))["ok"], true);
}

#[test]
fn too_many_field_sets_in_a_room_are_refused_and_counted() {
    let server = start_hub(vec![NamespacePolicy {
        max_field_sets_per_room: 2,
        ..policy("/")
    }]);
    let mut d = Driver::node(&server);
    for name in ["a", "b", "c", "d", "p"] {
        d.connect(name, "/");
    }
    assert_eq!(join_with(&mut d, "a", "r", json!(["x"]))["ok"], true);
    assert_eq!(join_with(&mut d, "b", "r", json!(["y"]))["ok"], true);
    let ack = join_with(&mut d, "c", "r", json!(["z"]));
    assert_error(&ack, "RATE_LIMIT_EXCEEDED", "max_field_sets_per_room");
    // Refused: not in the room.
    assert_eq!(room_members(&server, "/", "r").len(), 2);
    // A set the room has already, or none, is fine.
    assert_eq!(join_with(&mut d, "c", "r", json!(["y"]))["ok"], true);
    assert_eq!(d.ack("d", "join", json!(["r"]))["ok"], true);
    // A change to a third set is refused while the old set has other users...
    let ack = d.ack("b", "fields", json!([{"room": "r", "fields": ["z"]}]));
    assert_error(&ack, "RATE_LIMIT_EXCEEDED", "max_field_sets_per_room");
    // ... and allowed once it is the only user of its set (the set goes away).
    assert_eq!(
        d.ack("c", "fields", json!([{"room": "r", "fields": null}]))["ok"],
        true
    );
    let ack = d.ack("b", "fields", json!([{"room": "r", "fields": ["z"]}]));
    assert_eq!(ack["ok"], true, "{ack}");
    // What each got is as its set says: the refused change left b's set as it was.
    publish(&mut d, "p", "r", "e", json!({"x": 1, "y": 2, "z": 3}));
    settle(&server, &mut d, "/", &["a", "b", "c", "d", "p"], 1);
    assert_eq!(d.received("a", "e"), vec![json!({"x": 1})]);
    assert_eq!(d.received("b", "e"), vec![json!({"z": 3})]);
    assert_eq!(d.received("c", "e"), vec![json!({"x": 1, "y": 2, "z": 3})]);
    let metrics = metrics_text(&server);
    assert!(
        metrics.contains(r#"siohub_refused_total{reason="field_sets_per_room"} 2"#),
        "{metrics}"
    );

    // No field filters at all in a namespace with a bound of 0.
    let server = start_hub(vec![NamespacePolicy {
        max_field_sets_per_room: 0,
        ..policy("/")
    }]);
    let mut d = Driver::node(&server);
    d.connect("a", "/");
    let ack = join_with(&mut d, "a", "r", json!(["x"]));
    assert_error(&ack, "RATE_LIMIT_EXCEEDED", "max_field_sets_per_room");
    assert_eq!(join_with(&mut d, "a", "r", json!(null))["ok"], true);
}

#[test]
fn the_replay_of_a_buffered_room_is_filtered() {
    let server = start_hub(vec![NamespacePolicy {
        buffer: BufferName::Always,
        buffer_size: 10,
        ..policy("/")
    }]);
    let mut d = Driver::node(&server);
    d.connect("p", "/");
    d.connect("a", "/");
    d.connect("b", "/");
    publish(
        &mut d,
        "p",
        "hist",
        "tick",
        json!({"price": 1, "volume": 1}),
    );
    publish(&mut d, "p", "hist", "note", json!("plain"));
    publish(
        &mut d,
        "p",
        "hist",
        "tick",
        json!({"price": 2, "volume": 2}),
    );
    let ack = join_with(&mut d, "a", "hist", json!(["price"]));
    assert_eq!(
        ack,
        json!({"ok": true, "room": "hist", "replayed": 3, "fields": ["price"]})
    );
    assert_eq!(d.ack("b", "join", json!(["hist"]))["replayed"], 3);
    settle(&server, &mut d, "/", &["p", "a", "b"], 1);
    assert_eq!(
        d.received("a", "tick"),
        vec![json!({"price": 1}), json!({"price": 2})]
    );
    assert_eq!(d.received("a", "note"), vec![json!("plain")]);
    assert_eq!(
        d.received("b", "tick"),
        vec![
            json!({"price": 1, "volume": 1}),
            json!({"price": 2, "volume": 2})
        ]
    );
}

#[test]
fn recovery_replays_missed_events_filtered_and_keeps_the_sets() {
    let server = start_hub(vec![NamespacePolicy {
        recovery_s: 60,
        ..policy("/recover")
    }]);
    let mut d = Driver::node(&server);
    let id = d.connect("a", "/recover");
    assert_eq!(join_with(&mut d, "a", "r", json!(["price"]))["ok"], true);
    assert_eq!(join_with(&mut d, "a", "v", json!(["volume"]))["ok"], true);
    hub_broadcast(
        &server,
        to_rooms("/recover", &["r"]),
        "tick",
        json!({"price": 0, "volume": 0}),
    );
    d.wait_counts(&["a".into()], "tick", 1);

    d.call("hold", json!({ "name": "a" }));
    d.call("close_transport", json!({ "name": "a" }));
    wait_until("the server dropped the socket", WAIT, || {
        socket_count(&server, "/recover") == 0
    });
    hub_broadcast(
        &server,
        to_rooms("/recover", &["r"]),
        "tick",
        json!({"price": 1, "volume": 1}),
    );
    hub_broadcast(
        &server,
        to_rooms("/recover", &["r"]),
        "note",
        json!(["not", "an", "object"]),
    );
    hub_broadcast(
        &server,
        to_rooms("/recover", &["r", "v"]),
        "tick",
        json!({"price": 2, "volume": 2, "x": 2}),
    );
    d.call("resume", json!({ "name": "a" }));
    let state = d.wait_connects("a", 2);
    assert_eq!(state["recovered"], true, "{state}");
    assert_eq!(state["id"], id.as_str());
    wait_until("the recovered socket is back in r", WAIT, || {
        room_members(&server, "/recover", "r") == vec![id.clone()]
    });
    // Live events after the recovery: the sets came back with the socket.
    hub_broadcast(
        &server,
        to_rooms("/recover", &["r"]),
        "tick",
        json!({"price": 3, "volume": 3}),
    );
    settle(&server, &mut d, "/recover", &["a"], 1);
    let ticks: Vec<Value> = all_args(&mut d, "a", "tick")
        .iter()
        .map(|a| a[0].clone())
        .collect();
    assert_eq!(
        ticks,
        vec![
            json!({"price": 0}),
            json!({"price": 1}),
            json!({"price": 2, "volume": 2}),
            json!({"price": 3}),
        ]
    );
    // Each still carries its offset last.
    for args in all_args(&mut d, "a", "tick") {
        assert_eq!(args.as_array().unwrap().len(), 2, "{args}");
        assert!(args[1].is_string(), "{args}");
    }
    assert_eq!(
        d.received("a", "note"),
        vec![json!(["not", "an", "object"])]
    );
}

#[test]
fn sse_subscribers_get_only_their_fields() {
    let server = start_with_api(vec![policy("/")], false);
    let open = |target: &str| {
        let (status, _, mut sse) =
            SseReader::open(server.addr, "GET", target, &[("X-API-Key", KEY)], None);
        assert_eq!(status, 200, "{target}");
        assert!(matches!(sse.next(), Some(Sse::Comment(_))));
        sse
    };
    let mut price = open("/api/v1/sse?rooms=r&fields=price");
    let mut two = open("/api/v1/sse?rooms=r&fields=price,%20volume");
    let mut all = open("/api/v1/sse?rooms=r");
    api_emit(
        &server,
        json!({"rooms": "r", "event": "tick", "data": TICK()}),
    );
    api_emit(&server, json!({"rooms": "r", "event": "n", "data": 5}));
    assert_eq!(price.event(), ("tick".into(), json!([{"price": 10.5}])));
    assert_eq!(
        two.event(),
        ("tick".into(), json!([{"price": 10.5, "volume": 300}]))
    );
    assert_eq!(all.event(), ("tick".into(), json!([TICK()])));
    for sse in [&mut price, &mut two, &mut all] {
        assert_eq!(sse.event(), ("n".into(), json!([5])));
    }
    // A bad field list: a clear 400.
    let long = "x".repeat(129);
    let res = request(
        server.addr,
        "GET",
        &format!("/api/v1/sse?rooms=r&fields={long}"),
        &[("X-API-Key", KEY)],
        b"",
    );
    assert_eq!(res.status, 400, "{}", res.text());
    let body = res.json();
    assert_eq!(body["code"], "INVALID_PAYLOAD", "{body}");
}

#[test]
fn http_emits_with_acks_are_filtered_too() {
    let server = start_with_api(vec![policy("/")], false);
    let mut d = Driver::node(&server);
    for name in ["a", "c"] {
        d.call(
            "connect",
            json!({"name": name, "nsp": "/", "answer_acks": "got"}),
        );
    }
    assert_eq!(join_with(&mut d, "a", "r", json!(["price"]))["ok"], true);
    assert_eq!(d.ack("c", "join", json!(["r"]))["ok"], true);
    let body =
        json!({"rooms": "r", "event": "ask", "data": TICK(), "ack": true, "timeout_ms": 5000});
    let res = request(
        server.addr,
        "POST",
        "/api/v1/emit",
        &[("X-API-Key", KEY), ("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert_eq!(res.status, 200, "{}", res.text());
    let answer = res.json();
    assert_eq!(answer["recipients"], 2, "{answer}");
    assert_eq!(answer["acks"].as_array().map(Vec::len), Some(2), "{answer}");
    assert_eq!(d.received("a", "ask"), vec![json!({"price": 10.5})]);
    assert_eq!(d.received("c", "ask"), vec![TICK()]);
}

#[test]
fn cluster_broadcasts_from_another_node_are_filtered_on_the_receiving_node() {
    use support::cluster::{emit, start_nodes};
    let redis = support::RedisServer::start();
    let nodes = start_nodes(&redis, 2);
    let mut d0 = Driver::node(&nodes[0]);
    let mut d1 = Driver::node(&nodes[1]);
    d0.connect("p", "/");
    d1.connect("a", "/");
    d1.connect("c", "/");
    assert_eq!(join_with(&mut d1, "a", "r", json!(["price"]))["ok"], true);
    assert_eq!(d1.ack("c", "join", json!(["r"]))["ok"], true);
    // A client's publish and an HTTP emit on the first node.
    publish(&mut d0, "p", "r", "tick", TICK());
    emit(
        &nodes[0],
        json!({"rooms": "r", "event": "tick", "data": {"price": 1, "x": 1}}),
    );
    emit(&nodes[0], json!({"event": "sync", "data": 1}));
    d1.wait_counts(&["a".into(), "c".into()], "sync", 1);
    assert_eq!(
        d1.received("a", "tick"),
        vec![json!({"price": 10.5}), json!({"price": 1})]
    );
    assert_eq!(
        d1.received("c", "tick"),
        vec![TICK(), json!({"price": 1, "x": 1})]
    );
}

#[test]
fn cluster_recovery_on_another_node_replays_and_delivers_filtered() {
    use support::binary::Server;
    use support::temp_file::TempFile;
    let config = TempFile::with(
        "[[namespaces]]\nname = \"/\"\nrecovery_s = 60\nclient_join = true\nclient_publish = true\n",
    );
    let redis = support::RedisServer::start();
    let url = redis.url();
    let env = [
        ("SOCKETIO_ADAPTER__KIND", "redis"),
        ("SOCKETIO_ADAPTER__REDIS_URL", url.as_str()),
    ];
    let a = Server::start(&["--config", config.path()], &env);
    let mut b = Server::start(&["--config", config.path()], &env);
    let c = Server::start(&["--config", config.path()], &env);
    let at = |s: &Server| format!("http://{}/", s.addr());

    let mut on_b = Driver::node_at(&at(&b));
    let id = on_b.connect("s", "/");
    assert_eq!(join_with(&mut on_b, "s", "r", json!(["n"]))["ok"], true);
    on_b.connect("p", "/");
    publish(&mut on_b, "p", "r", "news", json!({"n": 0, "x": 0}));
    wait_until("s gets news 0", WAIT, || {
        on_b.received("s", "news").len() == 1
    });
    // Its record (with the set) must be in Redis before its node dies.
    wait_until("the record holds the field set", WAIT, || {
        let keys = redis.cli(&["--scan", "--pattern", "socket.io-recovery-session#*"]);
        keys.lines()
            .map(|k| redis.cli(&["GET", k]))
            .any(|r| r.contains(&id) && r.contains("\"fields\""))
    });
    on_b.call("hold", json!({"name": "s"}));
    b.signal("-KILL");
    b.wait_exit(WAIT);
    wait_until("s sees its node gone", WAIT, || {
        on_b.call("state", json!({"name": "s"}))["connected"] == false
    });

    let mut on_a = Driver::node_at(&at(&a));
    on_a.connect("p", "/");
    for n in 1..=3 {
        publish(&mut on_a, "p", "r", "news", json!({"n": n, "x": n}));
    }
    wait_until("the missed events are in Redis", WAIT, || {
        redis
            .cli(&["XLEN", "socket.io-recovery#/"])
            .parse::<u64>()
            .unwrap_or(0)
            >= 4
    });
    on_b.call("retarget", json!({"name": "s", "url": at(&c)}));
    on_b.call("resume", json!({"name": "s"}));
    wait_until("s reconnects", WAIT, || {
        on_b.call("state", json!({"name": "s"}))["connected"] == true
    });
    let state = on_b.call("state", json!({"name": "s"}));
    assert_eq!(state["recovered"], true, "{state}");
    publish(&mut on_a, "p", "r", "news", json!({"n": 4, "x": 4}));
    wait_until("s gets news 4 live", WAIT, || {
        on_b.received("s", "news").len() == 5
    });
    let got = on_b.received("s", "news");
    let want: Vec<Value> = (0..=4).map(|n| json!({ "n": n })).collect();
    assert_eq!(got, want);
}

#[test]
fn sse_subscribers_share_a_bounded_number_of_field_sets() {
    let server = start_with_api(vec![policy("/")], false);
    let max = siohub_actors::MAX_SUBSCRIBER_FIELD_SETS;
    let open = |fields: &str| {
        SseReader::open(
            server.addr,
            "GET",
            &format!("/api/v1/sse?rooms=r&fields={fields}"),
            &[("X-API-Key", KEY)],
            None,
        )
    };
    let mut streams = Vec::new();
    for n in 0..max {
        let (status, _, mut sse) = open(&format!("f{n},price"));
        assert_eq!(status, 200, "set {n}");
        assert!(matches!(sse.next(), Some(Sse::Comment(_))));
        streams.push(sse);
    }
    // One more distinct set: a clear 503, counted; a set in use, or none, still subscribes.
    let res = request(
        server.addr,
        "GET",
        "/api/v1/sse?rooms=r&fields=other",
        &[("X-API-Key", KEY)],
        b"",
    );
    assert_eq!(res.status, 503, "{}", res.text());
    assert!(res.text().contains("distinct field sets"), "{}", res.text());
    let metrics = metrics_text(&server);
    assert!(
        metrics.contains(r#"siohub_refused_total{reason="subscriber_field_sets"} 1"#),
        "{metrics}"
    );
    let (status, _, mut same) = open("price,f0");
    assert_eq!(status, 200);
    assert!(matches!(same.next(), Some(Sse::Comment(_))));
    api_emit(
        &server,
        json!({"rooms": "r", "event": "tick", "data": TICK()}),
    );
    assert_eq!(same.event(), ("tick".into(), json!([{"price": 10.5}])));
    assert_eq!(
        streams[5].event(),
        ("tick".into(), json!([{"price": 10.5}]))
    );
    // A stream that ends gives its set back once it is noticed gone.
    drop(streams.pop());
    wait_until("a set came free", Duration::from_secs(10), || {
        let (status, _, _) = open("other");
        status == 200
    });
}
