//! Engine.IO v3 clients (`[engine] allow_eio3`): `socket.io-client` 2.5.0 on polling,
//! websocket and the upgrade against the scenario server and the hub, and raw v3 polling
//! for the heartbeat and the bad input (a record with a wrong length closes its session,
//! and only it). Off by default: `EIO=3` then gets the reference server's refusal.

use crate::support;
use crate::support::wire;

use std::net::SocketAddr;
use std::time::Instant;

use serde_json::Value;
use support::{clients, policy, start_hub_with, start_scenario_server, test_settings};
use wire::*;

const TRANSPORTS: [&str; 3] = ["polling", "websocket", "upgrade"];

/// Test settings with v3 clients allowed and a short heartbeat: the client pings every
/// `interval_ms`, and a session closes `interval_ms + timeout_ms` after its last ping.
fn eio3_settings(interval_ms: u64, timeout_ms: u64) -> siohub::config::Settings {
    let mut settings = test_settings();
    settings.engine.allow_eio3 = true;
    settings.engine.ping_interval_ms = interval_ms;
    settings.engine.ping_timeout_ms = timeout_ms;
    settings
}

/// Runs `eio3_client.mjs <mode>` and returns its report, asserting it passed.
fn run_client(mode: &str, url: &str, transport: &str) -> Value {
    let output = clients::node("eio3_client.mjs")
        .args([mode, url, transport])
        .output()
        .expect("the client script starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|_| {
            panic!(
                "{mode} {transport}: no report; stdout {stdout}; stderr {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    assert!(
        output.status.success() && report["ok"] == Value::Bool(true),
        "{mode} {transport} failed: {report}"
    );
    report
}

#[test]
fn eio3_socket_io_client_2_scenarios() {
    // socket.io-client 2 pings every 300 ms; the script waits 2 s (longer than 1.3 s without
    // a ping) and checks the session is the same.
    let (server, records) = start_scenario_server(eio3_settings(300, 1000));
    for transport in TRANSPORTS {
        let report = run_client("scenario", &server.url(), transport);
        let connected = records.connected_sids();
        for sid in report["sids"].as_array().unwrap() {
            let sid = sid.as_str().unwrap();
            assert!(
                connected.iter().any(|c| c == sid),
                "{transport}: the server never connected {sid}"
            );
        }
    }
}

#[test]
fn eio3_socket_io_client_2_joins_and_publishes_on_the_hub() {
    let server = start_hub_with(vec![policy("/")], |s| {
        s.engine.allow_eio3 = true;
    });
    for transport in TRANSPORTS {
        run_client("hub", &server.url(), transport);
    }
}

#[test]
fn eio3_is_refused_when_off() {
    let server = start_scenario_server(test_settings()).0;
    for query in ["EIO=3&transport=polling", "transport=polling"] {
        get(server.addr, query).assert_engine_error(400, 5, "Unsupported protocol version");
    }
    let mut conn = Conn::open(server.addr);
    conn.write(upgrade_head("EIO=3&transport=websocket", false, &[]).as_bytes());
    let res = conn.read_response().expect("an answer to the upgrade");
    assert_eq!(res.status, 400);
    assert_eq!(res.text(), "Unsupported protocol version");
}

/// The polling query of v3 session `sid`.
fn v3_query(sid: &str) -> String {
    format!("EIO=3&transport=polling&sid={sid}")
}

/// Splits a v3 polling body into its packets, checking every record's length (in UTF-16
/// code units).
fn v3_packets(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (len, after) = rest.split_once(':').expect("a length");
        let len: usize = len.parse().expect("a numeric length");
        let mut units = 0;
        let end = after
            .char_indices()
            .find(|(_, c)| {
                let stop = units == len;
                units += c.len_utf16();
                stop
            })
            .map_or(after.len(), |(i, _)| i);
        out.push(after[..end].to_owned());
        rest = &after[end..];
    }
    out
}

