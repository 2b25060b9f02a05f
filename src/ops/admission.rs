//! Admission at the Engine.IO handshake: a new session is refused while the server
//! drains, over `max_connections`, or over the client address's connection limits, with
//! the status, message and `Retry-After` the client is told; an admitted one holds a
//! reserved place until its session is registered.

use std::net::IpAddr;

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use serde_json::json;
use siohub_actors::RefusalReason;

use crate::handshake_slots::{HandshakeSlot, OpenCounts};
use crate::limits::HandshakeRefusal;
use crate::state::AppState;

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

/// Admits a handshake from `ip` or says why not: refused while draining, over
/// `max_connections`, or over the address's connection limits (counted and logged when
/// refused). An admitted handshake holds a [`HandshakeSlot`], counted as open until it is
/// dropped: hold it until the session is registered (see [`crate::handshake_slots`]).
pub fn admit_handshake(
    ip: Option<IpAddr>,
    state: &AppState,
) -> Result<HandshakeSlot, HandshakeDenial> {
    if state.ops.is_draining() {
        return Err(deny(
            ip,
            state,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                RefusalReason::HandshakeDraining,
                "Server shutting down: connect to another node".to_owned(),
                5,
            ),
        ));
    }
    // A websocket whose session ended still holds its socket while it writes out what
    // was queued (at most the write timeout): it counts as open until it is closed.
    let registry = state.hub.registry();
    let open = || OpenCounts {
        total: registry.len() + state.hub.counters().lingering_connections(),
        from_ip: ip.map_or(0, |ip| registry.open_from(ip)),
    };
    let limiter = state.ops.limiter();
    state
        .ops
        .handshake_slots()
        .reserve(ip, open, |open| limiter.check(ip, open.total, open.from_ip))
        .map_err(|refusal| deny(ip, state, refusal_answer(refusal)))
}

/// Counts and logs a refusal; the answer the client gets.
fn deny(
    ip: Option<IpAddr>,
    state: &AppState,
    (status, reason, message, retry_after): (StatusCode, RefusalReason, String, u32),
) -> HandshakeDenial {
    state.hub.counters().refused(reason);
    log::debug!("handshake from {ip:?} refused: {message}");
    HandshakeDenial {
        status,
        message,
        retry_after,
    }
}

/// The answer to a refusal by `[limits]`: status, reason, message, `Retry-After`.
fn refusal_answer(refusal: HandshakeRefusal) -> (StatusCode, RefusalReason, String, u32) {
    match refusal {
        HandshakeRefusal::MaxConnections(max) => (
            StatusCode::SERVICE_UNAVAILABLE,
            RefusalReason::HandshakeMaxConnections,
            format!("Server full: {max} connections are open (limits.max_connections)"),
            5,
        ),
        HandshakeRefusal::IpConnections(max) => (
            StatusCode::TOO_MANY_REQUESTS,
            RefusalReason::HandshakeIpConnections,
            format!(
                "Too many connections from this address: {max} are open (limits.max_connections_per_ip)"
            ),
            5,
        ),
        HandshakeRefusal::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            RefusalReason::HandshakeRateLimited,
            "Too many connections from this address (limits.ip_connections_per_s)".to_owned(),
            1,
        ),
    }
}

/// The answer to a refused polling handshake (see [`admit_handshake`]), sent at once: a
/// JSON `{code,message}` (503 or 429, with `Retry-After`).
pub fn polling_refusal(denial: HandshakeDenial) -> HttpResponse {
    HttpResponse::build(denial.status)
        .insert_header((header::RETRY_AFTER, denial.retry_after.to_string()))
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CONNECTION, "close"))
        .body(denial.body())
}
