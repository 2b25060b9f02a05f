//! The built-in `history {"room","since"?,"limit"?}` and `GET /api/v1/rooms/{room}/history`
//! with real socket.io-client 4.8 clients: the offsets a room's history lists are the
//! recovery offsets its members received (so a client catches up after an absence without
//! a reconnect), namespaces without recovery get offsets of the same form, `since` and
//! `limit` page, `complete` says when `since` left the buffer, binary comes back as binary;
//! and every refusal (a room the socket may not join, a user room, a namespace that keeps
//! no history, a bad `since` or `limit`). Two nodes on one Redis list the same offsets.

use crate::support;

use std::time::Duration;

use serde_json::{json, Value};
use siohub::config::{BufferName, NamespacePolicy, RoomAccess, RoomRule};
use siohub::server::BackgroundServer;
use support::cluster::{api, node_settings, wait_counted};
use support::{policy, start_hub, wait_until, Driver, RedisServer};

fn buffered(name: &str, recovery_s: u64) -> NamespacePolicy {
    NamespacePolicy {
        buffer: BufferName::Always,
        recovery_s,
        client_join: RoomAccess::Rules(vec![RoomRule::Pattern("news*".into())]),
        client_publish: RoomAccess::Rules(vec![RoomRule::Pattern("news*".into())]),
        ..policy(name)
    }
}

/// Every `event` socket `name` received, with all its arguments.
fn events(d: &mut Driver, name: &str, event: &str) -> Vec<Vec<Value>> {
    let got = d.call("events", json!({ "name": name, "event": event }));
    got.as_array()
        .expect("a list")
        .iter()
        .map(|e| e["args"].as_array().expect("args").clone())
        .collect()
}

/// Publishes `n` events `news` {"n": first..} to `room` from socket `name`.
fn publish(d: &mut Driver, name: &str, room: &str, first: u64, n: u64) {
    for i in first..first + n {
        let ack = d.ack(
            name,
            "publish",
            json!([{ "room": room, "event": "news", "data": { "n": i } }]),
        );
        assert_eq!(ack["ok"], json!(true), "{ack}");
    }
}

fn history(d: &mut Driver, name: &str, query: Value) -> Value {
    d.ack(name, "history", json!([query]))
}

fn offsets(answer: &Value) -> Vec<String> {
    answer["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events: {answer}"))
        .iter()
        .map(|e| e["offset"].as_str().expect("an offset").to_owned())
        .collect()
}

fn numbers(answer: &Value) -> Vec<u64> {
    answer["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events: {answer}"))
        .iter()
        .map(|e| e["data"]["n"].as_u64().expect("n"))
        .collect()
}

fn http_history(server: &BackgroundServer, room: &str, query: &str) -> (u16, Value) {
    let path = format!("/api/v1/rooms/{room}/history?{query}");
    let res = api(server, "GET", &path, None);
    (res.status, res.json())
}

#[test]
fn node_history_lists_the_recovery_offsets_and_catches_up_without_a_reconnect() {
    let server = start_hub(vec![buffered("/", 60)]);
    let mut d = Driver::node(&server);
    d.connect("reader", "/");
    d.connect("writer", "/");
    assert_eq!(d.ack("reader", "join", json!(["news"]))["ok"], json!(true));
    publish(&mut d, "writer", "news", 1, 5);
    d.wait_counts(&["reader".to_owned()], "news", 5);
    // What the reader received live: the data, then the recovery offset.
    let live = events(&mut d, "reader", "news");
    let seen: Vec<String> = live
        .iter()
        .map(|args| {
            args.last()
                .and_then(Value::as_str)
                .expect("an offset")
                .to_owned()
        })
        .collect();

    let all = history(&mut d, "reader", json!({ "room": "news" }));
    assert_eq!(all["ok"], json!(true), "{all}");
    assert_eq!(
        (&all["complete"], &all["more"]),
        (&json!(true), &json!(false))
    );
    assert_eq!(
        offsets(&all),
        seen,
        "history offsets are the recovery offsets"
    );
    assert_eq!(numbers(&all), [1, 2, 3, 4, 5]);
    assert_eq!(all["events"][0]["event"], json!("news"));
    assert!(
        all["events"][0].get("args").is_none(),
        "one argument: {all}"
    );

    // The reader leaves for a while; three events later it catches up from its last offset.
    assert_eq!(d.ack("reader", "leave", json!(["news"]))["ok"], json!(true));
    publish(&mut d, "writer", "news", 6, 3);
    let missed = history(
        &mut d,
        "reader",
        json!({ "room": "news", "since": seen[4] }),
    );
    assert_eq!(numbers(&missed), [6, 7, 8]);
    assert_eq!(missed["complete"], json!(true));
    assert_eq!(
        events(&mut d, "reader", "news").len(),
        5,
        "nothing live after the leave"
    );

    // Paging forward: `limit` from `since`, `more` while later events are left.
    let page = history(
        &mut d,
        "reader",
        json!({ "room": "news", "since": seen[0], "limit": 3 }),
    );
    assert_eq!(
        (numbers(&page), &page["more"]),
        (vec![2, 3, 4], &json!(true))
    );
    let last = offsets(&page).pop().unwrap();
    let rest = history(
        &mut d,
        "reader",
        json!({ "room": "news", "since": last, "limit": 10 }),
    );
    assert_eq!(
        (numbers(&rest), &rest["more"]),
        (vec![5, 6, 7, 8], &json!(false))
    );
    // Without `since`: the newest `limit`.
    let newest = history(&mut d, "reader", json!({ "room": "news", "limit": 2 }));
    assert_eq!(numbers(&newest), [7, 8]);
    // An offset the buffer does not hold: everything it has, not complete.
    let gone = history(
        &mut d,
        "reader",
        json!({ "room": "news", "since": "fffffff" }),
    );
    assert_eq!(
        (numbers(&gone).len(), &gone["complete"]),
        (8, &json!(false))
    );

    // The HTTP API lists the same.
    let (status, body) = http_history(&server, "news", &format!("since={}&limit=2", seen[2]));
    assert_eq!(status, 200, "{body}");
    assert_eq!(numbers(&body), [4, 5]);
    assert_eq!(offsets(&body), seen[3..5]);
    assert_eq!(
        (&body["namespace"], &body["more"]),
        (&json!("/"), &json!(true))
    );
}

