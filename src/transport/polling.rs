//! HTTP long-polling: the handshake GET, the GET that waits for packets, the POST that
//! carries them in.

use std::sync::Arc;

use actix::Addr;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures::channel::oneshot;
use futures::StreamExt;
use siohub_actors::messages::{BeginPost, EndPost, Poll, PollAborted, PollOutcome, PostAborted};
use siohub_actors::{EngineError, HandshakeInfo, Session, SessionParams};
use siohub_protocol::EnginePacket;

use super::error_response;
use super::http_compression::{negotiate, Coding};
use super::options::TransportOptions;
use crate::handshake_slots::HandshakeSlot;
use crate::state::AppState;

/// A polling GET without a sid: a new session, answered with its open packet once the
/// ConnectionManager has registered it (the client's next request, on whatever worker,
/// finds its sid). `slot` holds its place among the open connections until then.
pub async fn handshake(
    state: &AppState,
    handshake: Arc<HandshakeInfo>,
    slot: HandshakeSlot,
    answer: Answer<'_>,
) -> HttpResponse {
    let params = SessionParams {
        config: state.config.clone(),
        hub: state.hub.clone(),
        app: state.app.clone(),
        handshake,
    };
    let started = Session::start_polling(params);
    let registered = started.registered.await;
    drop(slot);
    if registered.is_err() {
        return not_registered();
    }
    log::debug!("session {}: opened on polling", started.sid);
    let cookie = answer.options.set_cookie(&started.sid);
    let mut response = poll(started.session, answer).await;
    if let Some(cookie) = cookie.and_then(|c| header::HeaderValue::try_from(c).ok()) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// How a polling GET is answered: compressed with the coding the request accepts, when
/// `http_compression` is on and the body reaches the threshold.
pub struct Answer<'a> {
    options: &'a TransportOptions,
    coding: Option<Coding>,
}

impl<'a> Answer<'a> {
    /// The answer `req` accepts under `options`.
    pub fn new(req: &HttpRequest, options: &'a TransportOptions) -> Self {
        let coding = options.compression_threshold.and_then(|_| {
            let accepted = req.headers().get(header::ACCEPT_ENCODING)?.to_str().ok()?;
            negotiate(accepted)
        });
        Answer { options, coding }
    }

    /// The `200` carrying `body`.
    fn respond(&self, body: Bytes) -> HttpResponse {
        // Only a v3 binary payload starts with byte 0 or 1 (a text body starts with a digit).
        let content_type = match body.first() {
            Some(0 | 1) => "application/octet-stream",
            _ => "text/plain; charset=UTF-8",
        };
        let mut response = HttpResponse::Ok();
        response
            .insert_header((header::CONTENT_TYPE, content_type))
            .insert_header((header::CACHE_CONTROL, "no-store"));
        let threshold = self.options.compression_threshold.unwrap_or(usize::MAX);
        match self.coding {
            Some(coding) if body.len() >= threshold => {
                let compressed = coding.compress(&body);
                self.options.compressed.count(body.len(), compressed.len());
                response
                    .insert_header((header::CONTENT_ENCODING, coding.name()))
                    .body(compressed)
            }
            _ => response.body(body),
        }
    }
}

/// The answer to a handshake whose session could not be registered (a fault in the
/// ConnectionManager; the session is closed): 503, to try again, as admission refuses.
fn not_registered() -> HttpResponse {
    crate::ops::admission::polling_refusal(crate::ops::admission::HandshakeDenial {
        status: actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
        message: "Session not registered: try again".into(),
        retry_after: 1,
    })
}

