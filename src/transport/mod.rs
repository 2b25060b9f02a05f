//! The Engine.IO HTTP endpoint: one handler for every request on the configured path, which
//! checks the request as the reference server does and hands it to the polling or websocket
//! code.

mod binding;
mod first_request;
pub mod head;
mod http_compression;
pub mod options;
mod polling;
mod prefixed;
pub mod query;
mod upgrade;

use std::sync::Arc;

use actix::Addr;
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use siohub_actors::{EngineError, RefusalReason};

pub use first_request::{serve as serve_first_request, with_plain_upgrade, FirstRequest};
use query::{EngineQuery, TransportKind};
pub use upgrade::{serve as serve_upgrade, switching_protocols, websocket_accept};

use crate::ops::admission;
use crate::state::AppState;

/// Mounts the endpoint at `path` (with and without its trailing slash).
pub fn configure(cfg: &mut web::ServiceConfig, path: &str, state: AppState) {
    let trimmed = path.trim_end_matches('/').to_owned();
    cfg.app_data(web::Data::new(state))
        .route(path, web::route().to(handle))
        .route(&trimmed, web::route().to(handle));
}

async fn handle(req: HttpRequest, body: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    if req.method() == Method::OPTIONS && state.cors.enabled() {
        return state.cors.preflight(&req);
    }
    let mut response = route(&req, body, &state).await;
    state.cors.decorate(&req, &mut response);
    response
}

async fn route(req: &HttpRequest, body: web::Payload, state: &AppState) -> HttpResponse {
    let query = EngineQuery::parse(req.query_string());
    let upgrade = is_websocket_upgrade(req);
    let fail = |e| error_response(e, upgrade);

    let transport = match query.transport {
        Some(TransportKind::Polling) if state.config.allow_polling => TransportKind::Polling,
        Some(TransportKind::WebSocket) if state.config.allow_websocket => TransportKind::WebSocket,
        _ => return fail(EngineError::UnknownTransport),
    };
    let origin = match req.headers().get(header::ORIGIN).map(|o| o.to_str()) {
        Some(Err(_)) => return fail(EngineError::BadRequest),
        Some(Ok(origin)) => Some(origin),
        None => None,
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    if let Err(refused) = admit_origin(state, origin, host) {
        return fail(refused);
    }

    match query.sid {
        Some(sid) => {
            let Some((session, meta)) = state.hub.registry().entry(sid) else {
                log::debug!(
                    "request for unknown session {}",
                    siohub_actors::ClientText(sid)
                );
                return fail(EngineError::UnknownSid);
            };
            let from = binding::Requester::new(
                req.peer_addr(),
                req.headers().get(header::USER_AGENT).map(|v| v.as_bytes()),
            );
            if let Err(refused) = bind(state, &meta, &from, binding::Use::Polling) {
                return fail(refused);
            }
            match (transport, upgrade) {
                // Real upgrades never get here (see `upgrade`): this one lacks its headers.
                (TransportKind::WebSocket, _) => fail(EngineError::BadRequest),
                (TransportKind::Polling, _) => match *req.method() {
                    Method::GET => polling::poll(Addr::clone(&session), answer(req, state)).await,
                    Method::POST => {
                        // Only looked up when v3 clients may exist: v4 POSTs pay nothing.
                        let eio3 =
                            state.config.allow_eio3 && siohub_actors::is_eio3(meta.handshake());
                        polling::post(Addr::clone(&session), req, body, state, eio3).await
                    }
                    _ => HttpResponse::InternalServerError().finish(),
                },
            }
        }
        None => {
            if req.method() != Method::GET {
                return fail(EngineError::BadHandshakeMethod);
            }
            if transport == TransportKind::WebSocket {
                // Real upgrades never get here (see `upgrade`): this one lacks its headers.
                return fail(EngineError::BadRequest);
            }
            if !query.revision_served(state.config.allow_eio3) {
                return fail(EngineError::UnsupportedProtocolVersion);
            }
            let ip = req.peer_addr().map(|a| a.ip());
            let slot = match admission::admit_handshake(ip, state) {
                Ok(slot) => slot,
                Err(denial) => return admission::polling_refusal(denial),
            };
            let mut headers = Vec::new();
            let head = head::HeadView::of_actix(req.head(), &mut headers);
            let handshake = Arc::new(head.handshake_info(req.peer_addr()));
            polling::handshake(state, handshake, slot, answer(req, state)).await
        }
    }
}

/// How a polling GET is answered (compression, cookie), from the request and the options.
fn answer<'a>(req: &HttpRequest, state: &'a AppState) -> polling::Answer<'a> {
    polling::Answer::new(req, &state.transport)
}

/// Refuses (and counts) a request whose `Origin` is outside the allow-list (see
/// [`crate::cors::Cors::admits`]): 403 Forbidden (code 4) for polling, as the reference server answers
/// an `allowRequest` refusal; an upgrade gets its 400 `Forbidden`.
fn admit_origin(
    state: &AppState,
    origin: Option<&str>,
    host: Option<&str>,
) -> Result<(), EngineError> {
    if state.cors.admits(origin, host) {
        return Ok(());
    }
    state.hub.counters().refused(RefusalReason::ForeignOrigin);
    // Debug only, and escaped and cut short: the client chose it and may send it as often
    // as it likes (the counter is what operators watch).
    log::debug!(
        "engine request refused: origin {} is not in cors.origins",
        siohub_actors::ClientText(origin.unwrap_or_default())
    );
    Err(EngineError::Forbidden)
}

/// Refuses (and counts) a request that names a live session it is not bound to (see
/// [`binding`]), with the answer a sid that does not exist gets.
fn bind(
    state: &AppState,
    meta: &siohub_actors::SessionMeta,
    from: &binding::Requester<'_>,
    use_: binding::Use,
) -> Result<(), EngineError> {
    binding::check(meta, from, use_, state.config.bind_session_to_ip).map_err(|mismatch| {
        state.hub.counters().refused(RefusalReason::SessionMismatch);
        log::debug!(
            "request for session {} refused: {mismatch} (answered as an unknown sid)",
            meta.sid
        );
        EngineError::UnknownSid
    })
}

/// The reference server's error answer: JSON `{code,message}` (400, or 403 for Forbidden);
/// a failed websocket upgrade gets the message as plain text, as Node writes it on the raw
/// socket.
fn error_response(error: EngineError, upgrade: bool) -> HttpResponse {
    log::debug!("engine request refused: {error}");
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    if upgrade {
        return HttpResponse::build(StatusCode::BAD_REQUEST)
            .insert_header((header::CONTENT_TYPE, "text/html"))
            .insert_header((header::CONNECTION, "close"))
            .body(error.to_string());
    }
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(error.body())
}

fn is_websocket_upgrade(req: &HttpRequest) -> bool {
    req.method() == Method::GET
        && req
            .headers()
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}