#[test]
fn node_history_gives_binary_back_as_binary() {
    let server = start_hub(vec![buffered("/", 0)]);
    let mut d = Driver::node(&server);
    d.connect("w", "/");
    let data = json!({ "file": { "$binary": "AQID" }, "name": "x" });
    let ack = d.ack(
        "w",
        "publish",
        json!([{ "room": "news", "event": "blob", "data": data }]),
    );
    assert_eq!(ack["ok"], json!(true), "{ack}");
    let answer = history(&mut d, "w", json!({ "room": "news" }));
    assert_eq!(answer["events"][0]["data"], data, "{answer}");
    let (_, body) = http_history(&server, "news", "");
    assert_eq!(
        body["events"][0]["data"]["file"],
        json!("AQID"),
        "base64 in JSON"
    );
}

#[test]
fn node_history_without_recovery_has_offsets_of_its_own() {
    let small = NamespacePolicy {
        buffer_size: 3,
        ..buffered("/", 0)
    };
    let mailbox = NamespacePolicy {
        buffer: BufferName::IfNoClients,
        ..buffered("/box", 0)
    };
    let server = start_hub(vec![small, mailbox]);
    let mut d = Driver::node(&server);
    d.connect("w", "/");
    d.connect("r", "/");
    d.ack("r", "join", json!(["news"]));
    publish(&mut d, "w", "news", 1, 5);
    d.wait_counts(&["r".to_owned()], "news", 5);
    // No recovery: live events carry their data only.
    assert!(events(&mut d, "r", "news")
        .iter()
        .all(|args| args.len() == 1));
    let all = history(&mut d, "r", json!({ "room": "news" }));
    assert_eq!(numbers(&all), [3, 4, 5], "buffer_size 3 keeps the newest");
    let listed = offsets(&all);
    for offset in &listed {
        assert!(u64::from_str_radix(offset, 16).is_ok(), "{offset}");
    }
    let again = history(&mut d, "r", json!({ "room": "news" }));
    assert_eq!(offsets(&again), listed, "an event keeps its offset");
    let after = history(&mut d, "r", json!({ "room": "news", "since": listed[0] }));
    assert_eq!(
        (numbers(&after), &after["complete"]),
        (vec![4, 5], &json!(true))
    );
    // An offset pushed out of the buffer (the first event's is below the third's).
    let first = format!("{:x}", u64::from_str_radix(&listed[0], 16).unwrap() - 2);
    let pushed = history(&mut d, "r", json!({ "room": "news", "since": first }));
    assert_eq!(
        (numbers(&pushed), &pushed["complete"]),
        (vec![3, 4, 5], &json!(false))
    );

    // `if_no_clients`: what waits for the first joiner is its history, and reading it
    // takes nothing out.
    d.connect("bw", "/box");
    publish(&mut d, "bw", "news-box", 1, 2);
    let waiting = history(&mut d, "bw", json!({ "room": "news-box" }));
    assert_eq!(numbers(&waiting), [1, 2]);
    assert_eq!(
        d.ack("bw", "join", json!(["news-box"]))["replayed"],
        json!(2)
    );
    let taken = history(&mut d, "bw", json!({ "room": "news-box" }));
    assert_eq!(numbers(&taken), Vec::<u64>::new(), "the joiner took them");
    assert_eq!(taken["complete"], json!(true));
}

