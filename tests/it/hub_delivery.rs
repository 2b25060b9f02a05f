//! Delivery policies with real clients: each room buffer policy (`always` bounded by size and
//! TTL, `if_no_clients`, `drop`) replays exactly what it should to a socket that joins;
//! connection state recovery with socket.io-client 4.8 after a forced transport close
//! (`socket.recovered`, the same id, exactly the missed events in order) and its refusals;
//! the dedupe window on the publish `id`.
//!
//! Delivery is checked without sleeping: a namespace-wide `sync` is sent after a phase and
//! awaited on every socket; a session delivers in order, so by then every earlier event has
//! arrived (or never will).

use crate::support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};
use siohub::config::{BufferName, NamespacePolicy, RoomAccess, RoomRule};
use siohub::server::BackgroundServer;
use siohub_actors::Target;
use support::driver::Transport;
use support::hub_state::{buffered, buffered_within, socket_count};
use support::ops::{connections, metrics_text};
use support::{
    hub_broadcast, policy, room_members, settle, start_hub, start_hub_with, wait_until, Driver,
};

const WAIT: Duration = Duration::from_secs(15);

fn publish(d: &mut Driver, from: &str, room: &str, event: &str, data: Value) -> Value {
    d.ack(
        from,
        "publish",
        json!([{ "room": room, "event": event, "data": data }]),
    )
}

fn join(d: &mut Driver, name: &str, room: &str, replayed: usize) {
    assert_eq!(
        d.ack(name, "join", json!([room])),
        json!({ "ok": true, "room": room, "replayed": replayed }),
        "{name} joins {room}"
    );
}

fn always_buffer_replays_the_newest_to_every_joiner_until_the_ttl(transport: Transport) {
    let always = NamespacePolicy {
        buffer: BufferName::Always,
        buffer_size: 3,
        buffer_ttl_s: 2,
        ..policy("/always")
    };
    let server = start_hub(vec![always]);
    let mut d = Driver::node_on(&server, transport);
    d.connect("p", "/always");
    for n in 1..=5 {
        let ack = publish(&mut d, "p", "hist", "ev", json!(n));
        assert_eq!(ack, json!({ "ok": true, "recipients": 0 }));
    }
    // Three kept, the two oldest dropped (and counted).
    assert_eq!(buffered(&server, "/always", "hist"), 3);
    assert_eq!(
        connections(&server)["counters"]["drops"]["room_buffer_full"],
        2
    );

    d.connect("a", "/always");
    join(&mut d, "a", "hist", 3);
    d.connect("b", "/always");
    join(&mut d, "b", "hist", 3);
    settle(&server, &mut d, "/always", &["p", "a", "b"], 1);
    for n in ["a", "b"] {
        assert_eq!(
            d.received(n, "ev"),
            vec![json!(3), json!(4), json!(5)],
            "{n}"
        );
    }
    assert!(d.received("p", "ev").is_empty());

    // Members get new events live; the history keeps them too (still 3).
    let ack = publish(&mut d, "p", "hist", "ev", json!(6));
    assert_eq!(ack, json!({ "ok": true, "recipients": 2 }));
    assert_eq!(buffered(&server, "/always", "hist"), 3);
    settle(&server, &mut d, "/always", &["p", "a", "b"], 2);
    for n in ["a", "b"] {
        assert_eq!(
            d.received(n, "ev"),
            (3..=6).map(|i| json!(i)).collect::<Vec<_>>()
        );
    }

    // After the TTL nothing is replayed.
    wait_until("the history expired", WAIT, || {
        buffered_within(&server, "/always", "hist", Duration::from_secs(2)) == 0
    });
    d.connect("c", "/always");
    join(&mut d, "c", "hist", 0);
    settle(&server, &mut d, "/always", &["p", "a", "b", "c"], 3);
    assert!(d.received("c", "ev").is_empty());
    assert_eq!(room_members(&server, "/always", "hist").len(), 3);
}

fn if_no_clients_buffer_is_a_mailbox_for_the_first_joiner(transport: Transport) {
    let mailbox = NamespacePolicy {
        buffer: BufferName::IfNoClients,
        ..policy("/mailbox")
    };
    let server = start_hub(vec![mailbox]);
    let mut d = Driver::node_on(&server, transport);
    d.connect("p", "/mailbox");
    for n in 1..=3 {
        let ack = publish(&mut d, "p", "box", "mail", json!({ "n": n }));
        assert_eq!(ack, json!({ "ok": true, "recipients": 0 }));
    }
    assert_eq!(buffered(&server, "/mailbox", "box"), 3);

    d.connect("a", "/mailbox");
    join(&mut d, "a", "box", 3);
    assert_eq!(buffered(&server, "/mailbox", "box"), 0);
    d.connect("b", "/mailbox");
    join(&mut d, "b", "box", 0);
    settle(&server, &mut d, "/mailbox", &["p", "a", "b"], 1);
    let first: Vec<Value> = (1..=3).map(|n| json!({ "n": n })).collect();
    assert_eq!(d.received("a", "mail"), first);
    assert!(d.received("b", "mail").is_empty());

    // With members present nothing is kept.
    let ack = publish(&mut d, "p", "box", "mail", json!({ "n": 4 }));
    assert_eq!(ack, json!({ "ok": true, "recipients": 2 }));
    assert_eq!(buffered(&server, "/mailbox", "box"), 0);

    // Empty again: kept for the next joiner only.
    for n in ["a", "b"] {
        assert_eq!(
            d.ack(n, "leave", json!(["box"])),
            json!({ "ok": true, "room": "box" })
        );
    }
    let ack = publish(&mut d, "p", "box", "mail", json!({ "n": 5 }));
    assert_eq!(ack, json!({ "ok": true, "recipients": 0 }));
    assert_eq!(buffered(&server, "/mailbox", "box"), 1);
    d.connect("c", "/mailbox");
    join(&mut d, "c", "box", 1);
    settle(&server, &mut d, "/mailbox", &["p", "a", "b", "c"], 2);
    assert_eq!(d.received("c", "mail"), vec![json!({ "n": 5 })]);
    assert_eq!(d.received("a", "mail").len(), 4);
    assert_eq!(d.received("b", "mail"), vec![json!({ "n": 4 })]);
}

