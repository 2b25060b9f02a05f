//! Slow consumers: a client that stops reading never grows the server's memory past the
//! configured outgoing bound. With `disconnect` it is cut off; with `drop_volatile` its
//! volatile events are dropped; either way every loss is counted, and the other members
//! of the room get everything. A write that makes no progress for `write_timeout_ms` cuts
//! the connection even under the bound, and a connection whose session is gone counts
//! against `max_connections` until its socket is closed.

use crate::support;
use crate::support::wire;

use std::time::Duration;

use serde_json::{json, Value};
use siohub::config::Settings;
use siohub::server::BackgroundServer;
use siohub_actors::{Broadcast, DropReason, Payload, Target};
use support::hub_state::{backlog_bytes, close_session};
use support::ops::{connections, metrics_text};
use support::{start_hub_from, test_settings, wait_until};
use wire::*;

const MAX_PACKETS: usize = 64;
const MAX_BYTES: usize = 256 * 1024;
/// Big enough that the kernel's socket buffers fill after a few megabytes.
const EVENT_BYTES: usize = 16 * 1024;

fn settings(action: &str) -> Settings {
    let mut settings = test_settings();
    settings.outgoing.max_packets = MAX_PACKETS;
    settings.outgoing.max_bytes = MAX_BYTES;
    settings.outgoing.slow_consumer = action.into();
    settings
}

fn start(action: &str) -> BackgroundServer {
    start_hub_from(settings(action))
}

/// Settings whose outgoing bound is never reached by these tests: only the write timeout
/// (`write_timeout_ms`) can cut a client.
fn unbounded(write_timeout_ms: u64) -> Settings {
    let mut settings = test_settings();
    settings.outgoing.max_packets = 1_000_000;
    settings.outgoing.max_bytes = 256 * 1024 * 1024;
    settings.outgoing.write_timeout_ms = write_timeout_ms;
    settings
}

/// Shrinks the client's receive buffer, so the kernel holds little of what it does not
/// read and the server's write stalls sooner.
fn small_receive_buffer(ws: &Ws) {
    socket2::SockRef::from(ws.socket())
        .set_recv_buffer_size(4096)
        .expect("SO_RCVBUF");
}

