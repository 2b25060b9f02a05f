//! Websocket requests: a new session on a websocket, or an upgrade of a polling session.

use std::sync::Arc;

use actix::Addr;
use actix_web::{web, HttpRequest, HttpResponse};
use siohub_actors::{HandshakeInfo, Session, SessionParams};

use super::EngineState;

/// A websocket without a sid: a new session whose transport it is.
pub fn handshake(
    state: &EngineState,
    handshake: Arc<HandshakeInfo>,
    req: &HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let params = SessionParams {
        config: state.config.clone(),
        hub: state.hub.clone(),
        app: state.app.clone(),
        handshake,
    };
    let (sid, response) = Session::start_websocket(params, req, body)?;
    log::debug!("session {sid}: opened on websocket");
    Ok(response)
}

/// A websocket with a sid: it asks to take over from polling. The session decides; if it
/// refuses, it closes this websocket at once, as the reference server does.
pub fn upgrade(
    session: Addr<Session>,
    req: &HttpRequest,
    body: web::Payload,
    state: &EngineState,
) -> Result<HttpResponse, actix_web::Error> {
    Session::start_upgrade(session, req, body, state.config.max_payload)
}
