//! The built-in `presence {"room","cursor"?,"limit"?}`, `GET /api/v1/rooms/{room}/presence`
//! and the `presence` events of `presence_events = true`, with real socket.io-client 4.8
//! clients: members with their users, paged by sid; who may read (the right to join);
//! unknown rooms and bad input; one event per join and leave in small rooms, coalesced
//! batches in large ones (a storm of joins is a few events per member, not one per join);
//! and two nodes on one Redis: each lists the other's members, and events cross nodes.

use crate::support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};
use siohub::config::{NamespacePolicy, RoomAccess, RoomRule};
use siohub::server::BackgroundServer;
use support::cluster::{api, node_settings, wait_counted, CLUSTER_SECRET};
use support::tokens::user_token;
use support::{policy, start_hub_with, wait_until, Driver, RedisServer};

const SECRET: &str = "presence-tests-secret-of-at-least-32-bytes";

fn lobby_policy(name: &str) -> NamespacePolicy {
    NamespacePolicy {
        client_join: RoomAccess::Rules(vec![
            RoomRule::Pattern("lobby*".into()),
            RoomRule::WithRoles {
                pattern: "staff*".into(),
                roles: vec!["staff".into()],
            },
        ]),
        ..policy(name)
    }
}

fn with_events(mut p: NamespacePolicy, batch_above: usize, batch_ms: u64) -> NamespacePolicy {
    p.presence_events = true;
    p.presence_batch_above = batch_above;
    p.presence_batch_ms = batch_ms;
    p
}

fn start(namespaces: Vec<NamespacePolicy>) -> BackgroundServer {
    start_hub_with(namespaces, |s| s.auth.jwt_secret = SECRET.into())
}