/// Opens a v3 polling session and polls until its implicit CONNECT reply to `/` (`40`,
/// without a payload) came; returns the sid.
fn open_v3(addr: SocketAddr, interval_ms: u64, extra: &str) -> String {
    let body = get(addr, &format!("EIO=3&transport=polling{extra}")).polling_body();
    let packets = v3_packets(&body);
    let open: Value = serde_json::from_str(packets[0].strip_prefix('0').unwrap()).unwrap();
    // As the reference server (engine.io 6.6) sends it to v3 clients too.
    assert_eq!(open["maxPayload"], 1_000_000, "v3 open packet: {open}");
    assert_eq!(open["pingInterval"], interval_ms);
    let sid = open["sid"].as_str().unwrap().to_owned();
    let mut seen = packets[1..].to_vec();
    let deadline = Instant::now() + IO_TIMEOUT;
    while !seen.iter().any(|p| p == "40") {
        assert!(Instant::now() < deadline, "no CONNECT reply; saw {seen:?}");
        seen.extend(v3_packets(&get(addr, &v3_query(&sid)).polling_body()));
    }
    sid
}

fn v3_post(addr: SocketAddr, sid: &str, body: &str) -> Response {
    post(addr, &v3_query(sid), body.as_bytes())
}

#[test]
fn eio3_raw_polling_heartbeat_and_framing() {
    let (server, _) = start_scenario_server(eio3_settings(1000, 1000));
    let addr = server.addr;
    let sid = open_v3(addr, 1000, "");
    // The client pings; the server answers with a pong carrying the same data.
    assert_eq!(v3_post(addr, &sid, "1:25:2beat").text(), "ok");
    let body = get(addr, &v3_query(&sid)).polling_body();
    assert_eq!(v3_packets(&body), ["3", "3beat"]);
    // An event with a non-ASCII argument: lengths in UTF-16 code units both ways.
    let event = r#"42["echo","😀é"]"#;
    let posted = format!("1:2{}:{event}", event.encode_utf16().count());
    assert_eq!(v3_post(addr, &sid, &posted).text(), "ok");
    let reply = r#"42["echo-back","😀é"]"#;
    let body = get(addr, &v3_query(&sid)).polling_body();
    assert!(
        body.contains(&format!("{}:{reply}", reply.encode_utf16().count())),
        "{body}"
    );
    // No ping for ping_interval + ping_timeout (2 s): the pending GET gets the close packet.
    let started = Instant::now();
    let body = get(addr, &v3_query(&sid)).polling_body();
    assert!(body.ends_with("1:1"), "{body}");
    assert!(started.elapsed().as_millis() >= 1000, "closed too early");
    // A pong from a v3 client is the wrong direction: the session closes.
    let sid = open_v3(addr, 1000, "");
    assert_eq!(v3_post(addr, &sid, "1:3").status, 200);
    get(addr, &v3_query(&sid)).assert_engine_error(400, 1, "Session ID unknown");
}

#[test]
fn eio3_wrong_length_closes_only_its_session() {
    let (server, _) = start_scenario_server(eio3_settings(25_000, 20_000));
    let addr = server.addr;
    let bad = open_v3(addr, 25_000, "");
    let good = open_v3(addr, 25_000, "");
    let held = server.hub.counters().polls_held();
    let waiting = {
        let bad = bad.clone();
        std::thread::spawn(move || get(addr, &v3_query(&bad)))
    };
    support::hub_state::wait_poll_held(&server, held);
    // Five units announced, three follow: refused as malformed, the session closes and its
    // pending GET gets the close packet.
    assert_eq!(v3_post(addr, &bad, "5:4hi").status, 200);
    let answer = waiting.join().unwrap();
    assert_eq!(answer.polling_body(), "1:1", "{answer:?}");
    get(addr, &v3_query(&bad)).assert_engine_error(400, 1, "Session ID unknown");
    // The other session carries on.
    assert_eq!(v3_post(addr, &good, "1:2").text(), "ok");
    assert_eq!(get(addr, &v3_query(&good)).polling_body(), "1:3");
}

