//! The connect path under churn, with raw websocket clients: sessions that close while
//! they are being registered (right after the handshake, or right after asking to join a
//! namespace) leave no registry entry, no admitted place, no socket and no gauge behind;
//! a socket is a recipient of a broadcast sent as soon as its CONNECT reply arrives, even
//! while other sockets connect and namespace broadcasts run, and it then gets every
//! namespace broadcast exactly once, in order, without a gap.

use crate::support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use serde_json::{json, Value};
use siohub::server::BackgroundServer;
use siohub_actors::Target;
use support::hub_state::{registered, socket_count};
use support::ops::{connections, metrics_text};
use support::wire::*;
use support::{hub_broadcast, test_settings, wait_until};

const WAIT: Duration = Duration::from_secs(20);

/// The sum of the samples of metric family `name` in the `/metrics` text.
fn gauge(server: &BackgroundServer, name: &str) -> f64 {
    metrics_text(server)
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Waits until nothing of any session is left: registry, lingering count, sockets of `/`,
/// `/connections` and the gauges.
fn assert_all_gone(server: &BackgroundServer, what: &str) {
    wait_until(&format!("{what}: every session gone"), WAIT, || {
        server.registry.is_empty()
            && server.hub.counters().lingering_connections() == 0
            && socket_count(server, "/") == 0
    });
    let listed = connections(server);
    assert_eq!(listed["connections"], json!([]), "{what}: {listed}");
    assert_eq!(gauge(server, "siohub_connections"), 0.0, "{what}");
    assert_eq!(gauge(server, "siohub_namespace_sockets"), 0.0, "{what}");
}

/// Exactly `max` sessions get in from this address, and one more gets 429: no admitted
/// place was left behind. Then they close.
fn assert_places_free(server: &BackgroundServer, max: usize, what: &str) {
    let mut open: Vec<Ws> = (0..max).map(|_| sio_connect(server.addr).0).collect();
    match Ws::try_connect(server.addr, WEBSOCKET) {
        Err(e) => assert!(e.contains("429"), "{what}: {e}"),
        Ok(_) => panic!("{what}: one more than {max} got in"),
    }
    for ws in open.iter_mut() {
        ws.send_text("1");
    }
    drop(open);
    assert_all_gone(server, what);
}

#[test]
fn sessions_closing_while_they_are_registered_leave_nothing_behind() {
    const MAX: usize = 6;
    const BURST: usize = 48;
    let mut settings = test_settings();
    settings.limits.max_connections_per_ip = MAX;
    let server = support::start_hub_from(settings);
    for round in 0..4 {
        let addr = server.addr;
        support::all_at_once(BURST, move |i| {
            let Ok(mut ws) = Ws::try_connect(addr, WEBSOCKET) else {
                return;
            };
            match i % 3 {
                // Gone right after the upgrade, its open packet unread.
                0 => {}
                // Gone right after asking to join `/`.
                1 => ws.try_send_text("40"),
                // Gone right after its CONNECT reply.
                _ => {
                    ws.try_send_text("40");
                    let _ = ws.recv_within(Duration::from_secs(5));
                    let _ = ws.recv_within(Duration::from_secs(5));
                }
            }
            drop(ws);
        });
        let what = format!("round {round}");
        assert_all_gone(&server, &what);
        assert_places_free(&server, MAX, &what);
    }
}

#[test]
fn a_socket_is_a_recipient_as_soon_as_its_connect_reply_arrives() {
    const SOCKETS: usize = 40;
    let server = Arc::new(support::start_hub_from(test_settings()));
    // Namespace broadcasts all along, numbered.
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (server, stop) = (server.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                hub_broadcast(&server, Target::namespace("/"), "tick", json!(n));
                n += 1;
            }
            n
        })
    };
    let start = Arc::new(Barrier::new(SOCKETS));
    let clients: Vec<_> = (0..SOCKETS)
        .map(|i| {
            let (server, start) = (server.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                // Nothing may come before the CONNECT reply.
                let (mut ws, engine_sid, id) = sio_connect_session(server.addr);
                let mut ticks = Vec::new();
                assert!(registered(&server, &engine_sid), "client {i}: registered");
                let to_me = Target {
                    socket_ids: vec![id.clone()],
                    ..Target::namespace("/")
                };
                let out = hub_broadcast(&server, to_me, "mine", json!(i));
                assert_eq!(out.recipients, 1, "client {i}: the socket is a recipient");
                let mut mine = 0;
                // Until the final sync: every tick once, in order, from the first on.
                loop {
                    let text = ws.text_skipping_pings();
                    let packet: Value =
                        serde_json::from_str(text.strip_prefix("42").expect("an event"))
                            .expect("JSON");
                    match packet[0].as_str() {
                        Some("tick") => ticks.push(packet[1].as_u64().unwrap()),
                        Some("mine") => {
                            assert_eq!(packet[1], json!(i));
                            mine += 1;
                        }
                        Some("sync") => break,
                        other => panic!("client {i}: {other:?}"),
                    }
                }
                assert_eq!(mine, 1, "client {i}: its own event once");
                (ws, ticks)
            })
        })
        .collect();
    // Wait for every socket, then stop the ticks and sync.
    wait_until("every socket connected", WAIT, || {
        socket_count(&server, "/") == SOCKETS
    });
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let last = ticker.join().unwrap();
    let out = hub_broadcast(&server, Target::namespace("/"), "sync", json!(0));
    assert_eq!(out.recipients, SOCKETS);
    for (i, c) in clients.into_iter().enumerate() {
        let (_ws, ticks) = c.join().unwrap_or_else(|_| panic!("client {i} failed"));
        if let (Some(first), Some(end)) = (ticks.first(), ticks.last()) {
            let expected: Vec<u64> = (*first..=*end).collect();
            assert_eq!(ticks, expected, "client {i}: no gap, no repeat, in order");
            assert_eq!(*end + 1, last, "client {i}: up to the last tick");
        }
    }
}
