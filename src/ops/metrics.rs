//! `GET /metrics`: the Prometheus text exposition of the hub's counters and gauges, read
//! at scrape time.

use std::fmt::{Display, Write as _};

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use siohub_actors::{
    BufferSizes, DropReason, NamespaceRetention, RefusalReason, WebhookOutcome, FANOUT_BUCKETS,
};

use crate::state::AppState;

/// Writes the Prometheus text exposition format.
struct Exposition(String);

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = write!(self.0, "{{{}}}", labels.join(","));
        }
        let _ = writeln!(self.0, " {value}");
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, value: impl Display) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

/// The text of `/metrics`.
pub fn render_metrics(state: &AppState) -> String {
    let hub = &state.hub;
    let ops = &state.ops;
    let counters = hub.counters();
    let mut out = Exposition(String::with_capacity(8192));

    out.single(
        "siohub_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        ops.uptime_s(),
    );
    out.single(
        "siohub_draining",
        "gauge",
        "1 while the server drains for shutdown.",
        u8::from(ops.is_draining()),
    );

    let mut by_transport = [("polling", 0u64), ("websocket", 0u64)];
    for (_, meta) in hub.registry().entries() {
        let transport = meta.transport();
        if let Some(slot) = by_transport.iter_mut().find(|(t, _)| *t == transport) {
            slot.1 += 1;
        }
    }
    out.family(
        "siohub_connections",
        "gauge",
        "Open Engine.IO connections by transport.",
    );
    for (transport, n) in by_transport {
        out.sample("siohub_connections", &[("transport", transport)], n);
    }

    let namespaces = hub
        .table()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .namespace_counts();
    out.family(
        "siohub_namespace_sockets",
        "gauge",
        "Connected Socket.IO sockets by namespace.",
    );
    for (nsp, sockets, _) in &namespaces {
        out.sample("siohub_namespace_sockets", &[("namespace", nsp)], sockets);
    }
    out.family("siohub_rooms", "gauge", "Rooms with members by namespace.");
    for (nsp, _, rooms) in &namespaces {
        out.sample("siohub_rooms", &[("namespace", nsp)], rooms);
    }
    // One series per namespace above; the table forgets a namespace nothing uses any more,
    // so dynamic names (`/tenant-{id}`) do not pile up series.
    out.single(
        "siohub_namespaces",
        "gauge",
        "Namespaces with sockets, rooms or subscribers.",
        namespaces.len(),
    );

    let traffic = counters.traffic();
    out.family(
        "siohub_engine_packets_total",
        "counter",
        "Engine.IO packets received (in) and sent (out).",
    );
    out.sample(
        "siohub_engine_packets_total",
        &[("direction", "in")],
        traffic.packets_in,
    );
    out.sample(
        "siohub_engine_packets_total",
        &[("direction", "out")],
        traffic.packets_out,
    );
    out.family(
        "siohub_bytes_total",
        "counter",
        "Bytes received (in) and sent (out) on every transport.",
    );
    out.sample(
        "siohub_bytes_total",
        &[("direction", "in")],
        traffic.bytes_in,
    );
    out.sample(
        "siohub_bytes_total",
        &[("direction", "out")],
        traffic.bytes_out,
    );
    out.single(
        "siohub_events_received_total",
        "counter",
        "Socket.IO events received from clients.",
        traffic.events_in,
    );
    let (broadcasts, deliveries) = counters.fanout();
    out.single(
        "siohub_events_delivered_total",
        "counter",
        "Broadcast events handed to recipient sockets.",
        deliveries,
    );

    out.family(
        "siohub_broadcast_recipients",
        "histogram",
        "Recipients per broadcast (fan-out size).",
    );
    let histogram = counters.fanout_histogram();
    for (le, cumulative) in FANOUT_BUCKETS.iter().zip(&histogram) {
        let le = le.to_string();
        out.sample(
            "siohub_broadcast_recipients_bucket",
            &[("le", &le)],
            cumulative,
        );
    }
    out.sample(
        "siohub_broadcast_recipients_bucket",
        &[("le", "+Inf")],
        histogram.last().copied().unwrap_or(broadcasts),
    );
    out.sample("siohub_broadcast_recipients_sum", &[], deliveries);
    out.sample(
        "siohub_broadcast_recipients_count",
        &[],
        histogram.last().copied().unwrap_or(broadcasts),
    );

    out.family(
        "siohub_dropped_events_total",
        "counter",
        "Events that did not reach a socket, by reason.",
    );
    for reason in DropReason::ALL {
        out.sample(
            "siohub_dropped_events_total",
            &[("reason", reason.as_str())],
            counters.drops(reason),
        );
    }
    render_retention(&mut out, hub);
    out.single(
        "siohub_slow_consumer_disconnects_total",
        "counter",
        "Connections closed because their outgoing buffer filled up.",
        counters.slow_consumer_disconnects(),
    );
    out.single(
        "siohub_ws_write_timeouts_total",
        "counter",
        "Websocket connections closed because a write made no progress within outgoing.write_timeout_ms.",
        counters.write_timeouts(),
    );
    out.single(
        "siohub_ws_lingering_connections",
        "gauge",
        "Websocket connections whose session ended, still writing out their queue (they count against max_connections).",
        counters.lingering_connections(),
    );
    out.single(
        "siohub_ws_read_pauses_total",
        "counter",
        "Times a websocket stopped being read because its session had incoming.max_messages/max_bytes unhandled.",
        counters.read_pauses(),
    );
    out.single(
        "siohub_ws_inflight_high_water",
        "gauge",
        "The most messages any websocket had read and its session not yet handled.",
        counters.inflight_high_water(),
    );
    out.single(
        "siohub_drain_unflushed_connections_total",
        "counter",
        "Websocket connections cut at the end of a drain before their queue was written out.",
        counters.drain_unflushed_connections(),
    );
    out.family(
        "siohub_refused_total",
        "counter",
        "Events and handshakes refused by a limit, by reason.",
    );
    for reason in RefusalReason::ALL {
        out.sample(
            "siohub_refused_total",
            &[("reason", reason.as_str())],
            counters.refusals(reason),
        );
    }
    out.family(
        "siohub_jwks_fetches_total",
        "counter",
        "Fetches of the JWKS ([auth] jwks_url), by outcome.",
    );
    for (outcome, ok) in [("ok", true), ("failed", false)] {
        out.sample(
            "siohub_jwks_fetches_total",
            &[("outcome", outcome)],
            counters.jwks_fetches(ok),
        );
    }

    let actors = hub.actor_stats();
    out.family(
        "siohub_actor_restarts_total",
        "counter",
        "Restarts of each supervised actor.",
    );
    for a in &actors {
        out.sample(
            "siohub_actor_restarts_total",
            &[("actor", a.name)],
            a.restarts,
        );
    }
    out.family(
        "siohub_actor_mailbox_depth",
        "gauge",
        "Messages waiting in each actor's mailbox.",
    );
    for a in &actors {
        out.sample(
            "siohub_actor_mailbox_depth",
            &[("actor", a.name)],
            a.mailbox_depth,
        );
    }
    out.family(
        "siohub_actor_messages_handled_total",
        "counter",
        "Messages each actor handled.",
    );
    for a in &actors {
        out.sample(
            "siohub_actor_messages_handled_total",
            &[("actor", a.name)],
            a.messages_handled,
        );
    }

    let (adapter_out, adapter_in, adapter_errors) = counters.adapter();
    out.family(
        "siohub_adapter_messages_total",
        "counter",
        "Cluster adapter messages published (out) and received (in).",
    );
    out.sample(
        "siohub_adapter_messages_total",
        &[("direction", "in")],
        adapter_in,
    );
    out.sample(
        "siohub_adapter_messages_total",
        &[("direction", "out")],
        adapter_out,
    );
    out.single(
        "siohub_adapter_errors_total",
        "counter",
        "Cluster adapter errors.",
        adapter_errors,
    );
    out.family(
        "siohub_adapter_connected",
        "gauge",
        "1 when the cluster adapter is connected.",
    );
    out.sample(
        "siohub_adapter_connected",
        &[("adapter", ops.adapter_kind())],
        u8::from(ops.is_adapter_connected()),
    );

    out.family(
        "siohub_webhook_requests_total",
        "counter",
        "Calls to the backend webhook, by outcome.",
    );
    for outcome in WebhookOutcome::ALL {
        out.sample(
            "siohub_webhook_requests_total",
            &[("outcome", outcome.as_str())],
            counters.webhook_calls(outcome),
        );
    }
    out.single(
        "siohub_webhook_in_flight",
        "gauge",
        "Webhook calls waiting for the backend.",
        counters.webhook_in_flight(),
    );

    out.family(
        "siohub_http_requests_total",
        "counter",
        "HTTP requests by method, route and status.",
    );
    for (method, route, status, n) in ops.http().snapshot() {
        let status = status.to_string();
        out.sample(
            "siohub_http_requests_total",
            &[("method", method), ("route", &route), ("status", &status)],
            n,
        );
    }
    out.0
}

