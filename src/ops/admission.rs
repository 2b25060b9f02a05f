//! Admission at the Engine.IO handshake: a new session is refused while the server
//! drains, over `max_connections`, or over the client address's connection limits, with
//! the status, message and `Retry-After` the client is told.

use std::net::IpAddr;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;
use siohub_actors::RefusalReason;

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

/// Whether a handshake from `ip` must be refused: while draining, over `max_connections`,
/// or over the address's connection limits. Counted and logged when refused.
pub fn deny_handshake(ip: Option<IpAddr>, state: &AppState) -> Option<HandshakeDenial> {
    let (status, reason, message, retry_after) = if state.ops.is_draining() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            RefusalReason::HandshakeDraining,
            "Server shutting down: connect to another node".to_owned(),
            5,
        )
    } else {
        over_limit(ip, state)?
    };
    state.hub.counters().refused(reason);
    log::debug!("handshake from {ip:?} refused: {message}");
    Some(HandshakeDenial {
        status,
        message,
        retry_after,
    })
}

/// The refusal by `[limits]`, if any: status, reason, message, `Retry-After`.
fn over_limit(
    ip: Option<IpAddr>,
    state: &AppState,
) -> Option<(StatusCode, RefusalReason, String, u32)> {
    // A websocket whose session ended still holds its socket while it writes out what
    // was queued (at most the write timeout): it counts as open until it is closed.
    let registry = state.hub.registry();
    let open = registry.len() + state.hub.counters().lingering_connections();
    let open_from_ip = ip.map_or(0, |ip| registry.open_from(ip));
    let refusal = state.ops.limiter().check(ip, open, open_from_ip).err()?;
    Some(match refusal {
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
    })
}

/// The refusal of a polling handshake, if it must be refused (see [`deny_handshake`]),
/// answered at once with a JSON `{code,message}` (503 or 429, with `Retry-After`).
pub fn check_handshake(req: &HttpRequest, state: &AppState) -> Option<HttpResponse> {
    let denial = deny_handshake(req.peer_addr().map(|a| a.ip()), state)?;
    Some(
        HttpResponse::build(denial.status)
            .insert_header((header::RETRY_AFTER, denial.retry_after.to_string()))
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .insert_header((header::CONNECTION, "close"))
            .body(denial.body()),
    )
}