fn drop_buffer_replays_nothing(transport: Transport) {
    let server = start_hub(vec![policy("/")]);
    let mut d = Driver::node_on(&server, transport);
    d.connect("p", "/");
    for n in 1..=3 {
        let ack = publish(&mut d, "p", "void", "ev", json!(n));
        assert_eq!(ack, json!({ "ok": true, "recipients": 0 }));
    }
    assert_eq!(buffered(&server, "/", "void"), 0);
    d.connect("a", "/");
    join(&mut d, "a", "void", 0);
    settle(&server, &mut d, "/", &["p", "a"], 1);
    assert!(d.received("a", "ev").is_empty());
}

fn joining_a_room_again_replays_nothing_again(transport: Transport) {
    let always = NamespacePolicy {
        buffer: BufferName::Always,
        ..policy("/always")
    };
    let server = start_hub(vec![always]);
    let mut d = Driver::node_on(&server, transport);
    d.connect("p", "/always");
    for n in 1..=3 {
        publish(&mut d, "p", "hist", "ev", json!(n));
    }
    d.connect("a", "/always");
    join(&mut d, "a", "hist", 3);
    // Once more, twice: in the room already, so nothing is replayed (and the ack says so).
    join(&mut d, "a", "hist", 0);
    join(&mut d, "a", "hist", 0);
    // Live events still come, once each, after the history.
    publish(&mut d, "p", "hist", "ev", json!(4));
    settle(&server, &mut d, "/always", &["p", "a"], 1);
    assert_eq!(
        d.received("a", "ev"),
        vec![json!(1), json!(2), json!(3), json!(4)]
    );
    // After a leave, a join is a join again: the whole history is replayed.
    assert_eq!(
        d.ack("a", "leave", json!(["hist"])),
        json!({ "ok": true, "room": "hist" })
    );
    join(&mut d, "a", "hist", 4);
}

// ---------------------------------------------------------------------------------------
// Connection state recovery

fn recovery_policy(name: &str, recovery_s: u64) -> NamespacePolicy {
    NamespacePolicy {
        recovery_s,
        ..policy(name)
    }
}

fn to_room(nsp: &str, room: &str) -> Target {
    Target {
        rooms: vec![room.into()],
        ..Target::namespace(nsp)
    }
}

/// Every `event` socket `name` received: (data, offset), checking each carries its offset as
/// its last argument.
fn with_offsets(d: &mut Driver, name: &str, event: &str) -> Vec<(Value, String)> {
    let events = d.call("events", json!({ "name": name, "event": event }));
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let args = e["args"].as_array().unwrap();
            assert_eq!(args.len(), 2, "data and offset: {e}");
            let offset = args[1].as_str().expect("the offset is a string").to_owned();
            (args[0].clone(), offset)
        })
        .collect()
}