/// A websocket client that joined room `r`; returns it with its Engine.IO sid.
fn joined_client(server: &BackgroundServer) -> (Ws, String) {
    let (mut ws, sid, _) = Ws::open(server.addr);
    ws.send_text("40");
    assert!(ws.text().starts_with("40{\"sid\":"));
    ws.send_text(r#"421["join","r"]"#);
    let ack = ws.text();
    assert!(ack.starts_with("431[{"), "join ack, got {ack}");
    (ws, sid)
}

fn broadcast(server: &BackgroundServer, i: usize, volatile: bool) -> usize {
    let msg = Broadcast {
        target: Target {
            rooms: vec!["r".into()],
            ..Target::namespace("/")
        },
        event: "tick".into(),
        payload: Payload::new(vec![json!(i), json!("x".repeat(EVENT_BYTES))]),
        volatile,
        dedupe_id: None,
    };
    futures::executor::block_on(server.hub.broadcast(msg))
        .expect("the broadcaster answers")
        .recipients
}

/// Reads every frame the reader gets until `count` ticks arrived; returns their indexes.
fn read_ticks(ws: &mut Ws, count: usize) -> Vec<u64> {
    let mut seen = Vec::new();
    while seen.len() < count {
        match ws.recv() {
            Frame::Text(t) if t.starts_with("42[\"tick\"") => {
                let args: Value = serde_json::from_str(&t[2..]).unwrap();
                seen.push(args[1].as_u64().unwrap());
            }
            Frame::Text(t) if t == "2" => ws.send_text("3"),
            Frame::Text(_) => {}
            other => panic!("the reading client lost its connection: {other:?}"),
        }
    }
    seen
}

#[test]
fn a_client_that_stops_reading_is_disconnected_and_counted() {
    // A write timeout far away: the cut below is the slow-consumer abort, at once.
    let mut settings = settings("disconnect");
    settings.outgoing.write_timeout_ms = 600_000;
    let server = start_hub_from(settings);
    let (mut stalled, stalled_sid) = joined_client(&server);
    let (mut reader, _) = joined_client(&server);
    let total = 1200; // ~19 MB: far more than the socket buffers and the outgoing bound
    let mut seen = Vec::new();
    for i in 0..total {
        broadcast(&server, i, false);
        // The healthy client keeps up as it goes.
        seen.extend(read_ticks(&mut reader, 1));
    }
    assert_eq!(
        seen,
        (0..total as u64).collect::<Vec<_>>(),
        "the reader got every event in order"
    );
    wait_until(
        "the stalled session is closed",
        Duration::from_secs(10),
        || server.registry.get(&stalled_sid).is_none(),
    );
    let counters = server.hub.counters();
    assert_eq!(counters.slow_consumer_disconnects(), 1);
    assert!(
        counters.drops(DropReason::SlowConsumer) > 0,
        "the lost events are counted"
    );
    let stats = connections(&server);
    assert_eq!(stats["counters"]["slow_consumer_disconnects"], 1);
    assert_eq!(stats["total"], 1, "only the healthy client remains");
    // The write in progress was dropped with the backlog: the socket is closed, not left
    // to the write timeout.
    stalled.assert_closed();
    wait_until(
        "the cut connection is no longer counted",
        Duration::from_secs(5),
        || counters.lingering_connections() == 0,
    );
    assert_eq!(counters.write_timeouts(), 0);
}

#[test]
fn a_write_without_progress_is_cut_by_the_write_timeout_under_the_bound() {
    let server = start_hub_from(unbounded(500));
    let (mut stalled, stalled_sid) = joined_client(&server);
    small_receive_buffer(&stalled);
    let (mut reader, _) = joined_client(&server);
    let total = 600; // ~10 MB: more than the kernel buffers, far less than the bound
    let mut seen = Vec::new();
    for i in 0..total {
        broadcast(&server, i, false);
        seen.extend(read_ticks(&mut reader, 1));
    }
    assert_eq!(seen, (0..total as u64).collect::<Vec<_>>());
    wait_until(
        "the stalled session is closed",
        Duration::from_secs(10),
        || server.registry.get(&stalled_sid).is_none(),
    );
    let counters = server.hub.counters();
    assert_eq!(counters.write_timeouts(), 1, "the timeout is counted");
    assert_eq!(
        counters.slow_consumer_disconnects(),
        0,
        "the bound was not hit"
    );
    stalled.assert_closed();
    wait_until(
        "the cut connection is released",
        Duration::from_secs(5),
        || counters.lingering_connections() == 0,
    );
    // The reader is untouched.
    broadcast(&server, total, false);
    assert_eq!(read_ticks(&mut reader, 1), vec![total as u64]);
    let metrics = metrics_text(&server);
    assert!(
        metrics.contains("siohub_ws_write_timeouts_total 1"),
        "{metrics}"
    );
}

#[test]
fn a_connection_whose_session_ended_counts_against_max_connections_until_cut() {
    let mut settings = unbounded(4_000);
    settings.limits.max_connections = 1;
    let server = start_hub_from(settings);
    let (mut stalled, sid) = joined_client(&server);
    small_receive_buffer(&stalled);
    // Flood it until its writer is stuck: a megabyte only builds up behind a blocked write
    // (an idle writer takes the whole backlog at once).
    let mut i = 0;
    while backlog_bytes(&server, &sid) < 1024 * 1024 {
        assert!(i < 2_000, "the writer never blocked");
        broadcast(&server, i, false);
        i += 1;
    }
    // The session ends (as a server-side disconnect or a ping timeout would end it) with
    // the socket still writing.
    close_session(&server, &sid);
    wait_until("the session is gone", Duration::from_secs(5), || {
        server.registry.get(&sid).is_none()
    });
    let counters = server.hub.counters();
    assert_eq!(
        counters.lingering_connections(),
        1,
        "its socket is still open"
    );
    let refused = get(server.addr, POLLING);
    assert_eq!(refused.status, 503, "still counted: {refused:?}");
    assert!(refused.text().contains("max_connections"), "{refused:?}");
    // The write timeout closes it; then it no longer counts.
    wait_until(
        "the write timeout cuts the connection",
        Duration::from_secs(15),
        || counters.lingering_connections() == 0,
    );
    assert_eq!(counters.write_timeouts(), 1);
    stalled.assert_closed();
    assert_eq!(
        get(server.addr, POLLING).status,
        200,
        "room for a new client"
    );
}

#[test]
fn volatile_events_to_a_stalled_client_are_dropped_within_the_bound() {
    let server = start("drop_volatile");
    let (_stalled, stalled_sid) = joined_client(&server);
    let (mut reader, _) = joined_client(&server);
    let total = 1200;
    for i in 0..total {
        broadcast(&server, i, true);
        read_ticks(&mut reader, 1);
    }
    // The stalled client is still connected: volatile events were dropped, not queued.
    assert!(server.registry.get(&stalled_sid).is_some());
    // The last broadcasts may reach the stalled session after the reader has read its
    // ticks: the count is compared once it has stopped moving.
    let dropped = || server.hub.counters().drops(DropReason::VolatileBufferFull);
    let mut drops = dropped();
    let settle_by = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = dropped();
        if now == drops || std::time::Instant::now() > settle_by {
            break;
        }
        drops = now;
    }
    assert!(drops > 0, "dropped volatile events are counted");
    assert_eq!(server.hub.counters().slow_consumer_disconnects(), 0);
    let stats = connections(&server);
    let stalled = stats["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["sid"] == stalled_sid.as_str())
        .expect("the stalled session is listed")
        .clone();
    let high_packets = stalled["outgoing_high_water_packets"].as_u64().unwrap();
    let high_bytes = stalled["outgoing_high_water_bytes"].as_u64().unwrap();
    assert!(
        high_packets > 0,
        "the stalled client's buffer did fill: {stalled}"
    );
    assert!(
        high_packets <= MAX_PACKETS as u64,
        "{high_packets} packets over the bound"
    );
    assert!(
        high_bytes <= MAX_BYTES as u64,
        "{high_bytes} bytes over the bound"
    );
    assert_eq!(
        stats["counters"]["drops"]["volatile_buffer_full"].as_u64(),
        Some(drops)
    );
}
