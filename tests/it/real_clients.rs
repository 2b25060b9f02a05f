//! Real Socket.IO clients — Node `socket.io-client` 4.8 and `python-socketio` 5 — run the
//! scenarios of tests/clients against siohub's scenario server, over polling only, websocket
//! only and polling→websocket upgrade. Each run checks what the client saw (the script
//! asserts and reports) and what the server did (its records).
//!
//! The clients are installed by `tests/clients/setup.sh`, which the README test command runs.

use crate::support;

use std::process::Command;

use serde_json::Value;
use support::clients;
use support::{start_scenario_server, test_settings, Record, Records};

const TRANSPORTS: [&str; 3] = ["polling", "websocket", "upgrade"];

fn client_command(client: &str) -> Command {
    match client {
        "node" => clients::node("scenario.mjs"),
        "python" => clients::python("scenario.py"),
        other => panic!("unknown client {other}"),
    }
}

/// Runs one scenario and returns the script's report (asserting it passed).
fn run(client: &str, scenario: &str, url: &str, transport: &str) -> Value {
    let output = client_command(client)
        .args([scenario, url, transport])
        .output()
        .expect("the client script starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let report: Value = serde_json::from_str(last).unwrap_or_else(|_| {
        panic!(
            "{client} {scenario} {transport}: no JSON report; stdout: {stdout}; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(
        output.status.success() && report["ok"] == Value::Bool(true),
        "{client} {scenario} {transport} failed: {report}; stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    report
}

fn sids(report: &Value) -> Vec<String> {
    report["sids"]
        .as_array()
        .expect("the report lists its sids")
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn count_events(records: &Records, sid: &str, name: &str) -> usize {
    records
        .events_of(sid)
        .iter()
        .filter(|(event, _, _)| event == name)
        .count()
}

/// Runs `scenario` for every transport on one server and hands each report to `check`.
fn matrix(client: &str, scenario: &str, check: impl Fn(&str, &Value, &Records)) {
    matrix_with(test_settings(), client, scenario, check)
}

/// [`matrix`] on a server with `settings`.
fn matrix_with(
    settings: siohub::config::Settings,
    client: &str,
    scenario: &str,
    check: impl Fn(&str, &Value, &Records),
) {
    let (server, records) = start_scenario_server(settings);
    for transport in TRANSPORTS {
        let report = run(client, scenario, &server.url(), transport);
        let ids = sids(&report);
        assert!(!ids.is_empty(), "{client} {scenario} {transport}: no sids");
        let connected = records.connected_sids();
        for sid in &ids {
            assert!(
                connected.contains(sid),
                "{client} {scenario} {transport}: the server never connected socket {sid}"
            );
        }
        check(transport, &report, &records);
    }
}

fn check_connect(_t: &str, report: &Value, records: &Records) {
    let sid = &sids(report)[0];
    assert_eq!(count_events(records, sid, "whoami"), 1);
}

fn check_echo(_t: &str, report: &Value, records: &Records) {
    let sid = &sids(report)[0];
    let details = &report["details"];
    // Each single value, the multi-argument emit, the `first` one, the ones in a row:
    // every one once.
    let expected =
        details["single_values"].as_u64().unwrap() + 2 + details["in_order"].as_u64().unwrap();
    let echoes = count_events(records, sid, "echo");
    assert_eq!(echoes as u64, expected, "echo events the server saw");
    let five = records
        .events_of(sid)
        .iter()
        .any(|(event, args, _)| event == "echo" && args.len() == 5);
    assert!(five, "the server never saw the 5-argument emit");
}

fn check_ack(_t: &str, report: &Value, records: &Records) {
    let sid = &sids(report)[0];
    let details = &report["details"];
    let sent = details["sent"].as_u64().unwrap();
    assert_eq!(
        count_events(records, sid, "echo-ack") as u64,
        sent,
        "each echo-ack once"
    );
}

fn check_server_ack(_t: &str, report: &Value, records: &Records) {
    let sid = &sids(report)[0];
    assert_eq!(count_events(records, sid, "ask-client"), 1);
    assert_eq!(report["details"]["answer"]["a"], 42);
}

fn check_binary(_t: &str, report: &Value, records: &Records) {
    let sid = &sids(report)[0];
    let events = records.events_of(sid);
    assert!(
        events.iter().any(|(_, _, attachments)| *attachments >= 2),
        "the server never received a packet with two attachments"
    );
    assert!(events.iter().all(|(_, _, attachments)| *attachments <= 10));
}

fn check_namespace_auth(_t: &str, report: &Value, records: &Records) {
    let sid = &sids(report)[0];
    let all = records.all();
    assert!(all.contains(&Record::Connect {
        nsp: "/secure".into(),
        sid: sid.clone()
    }));
    let refused: Vec<_> = all
        .iter()
        .filter(|r| matches!(r, Record::Refused { nsp, .. } if nsp == "/secure"))
        .collect();
    assert!(
        refused.len() >= 2,
        "the middleware should have refused twice: {refused:?}"
    );
}

fn check_refused(_t: &str, report: &Value, records: &Records) {
    let sid = &sids(report)[0];
    assert_eq!(count_events(records, sid, "whoami"), 1);
    assert!(!records
        .all()
        .iter()
        .any(|r| matches!(r, Record::Connect { nsp, .. } if nsp == "/nope")));
}

fn check_reconnect(client: &str, report: &Value, records: &Records) {
    let ids = sids(report);
    assert_eq!(
        ids.len(),
        3,
        "three sockets: first, reconnected, after the kick"
    );
    let first = wait_for_reason(records, &ids[0]);
    let allowed: &[&str] = if client == "node" {
        &["client namespace disconnect"]
    } else {
        // python-socketio's disconnect() aborts its Engine.IO connection without waiting
        // for the queued DISCONNECT to be written: on websocket the server may see the
        // transport close first, on polling nothing at all, so it learns of it at the ping
        // timeout (short here: see `reconnect_settings`).
        &[
            "client namespace disconnect",
            "transport close",
            "ping timeout",
        ]
    };
    assert!(
        allowed.contains(&first.as_str()),
        "first socket left with {first}"
    );
    assert_eq!(
        wait_for_reason(records, &ids[1]),
        "server namespace disconnect"
    );
    assert_eq!(count_events(records, &ids[1], "kick-me"), 1);
}

/// The disconnect-reconnect scenario's server: a heartbeat short enough that a client gone
/// without a word is noticed well within [`wait_for_reason`]'s deadline.
fn reconnect_settings() -> siohub::config::Settings {
    let mut settings = test_settings();
    settings.engine.ping_interval_ms = 1000;
    settings.engine.ping_timeout_ms = 2000;
    settings
}

fn wait_for_reason(records: &Records, sid: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(reason) = records.disconnect_reason(sid) {
            return reason;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "socket {sid} never disconnected; records: {:?}",
            records.all()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

macro_rules! scenario_tests {
    ($($name:ident: $scenario:literal => $check:expr;)*) => {
        mod node {
            use super::*;
            $(#[test] fn $name() { matrix("node", $scenario, $check); })*
            #[test] fn disconnect_reconnect() {
                matrix_with(reconnect_settings(), "node", "disconnect-reconnect", |_, r, rec| check_reconnect("node", r, rec));
            }
        }
        mod python {
            use super::*;
            $(#[test] fn $name() { matrix("python", $scenario, $check); })*
            #[test] fn disconnect_reconnect() {
                matrix_with(reconnect_settings(), "python", "disconnect-reconnect", |_, r, rec| check_reconnect("python", r, rec));
            }
        }
    };
}

scenario_tests! {
    connect: "connect" => check_connect;
    echo: "echo" => check_echo;
    ack: "ack" => check_ack;
    server_ack: "server-ack" => check_server_ack;
    binary: "binary" => check_binary;
    namespace_auth: "namespace-auth" => check_namespace_auth;
    refused_namespace: "refused-namespace" => check_refused;
}
