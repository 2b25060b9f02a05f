//! Engine.IO long-polling on the raw HTTP client: a session opened, polled, posted to, and
//! watched until it closes.

use std::net::SocketAddr;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use serde_json::Value;

use super::{get, post, sid_query, Response, IO_TIMEOUT, POLLING};

/// A polling GET on session `sid`.
pub fn poll(addr: SocketAddr, sid: &str) -> Response {
    get(addr, &sid_query(sid))
}

/// A polling GET on a thread, for GETs that wait.
pub fn spawn_poll(addr: SocketAddr, sid: &str) -> JoinHandle<Response> {
    let sid = sid.to_owned();
    thread::spawn(move || poll(addr, &sid))
}

/// A polling POST on session `sid`, which must be answered `ok`.
#[track_caller]
pub fn push(addr: SocketAddr, sid: &str, body: &str) {
    let res = post(addr, &sid_query(sid), body.as_bytes());
    assert_eq!(res.status, 200, "POST {body:?}: {res:?}");
    assert_eq!(res.text(), "ok");
}

/// Opens a polling session; returns its sid and the handshake JSON.
#[track_caller]
pub fn open_polling(addr: SocketAddr) -> (String, Value) {
    let res = get(addr, POLLING);
    let body = res.polling_body();
    let json = body
        .strip_prefix('0')
        .unwrap_or_else(|| panic!("an open packet, got {body:?}"));
    let handshake: Value = serde_json::from_str(json).expect("handshake JSON");
    let sid = handshake["sid"].as_str().expect("a sid").to_owned();
    (sid, handshake)
}

/// Splits a polling body into its packets.
pub fn packets(body: &str) -> Vec<String> {
    body.split('\x1e').map(str::to_owned).collect()
}

/// Polls (answering pings with pongs) until a packet equal to `wanted` arrives; returns
/// the packets seen before it.
#[track_caller]
pub fn poll_until(addr: SocketAddr, sid: &str, wanted: &str) -> Vec<String> {
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        for packet in packets(&poll(addr, sid).polling_body()) {
            if packet == wanted {
                return seen;
            }
            if packet == "2" {
                push(addr, sid, "3");
            }
            seen.push(packet);
        }
    }
    panic!("{wanted:?} never arrived; saw {seen:?}");
}

/// Asserts that the polling session `sid` is closed: GETs answer bodies ending in the close
/// packet `1` until the sid is unknown (400, code 1), within a deadline.
#[track_caller]
pub fn assert_polling_closed(addr: SocketAddr, sid: &str) {
    let deadline = Instant::now() + IO_TIMEOUT;
    while Instant::now() < deadline {
        let res = poll(addr, sid);
        if res.status == 400 {
            res.assert_engine_error(400, 1, "Session ID unknown");
            return;
        }
        let body = res.polling_body();
        assert!(
            packets(&body).last().is_some_and(|p| p == "1"),
            "a closed session answers `1`, got {body:?}"
        );
    }
    panic!("session {sid} still open");
}
