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
    let child = siohub()
        .args(["--port", &port.to_string(), "--host", "127.0.0.1"])
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
