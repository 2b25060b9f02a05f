//! Operations: `GET /health`, `GET /ready`, `GET /metrics` (Prometheus text format), the
//! middleware that counts HTTP requests by route and status, the checks made at the
//! Engine.IO handshake (draining, `max_connections`, per-address rate), and the graceful
//! drain run on SIGTERM.

use std::fmt::{Display, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use dashmap::DashMap;
use serde_json::json;
use siohub_actors::{
    BufferSizes, DisconnectReason, DropReason, NamespaceRetention, RefusalReason, WebhookOutcome,
    FANOUT_BUCKETS,
};

use crate::api::ApiError;
use crate::config::Settings;
use crate::limits::{ConnectionLimiter, HandshakeRefusal};
use crate::transport::EngineState;

/// How long after a failure (a webhook call, an actor restart) `/health` says `degraded`.
pub const RECENT_MS: u64 = 30_000;

/// The operational state of one server, shared by every worker.
#[derive(Debug)]
pub struct OpsState {
    started: Instant,
    draining: AtomicBool,
    limiter: ConnectionLimiter,
    adapter_kind: String,
    adapter_connected: AtomicBool,
    webhook_configured: bool,
    http: HttpCounters,
}

impl OpsState {
    /// The state of a server starting now with `settings`.
    pub fn new(settings: &Settings) -> Self {
        let memory = settings.adapter.kind == "memory";
        if !memory {
            log::warn!(
                "adapter {:?} is configured but not built into this siohub yet: this node delivers locally only and /health reports the adapter as not connected",
                settings.adapter.kind
            );
        }
        OpsState {
            started: Instant::now(),
            draining: AtomicBool::new(false),
            limiter: ConnectionLimiter::new(&settings.limits),
            adapter_kind: settings.adapter.kind.clone(),
            adapter_connected: AtomicBool::new(memory),
            webhook_configured: !settings.webhook.url.is_empty(),
            http: HttpCounters::default(),
        }
    }

    /// Whether the server is draining for shutdown.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Starts draining: `/ready` answers 503 and handshakes are refused from now on.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Records whether the cluster adapter is connected (the memory adapter always is).
    pub fn set_adapter_connected(&self, connected: bool) {
        self.adapter_connected.store(connected, Ordering::Relaxed);
    }

    /// Seconds since start.
    pub fn uptime_s(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// The HTTP request counters.
    pub fn http(&self) -> &HttpCounters {
        &self.http
    }
}

/// HTTP requests by method, route pattern and status.
#[derive(Debug, Default)]
pub struct HttpCounters {
    counts: DashMap<(&'static str, String, u16), AtomicU64>,
}

impl HttpCounters {
    /// Counts one request; `route` is the matched pattern (so the label set stays bounded).
    pub fn count(&self, method: &Method, route: Option<String>, status: u16) {
        let method = match *method {
            Method::GET => "GET",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::DELETE => "DELETE",
            Method::PATCH => "PATCH",
            Method::OPTIONS => "OPTIONS",
            Method::HEAD => "HEAD",
            _ => "OTHER",
        };
        let key = (method, route.unwrap_or_else(|| "unmatched".into()), status);
        if let Some(counter) = self.counts.get(&key) {
            counter.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.counts
            .entry(key)
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Every (method, route, status) with its count, sorted.
    pub fn snapshot(&self) -> Vec<(&'static str, String, u16, u64)> {
        let mut all: Vec<_> = self
            .counts
            .iter()
            .map(|e| {
                let (method, route, status) = e.key();
                (
                    *method,
                    route.clone(),
                    *status,
                    e.value().load(Ordering::Relaxed),
                )
            })
            .collect();
        all.sort();
        all
    }
}

/// Mounts `/health`, `/ready` and `/metrics`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/ready", web::get().to(ready))
        .route("/metrics", web::get().to(metrics));
}

/// Why a handshake is refused: status, message and `Retry-After` seconds.
pub struct HandshakeDenial {
    /// 503 (draining, full) or 429 (rate).
    pub status: StatusCode,
    /// What to tell the client.
    pub message: String,
    /// Seconds the client should wait.
    pub retry_after: u32,
}

impl HandshakeDenial {
    /// The JSON body `{"code":4,"message":..}`.
    pub fn body(&self) -> String {
        json!({ "code": 4, "message": self.message }).to_string()
    }
}

/// Whether a handshake from `ip` must be refused: while draining, over `max_connections`,
/// or over the address's connection rate. Counted and logged when refused.
pub fn deny_handshake(
    ip: Option<std::net::IpAddr>,
    state: &EngineState,
) -> Option<HandshakeDenial> {
    let ops = &state.ops;
    let (status, reason, message, retry_after) = if ops.is_draining() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            RefusalReason::HandshakeDraining,
            "Server shutting down: connect to another node".to_owned(),
            5,
        )
    } else {
        // A websocket whose session ended still holds its socket while it writes out what
        // was queued (at most the write timeout): it counts as open until it is closed.
        let registry = state.hub.registry();
        let open = registry.len() + state.hub.counters().lingering_connections();
        let open_from_ip = ip.map_or(0, |ip| registry.open_from(ip));
        match ops.limiter.check(ip, open, open_from_ip) {
            Ok(()) => return None,
            Err(HandshakeRefusal::MaxConnections(max)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                RefusalReason::HandshakeMaxConnections,
                format!("Server full: {max} connections are open (limits.max_connections)"),
                5,
            ),
            Err(HandshakeRefusal::IpConnections(max)) => (
                StatusCode::TOO_MANY_REQUESTS,
                RefusalReason::HandshakeIpConnections,
                format!(
                    "Too many connections from this address: {max} are open (limits.max_connections_per_ip)"
                ),
                5,
            ),
            Err(HandshakeRefusal::RateLimited) => (
                StatusCode::TOO_MANY_REQUESTS,
                RefusalReason::HandshakeRateLimited,
                "Too many connections from this address (limits.ip_connections_per_s)".to_owned(),
                1,
            ),
        }
    };
    state.hub.counters().refused(reason);
    log::debug!("handshake from {ip:?} refused: {message}");
    Some(HandshakeDenial {
        status,
        message,
        retry_after,
    })
}

/// The refusal of a polling handshake, if it must be refused (see [`deny_handshake`]),
/// answered at once with a JSON `{code,message}` (503 or 429, with `Retry-After`).
pub fn check_handshake(req: &HttpRequest, state: &EngineState) -> Option<HttpResponse> {
    let denial = deny_handshake(req.peer_addr().map(|a| a.ip()), state)?;
    Some(
        HttpResponse::build(denial.status)
            .insert_header((header::RETRY_AFTER, denial.retry_after.to_string()))
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .insert_header((header::CONNECTION, "close"))
            .body(denial.body()),
    )
}

/// `GET /health`: `healthy`, or `degraded` (with the reasons) when a dependency is: the
/// adapter is not connected, the webhook failed recently, or an actor restarted recently.
/// Always 200 while the process serves; `/ready` is the one load balancers act on.
pub async fn health(state: web::Data<EngineState>) -> HttpResponse {
    let ops = &state.ops;
    let hub = &state.hub;
    let counters = hub.counters();
    let now = crate::hub::now_ms();
    let mut reasons = Vec::new();
    let adapter_connected = ops.adapter_connected.load(Ordering::Relaxed);
    if !adapter_connected {
        reasons.push(format!("the {} adapter is not connected", ops.adapter_kind));
    }
    let webhook_failing = ops.webhook_configured && counters.webhook_failing(RECENT_MS);
    if webhook_failing {
        reasons.push("the backend webhook failed recently".to_owned());
    }
    let actors = hub.actor_stats();
    for actor in &actors {
        if actor
            .last_restart_ms
            .is_some_and(|at| now.saturating_sub(at) < RECENT_MS)
        {
            reasons.push(format!("actor {} restarted recently", actor.name));
        }
    }
    let status = if reasons.is_empty() {
        "healthy"
    } else {
        "degraded"
    };
    HttpResponse::Ok().json(json!({
        "status": status,
        "reasons": reasons,
        "uptime": ops.uptime_s(),
        "connections": hub.registry().len(),
        "draining": ops.is_draining(),
        "adapter": { "kind": ops.adapter_kind, "connected": adapter_connected },
        "webhook": {
            "configured": ops.webhook_configured,
            "failing": webhook_failing,
            "in_flight": counters.webhook_in_flight(),
        },
        "actors": actors,
    }))
}

/// `GET /ready`: 200 while the server takes connections, 503 while it drains.
pub async fn ready(state: web::Data<EngineState>) -> Result<HttpResponse, ApiError> {
    if state.ops.is_draining() {
        return Err(ApiError {
            status: 503,
            code: "DRAINING",
            message: "the server is shutting down; connect to another node".into(),
        });
    }
    Ok(HttpResponse::Ok().json(json!({ "ready": true })))
}

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
pub fn render_metrics(state: &EngineState) -> String {
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

    let namespaces = hub.namespace_counts();
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
        &[("adapter", &ops.adapter_kind)],
        u8::from(ops.adapter_connected.load(Ordering::Relaxed)),
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
    for (method, route, status, n) in ops.http.snapshot() {
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
pub async fn metrics(state: web::Data<EngineState>) -> HttpResponse {
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
/// queues per namespace (published by the Broadcaster on every change, exact), the dedupe windows, recovery logs and
/// preserved sockets (as of the Broadcaster's last sweep, at most a second old). Only
/// namespaces that keep something have series; they go when it expires.
fn render_retention(out: &mut Exposition, hub: &siohub_actors::Hub) {
    let buffers = hub.buffer_sizes();
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

/// Drains the server: from now on `/ready` answers 503 and handshakes are refused; every
/// session is closed (its sockets are told, websockets get a close frame after what was
/// queued, polling clients a close packet with their next poll); resolves when every
/// session has ended and every websocket has written out its queue, or `budget` has
/// passed, whichever comes first. Returns the sessions and connections still open (cut by
/// the caller's stop, and counted).
pub async fn drain(state: &EngineState, budget: Duration) -> usize {
    let deadline = Instant::now() + budget;
    begin_drain(state, budget);
    while open_for_drain(state) > 0 && Instant::now() < deadline {
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    end_drain(state)
}

/// Sessions still open and websockets still writing out their queue.
pub fn open_for_drain(state: &EngineState) -> usize {
    state.hub.registry().len() + state.hub.counters().lingering_connections()
}

/// The first half of [`drain`]: marks the server draining and closes every session.
pub fn begin_drain(state: &EngineState, budget: Duration) {
    state.ops.set_draining();
    log::info!(
        "draining: refusing new connections, closing {} sessions (at most {} ms)",
        state.hub.registry().len(),
        budget.as_millis()
    );
    state
        .hub
        .close_all_sessions(DisconnectReason::ServerShuttingDown);
}

/// The end of [`drain`]: logs, counts and returns the sessions still open and the
/// websockets that could not write out their queue in time.
pub fn end_drain(state: &EngineState) -> usize {
    let sessions = state.hub.registry().len();
    let unflushed = state.hub.counters().lingering_connections();
    if unflushed > 0 {
        state.hub.counters().drain_unflushed(unflushed as u64);
        log::warn!(
            "drain: {unflushed} websocket connections had not written out their queue at the end of the grace period; cut (counted in siohub_drain_unflushed_connections_total)"
        );
    }
    if sessions > 0 {
        log::warn!("drain: {sessions} sessions still open at the end of the grace period");
    }
    if sessions + unflushed == 0 {
        log::info!("drain: every session closed and every queue written out");
    }
    sessions + unflushed
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

    #[test]
    fn http_counters_count_by_route_and_status() {
        let http = HttpCounters::default();
        http.count(&Method::GET, Some("/health".into()), 200);
        http.count(&Method::GET, Some("/health".into()), 200);
        http.count(&Method::from_bytes(b"BREW").unwrap(), None, 404);
        assert_eq!(
            http.snapshot(),
            vec![
                ("GET", "/health".to_owned(), 200, 2),
                ("OTHER", "unmatched".to_owned(), 404, 1)
            ]
        );
    }
}
