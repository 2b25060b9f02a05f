//! The Engine.IO HTTP endpoint: one handler for every request on the configured path, which
//! checks the request as the reference server does and hands it to the polling or websocket
//! code.

mod cors;
mod first_request;
mod head;
mod polling;
mod prefixed;
mod query;
mod upgrade;

use std::sync::Arc;

use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use siohub_actors::{Application, EngineConfig, EngineError, Hub};

pub use cors::Cors;
pub use first_request::{serve as serve_first_request, FirstRequest};
pub use prefixed::Prefixed;
use query::{EngineQuery, TransportKind};
pub use upgrade::serve as serve_upgrade;

/// What the endpoint needs, shared by every worker.
#[derive(Clone)]
pub struct EngineState {
    /// Engine settings.
    pub config: Arc<EngineConfig>,
    /// The hub: its actors and the live sessions.
    pub hub: Hub,
    /// What runs on top of Engine.IO.
    pub app: Application,
    /// Cross-origin policy.
    pub cors: Cors,
    /// Draining, connection limits and operational counters.
    pub ops: Arc<crate::ops::OpsState>,
}

/// Mounts the endpoint at `path` (with and without its trailing slash).
pub fn configure(cfg: &mut web::ServiceConfig, path: &str, state: EngineState) {
    let trimmed = path.trim_end_matches('/').to_owned();
    cfg.app_data(web::Data::new(state))
        .route(path, web::route().to(handle))
        .route(&trimmed, web::route().to(handle));
}

async fn handle(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<EngineState>,
) -> HttpResponse {
    if req.method() == Method::OPTIONS && state.cors.enabled() {
        return state.cors.preflight(&req);
    }
    let mut response = route(&req, body, &state).await;
    state.cors.decorate(&req, &mut response);
    response
}

async fn route(req: &HttpRequest, body: web::Payload, state: &EngineState) -> HttpResponse {
    let query = EngineQuery::parse(req.query_string());
    let upgrade = is_websocket_upgrade(req);
    let fail = |e| error_response(e, upgrade);

    let transport = match query.transport {
        Some(TransportKind::Polling) if state.config.allow_polling => TransportKind::Polling,
        Some(TransportKind::WebSocket) if state.config.allow_websocket => TransportKind::WebSocket,
        _ => return fail(EngineError::UnknownTransport),
    };
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        if origin.to_str().is_err() {
            return fail(EngineError::BadRequest);
        }
    }

    match query.sid {
        Some(sid) => {
            let Some(session) = state.hub.registry().get(sid) else {
                log::debug!(
                    "request for unknown session {}",
                    siohub_actors::ClientText(sid)
                );
                return fail(EngineError::UnknownSid);
            };
            match (transport, upgrade) {
                // Real upgrades never get here (see `upgrade`): this one lacks its headers.
                (TransportKind::WebSocket, _) => fail(EngineError::BadRequest),
                (TransportKind::Polling, _) => match *req.method() {
                    Method::GET => polling::poll(session).await,
                    Method::POST => polling::post(session, req, body, state).await,
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
            if query.eio != Some("4") {
                return fail(EngineError::UnsupportedProtocolVersion);
            }
            if let Some(refusal) = crate::ops::check_handshake(req, state) {
                return refusal;
            }
            let mut headers = Vec::new();
            let head = head::HeadView::of_actix(req.head(), &mut headers);
            let handshake = Arc::new(head.handshake_info(req.peer_addr()));
            polling::handshake(state, handshake).await
        }
    }
}

/// The reference server's error answer: JSON `{code,message}` (400, or 403 for Forbidden);
/// a failed websocket upgrade gets the message as plain text, as Node writes it on the raw
/// socket.
pub fn error_response(error: EngineError, upgrade: bool) -> HttpResponse {
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