fn recovery_replays_exactly_the_missed_events_after_a_transport_close(transport: Transport) {
    let server = start_hub(vec![policy("/"), recovery_policy("/recover", 60)]);
    let mut d = Driver::node_on(&server, transport);
    let connected = d.call("connect", json!({ "name": "a", "nsp": "/recover" }));
    assert_eq!(connected["recovered"], false);
    let id = connected["id"].as_str().unwrap().to_owned();
    join(&mut d, "a", "r", 0);
    let out = hub_broadcast(&server, to_room("/recover", "r"), "ev", json!(0));
    assert_eq!(out.recipients, 1);
    d.wait_counts(&["a".into()], "ev", 1);

    // The transport goes away; the test holds the reconnection until it has published.
    d.call("hold", json!({ "name": "a" }));
    d.call("close_transport", json!({ "name": "a" }));
    wait_until("the server dropped the socket", WAIT, || {
        socket_count(&server, "/recover") == 0
    });
    assert!(room_members(&server, "/recover", "r").is_empty());
    const K: i64 = 5;
    for n in 1..=K {
        let out = hub_broadcast(&server, to_room("/recover", "r"), "ev", json!(n));
        assert_eq!(out.recipients, 0);
    }
    // An event for another room is not replayed to it.
    hub_broadcast(&server, to_room("/recover", "elsewhere"), "ev", json!(-1));
    d.call("resume", json!({ "name": "a" }));
    let state = d.wait_connects("a", 2);
    assert_eq!(state["recovered"], true, "{state}");
    assert_eq!(state["id"], id.as_str(), "{state}");
    assert_eq!(state["disconnects"].as_array().unwrap().len(), 1, "{state}");

    // Its rooms came back on the server.
    wait_until("the recovered socket is back in r", WAIT, || {
        room_members(&server, "/recover", "r") == vec![id.clone()]
    });
    let listed = connections(&server);
    let sockets: Vec<&Value> = listed["connections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["sockets"].as_array().unwrap())
        .collect();
    assert_eq!(sockets.len(), 1, "{listed}");
    assert_eq!(sockets[0]["id"], id.as_str());
    assert_eq!(sockets[0]["rooms"], json!(["r"]));

    // Live delivery goes on after the missed events.
    let out = hub_broadcast(&server, to_room("/recover", "r"), "ev", json!(K + 1));
    assert_eq!(out.recipients, 1);
    settle(&server, &mut d, "/recover", &["a"], 1);
    let got = with_offsets(&mut d, "a", "ev");
    let data: Vec<Value> = got.iter().map(|(v, _)| v.clone()).collect();
    assert_eq!(data, (0..=K + 1).map(|n| json!(n)).collect::<Vec<_>>());
    let offsets: BTreeSet<&String> = got.iter().map(|(_, o)| o).collect();
    assert_eq!(offsets.len(), got.len(), "offsets are distinct: {got:?}");
}

fn recovery_by_itself_loses_nothing_of_a_stream(transport: Transport) {
    let server = start_hub(vec![recovery_policy("/recover", 60)]);
    let mut d = Driver::node_on(&server, transport);
    let id = d.connect("a", "/recover");
    join(&mut d, "a", "r", 0);
    const N: i64 = 400;
    // A dense stream to the room; early on the client's transport is closed and
    // socket.io-client reconnects (and recovers) by itself, wherever that falls in the stream:
    // before, during or after the recovery, no event may be lost or doubled.
    for n in 1..=N {
        hub_broadcast(&server, to_room("/recover", "r"), "tick", json!(n));
        if n == 50 {
            d.call("close_transport", json!({ "name": "a" }));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let state = d.wait_connects("a", 2);
    assert_eq!(state["recovered"], true, "{state}");
    assert_eq!(state["id"], id.as_str());
    settle(&server, &mut d, "/recover", &["a"], 1);
    let data: Vec<Value> = with_offsets(&mut d, "a", "tick")
        .into_iter()
        .map(|(v, _)| v)
        .collect();
    assert_eq!(data, (1..=N).map(|n| json!(n)).collect::<Vec<_>>());
    assert_eq!(room_members(&server, "/recover", "r"), vec![id]);
}

fn no_recovery_after_the_window_with_an_unknown_pid_or_when_off(transport: Transport) {
    let server = start_hub(vec![
        policy("/"),
        recovery_policy("/short", 1),
        recovery_policy("/recover", 60),
    ]);
    let mut d = Driver::node_on(&server, transport);

    // The window (1 s) passes while the client is away.
    let id = d.connect("a", "/short");
    join(&mut d, "a", "r", 0);
    hub_broadcast(&server, to_room("/short", "r"), "ev", json!(1));
    d.wait_counts(&["a".into()], "ev", 1);
    d.call("hold", json!({ "name": "a" }));
    d.call("close_transport", json!({ "name": "a" }));
    wait_until("the server dropped the socket", WAIT, || {
        socket_count(&server, "/short") == 0
    });
    hub_broadcast(&server, to_room("/short", "r"), "ev", json!(2));
    // The server keeps the socket, then the window (1 s) ends and it forgets it.
    wait_until("the socket is kept", WAIT, || {
        server.hub.retention().preserved_sockets == 1
    });
    wait_until("the kept socket expired", WAIT, || {
        server.hub.retention().preserved_sockets == 0
    });
    d.call("resume", json!({ "name": "a" }));
    let state = d.wait_connects("a", 2);
    assert_eq!(state["recovered"], false, "{state}");
    assert_ne!(state["id"], id.as_str(), "a new socket id");
    // A fresh socket: no rooms, nothing replayed.
    assert!(room_members(&server, "/short", "r").is_empty());
    settle(&server, &mut d, "/short", &["a"], 1);
    assert_eq!(d.received("a", "ev"), vec![json!(1)]);

    // A pid the server never handed out.
    d.connect("x", "/recover");
    join(&mut d, "x", "r", 0);
    let reply = d.call(
        "connect",
        json!({ "name": "u", "nsp": "/recover", "auth": { "pid": "no-such-pid", "offset": "1" } }),
    );
    assert_eq!(reply["recovered"], false);
    let u = reply["id"].as_str().unwrap().to_owned();
    assert_eq!(room_members(&server, "/recover", "r").len(), 1);
    assert!(!room_members(&server, "/recover", "r").contains(&u));

    // Recovery off ("/"): a transport close gives a new socket without its rooms.
    let old = d.connect("o", "/");
    join(&mut d, "o", "r", 0);
    hub_broadcast(&server, to_room("/", "r"), "ev", json!(1));
    d.wait_counts(&["o".into()], "ev", 1);
    d.call("close_transport", json!({ "name": "o" }));
    let state = d.wait_connects("o", 2);
    assert_eq!(state["recovered"], false, "{state}");
    assert_ne!(state["id"], old.as_str());
    wait_until("the old socket left r", WAIT, || {
        room_members(&server, "/", "r").is_empty()
    });
    // Without recovery the events carry no offset.
    let events = d.call("events", json!({ "name": "o", "event": "ev" }));
    assert_eq!(events[0]["args"], json!([1]));
}

/// A clean disconnect is not recoverable, though the client offers its pid and offset
/// again; a CONNECT naming a kept socket's pid with an offset the log never handed out
/// (unreadable, ahead of the log, empty) gets a fresh socket, and uses the pid up.
fn recovery_is_refused_after_a_clean_disconnect_and_for_a_bad_offset(transport: Transport) {
    let server = start_hub(vec![recovery_policy("/recover", 60)]);
    let mut d = Driver::node_on(&server, transport);
    let id = d.connect("a", "/recover");
    join(&mut d, "a", "r", 0);
    hub_broadcast(&server, to_room("/recover", "r"), "ev", json!(1));
    d.wait_counts(&["a".into()], "ev", 1);
    d.call("disconnect", json!({ "name": "a" }));
    wait_until("the server dropped the socket", WAIT, || {
        socket_count(&server, "/recover") == 0
    });
    hub_broadcast(&server, to_room("/recover", "r"), "ev", json!(2));
    let offered = d.call("state", json!({ "name": "a" }));
    assert!(
        offered["pid"].is_string() && offered["offset"].is_string(),
        "{offered}"
    );
    d.call("resume", json!({ "name": "a" }));
    let state = d.wait_connects("a", 2);
    assert_eq!(state["recovered"], false, "{state}");
    assert_ne!(state["id"], id.as_str(), "a new socket id");
    assert!(room_members(&server, "/recover", "r").is_empty());
    settle(&server, &mut d, "/recover", &["a"], 1);
    assert_eq!(d.received("a", "ev"), vec![json!(1)], "nothing replayed");

    // Sockets the server keeps (their transport dropped), and a CONNECT naming each one's
    // pid with an offset the log never handed out. A pid is good for one attempt: the bad
    // one takes the kept socket, so no one can try offsets against it, and its owner then
    // connects afresh too.
    let mut names = vec!["a".to_owned()];
    for (i, offset) in ["not-an-offset", "ffffffffffffffff", ""].iter().enumerate() {
        let (k, x) = (format!("k{i}"), format!("x{i}"));
        let kept = d.connect(&k, "/recover");
        join(&mut d, &k, "r", 0);
        hub_broadcast(&server, to_room("/recover", "r"), "ev", json!(10 + i));
        d.wait_counts(std::slice::from_ref(&k), "ev", 1);
        let held = d.call("state", json!({ "name": k }));
        d.call("hold", json!({ "name": k }));
        d.call("close_transport", json!({ "name": k }));
        wait_until("the server dropped the kept socket", WAIT, || {
            !room_members(&server, "/recover", "r").contains(&kept)
        });
        let reply = d.call(
            "connect",
            json!({ "name": x, "nsp": "/recover", "auth": { "pid": held["pid"], "offset": offset } }),
        );
        assert_eq!(reply["recovered"], false, "offset {offset:?}: {reply}");
        assert_ne!(reply["id"], kept.as_str(), "offset {offset:?}");
        assert!(
            room_members(&server, "/recover", "r").is_empty(),
            "offset {offset:?}"
        );
        d.call("resume", json!({ "name": k }));
        let state = d.wait_connects(&k, 2);
        assert_eq!(state["recovered"], false, "offset {offset:?}: {state}");
        assert_ne!(state["id"], kept.as_str(), "offset {offset:?}");
        names.extend([k, x]);
    }
    settle(&server, &mut d, "/recover", &names, 2);
    for i in 0..3 {
        assert_eq!(d.received(&format!("x{i}"), "ev"), Vec::<Value>::new());
        assert_eq!(d.received(&format!("k{i}"), "ev"), vec![json!(10 + i)]);
    }
}

fn a_client_recovers_only_once_it_received_an_event(transport: Transport) {
    let server = start_hub(vec![recovery_policy("/recover", 60)]);
    let mut d = Driver::node_on(&server, transport);
    // Joined, but no event yet: socket.io-client has no offset to send, so a drop gives a
    // fresh socket without its rooms.
    let first = d.connect("a", "/recover");
    join(&mut d, "a", "r", 0);
    d.call("close_transport", json!({ "name": "a" }));
    let state = d.wait_connects("a", 2);
    assert_eq!(state["recovered"], false, "{state}");
    let second = state["id"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    wait_until("the first socket left r", WAIT, || {
        room_members(&server, "/recover", "r").is_empty()
    });

    // One event received (its offset is its last argument): the next drop recovers.
    join(&mut d, "a", "r", 0);
    hub_broadcast(&server, to_room("/recover", "r"), "ev", json!(1));
    d.wait_counts(&["a".into()], "ev", 1);
    assert_eq!(with_offsets(&mut d, "a", "ev").len(), 1);
    d.call("close_transport", json!({ "name": "a" }));
    let state = d.wait_connects("a", 3);
    assert_eq!(state["recovered"], true, "{state}");
    assert_eq!(state["id"], second.as_str(), "{state}");
}

/// A `$binary` value of the Node driver: a Buffer in what it sends and receives.
fn binary(bytes: &[u8]) -> Value {
    use base64::Engine as _;
    json!({ "$binary": base64::engine::general_purpose::STANDARD.encode(bytes) })
}

/// The data (first argument) of every `event` socket `name` received, each with a string
/// offset as its last argument (the namespace recovers).
fn data_with_offsets(d: &mut Driver, name: &str, event: &str) -> Vec<Value> {
    with_offsets(d, name, event)
        .into_iter()
        .map(|(data, _)| data)
        .collect()
}

fn binary_a_client_publishes_arrives_as_binary_live_replayed_and_recovered(transport: Transport) {
    let buffered_and_recovering = NamespacePolicy {
        buffer: BufferName::Always,
        recovery_s: 60,
        ..policy("/bin")
    };
    let server = start_hub(vec![buffered_and_recovering]);
    let mut d = Driver::node_on(&server, transport);
    d.connect("sender", "/bin");
    let live = d.connect("live", "/bin");
    let polled = json!({ "name": "polled", "nsp": "/bin", "transports": ["polling"] });
    d.call("connect", polled);
    join(&mut d, "live", "files", 0);
    join(&mut d, "polled", "files", 0);

    // Buffers anywhere in `data`, next to text.
    let first = json!({
        "name": "a.bin",
        "blob": binary(&[0, 1, 2, 255]),
        "parts": [binary(b"x"), "text", { "deep": binary(&[9; 300]) }],
    });
    let ack = publish(&mut d, "sender", "files", "file", first.clone());
    assert_eq!(ack, json!({ "ok": true, "recipients": 2 }));
    settle(&server, &mut d, "/bin", &["sender", "live", "polled"], 1);
    for name in ["live", "polled"] {
        assert_eq!(
            data_with_offsets(&mut d, name, "file"),
            vec![first.clone()],
            "{name}"
        );
    }

    // The room's history replays it as binary.
    d.connect("late", "/bin");
    join(&mut d, "late", "files", 1);
    assert_eq!(d.received("late", "file"), vec![first.clone()]);

    // Missed while away: recovered as binary.
    d.call("hold", json!({ "name": "live" }));
    d.call("close_transport", json!({ "name": "live" }));
    wait_until("the server dropped the socket", WAIT, || {
        !room_members(&server, "/bin", "files").contains(&live)
    });
    let second = binary(b"missed while away");
    let ack = publish(&mut d, "sender", "files", "file", second.clone());
    assert_eq!(ack, json!({ "ok": true, "recipients": 2 }));
    d.call("resume", json!({ "name": "live" }));
    let state = d.wait_connects("live", 2);
    assert_eq!(state["recovered"], true, "{state}");
    settle(
        &server,
        &mut d,
        "/bin",
        &["sender", "live", "polled", "late"],
        2,
    );
    assert_eq!(
        data_with_offsets(&mut d, "live", "file"),
        vec![first, second]
    );
}

// ---------------------------------------------------------------------------------------
// Dedupe

fn dedupe_window_drops_a_repeated_publish_id(transport: Transport) {
    let dedupe = NamespacePolicy {
        dedupe_window_s: 60,
        ..policy("/dedupe")
    };
    let server = start_hub(vec![policy("/"), dedupe]);
    let mut d = Driver::node_on(&server, transport);
    for n in ["p", "r1", "r2"] {
        d.connect(n, "/dedupe");
    }
    for n in ["r1", "r2"] {
        join(&mut d, n, "d", 0);
    }
    let send = |d: &mut Driver, id: Option<Value>, n: i64| {
        let mut body = json!({ "room": "d", "event": "msg", "data": n });
        if let Some(id) = id {
            body["id"] = id;
        }
        d.ack("p", "publish", json!([body]))
    };
    let ok2 = json!({ "ok": true, "recipients": 2 });
    assert_eq!(send(&mut d, Some(json!("abc")), 1), ok2);
    assert_eq!(
        send(&mut d, Some(json!("abc")), 2),
        json!({ "ok": true, "recipients": 0, "duplicate": true })
    );
    assert_eq!(send(&mut d, Some(json!("abd")), 3), ok2);
    assert_eq!(send(&mut d, None, 4), ok2);
    assert_eq!(send(&mut d, None, 5), ok2);
    assert_eq!(
        send(&mut d, Some(json!("abd")), 6)["duplicate"],
        true,
        "still within the window"
    );
    settle(&server, &mut d, "/dedupe", &["p", "r1", "r2"], 1);
    for n in ["r1", "r2"] {
        assert_eq!(
            d.received(n, "msg"),
            [1, 3, 4, 5].map(|i| json!(i)).to_vec(),
            "{n}"
        );
    }
    assert_eq!(connections(&server)["counters"]["drops"]["duplicate"], 2);

    // Without a window the same id goes through every time.
    for n in ["q", "s"] {
        d.connect(n, "/");
    }
    join(&mut d, "s", "d", 0);
    for n in 1..=2 {
        let ack = d.ack(
            "q",
            "publish",
            json!([{ "room": "d", "event": "msg", "data": n, "id": "abc" }]),
        );
        assert_eq!(ack, json!({ "ok": true, "recipients": 1 }));
    }
    settle(&server, &mut d, "/", &["q", "s"], 1);
    assert_eq!(d.received("s", "msg"), vec![json!(1), json!(2)]);
}

// ---------------------------------------------------------------------------------------
// Users: one user on several connections, and the offline queue

const SECRET: &str = "hub-tests-secret-of-at-least-32-bytes";

fn token(sub: &str) -> String {
    support::tokens::user_token(SECRET, json!({ "sub": sub, "roles": ["member"] }))
}

fn connect_as(d: &mut Driver, name: &str, nsp: &str, user: &str) -> String {
    let reply = d.call(
        "connect",
        json!({ "name": name, "nsp": nsp, "auth": { "token": token(user) } }),
    );
    reply["id"].as_str().unwrap().to_owned()
}

fn to_users(nsp: &str, user: &str) -> Target {
    Target {
        users: vec![user.into()],
        ..Target::namespace(nsp)
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn a_user_on_two_connections_and_the_offline_queue(transport: Transport) {
    // User rooms are written by the server unless a rule names them: here members may.
    let users = NamespacePolicy {
        offline_queue: true,
        client_publish: RoomAccess::Rules(vec![
            RoomRule::Pattern("*".into()),
            RoomRule::WithRoles {
                pattern: "user:*".into(),
                roles: vec!["member".into()],
            },
        ]),
        ..policy("/users")
    };
    let server = start_hub_with(vec![policy("/"), users], |s| {
        s.auth.jwt_secret = SECRET.into();
    });
    let mut d = Driver::node_on(&server, transport);
    let a1 = connect_as(&mut d, "a1", "/users", "alice");
    let a2 = connect_as(&mut d, "a2", "/users", "alice");
    connect_as(&mut d, "b", "/users", "bob");
    d.connect("anon", "/users");

    // Both of alice's sockets are in user:alice, and /connections names her.
    let both = sorted(vec![a1.clone(), a2.clone()]);
    wait_until("alice's sockets are in user:alice", WAIT, || {
        room_members(&server, "/users", "user:alice") == both
    });
    let listing = connections(&server);
    let alice: BTreeSet<String> = listing["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["user"] == "alice")
        .flat_map(|c| c["sockets"].as_array().unwrap().clone())
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(alice, BTreeSet::from([a1.clone(), a2.clone()]), "{listing}");

    // To the user, from the server and from a client: each of her sockets once.
    let out = hub_broadcast(&server, to_users("/users", "alice"), "dm", json!(1));
    assert_eq!(out.recipients, 2);
    let ack = d.ack(
        "b",
        "publish",
        json!([{ "room": "user:alice", "event": "dm", "data": 2 }]),
    );
    assert_eq!(ack, json!({ "ok": true, "recipients": 2 }));
    // Nobody joins someone's user room by hand.
    let ack = d.ack("anon", "join", json!(["user:alice"]));
    assert_eq!(ack["error"]["code"], "PERMISSION_DENIED", "{ack}");
    settle(&server, &mut d, "/users", &["a1", "a2", "b", "anon"], 1);
    for n in ["a1", "a2"] {
        assert_eq!(d.received(n, "dm"), vec![json!(1), json!(2)], "{n}");
    }
    for n in ["b", "anon"] {
        assert!(d.received(n, "dm").is_empty(), "{n}");
    }

    // Alice goes offline: events for her are queued, in order, and handed to the first of
    // her sockets that connects, once.
    for n in ["a1", "a2"] {
        d.call("disconnect", json!({ "name": n }));
    }
    wait_until("alice is offline", WAIT, || {
        room_members(&server, "/users", "user:alice").is_empty()
    });
    for n in 3..=5 {
        let out = hub_broadcast(&server, to_users("/users", "alice"), "dm", json!(n));
        assert_eq!(out.recipients, 0);
    }
    let ack = d.ack(
        "b",
        "publish",
        json!([{ "room": "user:alice", "event": "dm", "data": 6 }]),
    );
    assert_eq!(ack, json!({ "ok": true, "recipients": 0 }));
    assert_eq!(buffered(&server, "/users", "user:alice"), 4);
    assert_eq!(
        metric(&server, "siohub_offline_queue_users", "/users"),
        Some(1.0)
    );
    assert_eq!(
        metric(&server, "siohub_offline_queue_events", "/users"),
        Some(4.0)
    );

    let a3 = connect_as(&mut d, "a3", "/users", "alice");
    d.wait_counts(&["a3".into()], "dm", 4);
    assert_eq!(buffered(&server, "/users", "user:alice"), 0);
    assert_eq!(
        metric(&server, "siohub_offline_queue_users", "/users"),
        None
    );
    let a4 = connect_as(&mut d, "a4", "/users", "alice");
    let both = sorted(vec![a3, a4]);
    wait_until("alice's new sockets are in user:alice", WAIT, || {
        room_members(&server, "/users", "user:alice") == both
    });
    settle(&server, &mut d, "/users", &["a3", "a4", "b", "anon"], 2);
    assert_eq!(
        d.received("a3", "dm"),
        (3..=6).map(|n| json!(n)).collect::<Vec<_>>()
    );
    assert!(d.received("a4", "dm").is_empty());

    // Without the offline queue ("/"), nothing waits for an offline user.
    let c1 = connect_as(&mut d, "c1", "/", "carol");
    wait_until("carol's socket is in user:carol", WAIT, || {
        room_members(&server, "/", "user:carol") == vec![c1.clone()]
    });
    d.call("disconnect", json!({ "name": "c1" }));
    wait_until("carol is offline", WAIT, || {
        room_members(&server, "/", "user:carol").is_empty()
    });
    assert_eq!(
        hub_broadcast(&server, to_users("/", "carol"), "dm", json!(7)).recipients,
        0
    );
    assert_eq!(buffered(&server, "/", "user:carol"), 0);
    connect_as(&mut d, "c2", "/", "carol");
    settle(&server, &mut d, "/", &["c2"], 1);
    assert!(d.received("c2", "dm").is_empty());
}

// ---------------------------------------------------------------------------------------
// What is kept for later is bounded and expires by itself

/// The value of a `/metrics` series for namespace `nsp`; `None` when the series is absent.
fn metric(server: &BackgroundServer, name: &str, nsp: &str) -> Option<f64> {
    let text = metrics_text(server);
    let prefix = format!("{name}{{namespace=\"{nsp}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.parse().expect("a number"))
}

/// A counter of `/connections`' drops.
fn drops(server: &BackgroundServer, reason: &str) -> u64 {
    connections(server)["counters"]["drops"][reason]
        .as_u64()
        .unwrap_or_else(|| panic!("no drop counter {reason}"))
}

fn always_buffers_in_many_rooms_expire_without_being_touched_again(transport: Transport) {
    let flood = NamespacePolicy {
        buffer: BufferName::Always,
        buffer_ttl_s: 3,
        ..policy("/flood")
    };
    let server = start_hub(vec![flood]);
    let mut d = Driver::node_on(&server, transport);
    d.connect("p", "/flood");
    // One client publishes once into each of many distinct rooms, then never again.
    const ROOMS: usize = 100;
    for n in 0..ROOMS {
        let ack = publish(&mut d, "p", &format!("r{n}"), "ev", json!(n));
        assert_eq!(ack, json!({ "ok": true, "recipients": 0 }));
    }
    assert_eq!(
        metric(&server, "siohub_buffered_rooms", "/flood"),
        Some(ROOMS as f64)
    );
    assert_eq!(
        metric(&server, "siohub_buffered_events", "/flood"),
        Some(ROOMS as f64)
    );
    assert!(metric(&server, "siohub_buffered_bytes", "/flood").unwrap() > 0.0);
    // Within the TTL a joiner gets the room's history.
    d.connect("a", "/flood");
    join(&mut d, "a", "r7", 1);
    settle(&server, &mut d, "/flood", &["p", "a"], 1);
    assert_eq!(d.received("a", "ev"), vec![json!(7)]);

    // After it, the sweep has removed every buffer though no room was touched again: the
    // series are gone and the events are out of memory (not merely filtered when read).
    wait_until("the buffers expired", WAIT, || {
        metric(&server, "siohub_buffered_rooms", "/flood").is_none()
    });
    assert_eq!(metric(&server, "siohub_buffered_events", "/flood"), None);
    assert_eq!(metric(&server, "siohub_buffered_bytes", "/flood"), None);
    for n in [0, 7, ROOMS - 1] {
        assert_eq!(buffered(&server, "/flood", &format!("r{n}")), 0);
    }
    // Expiry is not a drop; and the namespace buffers again as before.
    assert_eq!(drops(&server, "room_buffer_full"), 0);
    assert_eq!(drops(&server, "namespace_buffer_full"), 0);
    publish(&mut d, "p", "again", "ev", json!("again"));
    d.connect("b", "/flood");
    join(&mut d, "b", "again", 1);
    join(&mut d, "b", "r1", 0);
}

fn the_namespace_byte_bound_holds_under_a_flood_and_counts_its_drops(transport: Transport) {
    const BOUND: usize = 32 * 1024;
    let bounded = NamespacePolicy {
        buffer: BufferName::Always,
        max_buffer_bytes: BOUND,
        ..policy("/bounded")
    };
    let mailbox = NamespacePolicy {
        buffer: BufferName::IfNoClients,
        ..policy("/mailbox")
    };
    let server = start_hub(vec![bounded, mailbox]);
    let mut d = Driver::node_on(&server, transport);
    d.connect("p", "/bounded");
    d.connect("m", "/mailbox");
    publish(&mut d, "m", "box", "mail", json!("kept"));
    // 100 events of about 1 KiB into distinct rooms: three times the bound.
    let blob = "x".repeat(1000);
    const EVENTS: usize = 100;
    for n in 0..EVENTS {
        let ack = publish(&mut d, "p", &format!("f{n}"), "ev", json!([n, blob]));
        assert_eq!(ack, json!({ "ok": true, "recipients": 0 }));
        let bytes = metric(&server, "siohub_buffered_bytes", "/bounded").unwrap();
        assert!(bytes <= BOUND as f64, "{bytes} bytes buffered after {n}");
    }
    let kept = metric(&server, "siohub_buffered_events", "/bounded").unwrap() as u64;
    assert!(kept > 10 && kept < 32, "{kept} events kept");
    // Every event that did not stay was counted, none silently lost.
    assert_eq!(
        drops(&server, "namespace_buffer_full") + kept,
        EVENTS as u64
    );
    // The oldest went; the newest are replayed.
    d.connect("a", "/bounded");
    join(&mut d, "a", "f0", 0);
    join(&mut d, "a", &format!("f{}", EVENTS - 1), 1);
    settle(&server, &mut d, "/bounded", &["p", "a"], 1);
    assert_eq!(d.received("a", "ev"), vec![json!([EVENTS - 1, blob])]);
    // Another namespace's buffers have a bound of their own: untouched.
    d.connect("b", "/mailbox");
    join(&mut d, "b", "box", 1);
}

fn dedupe_ids_are_bounded_and_forgotten_by_the_sweep(transport: Transport) {
    let long = NamespacePolicy {
        dedupe_window_s: 600,
        dedupe_max_ids: 3,
        ..policy("/dedupe-long")
    };
    let short = NamespacePolicy {
        dedupe_window_s: 2,
        ..policy("/dedupe-short")
    };
    let server = start_hub(vec![long, short]);
    let mut d = Driver::node_on(&server, transport);
    d.connect("p", "/dedupe-long");
    d.connect("q", "/dedupe-short");
    let send = |d: &mut Driver, from: &str, id: &str| {
        let body = json!({ "room": "d", "event": "msg", "data": id, "id": id });
        d.ack(from, "publish", json!([body]))
    };
    let fresh = json!({ "ok": true, "recipients": 0 });
    // A flood of distinct ids: only the newest three are remembered.
    for id in ["a", "b", "c", "d", "e"] {
        assert_eq!(send(&mut d, "p", id), fresh, "{id}");
    }
    assert_eq!(send(&mut d, "p", "e")["duplicate"], true);
    assert_eq!(send(&mut d, "p", "c")["duplicate"], true);
    assert_eq!(send(&mut d, "p", "a"), fresh, "forgotten early");
    let scrape = |name: &str| {
        let text = metrics_text(&server);
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .map(str::to_owned);
        line.and_then(|l| l.rsplit(' ').next().map(str::to_owned))
    };
    assert_eq!(
        scrape("siohub_dedupe_ids_evicted_total").as_deref(),
        Some("3")
    );
    wait_until("the window sizes are published", WAIT, || {
        metric(&server, "siohub_dedupe_ids", "/dedupe-long") == Some(3.0)
    });

    // A short window is emptied by the sweep, though no id comes again.
    assert_eq!(send(&mut d, "q", "x"), fresh);
    wait_until("the short window's size is published", WAIT, || {
        metric(&server, "siohub_dedupe_ids", "/dedupe-short") == Some(1.0)
    });
    wait_until("the short window is empty", WAIT, || {
        metric(&server, "siohub_dedupe_ids", "/dedupe-short").is_none()
    });
    assert_eq!(send(&mut d, "q", "x"), fresh);
    assert_eq!(
        metric(&server, "siohub_dedupe_ids", "/dedupe-long"),
        Some(3.0)
    );
}

fn the_recovery_log_is_bounded_and_a_client_past_it_connects_afresh(transport: Transport) {
    let small = NamespacePolicy {
        recovery_max_bytes: 8 * 1024,
        ..recovery_policy("/small", 60)
    };
    let server = start_hub(vec![small]);
    let mut d = Driver::node_on(&server, transport);
    let id = d.connect("a", "/small");
    join(&mut d, "a", "r", 0);
    hub_broadcast(&server, to_room("/small", "r"), "ev", json!(0));
    d.wait_counts(&["a".into()], "ev", 1);
    d.call("hold", json!({ "name": "a" }));
    d.call("close_transport", json!({ "name": "a" }));
    wait_until("the server dropped the socket", WAIT, || {
        socket_count(&server, "/small") == 0
    });
    // While it is away, more than the log may keep is sent: the oldest events leave the
    // log, counted, and the log stays within its bound.
    let blob = "y".repeat(1000);
    for n in 1..=30 {
        hub_broadcast(&server, to_room("/small", "r"), "ev", json!([n, blob]));
    }
    // Every event that left the log is counted once: 31 went in, what it holds stayed. The
    // sizes are a snapshot the broadcaster publishes at its sweep (every second), the drops
    // a live counter: wait for a snapshot taken after the burst (one taken before it, one
    // event and no drop, once let a stale size through).
    let kept = || metric(&server, "siohub_recovery_log_events", "/small").map(|n| n as u64);
    wait_until(
        "the published log size accounts for every event",
        WAIT,
        || kept().is_some_and(|kept| kept + drops(&server, "recovery_log_full") == 31),
    );
    assert!(kept().is_some_and(|kept| kept < 10), "{:?}", kept());
    let bytes = metric(&server, "siohub_recovery_log_bytes", "/small").unwrap();
    assert!(bytes <= 8192.0, "{bytes}");
    // The event after its offset is gone, so recovery would lie: it connects afresh.
    d.call("resume", json!({ "name": "a" }));
    let state = d.wait_connects("a", 2);
    assert_eq!(state["recovered"], false, "{state}");
    assert_ne!(state["id"], id.as_str());
}

fn a_recovery_log_expires_by_itself_and_goes_with_the_last_socket_of_its_namespace(
    transport: Transport,
) {
    let server = start_hub(vec![recovery_policy("/brief", 1)]);
    let mut d = Driver::node_on(&server, transport);
    d.connect("a", "/brief");
    join(&mut d, "a", "r", 0);
    hub_broadcast(&server, to_room("/brief", "r"), "ev", json!(1));
    d.wait_counts(&["a".into()], "ev", 1);
    // No event comes again, yet the log empties once the window has passed; it stays
    // while a socket of the namespace may still recover from it.
    wait_until("the log's events expired", WAIT, || {
        metric(&server, "siohub_recovery_log_events", "/brief") == Some(0.0)
    });
    d.call("disconnect", json!({ "name": "a" }));
    wait_until(
        "the log is gone with the namespace's last socket",
        WAIT,
        || metric(&server, "siohub_recovery_log_events", "/brief").is_none(),
    );
    // A log made anew never hands out an offset a client may hold from the old one.
    let first = with_offsets(&mut d, "a", "ev")[0].1.clone();
    d.connect("b", "/brief");
    join(&mut d, "b", "r", 0);
    hub_broadcast(&server, to_room("/brief", "r"), "ev", json!(2));
    d.wait_counts(&["b".into()], "ev", 1);
    let second = with_offsets(&mut d, "b", "ev")[0].1.clone();
    let hex = |o: &str| u64::from_str_radix(o, 16).unwrap();
    assert!(hex(&second) > hex(&first), "{first} then {second}");
}

crate::on_each_transport! {
    recovery_is_refused_after_a_clean_disconnect_and_for_a_bad_offset,
    always_buffer_replays_the_newest_to_every_joiner_until_the_ttl,
    if_no_clients_buffer_is_a_mailbox_for_the_first_joiner,
    drop_buffer_replays_nothing,
    joining_a_room_again_replays_nothing_again,
    recovery_replays_exactly_the_missed_events_after_a_transport_close,
    recovery_by_itself_loses_nothing_of_a_stream,
    no_recovery_after_the_window_with_an_unknown_pid_or_when_off,
    a_client_recovers_only_once_it_received_an_event,
    binary_a_client_publishes_arrives_as_binary_live_replayed_and_recovered,
    dedupe_window_drops_a_repeated_publish_id,
    a_user_on_two_connections_and_the_offline_queue,
    always_buffers_in_many_rooms_expire_without_being_touched_again,
    the_namespace_byte_bound_holds_under_a_flood_and_counts_its_drops,
    dedupe_ids_are_bounded_and_forgotten_by_the_sweep,
    the_recovery_log_is_bounded_and_a_client_past_it_connects_afresh,
    a_recovery_log_expires_by_itself_and_goes_with_the_last_socket_of_its_namespace,
}
