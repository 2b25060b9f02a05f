//! The `siohub` binary as a user runs it: `--help`, a bad configuration value, serving on a
//! chosen port, and a clean exit on SIGTERM and SIGINT.

use crate::support::binary::{siohub, Server};
use crate::support::free_port;
use crate::support::wait_until;
use crate::support::wire::{get, IO_TIMEOUT, POLLING};

use std::time::Duration;

#[test]
fn help_lists_the_flags() {
    let out = siohub().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in ["--config", "--port", "--host", "--print-config"] {
        assert!(
            text.contains(flag),
            "--help does not mention {flag}: {text}"
        );
    }
}

#[test]
fn a_bad_value_stops_start_up_with_one_line_naming_it() {
    let out = siohub()
        .env("SOCKETIO_ENGINE__PING_INTERVAL_MS", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("engine.ping_interval_ms"), "{err}");
    assert!(err.contains("above 0"), "{err}");
}

#[test]
fn print_config_shows_the_layers_merged() {
    let out = siohub()
        .args(["--print-config", "--port", "4555"])
        .env("SOCKETIO_LOGGER_LEVEL", "debug")
        .output()
        .unwrap();
    assert!(out.status.success());
    let config: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(config["server"]["port"], 4555);
    assert_eq!(config["logging"]["level"], "debug");
    assert_eq!(config["server"]["path"], "/socket.io/");
}

fn start(port: u16) -> Server {
    start_with(port, &[])
}

fn start_with(port: u16, env: &[(&str, &str)]) -> Server {
    Server::start_on(port, &[], env)
}

/// A polling handshake on `port`; returns the response's status and body.
fn handshake(port: u16) -> (u16, String) {
    let response = get(([127, 0, 0, 1], port).into(), POLLING);
    (response.status, response.text())
}

fn stop_with(signal: &str) {
    let port = free_port();
    let mut server = start(port);
    let (status, body) = handshake(port);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("0{\"sid\":"), "{body}");
    stop(&mut server, signal);
}

/// Sends `signal` and checks the binary exits 0 having logged its start-up line.
fn stop(server: &mut Server, signal: &str) {
    server.signal(signal);
    let code = server.wait_exit(Duration::from_secs(15));
    assert_eq!(code, Some(0), "siohub should exit 0 after {signal}");
    wait_until("the start-up line is read", IO_TIMEOUT, || {
        server.stderr().iter().any(|l| l.contains("listening on"))
    });
}

#[test]
fn sigterm_exits_zero() {
    stop_with("-TERM");
}

#[test]
fn sigint_exits_zero() {
    stop_with("-INT");
}

/// Listening sockets on `port` of the loopback, from the kernel's table.
fn listeners_on(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let local = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // State 0A is LISTEN.
            fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&"0A")
        })
        .count()
}

#[test]
fn every_worker_listens_and_serves() {
    let port = free_port();
    let mut server = start_with(
        port,
        &[
            ("SOCKETIO_SERVER__WORKERS", "4"),
            // The polling sessions never poll again; the drain need not wait long for them.
            ("SOCKETIO_SHUTDOWN__GRACE_S", "2"),
        ],
    );
    assert_eq!(listeners_on(port), 4, "one listening socket per worker");
    // The kernel spreads connections over the four sockets by address and port: 200 fresh
    // connections reach every worker, and each must be answered.
    let mut sids = std::collections::HashSet::new();
    for _ in 0..200 {
        let (status, body) = handshake(port);
        assert_eq!(status, 200, "{body}");
        let sid = body.split("\"sid\":\"").nth(1).unwrap();
        sids.insert(sid.split('"').next().unwrap().to_owned());
    }
    assert_eq!(sids.len(), 200, "every handshake opens its own session");
    stop(&mut server, "-TERM");
    assert_eq!(
        listeners_on(port),
        0,
        "the listening sockets close with the binary"
    );
}

#[test]
fn a_port_already_served_stops_start_up_with_one_line() {
    let port = free_port();
    let mut first = start_with(port, &[("SOCKETIO_SHUTDOWN__GRACE_S", "2")]);
    let before = listeners_on(port);
    let out = siohub()
        .args(["--port", &port.to_string(), "--host", "127.0.0.1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.contains("in use"), "{err}");
    // The port is not shared with the second binary: the first still answers alone.
    assert_eq!(listeners_on(port), before);
    assert_eq!(handshake(port).0, 200);
    stop(&mut first, "-TERM");
}

#[test]
fn a_port_held_by_another_program_stops_start_up() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let out = siohub()
        .args(["--port", &port.to_string(), "--host", "127.0.0.1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use"), "{err}");
}

/// The start-up lines of a binary started with `env`, once all of them are written.
fn startup_lines(env: &[(&str, &str)]) -> Vec<String> {
    let server = Server::start(&[], env);
    wait_until("the start-up lines", IO_TIMEOUT, || {
        server.stderr().iter().any(|l| l.contains("metrics:"))
    });
    server.stderr()
}

#[track_caller]
fn line_with<'a>(lines: &'a [String], part: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.contains(part))
        .unwrap_or_else(|| panic!("no line with {part:?}: {lines:?}"))
}

#[test]
fn start_up_says_who_may_reach_each_surface() {
    // The defaults: Socket.IO's path, no API keys (so /api refuses everything), /metrics
    // open.
    let lines = startup_lines(&[]);
    assert!(line_with(&lines, "listening on http://127.0.0.1:").contains("/socket.io/: Socket.IO"));
    let api = line_with(&lines, "API:");
    assert!(api.contains("WARN"), "{api}");
    assert!(api.contains("no API keys configured"), "{api}");
    let metrics = line_with(&lines, "metrics:");
    assert!(metrics.contains("open to anyone"), "{metrics}");

    // Keys and a guarded /metrics; the keys themselves never show.
    let lines = startup_lines(&[
        ("SOCKETIO_API__KEYS", "startup-key-one,startup-key-two"),
        ("SOCKETIO_METRICS__REQUIRE_AUTH", "true"),
    ]);
    let api = line_with(&lines, "API:");
    assert!(api.contains("2 API key(s) configured"), "{api}");
    assert!(line_with(&lines, "metrics:").contains("is guarded"));
    assert!(
        lines.iter().all(|l| !l.contains("startup-key")),
        "{lines:?}"
    );

    // Insecure: said as a warning.
    let lines = startup_lines(&[("SOCKETIO_API__INSECURE", "true")]);
    let api = line_with(&lines, "API:");
    assert!(
        api.contains("WARN") && api.contains("insecure = true"),
        "{api}"
    );
}
