//! Fault injection with real clients: 200 socket.io-client websocket connections (one Node
//! process) in room "load", a few of them publishing every 100 ms, while the test crashes the
//! ConnectionManager, the RoomSupervisor, the Broadcaster and the Admin in turn (the `fault-injection`
//! feature makes each panic inside a handler). Each restart must show in `/connections`, no
//! client may see a disconnect, every publish must be answered, and after the crashes every
//! broadcast must reach all 200 clients. And a RoomSupervisor crash under 500 sockets in one
//! room: no broadcast resolved while it reconciles its membership misses one of them.

use crate::support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};
use siohub::server::BackgroundServer;
use siohub_actors::{HubActor, Target};
use support::ops::connections;
use support::{hub_broadcast, policy, room_members, start_hub, wait_until, Driver};

const CLIENTS: usize = 200;
const WAIT: Duration = Duration::from_secs(30);

fn restarts(listing: &Value, actor: HubActor) -> u64 {
    let name = format!("{actor:?}");
    listing["actors"]
        .as_array()
        .expect("actors stats")
        .iter()
        .find(|a| a["name"] == name.as_str())
        .unwrap_or_else(|| panic!("no stats for {name}: {listing}"))["restarts"]
        .as_u64()
        .unwrap()
}

fn load_target() -> Target {
    Target {
        rooms: vec!["load".into()],
        ..Target::namespace("/")
    }
}

/// Every client is in "load" (server side) and a broadcast there reaches all of them.
fn check_everyone_reached(
    server: &BackgroundServer,
    d: &mut Driver,
    names: &[String],
    probe: &str,
) {
    wait_until("every client is back in room load", WAIT, || {
        room_members(server, "/", "load").len() == CLIENTS
    });
    let out = hub_broadcast(server, load_target(), probe, json!(probe));
    assert_eq!(out.recipients, CLIENTS, "{probe} recipients");
    d.wait_counts(names, probe, 1);
}

#[test]
fn crashing_each_actor_keeps_200_publishing_clients_connected_and_reached() {
    let server = start_hub(vec![policy("/")]);
    let mut d = Driver::node(&server);
    let reply = d.call(
        "connect_many",
        json!({ "prefix": "c", "count": CLIENTS, "nsp": "/", "join": ["load"] }),
    );
    let ids: BTreeSet<String> = reply["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), CLIENTS);
    let names: Vec<String> = (0..CLIENTS).map(|i| format!("c{i}")).collect();
    assert_eq!(
        room_members(&server, "/", "load")
            .into_iter()
            .collect::<BTreeSet<_>>(),
        ids
    );
    assert_eq!(connections(&server)["total"], CLIENTS);

    let publishers: Vec<String> = names[..4].to_vec();
    d.call(
        "publish_loop",
        json!({ "names": publishers, "room": "load", "event": "chatter", "interval_ms": 100 }),
    );
    // The chatter flows before the first crash.
    d.wait_counts(&names, "chatter", 4);

    for (k, actor) in HubActor::ALL.into_iter().enumerate() {
        let before = restarts(&connections(&server), actor);
        server.hub.crash(actor);
        wait_until(&format!("{actor:?} restarted"), WAIT, || {
            restarts(&connections(&server), actor) == before + 1
        });
        // A moment for the actor to rebuild and serve again: the chatter goes on reaching
        // everyone, and a broadcast from the server reaches all 200.
        let chatter = d.counts(&names, "chatter");
        let least = chatter.values().min().copied().unwrap_or(0);
        d.wait_counts(&names, "chatter", least + 4);
        check_everyone_reached(&server, &mut d, &names, &format!("probe{k}"));
    }

    let loops = d.call("stop_loops", json!({}));
    assert_eq!(loops["errors"], json!([]), "{loops}");
    assert!(loops["sent"].as_u64().unwrap() > 0);
    assert_eq!(loops["acked"], loops["sent"], "{loops}");

    // The final round: from the server, and from a client.
    const FINAL: u64 = 5;
    for n in 0..FINAL {
        let out = hub_broadcast(&server, load_target(), "final", json!(n));
        assert_eq!(out.recipients, CLIENTS);
    }
    let ack = d.ack(
        "c7",
        "publish",
        json!([{ "room": "load", "event": "final", "data": FINAL, "echo": true }]),
    );
    assert_eq!(ack, json!({ "ok": true, "recipients": CLIENTS }));
    d.wait_counts(&names, "final", FINAL + 1);
    let counts = d.counts(&names, "final");
    assert!(
        counts.values().all(|c| *c == FINAL + 1),
        "every client gets every final event exactly once"
    );
    for name in ["c0", "c100", "c199"] {
        assert_eq!(
            d.received(name, "final"),
            (0..=FINAL).map(|n| json!(n)).collect::<Vec<_>>()
        );
    }

    // Nobody was disconnected; the server still has the same 200 sockets.
    assert_eq!(d.call("disconnects", json!({})), json!({}));
    let listing = connections(&server);
    assert_eq!(listing["total"], CLIENTS, "{}", listing["total"]);
    let listed: BTreeSet<String> = listing["connections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["sockets"].as_array().unwrap().clone())
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, ids);
    for actor in HubActor::ALL {
        assert!(restarts(&listing, actor) >= 1, "{actor:?}: {listing}");
    }
}

/// The RoomSupervisor restarts while broadcasts go to a room of 500 sockets: its membership
/// stays published while the sessions re-announce, so every broadcast resolved from the
/// crash to well after the restart reaches all 500, and each client gets each one once.
#[test]
fn a_room_supervisor_restart_loses_no_member_of_a_broadcast() {
    const WIDE: usize = 500;
    let server = start_hub(vec![policy("/")]);
    let mut d = Driver::node(&server);
    let reply = d.call(
        "connect_many",
        json!({ "prefix": "w", "count": WIDE, "nsp": "/", "join": ["load"] }),
    );
    assert_eq!(reply["ids"].as_array().map(Vec::len), Some(WIDE));
    let names: Vec<String> = (0..WIDE).map(|i| format!("w{i}")).collect();
    assert_eq!(room_members(&server, "/", "load").len(), WIDE);

    let supervisor_restarts = || {
        let stats = server.hub.actor_stats();
        stats[HubActor::RoomSupervisor as usize].restarts
    };
    let before = supervisor_restarts();
    server.hub.crash(HubActor::RoomSupervisor);
    // Broadcasts back to back from the crash on, until the restart shows and 300 more (the
    // sessions' 500 announcements are reconciled meanwhile), each checking the published
    // membership too.
    let mut sent = 0u64;
    let mut after_restart = 0;
    while after_restart < 300 {
        let members = room_members(&server, "/", "load").len();
        assert_eq!(members, WIDE, "members after {sent} broadcasts");
        let out = hub_broadcast(&server, load_target(), "probe", json!(sent));
        sent += 1;
        assert_eq!(out.recipients, WIDE, "broadcast {sent} resolved short");
        if after_restart > 0 || supervisor_restarts() == before + 1 {
            after_restart += 1;
        }
    }
    d.wait_counts(&names, "probe", sent);
    let counts = d.counts(&names, "probe");
    assert!(
        counts.values().all(|c| *c == sent),
        "each probe once: {counts:?}"
    );
    assert_eq!(d.call("disconnects", json!({})), json!({}));
}
