//! permessage-deflate (issue 13 item 3): Node's `ws` client offering it (negotiation,
//! large and small messages, a broadcast to many deflate clients, context takeover and
//! window parameters), a client not offering it, and, on a raw connection, compressed
//! client messages (whole or over continuation frames) and a zip bomb, which gets one
//! close with 1009 and harms no one else.

use crate::support;
use crate::support::wire;

use std::io::Read;
use std::process::Output;

use serde_json::Value;
use siohub::config::{RoomAccess, Settings};
use siohub::server::BackgroundServer;
use siohub_actors::ws::deflate;
use support::{start_echo, start_hub_with, test_settings};
use wire::*;

fn hub(per_message_deflate: bool) -> BackgroundServer {
    let mut root = support::policy("/");
    root.client_join = RoomAccess::Allowed(true);
    root.client_publish = RoomAccess::Allowed(true);
    start_hub_with(vec![root], |s: &mut Settings| {
        s.engine.per_message_deflate = per_message_deflate;
    })
}

/// Runs `deflate_clients.mjs` with `clients` clients offering `options`.
fn run_clients(server: &BackgroundServer, clients: usize, options: &str) -> Value {
    let out: Output = support::clients::node("deflate_clients.mjs")
        .arg(format!("http://{}", server.addr))
        .arg(clients.to_string())
        .arg(options)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "deflate_clients.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON line")
}

