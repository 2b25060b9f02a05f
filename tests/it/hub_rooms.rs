//! Rooms with real clients (socket.io-client 4.8 and python-socketio 5) on the hub's built-in
//! events: many sockets in many rooms, one copy per socket for a broadcast to several rooms,
//! `except` rooms and sids, `publish` (sender excluded unless `echo`) with its `recipients`,
//! `leave`, leave-all on disconnect, and every error path of `join`/`publish` (the socket
//! stays connected). Each test asserts what the clients saw and what the server's room table
//! and `/connections` say.
//!
//! Delivery is checked without sleeping: after the broadcasts of a phase the test sends a
//! namespace-wide `sync` and waits until every socket has it; a session delivers in order,
//! so by then every earlier event has arrived (or never will).

use crate::support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use serde_json::{json, Value};
use siohub::config::{NamespacePolicy, RoomAccess, RoomRule};
use siohub_actors::Target;
use support::driver::Transport;
use support::hub_state::{rooms, socket_count};
use support::ops::connections;
use support::{hub_broadcast, policy, room_members, settle, start_hub, wait_until, Driver};

const ROOMS: [&str; 5] = ["r0", "r1", "r2", "r3", "r4"];

/// Asserts each of `names` received `event` exactly once if it is in `expected`, else never.
#[track_caller]
fn assert_exactly_once(d: &mut Driver, names: &[String], event: &str, expected: &BTreeSet<String>) {
    let counts = d.counts(names, event);
    let wrong: BTreeMap<_, _> = names
        .iter()
        .filter_map(|n| {
            let want = u64::from(expected.contains(n));
            let got = counts[n];
            (got != want).then(|| (n.clone(), (got, want)))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{event}: (got, wanted) per socket: {wrong:?}"
    );
}

fn node_many_sockets_many_rooms_one_copy_each(transport: Transport) {
    let server = start_hub(vec![policy("/")]);
    let mut d = Driver::node_on(&server, transport);
    let names: Vec<String> = (0..30).map(|i| format!("s{i}")).collect();
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut rooms_of: HashMap<String, BTreeSet<&str>> = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        ids.insert(name.clone(), d.connect(name, "/"));
        // Each socket in 2 or 3 of the 5 rooms.
        let mut rooms = BTreeSet::from([ROOMS[i % 5], ROOMS[(i + 1) % 5]]);
        if i % 3 == 0 {
            rooms.insert(ROOMS[(i + 3) % 5]);
        }
        for room in &rooms {
            let ack = d.ack(name, "join", json!([room]));
            assert_eq!(ack, json!({ "ok": true, "room": room, "replayed": 0 }));
        }
        rooms_of.insert(name.clone(), rooms);
    }
    let members_of = |room: &str, rooms_of: &HashMap<String, BTreeSet<&str>>| -> BTreeSet<String> {
        names
            .iter()
            .filter(|n| rooms_of[*n].contains(room))
            .cloned()
            .collect()
    };

    // The server's table has exactly these rooms and members.
    let table_rooms = rooms(&server, "/");
    let expected_rooms: Vec<(String, usize)> = ROOMS
        .iter()
        .map(|r| (r.to_string(), members_of(r, &rooms_of).len()))
        .collect();
    assert_eq!(table_rooms, expected_rooms);
    for room in ROOMS {
        let want: BTreeSet<String> = members_of(room, &rooms_of)
            .iter()
            .map(|n| ids[n].clone())
            .collect();
        let got: BTreeSet<String> = room_members(&server, "/", room).into_iter().collect();
        assert_eq!(got, want, "members of {room}");
    }
    let mut round = 0;

    // Several rooms: each member once, however many of the rooms it is in.
    let target = Target {
        rooms: vec!["r0".into(), "r1".into(), "r2".into()],
        ..Target::namespace("/")
    };
    let out = hub_broadcast(&server, target, "b1", json!({ "phase": 1 }));
    let expected: BTreeSet<String> = names
        .iter()
        .filter(|n| ["r0", "r1", "r2"].iter().any(|r| rooms_of[*n].contains(r)))
        .cloned()
        .collect();
    assert!(expected.len() < names.len(), "the test needs non-members");
    let in_several = expected
        .iter()
        .filter(|n| {
            ["r0", "r1", "r2"]
                .iter()
                .filter(|r| rooms_of[*n].contains(*r))
                .count()
                >= 2
        })
        .count();
    assert!(
        in_several > 0,
        "the test needs sockets in several targeted rooms"
    );
    assert_eq!(out.recipients, expected.len());
    round += 1;
    settle(&server, &mut d, "/", &names, round);
    assert_exactly_once(&mut d, &names, "b1", &expected);
    for n in &expected {
        assert_eq!(d.received(n, "b1"), vec![json!({ "phase": 1 })]);
    }

    // Except rooms.
    let target = Target {
        rooms: vec!["r0".into(), "r1".into()],
        except_rooms: vec!["r2".into()],
        ..Target::namespace("/")
    };
    let out = hub_broadcast(&server, target, "b2", json!(2));
    let expected: BTreeSet<String> = names
        .iter()
        .filter(|n| {
            let r = &rooms_of[*n];
            (r.contains("r0") || r.contains("r1")) && !r.contains("r2")
        })
        .cloned()
        .collect();
    assert_eq!(out.recipients, expected.len());

    // Except sids.
    let r3: Vec<String> = members_of("r3", &rooms_of).into_iter().collect();
    let excepted = [r3[0].clone(), r3[1].clone()];
    let target = Target {
        rooms: vec!["r3".into(), "r4".into()],
        except_socket_ids: excepted.iter().map(|n| ids[n].clone()).collect(),
        ..Target::namespace("/")
    };
    let out = hub_broadcast(&server, target, "b3", json!(3));
    let expected_b3: BTreeSet<String> = names
        .iter()
        .filter(|n| {
            (rooms_of[*n].contains("r3") || rooms_of[*n].contains("r4")) && !excepted.contains(n)
        })
        .cloned()
        .collect();
    assert_eq!(out.recipients, expected_b3.len());
    round += 1;
    settle(&server, &mut d, "/", &names, round);
    assert_exactly_once(&mut d, &names, "b2", &expected);
    assert_exactly_once(&mut d, &names, "b3", &expected_b3);

    // publish: the sender is left out, its ack counts who got it.
    let sender = "s0".to_string();
    assert!(rooms_of[&sender].contains("r0"));
    let r0 = members_of("r0", &rooms_of);
    let ack = d.ack(
        &sender,
        "publish",
        json!([{ "room": "r0", "event": "p1", "data": { "n": 1 } }]),
    );
    assert_eq!(ack, json!({ "ok": true, "recipients": r0.len() - 1 }));
    // With echo the sender gets it too.
    let ack = d.ack(
        &sender,
        "publish",
        json!([{ "room": "r0", "event": "p2", "data": { "n": 2 }, "echo": true }]),
    );
    assert_eq!(ack, json!({ "ok": true, "recipients": r0.len() }));
    round += 1;
    settle(&server, &mut d, "/", &names, round);
    let mut without_sender = r0.clone();
    without_sender.remove(&sender);
    assert_exactly_once(&mut d, &names, "p1", &without_sender);
    assert_exactly_once(&mut d, &names, "p2", &r0);
    let someone = without_sender.iter().next().unwrap().clone();
    assert_eq!(d.received(&someone, "p1"), vec![json!({ "n": 1 })]);

    // leave stops delivery.
    let leaver = "s5".to_string();
    assert!(rooms_of[&leaver].contains("r0"));
    let ack = d.ack(&leaver, "leave", json!([{ "room": "r0" }]));
    assert_eq!(ack, json!({ "ok": true, "room": "r0" }));
    assert!(!room_members(&server, "/", "r0").contains(&ids[&leaver]));
    rooms_of.get_mut(&leaver).unwrap().remove("r0");
    let target = Target {
        rooms: vec!["r0".into()],
        ..Target::namespace("/")
    };
    let out = hub_broadcast(&server, target, "b4", json!(4));
    let r0 = members_of("r0", &rooms_of);
    assert_eq!(out.recipients, r0.len());
    round += 1;
    settle(&server, &mut d, "/", &names, round);
    assert_exactly_once(&mut d, &names, "b4", &r0);

    // Disconnected sockets are gone from every room.
    let gone = ["s1", "s2", "s3"].map(String::from);
    for n in &gone {
        d.call("disconnect", json!({ "name": n }));
    }
    let gone_ids: Vec<String> = gone.iter().map(|n| ids[n].clone()).collect();
    wait_until(
        "the disconnected sockets left every room",
        Duration::from_secs(10),
        || {
            socket_count(&server, "/") == 27
                && ROOMS.iter().all(|r| {
                    room_members(&server, "/", r)
                        .iter()
                        .all(|m| !gone_ids.contains(m))
                })
        },
    );
    wait_until(
        "/connections shows 27 connections",
        Duration::from_secs(10),
        || connections(&server)["total"] == json!(27),
    );
    let listed: Vec<String> = connections(&server)["connections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["sockets"].as_array().unwrap().clone())
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(gone_ids.iter().all(|g| !listed.contains(g)));
    let live: Vec<String> = names
        .iter()
        .filter(|n| !gone.contains(n))
        .cloned()
        .collect();
    let target = Target {
        rooms: ROOMS.iter().map(|r| r.to_string()).collect(),
        ..Target::namespace("/")
    };
    let out = hub_broadcast(&server, target, "b5", json!(5));
    assert_eq!(out.recipients, live.len());
    round += 1;
    settle(&server, &mut d, "/", &live, round);
    let all_live: BTreeSet<String> = live.iter().cloned().collect();
    assert_exactly_once(&mut d, &live, "b5", &all_live);
    assert_eq!(d.counts(&gone, "b5").values().sum::<u64>(), 0);

    // Nobody else was disconnected along the way.
    let disconnects = d.call("disconnects", json!({}));
    let who: BTreeSet<String> = disconnects.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        who,
        gone.iter().cloned().collect::<BTreeSet<_>>(),
        "{disconnects}"
    );
}

