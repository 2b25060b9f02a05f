//! The per-publish path under broadcasts queued back to back with targets that take turns
//! (rooms, a union of rooms, `except`, single sockets, the whole namespace): every socket
//! gets each event meant for it exactly once and in publish order, and every broadcast
//! counts its recipients exactly; a broadcast asking for acks gets one report per
//! recipient, whether the client answers, stays silent (timeout) or goes away
//! (disconnected). Events asking for acks are interleaved with the others and keep their
//! place in the order.
//!
//! The broadcasts are handed to the Broadcaster all at once (its mailbox is deep, so it
//! gathers them into runs): the order a socket sees is then decided by how runs to
//! different targets are closed and handed out.

use crate::support;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use futures::channel::mpsc::TryRecvError;
use serde_json::{json, Value};
use siohub_actors::{AckError, Broadcast, BroadcastWithAck, Payload, Target};
use support::wire::*;
use support::{policy, start_hub};

/// A target in `/` from its parts.
fn target(rooms: &[&str], sockets: &[&str], except_rooms: &[&str], except: &[&str]) -> Target {
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    Target {
        rooms: owned(rooms),
        socket_ids: owned(sockets),
        except_rooms: owned(except_rooms),
        except_socket_ids: owned(except),
        ..Target::namespace("/")
    }
}

/// Whether a socket `id` in `rooms` is targeted (the reference the hub is checked against).
fn reaches(t: &Target, id: &str, rooms: &HashSet<String>) -> bool {
    t.includes(id, rooms)
}

fn event(target: Target, name: &str, data: Value) -> Broadcast {
    Broadcast {
        target,
        event: name.into(),
        payload: Payload::new(vec![data]),
        volatile: false,
        dedupe_id: None,
    }
}

/// The next event on `ws` (other packets skipped): the ack id it asks for, if any, and its
/// array.
fn next_event(ws: &mut Ws) -> (Option<u64>, Value) {
    loop {
        let text = ws.text_skipping_pings();
        let Some(body) = text.strip_prefix("42") else {
            continue;
        };
        // An event asking for an ack carries its id before the array.
        let (id, packet) = body.split_at(body.find('[').expect("an array"));
        let packet = serde_json::from_str(packet).expect("an event");
        return (id.parse().ok(), packet);
    }
}

/// Reads `ws` until the `sync` event numbered `round`; returns the data of every `ev`
/// before it.
fn events_until_sync(ws: &mut Ws, round: u64) -> Vec<u64> {
    let mut seen = Vec::new();
    loop {
        let (_, packet) = next_event(ws);
        match packet[0].as_str() {
            Some("ev") => seen.push(packet[1].as_u64().expect("a number")),
            Some("sync") if packet[1] == round => return seen,
            _ => {}
        }
    }
}

#[test]
fn broadcasts_to_targets_taking_turns_reach_each_socket_once_and_in_order() {
    let server = start_hub(vec![policy("/")]);
    let memberships: [&[&str]; 5] = [&["a", "b"], &["b", "c"], &["a", "c"], &[], &["a", "b", "c"]];
    let mut sockets = Vec::new();
    for rooms in memberships {
        let (mut ws, id) = sio_connect(server.addr);
        for (n, room) in rooms.iter().enumerate() {
            assert_eq!(
                ack(&mut ws, n as u64 + 1, "join", json!([room]))["ok"],
                true
            );
        }
        let rooms: HashSet<String> = rooms.iter().map(|r| r.to_string()).collect();
        sockets.push((ws, id, rooms));
    }
    let ids: Vec<String> = sockets.iter().map(|s| s.1.clone()).collect();
    let (s0, s3) = (ids[0].as_str(), ids[3].as_str());
    let targets = [
        target(&["a"], &[], &[], &[]),
        target(&["b"], &[], &[], &[]),
        target(&["a", "b"], &[], &[], &[]),
        target(&["a", "b"], &[], &[], &[]),
        target(&["a", "b"], &[], &[], &[]),
        target(&[], &[], &["c"], &[]),
        target(&["c"], &[], &[], &[]),
        target(&[], &[s3], &[], &[]),
        target(&["a", "b", "c"], &[], &[], &[s0]),
        target(&["b"], &[s0, s3], &[], &[]),
        target(&[], &[], &[], &[]),
        target(&["a"], &[], &["b"], &[]),
    ];
    for round in 1..=3u64 {
        let base = round * 10_000;
        let plan: Vec<(u64, Target)> = (0..360u64)
            .map(|i| {
                (
                    base + i,
                    targets[(i as usize * 7 + round as usize) % targets.len()].clone(),
                )
            })
            .collect();
        // All handed to the Broadcaster before any is awaited; every eleventh asks for acks
        // (left unanswered: the reports are dropped).
        let (reports, _unread) = futures::channel::mpsc::unbounded();
        let outcomes: Vec<_> = plan
            .iter()
            .map(|(n, t)| {
                let broadcast = event(t.clone(), "ev", json!(n));
                if n % 11 == 0 {
                    let asked = server.hub.broadcast_with_ack(BroadcastWithAck {
                        broadcast,
                        timeout: Duration::from_secs(30),
                        reports: reports.clone(),
                    });
                    futures::future::Either::Left(asked)
                } else {
                    futures::future::Either::Right(server.hub.broadcast(broadcast))
                }
            })
            .collect();
        let outcomes = futures::executor::block_on(futures::future::join_all(outcomes));
        for ((n, t), outcome) in plan.iter().zip(outcomes) {
            let expected = sockets.iter().filter(|s| reaches(t, &s.1, &s.2)).count();
            let outcome = outcome.expect("the broadcaster answers");
            assert_eq!(
                outcome.recipients, expected,
                "round {round}: event {n} to {t:?}"
            );
        }
        support::hub_broadcast(&server, Target::namespace("/"), "sync", json!(round));
        for (ws, id, rooms) in sockets.iter_mut() {
            let expected: Vec<u64> = plan
                .iter()
                .filter(|(_, t)| reaches(t, id, rooms))
                .map(|(n, _)| *n)
                .collect();
            let got = events_until_sync(ws, round);
            assert_eq!(
                got.len(),
                expected.len(),
                "round {round}: socket in {rooms:?}: how many"
            );
            assert_eq!(
                got, expected,
                "round {round}: socket in {rooms:?}: once each, in order"
            );
        }
    }
}