/// Connects `name` to `nsp` as `user` (anonymous with `None`); returns its socket id.
fn connect_as(d: &mut Driver, name: &str, nsp: &str, user: Option<&str>, secret: &str) -> String {
    let mut args = json!({ "name": name, "nsp": nsp });
    if let Some(user) = user {
        args["auth"] = json!({ "token": user_token(secret, json!({ "sub": user })) });
    }
    d.call("connect", args)["id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

fn presence(d: &mut Driver, name: &str, query: Value) -> Value {
    d.ack(name, "presence", json!([query]))
}

fn sids(answer: &Value) -> Vec<String> {
    answer["members"]
        .as_array()
        .unwrap_or_else(|| panic!("no members: {answer}"))
        .iter()
        .map(|m| m["sid"].as_str().expect("a sid").to_owned())
        .collect()
}

/// The `presence` events socket `name` received (their first argument).
fn presence_events(d: &mut Driver, name: &str) -> Vec<Value> {
    d.received(name, "presence")
}

/// The sids an event (single or batched) says joined (or left).
fn listed(event: &Value, kind: &str) -> Vec<String> {
    match &event[kind] {
        Value::Array(items) => items
            .iter()
            .map(|m| m["sid"].as_str().unwrap().to_owned())
            .collect(),
        Value::Object(m) => vec![m["sid"].as_str().unwrap().to_owned()],
        _ => Vec::new(),
    }
}

#[test]
fn node_presence_lists_members_with_users_and_pages_by_sid() {
    let server = start(vec![lobby_policy("/")]);
    let mut d = Driver::node(&server);
    let alice = connect_as(&mut d, "a", "/", Some("alice"), SECRET);
    let bob = connect_as(&mut d, "b", "/", Some("bob"), SECRET);
    let anon = connect_as(&mut d, "c", "/", None, SECRET);
    for name in ["a", "b", "c"] {
        assert_eq!(d.ack(name, "join", json!(["lobby"]))["ok"], json!(true));
    }
    let mut expected = vec![
        (alice.clone(), json!("alice")),
        (bob.clone(), json!("bob")),
        (anon.clone(), Value::Null),
    ];
    expected.sort_by(|x, y| x.0.cmp(&y.0));
    let all = presence(&mut d, "c", json!({ "room": "lobby" }));
    assert_eq!(all["ok"], json!(true), "{all}");
    assert_eq!((&all["room"], &all["count"]), (&json!("lobby"), &json!(3)));
    let members: Vec<(String, Value)> = all["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["sid"].as_str().unwrap().to_owned(), m["user"].clone()))
        .collect();
    assert_eq!(members, expected);
    assert!(all.get("next_cursor").is_none(), "{all}");
    // The room name alone works too.
    assert_eq!(presence(&mut d, "a", json!("lobby"))["count"], json!(3));

    // Pages of two, then the rest from the cursor.
    let first = presence(&mut d, "a", json!({ "room": "lobby", "limit": 2 }));
    assert_eq!(sids(&first), [expected[0].0.clone(), expected[1].0.clone()]);
    assert_eq!(first["count"], json!(3));
    let cursor = first["next_cursor"].clone();
    assert_eq!(cursor, json!(expected[1].0));
    let second = presence(
        &mut d,
        "a",
        json!({ "room": "lobby", "limit": 2, "cursor": cursor }),
    );
    assert_eq!(sids(&second), [expected[2].0.clone()]);
    assert!(second.get("next_cursor").is_none(), "{second}");

    // The HTTP API answers the same, paged the same way.
    let res = api(&server, "GET", "/api/v1/rooms/lobby/presence?limit=2", None);
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    assert_eq!(
        (&body["count"], &body["namespace"]),
        (&json!(3), &json!("/"))
    );
    assert_eq!(sids(&body), sids(&first));
    let path = format!(
        "/api/v1/rooms/lobby/presence?cursor={}",
        body["next_cursor"].as_str().unwrap()
    );
    assert_eq!(
        sids(&api(&server, "GET", &path, None).json()),
        sids(&second)
    );

    // A member that leaves is gone from the list.
    d.ack("b", "leave", json!(["lobby"]));
    let after = presence(&mut d, "a", json!({ "room": "lobby" }));
    assert_eq!(after["count"], json!(2));
    assert!(!sids(&after).contains(&bob));
}

#[test]
fn node_presence_refusals_are_clear() {
    let server = start(vec![lobby_policy("/")]);
    let mut d = Driver::node(&server);
    connect_as(&mut d, "a", "/", Some("alice"), SECRET);
    d.ack("a", "join", json!(["lobby"]));
    let code = |answer: &Value| answer["error"]["code"].as_str().unwrap_or("").to_owned();
    let cases = [
        (json!({ "room": "lobby-empty" }), "NOT_FOUND"),
        (json!({ "room": "staff-room" }), "PERMISSION_DENIED"),
        (json!({ "room": "user:alice" }), "PERMISSION_DENIED"),
        (json!({ "room": "lobby", "limit": 0 }), "INVALID_PAYLOAD"),
        (json!({ "room": "lobby", "limit": 1001 }), "INVALID_PAYLOAD"),
        (json!({ "room": "lobby", "cursor": 3 }), "INVALID_PAYLOAD"),
        (json!({ "room": "x".repeat(257) }), "INVALID_PAYLOAD"),
        (json!(42), "INVALID_PAYLOAD"),
    ];
    for (query, want) in cases {
        let answer = presence(&mut d, "a", query.clone());
        assert_eq!(code(&answer), want, "{query}: {answer}");
    }
    // A role opens the staff rooms.
    let mut staff = json!({ "name": "s", "nsp": "/" });
    staff["auth"] =
        json!({ "token": user_token(SECRET, json!({ "sub": "sam", "roles": ["staff"] })) });
    d.call("connect", staff);
    d.ack("s", "join", json!(["staff-room"]));
    assert_eq!(
        presence(&mut d, "s", json!({ "room": "staff-room" }))["count"],
        json!(1)
    );
    assert_eq!(
        d.call("state", json!({ "name": "a" }))["connected"],
        json!(true)
    );

    // HTTP: 404 for an empty room or unknown namespace, 400 for bad input, 401 without a key.
    let status = |path: &str| api(&server, "GET", path, None).status;
    assert_eq!(status("/api/v1/rooms/lobby-empty/presence"), 404);
    assert_eq!(
        status("/api/v1/rooms/lobby/presence?namespace=/nowhere"),
        404
    );
    for bad in ["limit=0", "limit=100000", "limit=x", "cursor=", "other=1"] {
        let res = api(
            &server,
            "GET",
            &format!("/api/v1/rooms/lobby/presence?{bad}"),
            None,
        );
        assert_eq!(
            (res.status, res.json()["code"].clone()),
            (400, json!("INVALID_PAYLOAD")),
            "{bad}"
        );
    }
    let res = support::wire::request(server.addr, "GET", "/api/v1/rooms/lobby/presence", &[], b"");
    assert_eq!(res.status, 401);
}

#[test]
fn node_presence_events_one_per_change_in_small_rooms() {
    let server = start(vec![
        with_events(lobby_policy("/"), 100, 200),
        lobby_policy("/quiet"),
    ]);
    let mut d = Driver::node(&server);
    let a = connect_as(&mut d, "a", "/", Some("alice"), SECRET);
    let b = connect_as(&mut d, "b", "/", None, SECRET);
    d.ack("a", "join", json!(["lobby"]));
    d.ack("b", "join", json!(["lobby"]));
    d.wait_counts(&["a".to_owned()], "presence", 2);
    let got = presence_events(&mut d, "a");
    assert_eq!(
        got[0],
        json!({ "room": "lobby", "joined": { "sid": a, "user": "alice" } })
    );
    assert_eq!(
        got[1],
        json!({ "room": "lobby", "joined": { "sid": b, "user": null } })
    );
    // A leave, then a disconnect: each member left is told.
    d.ack("b", "leave", json!(["lobby"]));
    d.wait_counts(&["a".to_owned()], "presence", 3);
    assert_eq!(
        presence_events(&mut d, "a")[2],
        json!({ "room": "lobby", "left": { "sid": b, "user": null } })
    );
    d.ack("b", "join", json!(["lobby"]));
    d.call("disconnect", json!({ "name": "b" }));
    d.wait_counts(&["a".to_owned()], "presence", 5);
    let got = presence_events(&mut d, "a");
    assert_eq!(
        got[4],
        json!({ "room": "lobby", "left": { "sid": b, "user": null } })
    );
    // The user room has none, and neither has a namespace with presence_events off.
    connect_as(&mut d, "q", "/quiet", Some("quinn"), SECRET);
    connect_as(&mut d, "q2", "/quiet", None, SECRET);
    d.ack("q", "join", json!(["lobby"]));
    d.ack("q2", "join", json!(["lobby"]));
    support::settle(
        &server,
        &mut d,
        "/quiet",
        &["q".to_owned(), "q2".to_owned()],
        1,
    );
    assert!(presence_events(&mut d, "q").is_empty());
    assert_eq!(
        presence_events(&mut d, "a").len(),
        5,
        "nothing more for alice"
    );
}

#[test]
fn node_presence_events_are_batched_in_large_rooms() {
    // Batched from 2 members; a second's interval gathers the storm below into one or two
    // events per member.
    let server = start(vec![with_events(lobby_policy("/"), 2, 1000)]);
    let mut d = Driver::node(&server);
    let first = connect_as(&mut d, "first", "/", None, SECRET);
    d.ack("first", "join", json!(["lobby"]));
    let reply = d.call(
        "connect_many",
        json!({ "prefix": "s", "count": 20, "nsp": "/" }),
    );
    let storm: BTreeSet<String> = reply["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    // One API call joins all twenty at once.
    let sids: Vec<&String> = storm.iter().collect();
    let res = api(
        &server,
        "POST",
        "/api/v1/rooms/lobby/join",
        Some(json!({ "sids": sids })),
    );
    assert_eq!(res.json()["affected"], json!(20), "{}", res.text());
    let names: Vec<String> = (0..20).map(|i| format!("s{i}")).collect();

    // `first` is told of every join exactly once, in far fewer events than joins.
    let mut told = Vec::new();
    wait_until(
        "first is told of all 20 joins",
        Duration::from_secs(15),
        || {
            told = presence_events(&mut d, "first");
            let joined: Vec<String> = told.iter().flat_map(|e| listed(e, "joined")).collect();
            joined.len() >= 21
        },
    );
    let joined: Vec<String> = told.iter().flat_map(|e| listed(e, "joined")).collect();
    assert_eq!(joined[0], first, "its own join came alone (a room of 1)");
    let rest: BTreeSet<String> = joined[1..].iter().cloned().collect();
    assert_eq!((rest, joined.len()), (storm.clone(), 21), "each join once");
    let batches = told.len() - 1;
    assert!(
        batches < 20,
        "{batches} events for 20 joins: not coalesced: {told:?}"
    );
    for event in &told[1..] {
        assert!(
            event["joined"].is_array() && event["left"].is_array(),
            "{event}"
        );
    }
    // Every member of the storm hears of the joins after its own (at most), batched.
    d.wait_counts(&names, "presence", 1);
    let counts = d.counts(&names, "presence");
    let total: u64 = counts.values().sum();
    assert!(
        total < 20 * 20 / 2,
        "{total} events to the storm's members: {counts:?}"
    );

    // Leaves are batched the same way: ten leave at once.
    let leaving: Vec<&String> = storm.iter().take(10).collect();
    let res = api(
        &server,
        "POST",
        "/api/v1/rooms/lobby/leave",
        Some(json!({ "sids": leaving })),
    );
    assert_eq!(res.json()["affected"], json!(10));
    wait_until(
        "first is told of the 10 leaves",
        Duration::from_secs(15),
        || {
            let got = presence_events(&mut d, "first");
            got.iter().flat_map(|e| listed(e, "left")).count() >= 10
        },
    );
    let left: BTreeSet<String> = presence_events(&mut d, "first")
        .iter()
        .flat_map(|e| listed(e, "left"))
        .collect();
    assert_eq!(left, leaving.into_iter().cloned().collect());

    // /metrics counts what was sent, and no batch is left gathering.
    let value = |text: &str, name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {name} in /metrics")) as u64
    };
    let mut text = String::new();
    wait_until("no batch gathering", Duration::from_secs(5), || {
        text = support::ops::metrics_text(&server);
        value(&text, "siohub_presence_batches_pending") == 0
    });
    assert_eq!(
        value(&text, "siohub_presence_events_total"),
        1,
        "first's own join"
    );
    assert!(value(&text, "siohub_presence_batches_total") >= 2, "{text}");
    assert_eq!(value(&text, "siohub_presence_omitted_total"), 0);
}

#[test]
fn node_cluster_presence_lists_every_node_and_events_cross_nodes() {
    let redis = RedisServer::start();
    let nodes: Vec<BackgroundServer> = (0..2)
        .map(|_| {
            let mut settings = node_settings(&redis);
            settings.namespaces = vec![with_events(lobby_policy("/"), 100, 200)];
            support::start_hub_from(settings)
        })
        .collect();
    wait_counted(&nodes, 2);
    let mut one = Driver::node(&nodes[0]);
    let mut two = Driver::node(&nodes[1]);
    let a = connect_as(&mut one, "a", "/", Some("alice"), CLUSTER_SECRET);
    let b = connect_as(&mut two, "b", "/", Some("bob"), CLUSTER_SECRET);
    one.ack("a", "join", json!(["lobby"]));
    two.ack("b", "join", json!(["lobby"]));
    // Alice (node 1) hears of Bob's join on node 2.
    one.wait_counts(&["a".to_owned()], "presence", 2);
    assert_eq!(
        presence_events(&mut one, "a")[1],
        json!({ "room": "lobby", "joined": { "sid": b, "user": "bob" } })
    );
    // Each node lists both members, with their users.
    let answer = presence(&mut two, "b", json!({ "room": "lobby" }));
    assert_eq!(answer["count"], json!(2), "{answer}");
    let users: Vec<(String, Value)> = answer["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["sid"].as_str().unwrap().to_owned(), m["user"].clone()))
        .collect();
    let mut want = vec![(a.clone(), json!("alice")), (b.clone(), json!("bob"))];
    want.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(users, want);
    let res = api(
        &nodes[0],
        "GET",
        "/api/v1/rooms/lobby/presence?limit=1",
        None,
    );
    let body = res.json();
    assert_eq!(
        (&body["count"], sids(&body).len()),
        (&json!(2), 1),
        "{body}"
    );
    assert_eq!(
        body["cluster"],
        json!({ "nodes_expected": 2, "nodes_answered": 2 })
    );
    let next = body["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let rest = api(
        &nodes[0],
        "GET",
        &format!("/api/v1/rooms/lobby/presence?cursor={next}"),
        None,
    );
    assert_eq!(sids(&rest.json()), [want[1].0.clone()]);
    // Bob's socket goes away: Alice is told across the nodes.
    two.call("disconnect", json!({ "name": "b" }));
    one.wait_counts(&["a".to_owned()], "presence", 3);
    assert_eq!(
        presence_events(&mut one, "a")[2],
        json!({ "room": "lobby", "left": { "sid": b, "user": "bob" } })
    );
    let alone = presence(&mut one, "a", json!({ "room": "lobby" }));
    assert_eq!(sids(&alone), [a]);
}