/// `GET /metrics`.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        ))
        .body(render_metrics(&state))
}

/// A gauge family read off a sizes struct: name, help, and the sample's value.
type Gauge<T> = (&'static str, &'static str, fn(&T) -> usize);

/// The part of `/metrics` about what the hub keeps for later: room buffers and offline
/// queues per namespace (from the room table, exact), the dedupe windows, recovery logs and
/// preserved sockets (as of the Broadcaster's last sweep, at most a second old). Only
/// namespaces that keep something have series; they go when it expires.
fn render_retention(out: &mut Exposition, hub: &siohub_actors::Hub) {
    let buffers = hub
        .table()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .buffer_sizes();
    let families: [Gauge<BufferSizes>; 6] = [
        (
            "siohub_buffered_rooms",
            "Rooms with buffered events, by namespace.",
            |s| s.rooms,
        ),
        (
            "siohub_buffered_events",
            "Events kept in room buffers, by namespace.",
            |s| s.events,
        ),
        (
            "siohub_buffered_bytes",
            "Bytes charged for room buffers (against max_buffer_bytes), by namespace.",
            |s| s.bytes,
        ),
        (
            "siohub_offline_queue_users",
            "Users with queued events (offline queue), by namespace.",
            |s| s.rooms,
        ),
        (
            "siohub_offline_queue_events",
            "Events queued for offline users, by namespace.",
            |s| s.events,
        ),
        (
            "siohub_offline_queue_bytes",
            "Bytes charged for offline queues (against max_buffer_bytes), by namespace.",
            |s| s.bytes,
        ),
    ];
    for (i, (name, help, value)) in families.into_iter().enumerate() {
        out.family(name, "gauge", help);
        for (nsp, rooms, offline) in &buffers {
            let sizes = if i < 3 { rooms } else { offline };
            out.sample(name, &[("namespace", nsp)], value(sizes));
        }
    }

    let retention = hub.retention();
    let families: [Gauge<NamespaceRetention>; 3] = [
        (
            "siohub_dedupe_ids",
            "Event ids the dedupe window remembers, by namespace.",
            |n| n.dedupe_ids,
        ),
        (
            "siohub_recovery_log_events",
            "Events in the connection state recovery log, by namespace.",
            |n| n.recovery_events,
        ),
        (
            "siohub_recovery_log_bytes",
            "Bytes charged for the recovery log (against recovery_max_bytes), by namespace.",
            |n| n.recovery_bytes,
        ),
    ];
    for (name, help, value) in families {
        out.family(name, "gauge", help);
        for n in &retention.namespaces {
            out.sample(name, &[("namespace", &n.nsp)], value(n));
        }
    }
    out.single(
        "siohub_recovery_preserved_sockets",
        "gauge",
        "Disconnected sockets kept for connection state recovery.",
        retention.preserved_sockets,
    );
    out.single(
        "siohub_dedupe_ids_evicted_total",
        "counter",
        "Dedupe ids forgotten before their window ended (the window held dedupe_max_ids).",
        hub.counters().dedupe_evictions(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut out = Exposition(String::new());
        out.sample("m", &[("namespace", "/a\"b\\c\nd")], 1);
        assert_eq!(out.0, "m{namespace=\"/a\\\"b\\\\c\\nd\"} 1\n");
    }
}