fn python_sockets_join_publish_and_leave(transport: Transport) {
    let server = start_hub(vec![policy("/")]);
    let mut d = Driver::python_on(&server, transport);
    let names: Vec<String> = (0..4).map(|i| format!("p{i}")).collect();
    let ids: Vec<String> = names.iter().map(|n| d.connect(n, "/")).collect();
    for n in &names[..3] {
        let ack = d.ack(n, "join", json!(["py"]));
        assert_eq!(ack, json!({ "ok": true, "room": "py", "replayed": 0 }));
    }
    let ack = d.ack(&names[3], "join", json!([{ "room": "other" }]));
    assert_eq!(ack, json!({ "ok": true, "room": "other", "replayed": 0 }));
    let mut want: Vec<String> = ids[..3].to_vec();
    want.sort();
    assert_eq!(room_members(&server, "/", "py"), want);
    assert_eq!(room_members(&server, "/", "other"), vec![ids[3].clone()]);

    let ack = d.ack(
        &names[0],
        "publish",
        json!([{ "room": "py", "event": "chat", "data": { "text": "hi" } }]),
    );
    assert_eq!(ack, json!({ "ok": true, "recipients": 2 }));
    let ack = d.ack(
        &names[1],
        "publish",
        json!([{ "room": "py", "event": "echoed", "data": [1, 2], "echo": true }]),
    );
    assert_eq!(ack, json!({ "ok": true, "recipients": 3 }));
    settle(&server, &mut d, "/", &names, 1);
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_exactly_once(&mut d, &names, "chat", &set(&["p1", "p2"]));
    assert_exactly_once(&mut d, &names, "echoed", &set(&["p0", "p1", "p2"]));
    assert_eq!(d.received("p2", "chat"), vec![json!({ "text": "hi" })]);
    assert_eq!(d.received("p0", "echoed"), vec![json!([1, 2])]);

    // leave, then only p1 is left to hear p0.
    let ack = d.ack("p2", "leave", json!(["py"]));
    assert_eq!(ack, json!({ "ok": true, "room": "py" }));
    let ack = d.ack(
        "p0",
        "publish",
        json!([{ "room": "py", "event": "after-leave", "data": null }]),
    );
    assert_eq!(ack, json!({ "ok": true, "recipients": 1 }));
    settle(&server, &mut d, "/", &names, 2);
    assert_exactly_once(&mut d, &names, "after-leave", &set(&["p1"]));

    // Errors from a Python client, which stays connected.
    let ack = d.ack("p3", "join", json!([42]));
    assert_eq!(ack["error"]["code"], "INVALID_PAYLOAD", "{ack}");
    let ack = d.ack(
        "p3",
        "publish",
        json!([{ "room": "py", "event": "disconnect" }]),
    );
    assert_eq!(ack["error"]["code"], "INVALID_PAYLOAD", "{ack}");
    let pong = d.ack("p3", "ping", json!([]));
    assert!(pong["server_time"].as_u64().unwrap() > 0, "{pong}");
    assert_eq!(d.call("state", json!({ "name": "p3" }))["connected"], true);

    // A disconnected Python socket leaves its rooms. Websocket only: over polling,
    // python-engineio 4.15.1's write loop ends as soon as `disconnect()` marks the client
    // disconnecting, so when a POST is still in flight the queued DISCONNECT and CLOSE
    // packets are never sent (1 run in 25 here) and the hub learns of it only at the ping
    // timeout (45 s by default).
    if transport == Transport::WebSocket {
        d.call("disconnect", json!({ "name": "p3" }));
        wait_until("p3 left room other", Duration::from_secs(10), || {
            room_members(&server, "/", "other").is_empty() && socket_count(&server, "/") == 3
        });
    }
}

