//! Websocket requests, taken over from the HTTP dispatcher at the upgrade: the request is
//! checked as the reference server checks it, the `101` is written on the raw socket, and
//! the connection runs on that socket with no HTTP buffers behind it (a few hundred bytes
//! per idle connection instead of the dispatcher's 16 KiB).

use std::net::SocketAddr;
use std::sync::Arc;

use actix_codec::Framed;
use actix_http::{h1, Request};
use bytes::BytesMut;
use siohub_actors::ws::deflate;
use siohub_actors::{EngineError, Session, SessionParams};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::binding::{Requester, Use};
use super::head::{header_text, HeadView};
use super::prefixed::Prefixed;
use super::query::{EngineQuery, TransportKind};
use crate::handshake_slots::HandshakeSlot;
use crate::state::AppState;

/// Handles one upgrade request the HTTP dispatcher parsed (a websocket upgrade that was
/// not the connection's first request, or whose head did not come in one read; see
/// `first_request` for the others); returns when the upgrade is answered.
pub async fn serve(
    req: Request,
    framed: Framed<Prefixed, h1::Codec>,
    state: AppState,
    path: String,
) -> Result<(), actix_http::Error> {
    let parts = framed.into_parts();
    let (io, unread) = parts.io.into_parts();
    // Bytes the client sent after the request (its first frames), kept in a small buffer
    // so the dispatcher's 8 KiB read buffer can go.
    let mut leftover = BytesMut::from(&parts.read_buf[..]);
    leftover.extend_from_slice(&unread);
    drop(parts.read_buf);
    drop(parts.write_buf);

    // Take what the session needs and let the request go: its headers point into the
    // dispatcher's read buffer, which would otherwise live as long as the connection.
    let outcome = {
        let mut headers = Vec::new();
        let head = HeadView::of_actix(req.head(), &mut headers);
        handshake(&head, req.peer_addr(), &state, &path)
    };
    drop(req);
    finish(io, leftover, outcome).await;
    Ok(())
}

/// What an upgrade request comes to.
pub enum Upgrade {
    /// Not the Engine.IO path: 404.
    NotFound,
    /// Refused by the checks the reference server makes: 400 with the error's message.
    Refused(EngineError),
    /// Websocket is not among `[engine] transports`: the reference server then has no
    /// upgrade handler and answers the request as a plain HTTP one, 400 with the JSON error.
    NoWebsocket,
    /// Refused by a limit or the drain: the status and JSON body.
    Denied(crate::ops::admission::HandshakeDenial),
    /// Accepted: the session and the outbox that starts with the `101`.
    Accepted {
        /// The session the connection serves.
        session: siohub_actors::SessionAddr,
        /// Its outgoing frames.
        outbox: siohub_actors::ws::Outbox,
        /// The transport's id, tagging what the connection reads.
        id: u64,
        /// The connection's bounds.
        limits: siohub_actors::ws_connection::WsLimits,
        /// Where the connection counts its write timeouts and read pauses.
        counters: Arc<siohub_actors::HubCounters>,
    },
}

/// What an accepted upgrade request opens.
enum Opening {
    /// The probe of the polling session it names.
    Upgrade(siohub_actors::SessionAddr),
    /// A new session, with its admitted place.
    NewSession(HandshakeSlot),
}

