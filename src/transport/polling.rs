//! HTTP long-polling: the handshake GET, the GET that waits for packets, the POST that
//! carries them in.

use std::sync::Arc;

use actix::Addr;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::BytesMut;
use futures::StreamExt;
use siohub_actors::messages::{BeginPost, EndPost, Poll, PollAborted, PollOutcome};
use siohub_actors::{EngineError, HandshakeInfo, Session, SessionParams};

use super::error_response;
use crate::state::AppState;

/// A polling GET without a sid: a new session, answered with its open packet.
pub async fn handshake(state: &AppState, handshake: Arc<HandshakeInfo>) -> HttpResponse {
    let params = SessionParams {
        config: state.config.clone(),
        hub: state.hub.clone(),
        app: state.app.clone(),
        handshake,
    };
    let (sid, session) = Session::start_polling(params);
    log::debug!("session {sid}: opened on polling");
    poll(session).await
}

/// A polling GET: answered at once with what is queued, or when something is.
pub async fn poll(session: Addr<Session>) -> HttpResponse {
    let outcome = match session.send(Poll).await {
        Ok(outcome) => outcome,
        Err(_) => return error_response(EngineError::UnknownSid, false),
    };
    match outcome {
        Err(e) => error_response(e, false),
        Ok(PollOutcome::Ready(body)) => payload_response(body),
        Ok(PollOutcome::Pending(answer)) => {
            let guard = AbortGuard(Some(session));
            // A dropped sender means the session stopped: tell the client it is closed.
            let body = answer.await.unwrap_or_else(|_| "1".to_owned());
            guard.disarm();
            payload_response(body)
        }
    }
}

/// A polling POST: the body (at most `max_payload` bytes, else 413) is decoded and handed to
/// the session; answered `ok`.
pub async fn post(
    session: Addr<Session>,
    req: &HttpRequest,
    mut body: web::Payload,
    state: &AppState,
) -> HttpResponse {
    let limit = state.config.max_payload;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return too_large(limit);
    }
    match session.send(BeginPost).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return error_response(e, false),
        Err(_) => return error_response(EngineError::UnknownSid, false),
    }
    let mut data = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            session.do_send(EndPost {
                packets: Ok(Vec::new()),
            });
            return error_response(EngineError::BadRequest, false);
        };
        if data.len() + chunk.len() > limit {
            session.do_send(EndPost {
                packets: Ok(Vec::new()),
            });
            return too_large(limit);
        }
        data.extend_from_slice(&chunk);
    }
    let packets = siohub_protocol::decode_payload(&data);
    let count = packets.as_ref().map_or(0, Vec::len);
    state.hub.counters().received(count, data.len());
    // Answered once the session has taken the packets: a session that closed meanwhile
    // (or is gone) did not, and the client must hear so rather than `ok`.
    match session.send(EndPost { packets }).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return error_response(e, false),
        Err(_) => return error_response(EngineError::UnknownSid, false),
    }
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body("ok")
}

fn payload_response(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=UTF-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

fn too_large(limit: usize) -> HttpResponse {
    siohub_actors::limited!(
        info,
        "polling POST over max_payload ({limit} bytes) refused with 413"
    );
    HttpResponse::PayloadTooLarge()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(
            serde_json::json!({
                "code": 3,
                "message": format!("Payload too large: the limit is {limit} bytes")
            })
            .to_string(),
        )
}

/// Tells the session when a pending GET is dropped before it was answered (the client went
/// away): the reference server closes the session then.
struct AbortGuard(Option<Addr<Session>>);

impl AbortGuard {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        if let Some(session) = self.0.take() {
            session.do_send(PollAborted);
        }
    }
}
