//! The ways a websocket upgrade request reaches the server: whole in the connection's
//! first read (answered before any HTTP dispatcher), with the client's first frame in the
//! same write, split over several writes, or after a polling request on the same
//! keep-alive connection (both through the dispatcher). Each must end in the same open
//! packet and a working session; bad requests get the same refusals either way.

mod support;
#[path = "support/wire.rs"]
mod wire;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use support::test_settings;
use wire::*;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// The `Sec-WebSocket-Accept` for [`KEY`] (RFC 6455 §1.3).
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn upgrade_head(query: &str, keep_alive: bool) -> String {
    format!(
        "GET {} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: {}Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        target(query),
        if keep_alive { "keep-alive, " } else { "" }
    )
}

/// A masked client text frame.
fn client_text(text: &str) -> Vec<u8> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    assert!(text.len() < 126);
    let mut frame = vec![0x81, 0x80 | text.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

fn open(addr: std::net::SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Reads the response head; returns it and whatever came after it.
fn read_head(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).into_owned();
            return (head, data[end + 4..].to_vec());
        }
        let n = stream.read(&mut chunk).expect("a response");
        assert!(n > 0, "closed before a response head: {data:?}");
        data.extend_from_slice(&chunk[..n]);
    }
}

/// Reads `count` unmasked server text frames, starting with the bytes in `pending`.
fn read_texts(stream: &mut TcpStream, mut pending: Vec<u8>, count: usize) -> Vec<String> {
    let mut texts = Vec::new();
    let mut chunk = [0u8; 4096];
    while texts.len() < count {
        if pending.len() >= 2 {
            assert_eq!(pending[0], 0x81, "a final text frame");
            let (len, start) = match pending[1] {
                126 if pending.len() >= 4 => {
                    (u16::from_be_bytes([pending[2], pending[3]]) as usize, 4)
                }
                126 => (usize::MAX, 0),
                n => (n as usize, 2),
            };
            if len != usize::MAX && pending.len() >= start + len {
                texts.push(String::from_utf8(pending[start..start + len].to_vec()).unwrap());
                pending.drain(..start + len);
                continue;
            }
        }
        let n = stream.read(&mut chunk).expect("a frame");
        assert!(n > 0, "closed after {texts:?}");
        pending.extend_from_slice(&chunk[..n]);
    }
    texts
}

/// Checks a `101` with the right accept value, then the open packet and the echo of
/// `4hello` (which the client sent).
fn assert_upgraded_and_echoing(stream: &mut TcpStream) {
    let (head, rest) = read_head(stream);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains(&format!(
            "sec-websocket-accept: {}",
            ACCEPT.to_ascii_lowercase()
        )),
        "{head}"
    );
    let texts = read_texts(stream, rest, 2);
    assert!(texts[0].starts_with("0{\"sid\":"), "{texts:?}");
    assert_eq!(texts[1], "4hello");
}

#[test]
fn an_upgrade_with_its_first_frame_in_the_same_write_is_served() {
    let server = start_echo(test_settings());
    let mut stream = open(server.addr);
    let mut bytes = upgrade_head(WEBSOCKET, false).into_bytes();
    bytes.extend(client_text("4hello"));
    stream.write_all(&bytes).unwrap();
    assert_upgraded_and_echoing(&mut stream);
}

#[test]
fn an_upgrade_split_over_several_writes_is_served() {
    let server = start_echo(test_settings());
    let mut stream = open(server.addr);
    let head = upgrade_head(WEBSOCKET, false);
    let (first, rest) = head.split_at(20);
    stream.write_all(first.as_bytes()).unwrap();
    thread::sleep(Duration::from_millis(100));
    let (middle, last) = rest.split_at(rest.len() / 2);
    stream.write_all(middle.as_bytes()).unwrap();
    thread::sleep(Duration::from_millis(50));
    let mut bytes = last.as_bytes().to_vec();
    bytes.extend(client_text("4hello"));
    stream.write_all(&bytes).unwrap();
    assert_upgraded_and_echoing(&mut stream);
}

#[test]
fn an_upgrade_after_a_polling_request_on_the_same_connection_is_served() {
    let server = start_echo(test_settings());
    let mut stream = open(server.addr);
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        target(POLLING)
    )
    .unwrap();
    let (head, mut body) = read_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("a content-length");
    while body.len() < length {
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0);
        body.extend_from_slice(&chunk[..n]);
    }
    assert!(body.starts_with(b"0{\"sid\":"));
    // The connection is kept alive: the next request on it is the upgrade.
    let mut bytes = upgrade_head(WEBSOCKET, true).into_bytes();
    bytes.extend(client_text("4hello"));
    stream.write_all(&bytes).unwrap();
    assert_upgraded_and_echoing(&mut stream);
    assert_eq!(
        server.registry.len(),
        2,
        "two sessions: the polling one and this one"
    );
}

#[test]
fn bad_upgrades_are_refused_alike_whole_or_split() {
    let server = start_echo(test_settings());
    let cases = [
        (
            upgrade_head("EIO=3&transport=websocket", false),
            "400",
            "Unsupported protocol version",
        ),
        (
            upgrade_head("EIO=4&transport=websocket&sid=nope", false),
            "400",
            "Session ID unknown",
        ),
        (
            upgrade_head("EIO=4&transport=smoke", false),
            "400",
            "Transport unknown",
        ),
        (
            upgrade_head(WEBSOCKET, false)
                .replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"),
            "400",
            "Bad request",
        ),
        (
            upgrade_head(WEBSOCKET, false).replace(KEY, "short"),
            "400",
            "Bad request",
        ),
        (
            upgrade_head(WEBSOCKET, false).replace("/socket.io/", "/elsewhere/"),
            "404",
            "Not Found",
        ),
    ];
    for (request, status, message) in cases {
        for split in [false, true] {
            let mut stream = open(server.addr);
            if split {
                stream.write_all(&request.as_bytes()[..10]).unwrap();
                thread::sleep(Duration::from_millis(50));
                stream.write_all(&request.as_bytes()[10..]).unwrap();
            } else {
                stream.write_all(request.as_bytes()).unwrap();
            }
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            assert!(
                response.starts_with(&format!("HTTP/1.1 {status}")),
                "split {split}: {request:?} -> {response}"
            );
            assert!(response.contains(message), "split {split}: {response}");
        }
    }
    // None of them opened a session, and the server still serves.
    assert!(server.registry.is_empty());
    let (_ws, _, _) = Ws::open(server.addr);
}
