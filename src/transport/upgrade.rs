//! Websocket requests, taken over from the HTTP dispatcher at the upgrade: the request is
//! checked as the reference server checks it, the `101` is written on the raw socket, and
//! the connection runs on that socket with no HTTP buffers behind it (a few hundred bytes
//! per idle connection instead of the dispatcher's 16 KiB).

use std::sync::Arc;
use std::time::SystemTime;

use actix_codec::Framed;
use actix_http::{h1, header, Method, Request, RequestHead};
use bytes::BytesMut;
use siohub_actors::{EngineError, HandshakeInfo, HeaderList, Session, SessionParams};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::query::{EngineQuery, TransportKind};
use super::EngineState;

/// Handles one upgrade request on `path`; returns when the websocket is closed.
pub async fn serve(
    req: Request,
    framed: Framed<TcpStream, h1::Codec>,
    state: EngineState,
    path: String,
) -> Result<(), actix_http::Error> {
    let parts = framed.into_parts();
    let mut io = parts.io;
    // Bytes the client sent after the request (its first frames), kept in a small buffer
    // so the dispatcher's 8 KiB read buffer can go.
    let leftover = BytesMut::from(&parts.read_buf[..]);
    drop(parts.read_buf);
    drop(parts.write_buf);

    // Take what the session needs and let the request go: its headers point into the
    // dispatcher's read buffer, which would otherwise live as long as the connection.
    let head = req.head();
    let on_path = head.uri.path() == path || head.uri.path() == path.trim_end_matches('/');
    let checked = on_path.then(|| check(head, &state));
    let query = EngineQuery::parse(head.uri.query().unwrap_or(""));
    let peer = req.peer_addr();
    let handshake = handshake_info(head, peer);
    drop(req);

    let accept = match checked {
        None => {
            write_refusal(&mut io, "404 Not Found", "Not Found").await;
            return Ok(());
        }
        Some(Err(error)) => {
            log::debug!("websocket upgrade refused: {error}");
            write_refusal(&mut io, "400 Bad Request", &error.to_string()).await;
            return Ok(());
        }
        Some(Ok(accept)) => accept,
    };
    if query.sid.is_none() {
        if let Some(denial) = crate::ops::deny_handshake(peer.map(|a| a.ip()), &state) {
            let status = format!(
                "{} {}\r\nretry-after: {}",
                denial.status.as_u16(),
                denial.status.canonical_reason().unwrap_or(""),
                denial.retry_after
            );
            write_response(&mut io, &status, "application/json", &denial.body()).await;
            return Ok(());
        }
    }
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n"
    );
    // The `101` goes first in the outbox, so it leaves in one write with the open packet.
    let outbox = siohub_actors::ws::Outbox::new();
    outbox.push([bytes::Bytes::from(response)], false);
    let id = siohub_actors::next_transport_id();
    let session = match query
        .sid
        .as_deref()
        .and_then(|sid| state.hub.registry().get(sid))
    {
        Some(session) => {
            Session::begin_upgrade(&session, outbox.clone(), id);
            session
        }
        None => {
            let params = SessionParams {
                config: state.config.clone(),
                hub: state.hub.clone(),
                app: state.app.clone(),
                handshake: Arc::new(handshake),
            };
            let (sid, session) = Session::start_websocket(params, outbox.clone(), id);
            log::debug!("session {sid}: opened on websocket");
            session
        }
    };
    // The connection gets a small task of its own, so the HTTP dispatcher's task (sized for
    // any request) ends here.
    let max_message = state.config.max_payload;
    actix_web::rt::spawn(siohub_actors::ws::run(
        io,
        leftover,
        outbox.stream(),
        id,
        session,
        max_message,
    ));
    Ok(())
}

/// Checks an upgrade request as the reference server does; returns the
/// `Sec-WebSocket-Accept` value.
fn check(head: &RequestHead, state: &EngineState) -> Result<String, EngineError> {
    let query = EngineQuery::parse(head.uri.query().unwrap_or(""));
    if query.transport != Some(TransportKind::WebSocket) || !state.config.allow_websocket {
        return Err(EngineError::UnknownTransport);
    }
    if head
        .headers
        .get(header::ORIGIN)
        .is_some_and(|o| o.to_str().is_err())
    {
        return Err(EngineError::BadRequest);
    }
    match query.sid.as_deref() {
        Some(sid) if state.hub.registry().get(sid).is_none() => {
            return Err(EngineError::UnknownSid)
        }
        Some(_) => {}
        None if query.eio.as_deref() != Some("4") => {
            return Err(EngineError::UnsupportedProtocolVersion)
        }
        None => {}
    }
    if head.method != Method::GET {
        return Err(EngineError::BadHandshakeMethod);
    }
    actix_http::ws::verify_handshake(head).map_err(|_| EngineError::BadRequest)?;
    let key = head
        .headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or(EngineError::BadRequest)?;
    let accept = actix_http::ws::hash_key(key.as_bytes());
    Ok(String::from_utf8_lossy(&accept).into_owned())
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

/// What the session keeps of the opening request.
pub fn handshake_info(head: &RequestHead, peer: Option<std::net::SocketAddr>) -> HandshakeInfo {
    HandshakeInfo {
        headers: HeaderList::from_pairs(
            head.headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))),
        ),
        query: head.uri.query().unwrap_or("").to_owned(),
        address: peer.map(|a| a.to_string()).unwrap_or_default(),
        url: head.uri.to_string(),
        issued: SystemTime::now(),
        secure: false,
    }
}