/// A polling GET: answered at once with what is queued, or when something is.
pub async fn poll(session: Addr<Session>, reply: Answer<'_>) -> HttpResponse {
    let outcome = match session.send(Poll).await {
        Ok(outcome) => outcome,
        Err(_) => return error_response(EngineError::UnknownSid, false),
    };
    match outcome {
        Err(e) => error_response(e, false),
        Ok(PollOutcome::Ready(body)) => reply.respond(body),
        Ok(PollOutcome::Pending(answer)) => {
            let mut waiting = PendingPoll {
                session,
                answer,
                taken: false,
            };
            // A dropped sender means the session stopped: tell the client it is closed.
            let body = (&mut waiting.answer)
                .await
                .unwrap_or_else(|_| Bytes::from_static(b"1"));
            waiting.taken = true;
            reply.respond(body)
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
    eio3: bool,
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
    // Armed before the session hears of the POST: a handler dropped while it waits for
    // the answer leaves no POST marked as in progress.
    let reading = BodyInProgress(Some(session.clone()));
    let refused = match session.send(BeginPost).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some(EngineError::UnknownSid),
    };
    if let Some(e) = refused {
        reading.forget();
        return error_response(e, false);
    }
    let mut data = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            // The client went away mid-body: dropping `reading` tells the session.
            return error_response(EngineError::BadRequest, false);
        };
        if data.len() + chunk.len() > limit {
            // Refused, and the session carries on, as in the reference server.
            reading.discard();
            return too_large(limit);
        }
        data.extend_from_slice(&chunk);
    }
    let session = reading.finish();
    let packets = match eio3 {
        true => decode_v3_payload(req, &data),
        false => siohub_protocol::decode_payload(&data),
    };
    let count = packets.as_ref().map_or(0, Vec::len);
    state.hub.counters().received(count, data.len());
    // Answered once the session has taken the packets: a session that closed meanwhile
    // (or is gone) did not, and the client must hear so rather than `ok`.
    let bytes = data.len();
    match session.send(EndPost { packets, bytes }).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return error_response(e, false),
        Err(_) => return error_response(EngineError::UnknownSid, false),
    }
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body("ok")
}

/// A v3 client's POST body: the binary payload encoding when it says
/// `application/octet-stream` (XHR2 clients sending binary), else length-prefixed text.
fn decode_v3_payload(
    req: &HttpRequest,
    data: &[u8],
) -> Result<Vec<EnginePacket>, siohub_protocol::ProtocolError> {
    use siohub_protocol::eio3;
    let binary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/octet-stream");
    match binary {
        true => eio3::decode_binary_payload(data),
        false => eio3::decode_text_payload(data),
    }
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

/// A GET the session answers later. Dropped before this handler took the answer (the
/// client went away), it tells the session, which closes as the reference server does when
/// a poll is closed prematurely, and whether the session had answered already with packets
/// that are now lost (it closes then too: carrying on would hide the loss).
struct PendingPoll {
    session: Addr<Session>,
    answer: oneshot::Receiver<Bytes>,
    taken: bool,
}

impl Drop for PendingPoll {
    fn drop(&mut self) {
        if self.taken {
            return;
        }
        // Closed before the message goes, so that the session, whichever request of the
        // client it handles first, sees that this poll's sender has no receiver.
        self.answer.close();
        let lost_packets = match self.answer.try_recv() {
            Ok(Some(body)) => !is_noop(&body),
            Ok(None) | Err(_) => false,
        };
        self.session.do_send(PollAborted { lost_packets });
    }
}

/// Whether a polling body is the lone `6` that forces a polling cycle.
fn is_noop(body: &[u8]) -> bool {
    // `1:6` is the same for a v3 session.
    body == b"1:6"
        || EnginePacket::Noop
            .encode_text()
            .is_some_and(|noop| noop.as_bytes() == body)
}

/// A POST whose body is being read. Dropped before [`BodyInProgress::finish`] or
/// [`BodyInProgress::discard`] (the body broke, or the handler was dropped: the client went
/// away), it tells the session, which closes as the reference server does.
struct BodyInProgress(Option<Addr<Session>>);

impl BodyInProgress {
    /// The whole body came: the caller hands it over.
    fn finish(mut self) -> Addr<Session> {
        self.0.take().expect("finished once")
    }

    /// The session refused the POST: there is nothing to tell it.
    fn forget(mut self) {
        self.0 = None;
    }

    /// The body was refused (over `max_payload`): the session takes nothing and carries on.
    fn discard(mut self) {
        if let Some(session) = self.0.take() {
            session.do_send(EndPost {
                packets: Ok(Vec::new()),
                bytes: 0,
            });
        }
    }
}

impl Drop for BodyInProgress {
    fn drop(&mut self) {
        if let Some(session) = self.0.take() {
            session.do_send(PostAborted);
        }
    }
}
