//! `GET /metrics`, read by a Prometheus text-format parser: every series of SPEC §3 is
//! there (connections by transport and namespace, rooms, events and bytes in and out,
//! fan-out sizes, drops by reason, slow-consumer disconnects, actor restarts, mailbox
//! depths, adapter traffic and errors, webhook calls, HTTP requests by route and status),
//! and the values follow what the clients did.

use crate::support;
use crate::support::wire;

use std::collections::HashMap;

use prometheus_parse::{Sample, Scrape, Value as PromValue};
use serde_json::json;
use wire::*;

fn scrape(server: &siohub::server::BackgroundServer) -> Scrape {
    let res = request(server.addr, "GET", "/metrics", &[], b"");
    assert_eq!(res.status, 200);
    assert!(
        res.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "{res:?}"
    );
    let text = res.text();
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    Scrape::parse(lines).expect("the exposition parses")
}

fn value(sample: &Sample) -> f64 {
    match &sample.value {
        PromValue::Counter(v) | PromValue::Gauge(v) | PromValue::Untyped(v) => *v,
        other => panic!("a plain value, got {other:?}"),
    }
}

/// The value of `metric` with exactly these labels (among others).
#[track_caller]
fn get(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect();
    assert_eq!(found.len(), 1, "{metric}{labels:?}: {found:?}");
    value(found[0])
}