#[test]
fn node_history_refusals_are_clear_and_leave_the_socket_connected() {
    let server = start_hub(vec![buffered("/", 0), policy("/plain")]);
    let mut d = Driver::node(&server);
    d.connect("a", "/");
    d.connect("p", "/plain");
    let code = |answer: &Value| answer["error"]["code"].as_str().unwrap_or("").to_owned();
    let cases = [
        ("a", json!({ "room": "secret" }), "PERMISSION_DENIED"),
        ("a", json!({ "room": "user:bob" }), "NOT_FOUND"),
        ("p", json!({ "room": "news" }), "NOT_FOUND"),
        (
            "a",
            json!({ "room": "news", "since": "not-an-offset!" }),
            "INVALID_PAYLOAD",
        ),
        (
            "a",
            json!({ "room": "news", "since": 7 }),
            "INVALID_PAYLOAD",
        ),
        (
            "a",
            json!({ "room": "news", "limit": 0 }),
            "INVALID_PAYLOAD",
        ),
        (
            "a",
            json!({ "room": "news", "limit": 1001 }),
            "INVALID_PAYLOAD",
        ),
        ("a", json!({ "room": "" }), "INVALID_PAYLOAD"),
        ("a", json!({ "nope": 1 }), "INVALID_PAYLOAD"),
    ];
    for (name, query, want) in cases {
        let answer = history(&mut d, name, query.clone());
        assert_eq!(code(&answer), want, "{query}: {answer}");
        assert!(answer["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    // The room of a namespace without buffer says why.
    let answer = history(&mut d, "p", json!({ "room": "news" }));
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("buffer = \"drop\""), "{message}");
    assert_eq!(
        d.call("state", json!({ "name": "a" }))["connected"],
        json!(true)
    );
    // A room that exists but has kept nothing: an empty, complete history.
    let empty = history(&mut d, "a", json!({ "room": "news-empty" }));
    assert_eq!(
        (&empty["events"], &empty["complete"]),
        (&json!([]), &json!(true))
    );

    // HTTP: 404 without a history, 400 for bad input, 404 for an unknown namespace.
    let res = api(
        &server,
        "GET",
        "/api/v1/rooms/news/history?namespace=/plain",
        None,
    );
    assert_eq!(
        (res.status, res.json()["code"].clone()),
        (404, json!("NOT_FOUND"))
    );
    for query in ["since=zz", "limit=0", "limit=5000", "limit=x", "bogus=1"] {
        let (status, body) = http_history(&server, "news", query);
        assert_eq!(
            (status, &body["code"]),
            (400, &json!("INVALID_PAYLOAD")),
            "{query}"
        );
    }
    let (status, _) = http_history(&server, "news", "namespace=/nowhere");
    assert_eq!(status, 404);
    let res = support::wire::request(server.addr, "GET", "/api/v1/rooms/news/history", &[], b"");
    assert_eq!(res.status, 401, "the API key guards it");
}

#[test]
fn node_cluster_history_lists_the_same_offsets_on_every_node() {
    let redis = RedisServer::start();
    let nodes: Vec<BackgroundServer> = (0..2)
        .map(|_| {
            let mut settings = node_settings(&redis);
            settings.namespaces = vec![buffered("/", 60)];
            support::start_hub_from(settings)
        })
        .collect();
    wait_counted(&nodes, 2);
    let mut a = Driver::node(&nodes[0]);
    a.connect("w", "/");
    a.connect("r", "/");
    a.ack("r", "join", json!(["news"]));
    publish(&mut a, "w", "news", 1, 4);
    a.wait_counts(&["r".to_owned()], "news", 4);
    let seen: Vec<String> = events(&mut a, "r", "news")
        .iter()
        .map(|args| {
            args.last()
                .and_then(Value::as_str)
                .expect("an offset")
                .to_owned()
        })
        .collect();
    // The other node keeps an `always` room's history too, with the origin's offsets.
    let mut b = Driver::node(&nodes[1]);
    b.connect("r2", "/");
    let mut answer = Value::Null;
    wait_until(
        "node 2 has the four events",
        Duration::from_secs(10),
        || {
            answer = history(&mut b, "r2", json!({ "room": "news" }));
            answer["events"].as_array().is_some_and(|e| e.len() == 4)
        },
    );
    assert_eq!(offsets(&answer), seen);
    assert_eq!(numbers(&answer), [1, 2, 3, 4]);
    let since = history(&mut b, "r2", json!({ "room": "news", "since": seen[1] }));
    assert_eq!(
        (numbers(&since), &since["complete"]),
        (vec![3, 4], &json!(true))
    );
    let (status, body) = http_history(&nodes[1], "news", &format!("since={}", seen[2]));
    assert_eq!((status, numbers(&body)), (200, vec![4]));
}
