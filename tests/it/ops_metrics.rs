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