/// Checks an upgrade request and, when it is accepted, opens its session (or upgrades the
/// polling session it names) with the `101` first in the outbox.
pub fn handshake(
    head: &HeadView<'_>,
    peer: Option<SocketAddr>,
    state: &AppState,
    path: &str,
) -> Upgrade {
    let on_path = head.path() == path || head.path() == path.trim_end_matches('/');
    if !on_path {
        return Upgrade::NotFound;
    }
    if !state.config.allow_websocket {
        return Upgrade::NoWebsocket;
    }
    let query = EngineQuery::parse(head.query());
    let accept = match check(head, &query, peer, state) {
        Ok(accept) => accept,
        Err(error) => return Upgrade::Refused(error),
    };
    let opening = match query.sid {
        // Checked above; gone since (or stopped and not unregistered yet), it is as
        // unknown as a polling request finds it.
        Some(sid) => match state.hub.registry().entry(sid) {
            Some((session, _)) if session.connected() => Opening::Upgrade(session),
            _ => return Upgrade::Refused(EngineError::UnknownSid),
        },
        None => match crate::ops::admission::admit_handshake(peer.map(|a| a.ip()), state) {
            Ok(slot) => Opening::NewSession(slot),
            Err(denial) => return Upgrade::Denied(denial),
        },
    };
    let deflate = state.transport.deflate_threshold.filter(|_| {
        deflate::accepts_offer(
            head.headers_named("sec-websocket-extensions")
                .filter_map(header_text),
        )
    });
    let response = switching_protocols(&accept, deflate.is_some());
    // The `101` goes first in the outbox, so it leaves in one write with the open packet.
    // Counted: once its session is done, a connection still writing counts as open.
    let counters = state.hub.counters().clone();
    let outbox = match deflate {
        Some(threshold) => siohub_actors::ws::Outbox::counted_deflating(counters, threshold),
        None => siohub_actors::ws::Outbox::counted(counters),
    };
    outbox.push([bytes::Bytes::from(response)], false);
    let id = siohub_actors::next_transport_id();
    let session = match opening {
        Opening::Upgrade(session) => {
            Session::begin_upgrade(&session, outbox.clone(), id);
            session
        }
        Opening::NewSession(slot) => {
            let params = SessionParams {
                config: state.config.clone(),
                hub: state.hub.clone(),
                app: state.app.clone(),
                handshake: Arc::new(head.handshake_info(peer)),
            };
            // Only a polling request ever names a sid, so a websocket-first session
            // starts at once: a wait for its registration would cost every such
            // connection a round trip. Its place reserved at admission is held until the
            // ConnectionManager has registered it, which gives it back.
            let opened = Session::start_websocket(params, outbox.clone(), id, Box::new(slot));
            log::debug!("session {}: opened on websocket", opened.sid);
            opened.session
        }
    };
    Upgrade::Accepted {
        session,
        outbox,
        id,
        limits: siohub_actors::ws_connection::WsLimits {
            max_message: state.config.max_payload,
            write_timeout: state.config.write_timeout,
            inflight: state.config.inflight,
            deflate: deflate.is_some(),
        },
        counters: state.hub.counters().clone(),
    }
}

/// Answers an upgrade on its raw socket: writes the refusal, or runs the accepted
/// connection as a small task of its own (so the task that read the request, sized for
/// any request, ends here).
pub async fn finish(mut io: TcpStream, leftover: BytesMut, outcome: Upgrade) {
    match outcome {
        Upgrade::NotFound => write_refusal(&mut io, "404 Not Found", "Not Found").await,
        Upgrade::NoWebsocket => {
            let body = EngineError::UnknownTransport.body();
            write_response(&mut io, "400 Bad Request", "application/json", &body).await;
        }
        Upgrade::Refused(error) => {
            log::debug!("websocket upgrade refused: {error}");
            write_refusal(&mut io, "400 Bad Request", &error.to_string()).await;
        }
        Upgrade::Denied(denial) => {
            let status = format!(
                "{} {}\r\nretry-after: {}",
                denial.status.as_u16(),
                denial.status.canonical_reason().unwrap_or(""),
                denial.retry_after
            );
            write_response(&mut io, &status, "application/json", &denial.body()).await;
        }
        Upgrade::Accepted {
            session,
            outbox,
            id,
            limits,
            counters,
        } => {
            actix_web::rt::spawn(siohub_actors::ws_connection::run(
                io,
                leftover,
                outbox.stream(),
                id,
                session,
                limits,
                counters,
            ));
        }
    }
}

/// The `101` answer of an accepted upgrade, with its `Sec-WebSocket-Accept` value and,
/// when negotiated, the permessage-deflate answer.
pub fn switching_protocols(accept: &[u8; ACCEPT_LEN], deflate: bool) -> Vec<u8> {
    let mut response = Vec::with_capacity(RESPONSE_HEAD.len() + ACCEPT_LEN + 100);
    response.extend_from_slice(RESPONSE_HEAD.as_bytes());
    response.extend_from_slice(accept);
    if deflate {
        response.extend_from_slice(b"\r\nsec-websocket-extensions: ");
        response.extend_from_slice(deflate::RESPONSE.as_bytes());
    }
    response.extend_from_slice(b"\r\n\r\n");
    response
}

