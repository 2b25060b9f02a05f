//! The ways a websocket upgrade request reaches the server: whole in the connection's
//! first read (answered before any HTTP dispatcher), with the client's first frame in the
//! same write, split over several writes, or after a polling request on the same
//! keep-alive connection (both through the dispatcher). Each must end in the same open
//! packet and a working session; bad requests get the same refusals either way.

use crate::support;
use crate::support::wire;

use std::io::Read;
use std::thread;
use std::time::Duration;

use support::{start_echo, test_settings, wait_until};
use wire::*;

/// Reads `count` text frames from the server.
fn read_texts(stream: &mut impl Read, count: usize) -> Vec<String> {
    (0..count).map(|_| read_server_text(stream)).collect()
}

/// Checks a `101` with the right accept value, then the open packet and the echo of
/// `4hello` (which the client sent).
fn assert_upgraded_and_echoing(conn: &mut Conn) {
    let response = conn.read_response().expect("a response");
    assert_eq!(response.status, 101, "{}", response.text());
    assert_eq!(response.header("sec-websocket-accept"), Some(WS_ACCEPT));
    let texts = read_texts(conn.stream(), 2);
    assert!(texts[0].starts_with("0{\"sid\":"), "{texts:?}");
    assert_eq!(texts[1], "4hello");
}

#[test]
fn an_upgrade_with_its_first_frame_in_the_same_write_is_served() {
    let server = start_echo(test_settings());
    let mut conn = Conn::open(server.addr);
    let mut bytes = upgrade_head(WEBSOCKET, false, &[]).into_bytes();
    bytes.extend(client_text_frame("4hello"));
    conn.write(&bytes);
    assert_upgraded_and_echoing(&mut conn);
}

#[test]
fn an_upgrade_split_over_several_writes_is_served() {
    let server = start_echo(test_settings());
    let mut conn = Conn::open(server.addr);
    let head = upgrade_head(WEBSOCKET, false, &[]);
    let (first, rest) = head.split_at(20);
    conn.write(first.as_bytes());
    thread::sleep(Duration::from_millis(100));
    let (middle, last) = rest.split_at(rest.len() / 2);
    conn.write(middle.as_bytes());
    thread::sleep(Duration::from_millis(50));
    let mut bytes = last.as_bytes().to_vec();
    bytes.extend(client_text_frame("4hello"));
    conn.write(&bytes);
    assert_upgraded_and_echoing(&mut conn);
}

#[test]
fn an_upgrade_after_a_polling_request_on_the_same_connection_is_served() {
    let server = start_echo(test_settings());
    let mut conn = Conn::open(server.addr);
    let polling = format!(
        "GET {} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        target(POLLING)
    );
    conn.write(polling.as_bytes());
    let response = conn.read_response().expect("a response");
    assert_eq!(response.status, 200);
    assert!(
        response.text().starts_with("0{\"sid\":"),
        "{}",
        response.text()
    );
    // The connection is kept alive: the next request on it is the upgrade.
    let mut bytes = upgrade_head(WEBSOCKET, true, &[]).into_bytes();
    bytes.extend(client_text_frame("4hello"));
    conn.write(&bytes);
    assert_upgraded_and_echoing(&mut conn);
    // Two sessions: the polling one and this one (registered beside its start).
    wait_until("both sessions are registered", IO_TIMEOUT, || {
        server.registry.len() == 2
    });
}

#[test]
fn bad_upgrades_are_refused_alike_whole_or_split() {
    let server = start_echo(test_settings());
    let cases = [
        (
            upgrade_head("EIO=3&transport=websocket", false, &[]),
            400,
            "Unsupported protocol version",
        ),
        (
            upgrade_head("EIO=4&transport=websocket&sid=nope", false, &[]),
            400,
            "Session ID unknown",
        ),
        (
            upgrade_head("EIO=4&transport=smoke", false, &[]),
            400,
            "Transport unknown",
        ),
        (
            upgrade_head(WEBSOCKET, false, &[])
                .replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"),
            400,
            "Bad request",
        ),
        (
            upgrade_head(WEBSOCKET, false, &[]).replace(WS_KEY, "short"),
            400,
            "Bad request",
        ),
        (
            upgrade_head(WEBSOCKET, false, &[]).replace("/socket.io/", "/elsewhere/"),
            404,
            "Not Found",
        ),
    ];
    for (request, status, message) in cases {
        for split in [false, true] {
            let mut conn = Conn::open(server.addr);
            if split {
                conn.write(&request.as_bytes()[..10]);
                thread::sleep(Duration::from_millis(50));
                conn.write(&request.as_bytes()[10..]);
            } else {
                conn.write(request.as_bytes());
            }
            let response = conn.read_response().expect("a response");
            assert_eq!(response.status, status, "split {split}: {request:?}");
            assert!(
                response.text().contains(message),
                "split {split}: {}",
                response.text()
            );
        }
    }
    // None of them opened a session, and the server still serves.
    assert!(server.registry.is_empty());
    let (_ws, _, _) = Ws::open(server.addr);
}
