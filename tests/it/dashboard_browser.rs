//! The dashboard in a real browser: headless Chromium (Debian's `chromium`, which
//! `tests/clients/setup.sh` installs) driven by `playwright-core` from
//! `tests/clients/node/dashboard_browser.mjs`, against an in-process hub with the admin
//! login on, and a real `socket.io-client` as the socket the page manages.
//!
//! Screenshots go to `target/dashboard-screenshots/`.

use crate::support;
use crate::support::clients::{clients_dir, node};
use crate::support::ops::metrics_text;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use siohub::server::BackgroundServer;
use support::{test_settings, wait_until, OPERATOR_KEY};

const PASSWORD: &str = "dashboard-test-password";

fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard-screenshots")
}

/// A hub whose `[admin]` login is `admin` / [`PASSWORD`] (bcrypt at the lowest cost).
fn hub_with_admin() -> BackgroundServer {
    let mut settings = test_settings();
    settings.admin.password_hash = bcrypt::hash(PASSWORD, 4).expect("bcrypt hashes");
    support::start_hub_from(settings)
}

/// Runs the browser script's `scenario` with `extra` settings; returns its result line.
#[track_caller]
fn run_browser(server: &BackgroundServer, scenario: &str, extra: Value) -> Value {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: run tests/clients/setup.sh (the README test command does)"
    );
    assert!(
        clients_dir()
            .join("node/node_modules/playwright-core")
            .exists(),
        "playwright-core is not installed: run tests/clients/setup.sh"
    );
    let mut config = json!({
        "url": server.url(),
        "username": "admin",
        "password": PASSWORD,
        "apiKey": OPERATOR_KEY,
        "screenshots": screenshots(),
        "scenario": scenario,
    });
    for (key, value) in extra.as_object().into_iter().flatten() {
        config[key] = value.clone();
    }
    let output = node("dashboard_browser.mjs")
        .env("DASHBOARD_TEST", config.to_string())
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let result: Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no result line; stdout: {stdout}\nstderr: {stderr}"));
    eprintln!("dashboard browser scenario {scenario}: {result}");
    assert!(
        output.status.success() && result["ok"] == true,
        "the browser scenario {scenario} failed: {result:#}\nstderr: {stderr}"
    );
    result
}

#[test]
fn the_dashboard_logs_in_and_manages_a_socket_without_leaving_the_hub() {
    let server = hub_with_admin();
    let result = run_browser(&server, "manage", json!({}));
    assert_eq!(result["disconnect_reason"], "io server disconnect");
    assert!(
        result["wrong_password"]
            .as_str()
            .is_some_and(|text| text.contains("Refused")),
        "{result}"
    );
    assert!(result["requests"].as_u64().unwrap() > 5, "{result}");
    for shot in result["screenshots"].as_array().unwrap() {
        assert!(Path::new(shot.as_str().unwrap()).exists(), "{shot}");
    }
}

#[test]
fn with_api_keys_and_no_password_the_form_logs_in_with_a_key() {
    let keys_only = support::start_hub_from(test_settings());
    let result = run_browser(&keys_only, "keys_only", json!({}));
    assert!(
        result["password_refused"]
            .as_str()
            .is_some_and(|m| m.contains("password_hash")),
        "{result}"
    );
}

#[test]
fn with_admin_off_the_page_says_so_and_read_only_offers_no_command() {
    let mut settings = test_settings();
    settings.api.keys.clear();
    let off = support::start_hub_from(settings);
    let result = run_browser(&off, "off", json!({}));
    assert!(
        result["message"]
            .as_str()
            .is_some_and(|m| m.contains("password_hash")),
        "{result}"
    );

    let mut settings = test_settings();
    settings.api.insecure = true;
    settings.admin.read_only = true;
    let read_only = support::start_hub_from(settings);
    run_browser(&read_only, "read_only", json!({}));
}

#[test]
fn cluster_views_the_dashboard_lists_every_node() {
    let redis = support::RedisServer::start();
    let (a, b) = (
        crate::cluster_views::start_node(&redis),
        crate::cluster_views::start_node(&redis),
    );
    crate::cluster_views::wait_nodes(a.addr, 2);
    let _on_b = crate::cluster_views::Client::connect(b.addr, None);
    let result = run_browser(&a, "cluster", json!({"otherSockets": 1}));
    let nodes = result["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "{result}");
}

/// The benchmark's load generator (`bench/loadgen`), built if it is not (the README's
/// test command builds it before the tests).
fn loadgen() -> PathBuf {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--locked", "-p", "loadgen"])
        .current_dir(&bench)
        .stdout(Stdio::null())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the load generator did not build");
    bench.join("target/debug/loadgen")
}

/// The load generator holding `n` idle websocket connections (each in a room) until killed.
struct IdleLoad(Child);

impl IdleLoad {
    fn start(server: &BackgroundServer, n: usize) -> IdleLoad {
        let child = Command::new(loadgen())
            .args(["run", "--scenario", "idle", "--label", "siohub"])
            .args(["--addr", &server.addr.to_string()])
            .args(["--clients", &n.to_string(), "--settle", "110"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("loadgen starts");
        IdleLoad(child)
    }
}

impl Drop for IdleLoad {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The hub's open websocket connections, from `/metrics`.
fn websocket_connections(server: &BackgroundServer) -> u64 {
    metrics_text(server)
        .lines()
        .find(|line| line.starts_with("siohub_connections{transport=\"websocket\"}"))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|n| n.parse::<f64>().ok())
        .map_or(0, |n| n as u64)
}

#[test]
fn with_8000_idle_connections_a_new_socket_shows_within_two_seconds() {
    const IDLE: usize = 8000;
    let server = hub_with_admin();
    let _load = IdleLoad::start(&server, IDLE);
    wait_until(
        "the load generator's connections",
        Duration::from_secs(60),
        || websocket_connections(&server) >= IDLE as u64,
    );
    let result = run_browser(
        &server,
        "load",
        json!({"loadConnections": IDLE, "withinMs": 2000}),
    );
    assert!(
        result["shown_after_ms"].as_u64().unwrap() <= 2000,
        "{result}"
    );
}
