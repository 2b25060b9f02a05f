//! Redis killed under two siohub nodes (SIGKILL, as a crash) and started again on the same
//! port, empty: while it is down each node delivers locally, `/health` says degraded with
//! the reason and the broadcasts that could not be published are counted; once it is back
//! the nodes reconnect and resubscribe by themselves, count each other again, deliver across
//! nodes as before, and `/health` is healthy. Redis hung (SIGSTOP) under a node of a
//! recovery namespace: the recovery store's write queue fills and holds its bound.

use crate::support;

use std::time::Duration;

use serde_json::json;
use siohub::config::NamespacePolicy;
use siohub_actors::Target;
use support::cluster::{emit, health, node_settings, start_nodes, wait_counted};
use support::ops::metrics_text;
use support::{hub_broadcast, policy, start_hub_from, wait_until, Driver, RedisServer};

/// The value of the series `name{labels}` in `node`'s `/metrics` (0 when absent).
fn metric(node: &siohub::server::BackgroundServer, series: &str) -> f64 {
    metrics_text(node)
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn cluster_redis_killed_and_restarted_local_delivery_goes_on_then_all_is_back() {
    let mut redis = RedisServer::start();
    let nodes = start_nodes(&redis, 2);
    let mut d0 = Driver::node(&nodes[0]);
    let mut d1 = Driver::node(&nodes[1]);
    d0.connect("a", "/");
    d1.connect("b", "/");
    let (a, b) = (["a".to_owned()], ["b".to_owned()]);
    emit(&nodes[0], json!({ "event": "n", "data": 1 }));
    d0.wait_counts(&a, "n", 1);
    d1.wait_counts(&b, "n", 1);
    assert_eq!(health(&nodes[0])["status"], json!("healthy"));

    redis.kill();
    wait_until("both nodes see Redis gone", Duration::from_secs(10), || {
        nodes.iter().all(|n| {
            let h = health(n);
            let reasons = h["reasons"].to_string();
            h["status"] == json!("degraded")
                && reasons.contains("redis adapter is not connected")
                && h["adapter"]["connected"] == json!(false)
        })
    });
    let failed = r#"siohub_adapter_dropped_total{reason="publish_failed"}"#;
    let before = metric(&nodes[0], failed);
    emit(&nodes[0], json!({ "event": "n", "data": 2 }));
    d0.wait_counts(&a, "n", 2);
    wait_until(
        "the failed publish is counted",
        Duration::from_secs(10),
        || metric(&nodes[0], failed) > before,
    );
    assert_eq!(
        metric(&nodes[0], "siohub_adapter_connected{adapter=\"redis\"}"),
        0.0
    );

    redis.restart();
    wait_counted(&nodes, 2);
    wait_until("both nodes healthy again", Duration::from_secs(10), || {
        nodes
            .iter()
            .all(|n| health(n)["status"] == json!("healthy"))
    });
    assert!(metric(&nodes[0], "siohub_adapter_reconnects_total") >= 1.0);
    emit(&nodes[0], json!({ "event": "n", "data": 3 }));
    // Two publishers have no order between them: one at a time.
    d1.wait_counts(&b, "n", 2);
    emit(&nodes[1], json!({ "event": "n", "data": 4 }));
    d0.wait_counts(&a, "n", 4);
    d1.wait_counts(&b, "n", 3);
    assert_eq!(
        d0.received("a", "n"),
        vec![json!(1), json!(2), json!(3), json!(4)]
    );
    // What node 0 sent while Redis was down is lost for node 1, and was counted.
    assert_eq!(d1.received("b", "n"), vec![json!(1), json!(3), json!(4)]);
}

#[test]
fn cluster_garbage_on_the_channels_is_counted_and_harms_nothing() {
    let redis = RedisServer::start();
    let nodes = start_nodes(&redis, 2);
    let mut d1 = Driver::node(&nodes[1]);
    d1.connect("b", "/");
    for (channel, message) in [
        ("socket.io#/#", "not msgpack"),
        ("socket.io#/#", "\u{93}\u{01}\u{02}\u{03}"),
        ("socket.io-request#/#", "{\"type\": 99}"),
        ("socket.io-request#/#", "{broken json"),
        ("socket.io-response#/#", "\u{c1}"),
    ] {
        redis.cli(&["publish", channel, message]);
    }
    let malformed = r#"siohub_adapter_dropped_total{reason="malformed"}"#;
    wait_until(
        "the garbage is counted on node 1",
        Duration::from_secs(5),
        || metric(&nodes[1], malformed) >= 4.0,
    );
    emit(&nodes[0], json!({ "event": "after", "data": 1 }));
    d1.wait_counts(&["b".to_owned()], "after", 1);
    assert!(metric(&nodes[1], "siohub_adapter_errors_total") >= 4.0);
}

#[test]
fn cluster_a_redis_url_the_client_cannot_use_leaves_a_degraded_node_that_serves() {
    let redis = RedisServer::start();
    let mut settings = support::cluster::node_settings(&redis);
    // Valid for the start-up check (a scheme and a host), not for the Redis client.
    settings.adapter.redis_url = "redis://127.0.0.1:99999".into();
    let node = support::start_hub_from(settings);
    let h = health(&node);
    assert_eq!(h["status"], json!("degraded"), "{h}");
    assert!(h["reasons"].to_string().contains("bad redis_url"), "{h}");
    let mut d = Driver::node(&node);
    d.connect("a", "/");
    emit(&node, json!({ "event": "local", "data": 1 }));
    d.wait_counts(&["a".to_owned()], "local", 1);
    let closed = r#"siohub_adapter_dropped_total{reason="outbox_closed"}"#;
    assert_eq!(metric(&node, closed), 1.0);
}

#[test]
fn cluster_the_subscribing_connection_stays_up_across_its_ping_checks() {
    let redis = RedisServer::start();
    let nodes = start_nodes(&redis, 2);
    let mut d1 = Driver::node(&nodes[1]);
    d1.connect("b", "/");
    // Past the first PING check (every 3 s): the connection answers and is kept.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(metric(&nodes[1], "siohub_adapter_reconnects_total"), 0.0);
    assert!(nodes[1].cluster.as_ref().unwrap().is_connected());
    emit(&nodes[0], json!({ "event": "later", "data": 1 }));
    d1.wait_counts(&["b".to_owned()], "later", 1);
}

/// The recovery store's writes of `node`: (queued, dropped, failed).
fn recovery_writes(node: &siohub::server::BackgroundServer) -> (u64, u64, u64) {
    let text = metrics_text(node);
    let get = |outcome: &str| {
        let series = format!("siohub_recovery_store_writes_total{{outcome=\"{outcome}\"}}");
        let value = text
            .lines()
            .find_map(|l| l.strip_prefix(&series)?.trim().parse().ok());
        value.unwrap_or_else(|| panic!("no {series} in /metrics"))
    };
    (get("queued"), get("dropped"), get("failed"))
}

#[test]
fn cluster_a_full_recovery_queue_holds_its_bound_counts_its_drops_and_drains_after_redis_resumes() {
    const QUEUE: u64 = 16;
    const BURST: u64 = 200;
    const STREAM: &str = "socket.io-recovery#/rec";
    const WAITING: &str = "siohub_recovery_store_queue_writes";
    let wait = Duration::from_secs(10);
    let redis = RedisServer::start();
    let mut settings = node_settings(&redis);
    settings.namespaces.push(NamespacePolicy {
        recovery_s: 60,
        ..policy("/rec")
    });
    settings.adapter.recovery_queue = QUEUE as usize;
    // The writer waits on a hung Redis for the whole test rather than failing its batch.
    settings.adapter.recovery_read_timeout_ms = 60_000;
    let nodes = vec![start_hub_from(settings)];
    wait_counted(&nodes, 1);
    let node = &nodes[0];
    let mut d = Driver::node(node);
    d.connect("a", "/rec");
    let a = ["a".to_owned()];
    let stream_len = || redis.cli(&["XLEN", STREAM]).parse::<u64>().unwrap_or(0);
    hub_broadcast(node, Target::namespace("/rec"), "ev", json!(0));
    d.wait_counts(&a, "ev", 1);
    wait_until("the first event is in the stream", wait, || {
        stream_len() == 1 && metric(node, WAITING) == 0.0
    });
    let (queued, dropped, failed) = recovery_writes(node);

    redis.signal("STOP");
    for n in 1..=BURST {
        hub_broadcast(node, Target::namespace("/rec"), "ev", json!(n));
    }
    // Local delivery does not wait for the store.
    d.wait_counts(&a, "ev", BURST + 1);
    let all: Vec<_> = (0..=BURST).map(|n| json!(n)).collect();
    assert_eq!(d.received("a", "ev"), all);
    // The writer holds one batch (at most the queue's size) in its stalled round trip; the
    // queue is full, and every write past it was refused and counted once.
    assert_eq!(metric(node, WAITING), QUEUE as f64);
    let (queued_hung, dropped_hung, failed_hung) = recovery_writes(node);
    let (taken, refused) = (queued_hung - queued, dropped_hung - dropped);
    assert_eq!(taken + refused, BURST, "{taken} queued, {refused} dropped");
    assert!(taken > QUEUE && taken <= 2 * QUEUE, "{taken} queued");
    assert_eq!(failed_hung, failed, "nothing failed: Redis only hangs");

    redis.signal("CONT");
    // Every write the queue took reaches the stream, and the writes go on.
    wait_until("the queued writes reach the stream", wait, || {
        metric(node, WAITING) == 0.0 && stream_len() == 1 + taken
    });
    hub_broadcast(node, Target::namespace("/rec"), "ev", json!(BURST + 1));
    d.wait_counts(&a, "ev", BURST + 2);
    wait_until("a new event reaches the stream", wait, || {
        stream_len() == 2 + taken
    });
    let last = redis.cli(&["XREVRANGE", STREAM, "+", "-", "COUNT", "1"]);
    assert!(last.contains(&format!("\"ev\",{}", BURST + 1)), "{last}");
    assert_eq!(
        recovery_writes(node),
        (queued_hung + 1, dropped_hung, failed_hung)
    );
}