#[track_caller]
fn assert_error(ack: &Value, code: &str) {
    assert_eq!(ack["error"]["code"], code, "{ack}");
    let message = ack["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "an error message: {ack}");
    assert!(ack.get("ok").is_none(), "{ack}");
}

/// The socket answers a ping and saw no disconnect.
#[track_caller]
fn assert_still_connected(d: &mut Driver, name: &str, id: &str) {
    let pong = d.ack(name, "ping", json!([]));
    assert!(pong["server_time"].as_u64().unwrap() > 0, "{pong}");
    let state = d.call("state", json!({ "name": name }));
    assert_eq!(state["connected"], true, "{state}");
    assert_eq!(state["id"], id, "{state}");
    assert_eq!(state["disconnects"], json!([]), "{state}");
}

fn node_join_and_publish_errors_keep_the_socket(transport: Transport) {
    let restricted = NamespacePolicy {
        client_join: RoomAccess::Rules(vec![
            RoomRule::Pattern("public:*".into()),
            RoomRule::WithRoles {
                pattern: "admin:*".into(),
                roles: vec!["admin".into()],
            },
        ]),
        client_publish: RoomAccess::Allowed(false),
        ..policy("/restricted")
    };
    let root = NamespacePolicy {
        max_event_bytes: 256,
        ..policy("/")
    };
    let server = start_hub(vec![root, restricted]);
    let mut d = Driver::node_on(&server, transport);
    let a = d.connect("a", "/");
    let listener = d.connect("listener", "/");
    assert_eq!(
        d.ack("listener", "join", json!(["r"])),
        json!({ "ok": true, "room": "r", "replayed": 0 })
    );
    let (broadcasts_before, _) = server.hub.counters().fanout();

    let long_room = "x".repeat(257);
    let bad_joins = [
        (json!([42]), "INVALID_PAYLOAD"),
        (json!([{ "room": 7 }]), "INVALID_PAYLOAD"),
        (json!([{}]), "INVALID_PAYLOAD"),
        (json!([""]), "INVALID_PAYLOAD"),
        (json!([long_room]), "INVALID_PAYLOAD"),
        (json!([]), "INVALID_PAYLOAD"),
        (json!(["user:bob"]), "PERMISSION_DENIED"),
    ];
    for (args, code) in bad_joins {
        let ack = d.ack("a", "join", args.clone());
        assert_error(&ack, code);
        assert_still_connected(&mut d, "a", &a);
    }
    assert_error(&d.ack("a", "leave", json!([42])), "INVALID_PAYLOAD");
    let big = "x".repeat(300);
    let bad_publishes = [
        (json!(["r"]), "INVALID_PAYLOAD"),
        (json!([{ "event": "e", "data": 1 }]), "INVALID_PAYLOAD"),
        (json!([{ "room": "r", "data": 1 }]), "INVALID_PAYLOAD"),
        (json!([{ "room": "r", "event": "" }]), "INVALID_PAYLOAD"),
        (json!([{ "room": "r", "event": 5 }]), "INVALID_PAYLOAD"),
        (
            json!([{ "room": "r", "event": "e", "id": [1] }]),
            "INVALID_PAYLOAD",
        ),
        (
            json!([{ "room": "r", "event": "connect" }]),
            "INVALID_PAYLOAD",
        ),
        (
            json!([{ "room": "r", "event": "disconnect" }]),
            "INVALID_PAYLOAD",
        ),
        (
            json!([{ "room": "r", "event": "connect_error" }]),
            "INVALID_PAYLOAD",
        ),
        (
            json!([{ "room": "r", "event": "e", "data": big }]),
            "PAYLOAD_TOO_LARGE",
        ),
    ];
    for (args, code) in bad_publishes {
        let ack = d.ack("a", "publish", args.clone());
        assert_error(&ack, code);
        assert_still_connected(&mut d, "a", &a);
    }
    // Just under the limit goes through.
    let fits = json!({ "room": "r", "event": "fits", "data": "y".repeat(150) });
    assert!(fits.to_string().len() <= 256);
    assert_eq!(
        d.ack("a", "publish", json!([fits])),
        json!({ "ok": true, "recipients": 1 })
    );

    // /restricted: only public:* (admin:* needs the admin role); no publishing.
    let b = d.connect("b", "/restricted");
    let watcher = d.connect("watcher", "/restricted");
    for room in ["secret", "admin:x", "public"] {
        assert_error(&d.ack("b", "join", json!([room])), "PERMISSION_DENIED");
        assert_still_connected(&mut d, "b", &b);
    }
    for n in ["b", "watcher"] {
        assert_eq!(
            d.ack(n, "join", json!(["public:lobby"])),
            json!({ "ok": true, "room": "public:lobby", "replayed": 0 })
        );
    }
    let ack = d.ack(
        "b",
        "publish",
        json!([{ "room": "public:lobby", "event": "nope", "data": 1 }]),
    );
    assert_error(&ack, "PERMISSION_DENIED");
    assert_still_connected(&mut d, "b", &b);

    // The server did nothing with the refused requests: one broadcast (the one that fit),
    // no refused room has members, every socket is still registered.
    assert_eq!(server.hub.counters().fanout().0, broadcasts_before + 1);
    assert_eq!(rooms(&server, "/"), vec![("r".to_string(), 1)]);
    assert_eq!(
        rooms(&server, "/restricted"),
        vec![("public:lobby".to_string(), 2)]
    );
    assert_eq!(socket_count(&server, "/"), 2);
    assert_eq!(socket_count(&server, "/restricted"), 2);
    let names: Vec<String> = ["a", "listener"].map(String::from).to_vec();
    settle(&server, &mut d, "/", &names, 1);
    assert_eq!(d.received("listener", "fits").len(), 1);
    assert_eq!(d.received("listener", "e").len(), 0);
    let names: Vec<String> = ["b", "watcher"].map(String::from).to_vec();
    settle(&server, &mut d, "/restricted", &names, 1);
    assert_eq!(d.received("watcher", "nope").len(), 0);
    assert_still_connected(&mut d, "listener", &listener);
    assert_still_connected(&mut d, "watcher", &watcher);
}

/// One client's events take effect in the order it sent them even when they arrive
/// together and the session handles them in one go: its publishes reach a subscriber in
/// order, and a join followed at once by a leave of the same room leaves it out.
#[test]
fn one_clients_events_take_effect_in_the_order_it_sent_them() {
    use crate::support::wire::{emit_with_ack, sio_connect, wait_ack};
    let server = start_hub(vec![policy("/")]);
    let (mut subscriber, _) = sio_connect(server.addr);
    emit_with_ack(&mut subscriber, 1, "join", json!(["ordered"]));
    assert_eq!(wait_ack(&mut subscriber, 1)["ok"], json!(true));
    let (mut publisher, _) = sio_connect(server.addr);
    const N: u64 = 200;
    for n in 0..N {
        let publish = json!([{ "room": "ordered", "event": "tick", "data": n }]);
        emit_with_ack(&mut publisher, 100 + n, "publish", publish);
    }
    for n in 0..N {
        assert_eq!(
            subscriber.text_skipping_pings(),
            format!(r#"42["tick",{n}]"#),
            "tick {n} in the order published"
        );
    }
    for round in 0..50 {
        emit_with_ack(&mut publisher, 1000 + 2 * round, "join", json!(["flip"]));
        emit_with_ack(&mut publisher, 1001 + 2 * round, "leave", json!(["flip"]));
    }
    wait_ack(&mut publisher, 1099);
    assert_eq!(
        room_members(&server, "/", "flip"),
        Vec::<String>::new(),
        "every leave came after its join"
    );
}

crate::on_each_transport! {
    python_sockets_join_publish_and_leave,
    node_many_sockets_many_rooms_one_copy_each,
    node_join_and_publish_errors_keep_the_socket,
}
