//! The first request of a new connection, read before any HTTP dispatcher exists.
//!
//! A websocket upgrade whose head came whole in the first read is answered right here: no
//! dispatcher is made for it (no 16 KiB of buffers, no request timer, no parsed request,
//! and no date-service task, which actix-http's upgrade starts and stops for every
//! websocket). Anything else — polling, the API, a head split over several reads, an
//! unusual request — goes to the dispatcher with the bytes already read in front, and is
//! served exactly as before.

use std::io::{ErrorKind, Read};
use std::net::SocketAddr;

use actix_rt::net::TcpStream;
use bytes::{Bytes, BytesMut};

use super::head::HeadView;
use super::prefixed::Prefixed;
use super::upgrade::{self, Upgrade};
use crate::state::AppState;

/// The most of a first request read before deciding (a browser's upgrade request is
/// well under 2 KiB).
const FIRST_READ: usize = 4096;

/// The most headers an upgrade answered here may carry (more go to the dispatcher).
const MAX_HEADERS: usize = 32;

/// Where a new connection went.
pub enum FirstRequest {
    /// Answered here: a websocket upgrade (now running on its own task), or a client that
    /// closed or failed before sending anything.
    Done,
    /// For the HTTP dispatcher, with what was read in front.
    Http(Prefixed),
}

/// Reads what the client has sent on a new connection and answers it if it is a
/// websocket upgrade (see the module notes); otherwise hands the connection back.
pub async fn serve(io: TcpStream, peer: SocketAddr, state: &AppState, path: &str) -> FirstRequest {
    match read(&io, peer, state, path) {
        Step::Http(prefix) => FirstRequest::Http(Prefixed::new(prefix, io)),
        Step::Upgrade(outcome, leftover) => {
            upgrade::finish(io, leftover, outcome).await;
            FirstRequest::Done
        }
        Step::Closed => FirstRequest::Done,
    }
}

enum Step {
    Http(Bytes),
    Upgrade(Upgrade, BytesMut),
    Closed,
}

/// One read, straight from the socket (the request is usually there by the time the
/// connection is accepted; if not, the dispatcher waits for it). The buffer lives on the
/// stack of this call only.
fn read(io: &TcpStream, peer: SocketAddr, state: &AppState, path: &str) -> Step {
    let mut buf = [0u8; FIRST_READ];
    let socket = socket2::SockRef::from(io);
    let n = match (&*socket).read(&mut buf) {
        Ok(0) => return Step::Closed,
        Ok(n) => n,
        Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
            return Step::Http(Bytes::new())
        }
        Err(e) => {
            log::debug!("connection from {peer}: first read failed: {e}");
            return Step::Closed;
        }
    };
    let parsed = with_plain_upgrade(&buf[..n], |head, head_len| {
        let outcome = upgrade::handshake(head, Some(peer), state, path);
        Step::Upgrade(outcome, BytesMut::from(&buf[head_len..n]))
    });
    parsed.unwrap_or_else(|| Step::Http(Bytes::copy_from_slice(&buf[..n])))
}

/// Parses `buf` as the head of a websocket upgrade answered before the dispatcher (whole,
/// and plain: see [`is_plain_upgrade`]) and gives `with` its view and the head's length;
/// `None` for anything else (a partial head, another request), which goes to the
/// dispatcher.
pub fn with_plain_upgrade<R>(
    buf: &[u8],
    with: impl FnOnce(&HeadView<'_>, usize) -> R,
) -> Option<R> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) if is_plain_upgrade(&req) => len,
        _ => return None,
    };
    let mut pairs: [(&str, &[u8]); MAX_HEADERS] = [("", &[]); MAX_HEADERS];
    for (pair, header) in pairs.iter_mut().zip(req.headers.iter()) {
        *pair = (header.name, header.value);
    }
    let head = HeadView {
        method: req.method.unwrap_or_default(),
        target: req.path.unwrap_or_default(),
        headers: &pairs[..req.headers.len()],
    };
    Some(with(&head, head_len))
}

/// Whether the dispatcher would take this request as a plain websocket upgrade: HTTP/1.1
/// with an origin-form target, an `Upgrade: websocket` header, no body headers and at most
/// one `Host` (requests the dispatcher would refuse or treat otherwise go to it).
fn is_plain_upgrade(req: &httparse::Request<'_, '_>) -> bool {
    let mut upgrade = false;
    let mut hosts = 0;
    for header in req.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            return false;
        }
        hosts += usize::from(name.eq_ignore_ascii_case("host"));
        upgrade |= name.eq_ignore_ascii_case("upgrade")
            && header.value.trim_ascii().eq_ignore_ascii_case(b"websocket");
    }
    req.version == Some(1) && req.path.is_some_and(|p| p.starts_with('/')) && upgrade && hosts <= 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> bool {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        assert!(req.parse(text.as_bytes()).unwrap().is_complete());
        is_plain_upgrade(&req)
    }

    #[test]
    fn only_plain_upgrades_are_answered_before_the_dispatcher() {
        let upgrade = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket \r\nConnection: Upgrade\r\n\r\n";
        assert!(plain(upgrade));
        assert!(!plain(
            "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n"
        ));
        assert!(!plain(
            "GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        ));
        assert!(!plain(
            "GET / HTTP/1.1\r\nUpgrade: websocket\r\nContent-Length: 3\r\n\r\n"
        ));
        assert!(!plain(
            "GET / HTTP/1.1\r\nUpgrade: websocket\r\nTransfer-Encoding: chunked\r\n\r\n"
        ));
        assert!(!plain(
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nUpgrade: websocket\r\n\r\n"
        ));
        assert!(!plain("GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n"));
        assert!(!plain(
            "GET http://x/ HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"
        ));
    }
}