#[test]
fn eio3_binary_goes_as_a_binary_payload_unless_b64() {
    let (server, _) = start_scenario_server(eio3_settings(25_000, 20_000));
    let addr = server.addr;
    let event = r#"451-["echo",{"_placeholder":true,"num":0}]"#;
    let posted = format!("{}:{event}6:b4AQID", event.len());
    let reply = r#"451-["echo-back",{"_placeholder":true,"num":0}]"#;

    // An XHR2 client (no b64): the binary payload encoding.
    let sid = open_v3(addr, 25_000, "");
    assert_eq!(v3_post(addr, &sid, &posted).text(), "ok");
    let res = get(addr, &v3_query(&sid));
    assert_eq!(res.header("content-type"), Some("application/octet-stream"));
    let mut expected = vec![0];
    expected.extend(reply.len().to_string().bytes().map(|d| d - b'0'));
    expected.push(255);
    expected.extend_from_slice(reply.as_bytes());
    expected.extend_from_slice(&[1, 4, 255, 4, 1, 2, 3]);
    assert_eq!(res.body, expected);
    // It may post binary payloads too.
    let mut binary_post = vec![0];
    binary_post.extend(event.len().to_string().bytes().map(|d| d - b'0'));
    binary_post.push(255);
    binary_post.extend_from_slice(event.as_bytes());
    binary_post.extend_from_slice(&[1, 4, 255, 4, 7, 8, 9]);
    let res = request(
        addr,
        "POST",
        &target(&v3_query(&sid)),
        &[("Content-Type", "application/octet-stream")],
        &binary_post,
    );
    assert_eq!(res.text(), "ok");
    let res = get(addr, &v3_query(&sid));
    assert!(res.body.ends_with(&[1, 4, 255, 4, 7, 8, 9]), "{res:?}");

    // A client that asked for base64: text records, `b4` binary.
    let sid = open_v3(addr, 25_000, "&b64=1");
    assert_eq!(v3_post(addr, &sid, &posted).text(), "ok");
    let res = get(addr, &v3_query(&sid));
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; charset=UTF-8")
    );
    assert_eq!(res.text(), format!("{}:{reply}6:b4AQID", reply.len()));
}

/// Receives the next frame, failing the test when none comes.
fn next(ws: &mut Ws) -> Frame {
    ws.recv_within(IO_TIMEOUT).expect("a frame")
}

/// The official v3 suite's websocket and upgrade cases, on the Engine.IO echo server.
#[test]
fn eio3_websocket_and_upgrade_on_the_echo_server() {
    let mut settings = test_settings();
    settings.engine.allow_eio3 = true;
    let server = support::start_echo(settings);
    let addr = server.addr;

    let mut ws = Ws::connect(addr, "EIO=3&transport=websocket");
    let Frame::Text(open) = next(&mut ws) else {
        panic!("no open packet")
    };
    let open: Value = serde_json::from_str(open.strip_prefix('0').unwrap()).unwrap();
    assert_eq!(open["upgrades"], serde_json::json!([]));
    assert_eq!(open["maxPayload"], 1_000_000, "{open}");
    ws.send_text("4hello");
    assert_eq!(next(&mut ws), Frame::Text("4hello".into()));
    // A binary message travels with its type byte, both ways.
    ws.send_binary(&[4, 1, 2, 3, 4]);
    assert_eq!(next(&mut ws), Frame::Binary(vec![4, 1, 2, 3, 4]));
    for _ in 0..3 {
        ws.send_text("2");
        assert_eq!(next(&mut ws), Frame::Text("3".into()));
    }
    // A binary frame of another type is malformed: closed.
    ws.send_binary(&[3, 1]);
    assert_eq!(next(&mut ws), Frame::Closed);
    for bad in ["abc", "1"] {
        let mut ws = Ws::connect(addr, "EIO=3&transport=websocket");
        next(&mut ws);
        ws.send_text(bad);
        assert_eq!(next(&mut ws), Frame::Closed, "{bad}");
    }

    // The upgrade: the pending poll is answered `1:6`, polling is refused afterwards.
    let body = get(addr, "EIO=3&transport=polling&b64=1").polling_body();
    let open: Value = serde_json::from_str(&v3_packets(&body)[0][1..]).unwrap();
    let sid = open["sid"].as_str().unwrap().to_owned();
    let mut ws = Ws::connect(addr, &format!("EIO=3&transport=websocket&sid={sid}"));
    ws.send_text("2probe");
    assert_eq!(next(&mut ws), Frame::Text("3probe".into()));
    assert_eq!(get(addr, &v3_query(&sid)).polling_body(), "1:6");
    ws.send_text("5");
    ws.send_text("4hello");
    assert_eq!(next(&mut ws), Frame::Text("4hello".into()));
    assert_eq!(get(addr, &v3_query(&sid)).status, 400);
}
