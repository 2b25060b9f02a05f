//! A siohub node and a Node.js socket.io 4.8.4 server with `@socket.io/redis-adapter` 8.3.0
//! (`redis` 4.7.1 clients, `tests/clients/node/cluster_peer.mjs`) on one Redis: each counts
//! the other, broadcasts go both ways (rooms, except, binary as binary), and the requests
//! work both ways (Node's fetchSockets and allRooms see siohub's sockets and rooms, siohub's
//! fetch sees Node's, Node's socketsJoin reaches siohub's sockets, a Node broadcast with acks
//! gathers siohub clients' acks and siohub's HTTP emit with acks a Node client's, siohub's
//! remote join reaches Node's socket).

use crate::support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};
use siohub_actors::Target;
use support::cluster::{emit, node_settings, NodePeer};
use support::{room_members, start_hub_from, wait_until, Driver, RedisServer};

fn binary(bytes: &[u8]) -> Value {
    use base64::Engine;
    json!({ "$binary": base64::engine::general_purpose::STANDARD.encode(bytes) })
}

#[test]
fn cluster_node_peer_and_siohub_exchange_broadcasts_binary_rooms_and_except() {
    let redis = RedisServer::start();
    let node = start_hub_from(node_settings(&redis));
    let mut peer = NodePeer::start(&redis);
    let cluster = node.cluster.clone().unwrap();
    wait_until(
        "siohub counts the Node server",
        Duration::from_secs(10),
        || cluster.is_connected() && cluster.node_count() == 2,
    );
    assert_eq!(peer.call("server_count", json!({})), json!(2));

    let mut ds = Driver::node(&node);
    let mut dn = Driver::node_at(&peer.url());
    ds.connect("s_r", "/");
    assert_eq!(ds.ack("s_r", "join", json!(["r"]))["ok"], json!(true));
    let s_x = ds.connect("s_x", "/");
    assert_eq!(ds.ack("s_x", "join", json!(["r"]))["ok"], json!(true));
    ds.connect("s_o", "/");
    let opts = |rooms: Value| json!({ "auth": { "rooms": rooms } });
    dn.call(
        "connect",
        json!({ "name": "n_r", "nsp": "/", "options": opts(json!(["r"])) }),
    );
    dn.call("connect", json!({ "name": "n_o", "nsp": "/" }));

    // Node → siohub: room r except one siohub socket (its id is a room in Node's terms),
    // with a buffer.
    peer.call(
        "emit",
        json!({ "rooms": ["r"], "except": [s_x], "event": "from_node", "args": ["x", binary(&[1, 2, 3])] }),
    );
    peer.call("emit", json!({ "event": "sync", "args": [1] }));
    let all_s = ["s_r", "s_x", "s_o"].map(String::from);
    ds.wait_counts(&all_s, "sync", 1);
    let got = ds.call("events", json!({ "name": "s_r", "event": "from_node" }));
    assert_eq!(
        got,
        json!([{ "event": "from_node", "args": ["x", binary(&[1, 2, 3])] }])
    );
    assert!(ds.received("s_x", "from_node").is_empty(), "excepted by id");
    assert!(ds.received("s_o", "from_node").is_empty(), "not in r");

    // siohub → Node: a client's publish with a buffer to room r, and an HTTP emit except r.
    let ack = ds.ack(
        "s_r",
        "publish",
        json!([{ "room": "r", "event": "from_siohub", "data": binary(&[9, 8]) }]),
    );
    assert_eq!(ack["ok"], json!(true), "{ack}");
    emit(
        &node,
        json!({ "except": "r", "event": "outside", "data": 1 }),
    );
    emit(&node, json!({ "event": "sync", "data": 2 }));
    let all_n = ["n_r", "n_o"].map(String::from);
    // Node's own sync of the first phase reached them too: this is their second.
    dn.wait_counts(&all_n, "sync", 2);
    assert_eq!(dn.received("n_r", "from_siohub"), vec![binary(&[9, 8])]);
    assert!(dn.received("n_o", "from_siohub").is_empty());
    assert_eq!(dn.received("n_o", "outside"), vec![json!(1)]);
    assert!(dn.received("n_r", "outside").is_empty());
}

