//! The `siohub` binary as a user runs it: `--help`, a bad configuration value, serving on a
//! chosen port, and a clean exit on SIGTERM and SIGINT.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn siohub() -> Command {
    Command::new(env!("CARGO_BIN_EXE_siohub"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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

fn start(port: u16) -> Child {
    start_with(port, &[])
}

fn start_with(port: u16, env: &[(&str, &str)]) -> Child {
    let child = siohub()
        .args(["--port", &port.to_string(), "--host", "127.0.0.1"])
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "siohub did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn handshake(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // A listening socket nobody accepts on would otherwise hang the test.
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn stop_with(signal: &str) {
    let port = free_port();
    let mut child = start(port);
    let response = handshake(port);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("0{\"sid\":"), "{response}");
    stop(&mut child, signal);
}

/// Sends `signal` and checks the binary exits 0 having logged its start-up line.
fn stop(child: &mut Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        assert!(
            Instant::now() < deadline,
            "siohub did not exit after {signal}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(0), "siohub should exit 0 after {signal}");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let lines: Vec<String> = stderr.lines().map_while(Result::ok).collect();
    assert!(
        lines.iter().any(|l| l.contains("listening on")),
        "no start-up line: {lines:?}"
    );
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
    let mut child = start_with(
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
        let response = handshake(port);
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let sid = response.split("\"sid\":\"").nth(1).unwrap();
        sids.insert(sid.split('"').next().unwrap().to_owned());
    }
    assert_eq!(sids.len(), 200, "every handshake opens its own session");
    stop(&mut child, "-TERM");
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
    assert!(handshake(port).starts_with("HTTP/1.1 200"));
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