fn all_strings(report: &Value, key: &str) -> Vec<String> {
    report[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
}

fn all_numbers(report: &Value, key: &str) -> Vec<u64> {
    report[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

/// Every client negotiated permessage-deflate with both no_context_takeover parameters.
#[track_caller]
fn assert_negotiated(report: &Value) {
    assert!(
        all_strings(report, "extensions")
            .iter()
            .all(|e| e == "permessage-deflate"),
        "{report}"
    );
    for params in report["params"].as_array().unwrap() {
        assert_eq!(params["server_no_context_takeover"], true, "{report}");
        assert_eq!(params["client_no_context_takeover"], true, "{report}");
    }
}

#[test]
fn a_broadcast_reaches_many_deflate_clients_compressed() {
    let server = hub(true);
    let report = run_clients(&server, 20, "{}");
    assert_negotiated(&report);
    let length = report["bigLength"].as_u64().unwrap();
    for read in all_numbers(&report, "big") {
        assert!(read < length / 10, "{read} bytes read for {length}");
    }
    // Under the threshold: as it is, a short frame.
    for read in all_numbers(&report, "small") {
        assert!(read < 200, "{read}");
    }
}

#[test]
fn without_an_offer_or_with_deflate_off_messages_go_plain() {
    let length_read = |server: &BackgroundServer, options: &str| {
        let report = run_clients(server, 3, options);
        assert!(
            all_strings(&report, "extensions")
                .iter()
                .all(String::is_empty),
            "{report}"
        );
        let length = report["bigLength"].as_u64().unwrap();
        for read in all_numbers(&report, "big") {
            assert!(read > length, "{read} bytes read for {length}");
        }
    };
    length_read(&hub(true), "false");
    length_read(&hub(false), "{}");
}

#[test]
fn context_takeover_and_window_parameters_are_answered_as_offered() {
    let server = hub(true);
    // The client's own parameters are accepted; the server always answers both
    // no_context_takeover parameters.
    let report = run_clients(
        &server,
        2,
        r#"{"serverNoContextTakeover":true,"clientNoContextTakeover":true,"clientMaxWindowBits":10}"#,
    );
    assert_negotiated(&report);
    // An offer binding the server's window under 15 bits is declined: plain frames.
    let report = run_clients(&server, 2, r#"{"serverMaxWindowBits":10}"#);
    assert!(
        all_strings(&report, "extensions")
            .iter()
            .all(String::is_empty),
        "{report}"
    );
}

/// A masked client frame with RSV1 set carrying `payload` (already compressed).
fn compressed_client_frame(payload: &[u8]) -> Vec<u8> {
    client_frame(0x80 | deflate::RSV1 | 1, payload)
}

/// A masked client frame with the first byte `first` (FIN, RSV, opcode).
fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x21u8, 0x43, 0x65, 0x87];
    let mut frame = vec![first];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n <= 0xffff => {
            frame.push(0x80 | 126);
            frame.extend((n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend((n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// A raw websocket on the echo server offering permessage-deflate; the open packet read.
fn deflate_conn(server: &BackgroundServer) -> Conn {
    let mut conn = Conn::open(server.addr);
    let offer = [(
        "Sec-WebSocket-Extensions",
        "permessage-deflate; client_max_window_bits",
    )];
    conn.write(upgrade_head(WEBSOCKET, false, &offer).as_bytes());
    let res = conn.read_response().expect("a response");
    assert_eq!(res.status, 101);
    assert_eq!(
        res.header("sec-websocket-extensions"),
        Some(deflate::RESPONSE)
    );
    let (first, open) = read_frame(conn.stream());
    assert_eq!(first, 0x81, "the open packet is short: plain");
    assert!(open.starts_with(b"0{"));
    conn
}

fn echo_settings() -> Settings {
    let mut settings = test_settings();
    settings.engine.per_message_deflate = true;
    settings
}

#[test]
fn compressed_client_messages_are_inflated_and_large_echoes_compressed() {
    let server = start_echo(echo_settings());
    let mut conn = deflate_conn(&server);
    conn.write(&compressed_client_frame(&deflate::compress(b"4hello")));
    assert_eq!(read_frame(conn.stream()), (0x81, b"4hello".to_vec()));
    let big = format!("4{}", "abc".repeat(5000));
    conn.write(&compressed_client_frame(&deflate::compress(big.as_bytes())));
    let (first, payload) = read_frame(conn.stream());
    assert_eq!(first, 0xC1, "FIN + RSV1 + text");
    assert!(payload.len() < 500, "{}", payload.len());
    assert_eq!(
        &deflate::inflate(&payload, 1 << 20).unwrap()[..],
        big.as_bytes()
    );
}

#[test]
fn a_zip_bomb_gets_one_close_with_1009_and_harms_no_one_else() {
    let server = start_echo(echo_settings());
    let mut bystander = Ws::connect(server.addr, WEBSOCKET);
    let _ = bystander.text();
    let mut conn = deflate_conn(&server);
    // 20 MB of zeros in about 20 KB, against max_payload's 1 MB.
    let bomb = deflate::compress(&vec![b'0'; 20 << 20]);
    assert!(bomb.len() < 40_000, "{}", bomb.len());
    conn.write(&compressed_client_frame(&bomb));
    let (first, payload) = read_frame(conn.stream());
    assert_eq!(first, 0x88, "a close frame");
    assert_eq!(payload[..2], 1009u16.to_be_bytes(), "Message Too Big");
    let mut rest = Vec::new();
    let _ = conn.stream().read_to_end(&mut rest);
    bystander.send_text("4still here");
    assert_eq!(bystander.text_skipping_pings(), "4still here");
    let metrics = support::ops::metrics_text(&server);
    assert!(
        metrics.contains(r#"siohub_refused_total{reason="inflated_too_large"} 1"#),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("inflated"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn rsv1_without_deflate_or_on_a_control_frame_is_a_protocol_error() {
    // Not negotiated: the frame decoder refuses RSV1, the connection closes.
    let server = start_echo(test_settings());
    let mut ws = Ws::connect(server.addr, WEBSOCKET);
    let _ = ws.text();
    let mut conn = Conn::open(server.addr);
    conn.write(upgrade_head(WEBSOCKET, false, &[]).as_bytes());
    assert_eq!(conn.read_response().unwrap().status, 101);
    let _ = read_frame(conn.stream());
    conn.write(&compressed_client_frame(&deflate::compress(b"4hello")));
    let mut rest = Vec::new();
    let _ = conn.stream().read_to_end(&mut rest);
    assert!(!rest.windows(6).any(|w| w == b"4hello"), "{rest:?}");
    // Negotiated, but on a ping: closed too.
    let server = start_echo(echo_settings());
    let mut conn = deflate_conn(&server);
    let mut ping = compressed_client_frame(b"");
    ping[0] = 0x80 | deflate::RSV1 | 0x9;
    conn.write(&ping);
    let mut rest = Vec::new();
    let _ = conn.stream().read_to_end(&mut rest);
    assert!(rest.is_empty() || rest[0] == 0x88, "{rest:?}");
}

#[test]
fn socket_io_client_works_on_every_transport_with_compression_on() {
    // socket.io-client 4.8.4 offers permessage-deflate (threshold 1024) on its websocket,
    // so the echo and binary scenarios (a 100 KB buffer among them) run compressed.
    let mut settings = test_settings();
    settings.engine.per_message_deflate = true;
    settings.engine.http_compression = true;
    let (server, _records) = support::start_scenario_server(settings);
    for transport in ["polling", "websocket", "upgrade"] {
        for scenario in ["echo", "binary"] {
            let out = support::clients::node("scenario.mjs")
                .args([scenario, &server.url(), transport])
                .output()
                .expect("node runs");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let report: Value =
                serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_default();
            assert!(
                out.status.success() && report["ok"] == true,
                "{scenario} {transport}: {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn a_compressed_message_over_continuation_frames_is_inflated_whole() {
    let server = start_echo(echo_settings());
    let mut conn = deflate_conn(&server);
    let big = format!("4{}", "fragmented ".repeat(2000));
    let compressed = deflate::compress(big.as_bytes());
    let third = compressed.len() / 3;
    let (a, rest) = compressed.split_at(third);
    let (b, c) = rest.split_at(third);
    // RSV1 on the first frame only (RFC 7692 §6.1), a ping between the fragments, and
    // every byte written on its own, so frames reach the hub cut anywhere.
    let mut wire = client_frame(deflate::RSV1 | 0x1, a);
    wire.extend(client_frame(0x89, b"p"));
    wire.extend(client_frame(0x0, b));
    wire.extend(client_frame(0x80, c));
    for byte in wire {
        conn.write(&[byte]);
    }
    let (first, pong) = read_frame(conn.stream());
    assert_eq!(
        (first, pong),
        (0x8A, b"p".to_vec()),
        "the ping's pong first"
    );
    let (first, payload) = read_frame(conn.stream());
    assert_eq!(first, 0xC1, "FIN + RSV1 + text");
    assert_eq!(
        &deflate::inflate(&payload, 1 << 20).unwrap()[..],
        big.as_bytes()
    );
    // RSV1 on a continuation frame: a protocol error, the connection closes.
    let mut wire = client_frame(deflate::RSV1 | 0x1, a);
    wire.extend(client_frame(0x80 | deflate::RSV1, &compressed[third..]));
    conn.write(&wire);
    let mut rest = Vec::new();
    let _ = conn.stream().read_to_end(&mut rest);
    assert!(rest.is_empty() || rest[0] == 0x88, "{rest:?}");
}