#[test]
fn cluster_node_peer_and_siohub_answer_each_others_requests() {
    let redis = RedisServer::start();
    let node = start_hub_from(node_settings(&redis));
    let mut peer = NodePeer::start(&redis);
    let cluster = node.cluster.clone().unwrap();
    wait_until(
        "siohub counts the Node server",
        Duration::from_secs(10),
        || cluster.is_connected() && cluster.node_count() == 2,
    );
    let mut ds = Driver::node(&node);
    let mut dn = Driver::node_at(&peer.url());
    let s1 = ds.connect("s1", "/");
    ds.ack("s1", "join", json!(["r"]));
    let s2 = ds.call(
        "connect",
        json!({ "name": "s2", "nsp": "/", "answer_acks": "yes" }),
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let n1 = dn.call(
        "connect",
        json!({ "name": "n1", "nsp": "/", "answer_acks": "node", "options": { "auth": { "rooms": ["r"] } } }),
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Node's fetchSockets and allRooms see siohub's.
    let fetched = peer.call("fetch", json!({}));
    let ids: BTreeSet<&str> = fetched
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, BTreeSet::from([s1.as_str(), s2.as_str(), n1.as_str()]));
    let s1_seen = fetched
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == json!(s1))
        .unwrap();
    assert_eq!(s1_seen["rooms"], json!([s1, "r"]));
    let rooms = peer.call("all_rooms", json!({}));
    assert!(rooms.as_array().unwrap().contains(&json!("r")), "{rooms}");

    // siohub's fetch sees Node's socket with its rooms.
    let theirs = futures::executor::block_on(cluster.fetch_sockets(&Target::namespace("/")));
    assert_eq!((theirs.nodes_expected, theirs.nodes_answered), (1, 1));
    assert_eq!(theirs.items.len(), 1);
    assert_eq!(theirs.items[0].id, n1);
    assert!(theirs.items[0].rooms.contains(&"r".to_owned()));

    // Node's socketsJoin of room r reaches siohub's members of r.
    peer.call("join", json!({ "rooms": ["r"], "room": "joined" }));
    wait_until(
        "s1 joins `joined` on siohub",
        Duration::from_secs(5),
        || room_members(&node, "/", "joined") == vec![s1.clone()],
    );

    // A Node broadcast with acks gathers the siohub client's ack.
    let acks = peer.call(
        "ack_emit",
        json!({ "event": "ask", "args": [1], "timeout_ms": 1500 }),
    );
    let responses = acks["responses"].as_array().expect("the acks that came");
    assert!(responses.contains(&json!("yes")), "{acks}");

    // siohub's HTTP emit with acks gathers the Node client's ack (Node sends no sid); s1
    // does not answer.
    let answer = emit(
        &node,
        json!({ "event": "ask", "ack": true, "timeout_ms": 1000 }),
    );
    assert_eq!(answer["recipients"], json!(3), "{answer}");
    assert_eq!(answer["timeouts"], json!(1), "{answer}");
    assert_eq!(answer["nodes"], json!({ "expected": 1, "answered": 1 }));
    let acks = answer["acks"].as_array().unwrap();
    assert!(
        acks.contains(&json!({ "sid": null, "data": "node" })),
        "{answer}"
    );
    assert!(
        acks.iter()
            .any(|a| a["sid"] == json!(s2) && a["data"] == json!("yes")),
        "{answer}"
    );

    // siohub's remote join reaches Node's socket.
    cluster.remote_join(&Target::namespace("/"), vec!["all".into()]);
    wait_until("Node's socket joins `all`", Duration::from_secs(5), || {
        let fetched = peer.call("fetch", json!({ "rooms": ["all"] }));
        fetched
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == json!(n1))
    });
}