#[test]
fn every_series_is_exported_and_follows_the_traffic() {
    let server = support::start_hub(vec![support::policy("/"), support::policy("/chat")]);
    let (mut a, _) = sio_connect(server.addr);
    let (mut b, _) = sio_connect(server.addr);
    open_polling(server.addr);
    assert_eq!(ack(&mut a, 1, "join", json!(["r"]))["ok"], true);
    assert_eq!(ack(&mut b, 1, "join", json!(["r"]))["ok"], true);
    let published = ack(
        &mut a,
        2,
        "publish",
        json!([{ "room": "r", "event": "e", "data": "x", "echo": true }]),
    );
    assert_eq!(published["recipients"], 2);
    request(server.addr, "GET", "/health", &[], b"");

    let metrics = scrape(&server);
    let families: HashMap<&str, ()> = metrics.docs.keys().map(|k| (k.as_str(), ())).collect();
    for family in [
        "siohub_uptime_seconds",
        "siohub_draining",
        "siohub_connections",
        "siohub_namespace_sockets",
        "siohub_rooms",
        "siohub_engine_packets_total",
        "siohub_bytes_total",
        "siohub_events_received_total",
        "siohub_events_delivered_total",
        "siohub_broadcast_recipients",
        "siohub_dropped_events_total",
        "siohub_slow_consumer_disconnects_total",
        "siohub_refused_total",
        "siohub_actor_restarts_total",
        "siohub_actor_mailbox_depth",
        "siohub_actor_messages_handled_total",
        "siohub_adapter_messages_total",
        "siohub_adapter_errors_total",
        "siohub_adapter_connected",
        "siohub_webhook_requests_total",
        "siohub_webhook_in_flight",
        "siohub_http_requests_total",
    ] {
        assert!(families.contains_key(family), "no HELP for {family}");
    }

    assert_eq!(
        get(
            &metrics,
            "siohub_connections",
            &[("transport", "websocket")]
        ),
        2.0
    );
    assert_eq!(
        get(&metrics, "siohub_connections", &[("transport", "polling")]),
        1.0
    );
    assert_eq!(
        get(&metrics, "siohub_namespace_sockets", &[("namespace", "/")]),
        2.0
    );
    assert_eq!(get(&metrics, "siohub_rooms", &[("namespace", "/")]), 1.0);
    assert!(get(&metrics, "siohub_events_received_total", &[]) >= 3.0);
    assert_eq!(get(&metrics, "siohub_events_delivered_total", &[]), 2.0);
    assert!(
        get(
            &metrics,
            "siohub_engine_packets_total",
            &[("direction", "in")]
        ) >= 5.0
    );
    assert!(get(&metrics, "siohub_bytes_total", &[("direction", "out")]) > 0.0);
    let histogram = metrics
        .samples
        .iter()
        .find(|s| s.metric == "siohub_broadcast_recipients")
        .expect("the fan-out histogram");
    match &histogram.value {
        PromValue::Histogram(buckets) => {
            let le1 = buckets.iter().find(|b| b.less_than == 1.0).unwrap();
            let le10 = buckets.iter().find(|b| b.less_than == 10.0).unwrap();
            assert_eq!((le1.count, le10.count), (0.0, 1.0), "{buckets:?}");
        }
        other => panic!("a histogram, got {other:?}"),
    }
    for reason in ["volatile_buffer_full", "slow_consumer", "duplicate"] {
        assert_eq!(
            get(
                &metrics,
                "siohub_dropped_events_total",
                &[("reason", reason)]
            ),
            0.0
        );
    }
    for actor in ["ConnectionManager", "RoomSupervisor", "Broadcaster"] {
        assert_eq!(
            get(&metrics, "siohub_actor_restarts_total", &[("actor", actor)]),
            0.0
        );
        get(&metrics, "siohub_actor_mailbox_depth", &[("actor", actor)]);
    }
    assert_eq!(
        get(
            &metrics,
            "siohub_adapter_messages_total",
            &[("direction", "out")]
        ),
        0.0
    );
    assert_eq!(get(&metrics, "siohub_adapter_errors_total", &[]), 0.0);
    assert_eq!(
        get(
            &metrics,
            "siohub_adapter_connected",
            &[("adapter", "memory")]
        ),
        1.0
    );
    assert_eq!(
        get(
            &metrics,
            "siohub_http_requests_total",
            &[("route", "/health"), ("status", "200"), ("method", "GET")]
        ),
        1.0
    );
    assert!(
        get(
            &metrics,
            "siohub_http_requests_total",
            &[
                ("route", "/socket.io/"),
                ("status", "200"),
                ("method", "GET")
            ]
        ) >= 1.0
    );

    // Refusals and webhook outcomes show up under their labels.
    let reply = ack(&mut a, 3, "request", json!([{ "action": "x" }]));
    assert_eq!(error_code(&reply), Some("BACKEND_UNAVAILABLE"));
    request(server.addr, "GET", "/no-such-page", &[], b"");
    let metrics = scrape(&server);
    assert_eq!(
        get(
            &metrics,
            "siohub_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        1.0
    );
    assert_eq!(
        get(
            &metrics,
            "siohub_refused_total",
            &[("reason", "event_rate_limited")]
        ),
        0.0
    );
    assert_eq!(
        get(
            &metrics,
            "siohub_webhook_requests_total",
            &[("outcome", "ok")]
        ),
        0.0
    );
}

#[test]
fn actor_restarts_are_counted() {
    let server = support::start_hub(vec![support::policy("/")]);
    server.hub.crash(siohub_actors::HubActor::RoomSupervisor);
    support::wait_until("the restart is counted", IO_TIMEOUT, || {
        let metrics = scrape(&server);
        get(
            &metrics,
            "siohub_actor_restarts_total",
            &[("actor", "RoomSupervisor")],
        ) == 1.0
    });
}

/// The value of `metric{label=value}` in a fresh scrape.
#[track_caller]
fn now(server: &siohub::server::BackgroundServer, metric: &str, labels: &[(&str, &str)]) -> f64 {
    get(&scrape(server), metric, labels)
}

#[test]
fn drop_refusal_and_webhook_counters_move_with_what_happened() {
    use siohub::config::{BufferName, NamespacePolicy, RateLimit};
    use support::backend::{dead_url, Backend};
    let backend = Backend::start();
    let dedupe = NamespacePolicy {
        dedupe_window_s: 60,
        ..support::policy("/dedupe")
    };
    let buffered = NamespacePolicy {
        buffer: BufferName::Always,
        buffer_size: 2,
        ..support::policy("/buffered")
    };
    let limited = NamespacePolicy {
        rate_limit: RateLimit { per_s: 1, burst: 1 },
        ..support::policy("/limited")
    };
    let namespaces = vec![support::policy("/"), dedupe, buffered, limited];
    let server = support::start_hub_with(namespaces, |s| s.webhook.url = backend.url("/ok"));
    let dropped = |reason| {
        now(
            &server,
            "siohub_dropped_events_total",
            &[("reason", reason)],
        )
    };
    let refused = |reason| now(&server, "siohub_refused_total", &[("reason", reason)]);
    let webhook = |server: &siohub::server::BackgroundServer, outcome| {
        now(
            server,
            "siohub_webhook_requests_total",
            &[("outcome", outcome)],
        )
    };
    assert_eq!(dropped("duplicate"), 0.0);
    assert_eq!(dropped("room_buffer_full"), 0.0);
    assert_eq!(refused("event_rate_limited"), 0.0);
    let mut d = support::Driver::node(&server);

    // A publish repeated within the dedupe window: one drop.
    d.connect("p", "/dedupe");
    let publish = json!([{ "room": "r", "event": "e", "data": 1, "id": "once" }]);
    assert_eq!(d.ack("p", "publish", publish.clone())["ok"], true);
    assert_eq!(d.ack("p", "publish", publish)["duplicate"], true);
    assert_eq!(dropped("duplicate"), 1.0);

    // Five events for a room nobody is in, which keeps two: three drops.
    for n in 1..=5 {
        let target = siohub_actors::Target {
            rooms: vec!["b".into()],
            ..siohub_actors::Target::namespace("/buffered")
        };
        support::hub_broadcast(&server, target, "e", json!(n));
    }
    assert_eq!(dropped("room_buffer_full"), 3.0);

    // Three events at once over a rate of one with a burst of one: two refusals.
    d.connect("l", "/limited");
    d.call(
        "emit_many",
        json!({ "names": ["l", "l", "l"], "event": "ping", "args": [] }),
    );
    support::wait_until("the refusals are counted", IO_TIMEOUT, || {
        refused("event_rate_limited") >= 2.0
    });
    assert_eq!(refused("event_rate_limited"), 2.0);

    // Webhook calls, each counted once under its outcome.
    let (mut ws, _) = sio_connect(server.addr);
    assert_eq!(
        ack(&mut ws, 1, "request", json!([{ "action": "a" }]))["ok"],
        true
    );
    assert_eq!(webhook(&server, "ok"), 1.0);
    let refusing = support::start_hub_with(vec![support::policy("/")], |s| {
        s.webhook.url = backend.url("/forbidden")
    });
    let (mut ws, _) = sio_connect(refusing.addr);
    let reply = ack(&mut ws, 1, "request", json!([{ "action": "a" }]));
    assert_eq!(error_code(&reply), Some("PERMISSION_DENIED"));
    assert_eq!(webhook(&refusing, "rejected"), 1.0);
    let dead = support::start_hub_with(vec![support::policy("/")], |s| s.webhook.url = dead_url());
    let (mut ws, _) = sio_connect(dead.addr);
    let reply = ack(&mut ws, 1, "request", json!([{ "action": "a" }]));
    assert_eq!(error_code(&reply), Some("BACKEND_UNAVAILABLE"));
    assert_eq!(webhook(&dead, "unavailable"), 1.0);
    for (server, quiet) in [
        (&server, ["rejected", "timeout", "unavailable"]),
        (&refusing, ["ok", "timeout", "unavailable"]),
        (&dead, ["ok", "rejected", "timeout"]),
    ] {
        for outcome in quiet {
            assert_eq!(webhook(server, outcome), 0.0, "{outcome}");
        }
    }
}