/// Answers every event asking for an ack on `ws` with its own number, until `sync`.
fn answer_acks_until_sync(ws: &mut Ws, answer: bool) -> Vec<u64> {
    let mut asked = Vec::new();
    loop {
        let (id, packet) = next_event(ws);
        match packet[0].as_str() {
            Some("asked") => {
                let n = packet[1].as_u64().expect("a number");
                asked.push(n);
                if answer {
                    let id = id.expect("an ack id");
                    ws.send_text(&format!("43{id}[{n}]"));
                }
            }
            Some("sync") => return asked,
            _ => {}
        }
    }
}

#[test]
fn acks_from_several_recipients_are_reported_once_each() {
    let server = start_hub(vec![policy("/")]);
    let mut sockets = Vec::new();
    for _ in 0..4 {
        let (mut ws, id) = sio_connect(server.addr);
        assert_eq!(ack(&mut ws, 1, "join", json!(["r"]))["ok"], true);
        sockets.push((ws, id));
    }
    let (reports, mut reported) = futures::channel::mpsc::unbounded();
    let asked: Vec<_> = (0..20u64)
        .map(|n| {
            server.hub.broadcast_with_ack(BroadcastWithAck {
                broadcast: event(target(&["r"], &[], &[], &[]), "asked", json!(n)),
                timeout: Duration::from_secs(5),
                reports: reports.clone(),
            })
        })
        .collect();
    drop(reports);
    for outcome in futures::executor::block_on(futures::future::join_all(asked)) {
        assert_eq!(outcome.expect("the broadcaster answers").recipients, 4);
    }
    support::hub_broadcast(&server, Target::namespace("/"), "sync", json!(1));
    // Sockets 0 and 1 answer, 2 stays silent, 3 goes away with its acks waiting.
    for (n, (ws, _)) in sockets.iter_mut().enumerate() {
        let asked = answer_acks_until_sync(ws, n < 2);
        assert_eq!(asked, (0..20).collect::<Vec<u64>>(), "socket {n}");
    }
    let (gone, _) = sockets.pop().unwrap();
    drop(gone);

    let mut by_socket: BTreeMap<String, Vec<Result<Value, AckError>>> = BTreeMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while by_socket.values().map(Vec::len).sum::<usize>() < 80 {
        match reported.try_recv() {
            Ok(report) => by_socket
                .entry(report.socket_id.to_string())
                .or_default()
                .push(report.result.map(|p| Value::Array(p.args))),
            Err(TryRecvError::Closed) => break,
            Err(_) if std::time::Instant::now() > deadline => break,
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    assert_eq!(by_socket.len(), 4, "{by_socket:?}");
    for (n, (_, id)) in sockets.iter().enumerate() {
        let mine = &by_socket[id];
        assert_eq!(mine.len(), 20, "socket {n}: {mine:?}");
        if n < 2 {
            let mut answered: Vec<u64> = mine
                .iter()
                .map(|r| r.as_ref().expect("answered")[0].as_u64().unwrap())
                .collect();
            answered.sort();
            assert_eq!(answered, (0..20).collect::<Vec<u64>>(), "socket {n}");
        } else {
            assert!(
                mine.iter().all(|r| matches!(r, Err(AckError::Timeout))),
                "socket {n}: {mine:?}"
            );
        }
    }
    let gone: Vec<_> = by_socket
        .iter()
        .filter(|(id, _)| !sockets.iter().any(|s| &&s.1 == id))
        .flat_map(|(_, r)| r)
        .collect();
    assert_eq!(gone.len(), 20);
    assert!(
        gone.iter()
            .all(|r| matches!(r, Err(AckError::Disconnected))),
        "{gone:?}"
    );
}