/// The `101` up to the `Sec-WebSocket-Accept` value.
const RESPONSE_HEAD: &str = "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ";

/// The length of a `Sec-WebSocket-Accept` value (a base64 SHA-1).
pub const ACCEPT_LEN: usize = 28;

/// Checks an upgrade request as the reference server does (and as actix-http checks a
/// websocket handshake); returns the `Sec-WebSocket-Accept` value.
fn check(
    head: &HeadView<'_>,
    query: &EngineQuery<'_>,
    peer: Option<SocketAddr>,
    state: &AppState,
) -> Result<[u8; ACCEPT_LEN], EngineError> {
    if query.transport != Some(TransportKind::WebSocket) || !state.config.allow_websocket {
        return Err(EngineError::UnknownTransport);
    }
    let origin = match head.header("origin").map(header_text) {
        Some(None) => return Err(EngineError::BadRequest),
        Some(Some(origin)) => Some(origin),
        None => None,
    };
    // Cross-site websocket hijacking: a browser applies no CORS to a websocket.
    super::admit_origin(state, origin, head.header("host").and_then(header_text))?;
    match query.sid {
        Some(sid) => {
            let Some((_, meta)) = state.hub.registry().entry(sid) else {
                return Err(EngineError::UnknownSid);
            };
            let from = Requester::new(peer, head.header("user-agent"));
            super::bind(state, &meta, &from, Use::Upgrade)?;
        }
        None if !query.revision_served(state.config.allow_eio3) => {
            return Err(EngineError::UnsupportedProtocolVersion)
        }
        None => {}
    }
    websocket_accept(head)
}

/// Checks the websocket part of an upgrade request (RFC 6455 §4.2.1: `GET`, `Upgrade:
/// websocket`, `Connection: Upgrade`, version 13, a valid key); returns the
/// `Sec-WebSocket-Accept` value.
pub fn websocket_accept(head: &HeadView<'_>) -> Result<[u8; ACCEPT_LEN], EngineError> {
    if head.method != "GET" {
        return Err(EngineError::BadHandshakeMethod);
    }
    let upgrade_websocket = head
        .header("upgrade")
        .and_then(header_text)
        .is_some_and(|v| contains_ignore_case(v, "websocket"));
    let connection_upgrade = connection_upgrade(head);
    let version_13 = head.header("sec-websocket-version") == Some(b"13");
    let key = head
        .header("sec-websocket-key")
        .filter(|key| valid_key(key))
        .ok_or(EngineError::BadRequest)?;
    if !(upgrade_websocket && connection_upgrade && version_13) {
        return Err(EngineError::BadRequest);
    }
    Ok(accept_value(key))
}

/// Whether the `Connection` headers ask for an upgrade (and none says `close`).
fn connection_upgrade(head: &HeadView<'_>) -> bool {
    let mut upgrade = false;
    for value in head.headers_named("connection").filter_map(header_text) {
        for option in value.split(',').map(str::trim) {
            if option.eq_ignore_ascii_case("close") {
                return false;
            }
            upgrade |= option.eq_ignore_ascii_case("upgrade");
        }
    }
    upgrade
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// A `Sec-WebSocket-Key` is 16 bytes in base64 (RFC 6455 §4.2.1).
fn valid_key(key: &[u8]) -> bool {
    use base64::Engine;
    let mut decoded = [0u8; 18];
    key.len() == 24
        && base64::engine::general_purpose::STANDARD.decode_slice(key, &mut decoded) == Ok(16)
}

fn accept_value(key: &[u8]) -> [u8; ACCEPT_LEN] {
    actix_http::ws::hash_key(key)
}

/// Writes a refusal the way the reference server does on a raw upgrade socket.
async fn write_refusal(io: &mut TcpStream, status: &str, message: &str) {
    write_response(io, status, "text/html", message).await;
}

/// Writes a whole response (`status` may carry extra header lines) and closes.
async fn write_response(io: &mut TcpStream, status: &str, content_type: &str, body: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = io.write_all(response.as_bytes()).await;
    let _ = io.shutdown().await;
}
