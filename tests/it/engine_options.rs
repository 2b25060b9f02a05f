//! The engine options of issue 13 item 4 and the polling half of item 3, each compared with
//! the reference server (socket.io 4.8.4 started with the same options): the sticky-session
//! cookie, `allow_upgrades = false`, the `transports` restriction, and gzip/deflate of
//! polling responses by `Accept-Encoding`.

use crate::support;
use crate::support::wire;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Stdio};

use serde_json::Value;
use siohub::config::Settings;
use siohub::server::BackgroundServer;
use support::{start_echo, test_settings};
use wire::*;

/// The reference server running with `options` (JSON engine options); killed on drop.
struct Reference {
    child: Child,
    addr: SocketAddr,
}

impl Reference {
    fn start(options: &str) -> Reference {
        let mut child = support::clients::node("engine_options_server.mjs")
            .arg(options)
            .stdout(Stdio::piped())
            .spawn()
            .expect("node starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout piped"))
            .read_line(&mut line)
            .expect("the reference server says where it listens");
        let port: Value = serde_json::from_str(&line).expect("a JSON line");
        let port = port["port"].as_u64().expect("a port") as u16;
        Reference {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn siohub(adjust: impl FnOnce(&mut Settings)) -> BackgroundServer {
    let mut settings = test_settings();
    adjust(&mut settings);
    settings.validate().expect("valid settings");
    start_echo(settings)
}

/// The handshake GET on polling: its response and its open packet's JSON.
fn handshake(addr: SocketAddr) -> (Response, Value) {
    let res = get(addr, POLLING);
    let json = json_after(&res.polling_body(), "0");
    (res, json)
}

/// The `Set-Cookie` header with the session's sid replaced by `<sid>`.
fn cookie_shape(res: &Response, sid: &str) -> Option<String> {
    res.header("set-cookie").map(|c| c.replace(sid, "<sid>"))
}

#[test]
fn the_cookie_is_set_on_the_polling_handshake_as_the_reference_server_sets_it() {
    let node = Reference::start(r#"{"cookie":true}"#);
    let hub = siohub(|s| s.engine.cookie = "io".into());
    let mut shapes = Vec::new();
    for addr in [node.addr, hub.addr] {
        let (res, open) = handshake(addr);
        let sid = open["sid"].as_str().expect("a sid");
        shapes.push(cookie_shape(&res, sid));
        // Only the handshake sets it.
        push(addr, sid, "4x");
        let next = poll(addr, sid);
        assert_eq!(next.header("set-cookie"), None, "{addr}");
    }
    assert_eq!(
        shapes[0].as_deref(),
        Some("io=<sid>; Path=/; HttpOnly; SameSite=Lax")
    );
    assert_eq!(shapes[0], shapes[1], "Node, then siohub");
}

#[test]
fn no_cookie_is_set_by_default_nor_on_a_websocket_handshake() {
    let node = Reference::start(r#"{"cookie":true}"#);
    let hub = siohub(|s| s.engine.cookie = "io".into());
    for addr in [node.addr, hub.addr] {
        let mut conn = Conn::open(addr);
        conn.write(upgrade_head(WEBSOCKET, false, &[]).as_bytes());
        let res = conn.read_response().expect("a response");
        assert_eq!(res.status, 101, "{addr}");
        assert_eq!(res.header("set-cookie"), None, "{addr}");
    }
    let plain = siohub(|_| {});
    assert_eq!(handshake(plain.addr).0.header("set-cookie"), None);
}

#[test]
fn a_cookie_name_that_is_not_a_token_stops_start_up() {
    let mut settings = test_settings();
    settings.engine.cookie = "io; Domain=evil".into();
    let err = settings.validate().unwrap_err().to_string();
    assert!(err.contains("engine.cookie"), "{err}");
}

#[test]
fn allow_upgrades_off_offers_no_upgrade_and_serves_one_made_anyway_as_node_does() {
    let node = Reference::start(r#"{"allowUpgrades":false}"#);
    let hub = siohub(|s| s.engine.allow_upgrades = false);
    for addr in [node.addr, hub.addr] {
        let (_, open) = handshake(addr);
        assert_eq!(open["upgrades"], serde_json::json!([]), "{addr}");
        // Node does not refuse the upgrade the client makes anyway: neither does siohub.
        let sid = open["sid"].as_str().unwrap();
        let mut ws = upgrade(addr, sid);
        ws.send_text("4after");
        assert_eq!(ws.text_skipping_pings(), "4after", "{addr}");
    }
    let (_, open) = handshake(siohub(|_| {}).addr);
    assert_eq!(open["upgrades"], serde_json::json!(["websocket"]));
}

#[test]
fn a_transport_left_out_is_refused_as_the_reference_server_refuses_it() {
    let node = Reference::start(r#"{"transports":["websocket"]}"#);
    let hub = siohub(|s| s.engine.transports = vec!["websocket".into()]);
    let answers: Vec<_> = [node.addr, hub.addr]
        .into_iter()
        .map(|addr| {
            let res = get(addr, POLLING);
            (res.status, res.json())
        })
        .collect();
    assert_eq!(answers[0].0, 400);
    assert_eq!(answers[0], answers[1], "Node, then siohub");

    let node = Reference::start(r#"{"transports":["polling"]}"#);
    let hub = siohub(|s| s.engine.transports = vec!["polling".into()]);
    let mut shapes = Vec::new();
    for addr in [node.addr, hub.addr] {
        let (_, open) = handshake(addr);
        shapes.push(open["upgrades"].clone());
        let mut conn = Conn::open(addr);
        conn.write(upgrade_head(WEBSOCKET, false, &[]).as_bytes());
        // Node has no upgrade handler then: the request is answered as a plain HTTP one.
        let res = conn.read_response().expect("a response");
        shapes.push(serde_json::json!([
            res.status,
            res.header("content-type"),
            res.json()
        ]));
    }
    assert_eq!(shapes[0], serde_json::json!([]));
    assert_eq!(shapes[0..2], shapes[2..4], "Node, then siohub");
}

/// Opens a session on `addr`, has `text` echoed and polls it back with `accept_encoding`.
fn echoed(addr: SocketAddr, text: &str, accept_encoding: &str) -> Response {
    let (_, open) = handshake(addr);
    let sid = open["sid"].as_str().unwrap().to_owned();
    push(addr, &sid, text);
    let headers = [("Accept-Encoding", accept_encoding)];
    request(addr, "GET", &target(&sid_query(&sid)), &headers, b"")
}

fn inflate(res: &Response) -> String {
    let mut text = String::new();
    match res.header("content-encoding") {
        Some("gzip") => flate2::read::GzDecoder::new(&res.body[..]).read_to_string(&mut text),
        Some("deflate") => flate2::read::ZlibDecoder::new(&res.body[..]).read_to_string(&mut text),
        other => panic!("not compressed: {other:?}"),
    }
    .expect("a valid compressed body");
    text
}

#[test]
fn polling_responses_are_compressed_by_accept_encoding_as_node_does() {
    let node = Reference::start(r#"{"httpCompression":{"threshold":1024}}"#);
    let hub = siohub(|s| s.engine.http_compression = true);
    let big = format!("4{}", "x".repeat(2000));
    for addr in [node.addr, hub.addr] {
        for (accept, coding) in [("gzip, deflate", "gzip"), ("deflate", "deflate")] {
            let res = echoed(addr, &big, accept);
            assert_eq!(res.status, 200);
            assert_eq!(res.header("content-encoding"), Some(coding), "{addr}");
            assert!(res.body.len() < 200, "{addr}: {} bytes", res.body.len());
            assert_eq!(inflate(&res), big, "{addr}");
        }
        // Under the threshold, or not accepted: as it is.
        for (text, accept) in [("4small", "gzip"), (big.as_str(), "br")] {
            let res = echoed(addr, text, accept);
            assert_eq!(res.header("content-encoding"), None, "{addr}");
            assert_eq!(res.polling_body(), text, "{addr}");
        }
    }
    let metrics = support::ops::metrics_text(&hub);
    assert!(
        metrics.contains("siohub_http_compressed_responses_total 2"),
        "{metrics}"
    );
}

#[test]
fn http_compression_is_off_by_default() {
    let hub = siohub(|_| {});
    let big = format!("4{}", "x".repeat(2000));
    let res = echoed(hub.addr, &big, "gzip");
    assert_eq!(res.header("content-encoding"), None);
    assert_eq!(res.polling_body(), big);
}
