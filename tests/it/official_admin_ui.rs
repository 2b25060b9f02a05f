//! The REAL official Admin UI against the hub: the built bundle that
//! `@socket.io/admin-ui` 0.5.1 ships in `ui/dist` (what admin.socket.io hosts), served by
//! `tests/clients/node/official_admin_ui.mjs` from a static server of its own on another
//! port (another origin, as in production), opened in headless Chromium (Debian's
//! `chromium`, driven by `playwright-core`) and logged in through its own connection form.
//! The hub allows that origin with credentials in `[cors]`, with the `[admin]` login on;
//! a real `socket.io-client` is the socket the UI lists and manages.
//!
//! Screenshots go to `target/official-admin-ui/`.

use crate::support;
use crate::support::clients::{clients_dir, node};

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{json, Value};
use support::{policy, test_settings, OPERATOR_KEY};

const PASSWORD: &str = "official-ui-password";

fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/official-admin-ui")
}

#[test]
fn the_official_admin_ui_logs_in_lists_the_hub_and_manages_a_real_socket() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: run tests/clients/setup.sh (the README test command does)"
    );
    assert!(
        clients_dir()
            .join("node/node_modules/@socket.io/admin-ui/ui/dist/index.html")
            .exists(),
        "@socket.io/admin-ui is not installed: run tests/clients/setup.sh"
    );
    // The script serves the UI first and says from which origin.
    let (script, origin) = UiScript::start(json!({}));

    // The hub lets that origin in, with credentials, and has the admin login on.
    let mut settings = test_settings();
    settings.namespaces = vec![policy("/")];
    settings.cors.origins = vec![origin];
    settings.cors.credentials = true;
    settings.admin.password_hash = bcrypt::hash(PASSWORD, 4).expect("bcrypt hashes");
    let server = support::start_hub_from(settings);
    let result = script.finish(json!({ "url": server.url() }), "scenario");
    assert_eq!(result["wrong_password"], "Invalid credentials");
    assert_eq!(result["disconnect_reason"], "io server disconnect");
    assert_eq!(result["room_emit"], json!([{ "n": 1 }]));
    for shot in result["screenshots"]
        .as_array()
        .expect("screenshots listed")
    {
        assert!(Path::new(shot.as_str().unwrap()).exists(), "{shot}");
    }
}

#[test]
fn cluster_views_the_official_admin_ui_lists_both_nodes_and_their_sockets() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: run tests/clients/setup.sh (the README test command does)"
    );
    let (script, origin) = UiScript::start(json!({ "scenario": "cluster" }));

    // Node A: the UI's origin let in and the admin login on; node B: a plain node with
    // one client.
    let redis = support::RedisServer::start();
    let mut settings = crate::cluster_views::node_settings(&redis);
    settings.api.insecure = false;
    settings.cors.origins = vec![origin];
    settings.cors.credentials = true;
    settings.admin.password_hash = bcrypt::hash(PASSWORD, 4).expect("bcrypt hashes");
    let a = support::start_hub_from(settings);
    let b = crate::cluster_views::start_node(&redis);
    crate::cluster_views::wait_nodes(a.addr, 2);
    let on_b = crate::cluster_views::Client::connect(b.addr, None);
    let told = json!({ "url": a.url(), "otherSocket": on_b.id });
    let result = script.finish(told, "cluster scenario");
    assert_eq!(result["server_rows"].as_array().map(Vec::len), Some(2));
}

/// `official_admin_ui.mjs` running: it serves the UI, then waits for the hub's address.
struct UiScript {
    child: std::process::Child,
    stdout: BufReader<std::process::ChildStdout>,
}

impl UiScript {
    /// Starts the script with the login and `extra` settings; returns it with the origin
    /// it serves the UI from.
    fn start(extra: Value) -> (UiScript, String) {
        let mut config = json!({
            "username": "admin",
            "password": PASSWORD,
            "apiKey": OPERATOR_KEY,
            "screenshots": screenshots(),
            "hubPid": std::process::id(),
        });
        for (key, value) in extra.as_object().into_iter().flatten() {
            config[key] = value.clone();
        }
        let mut child = node("official_admin_ui.mjs")
            .env("OFFICIAL_ADMIN_UI", config.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout piped"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the script writes");
        let origin = serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|v| v["static_origin"].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("no static origin from the script: {line:?}"));
        (UiScript { child, stdout }, origin)
    }

    /// Tells the script where the hub is (`told`), waits for it to finish and returns its
    /// result, asserting that the `what` it ran succeeded.
    fn finish(mut self, told: Value, what: &str) -> Value {
        let mut stdin = self.child.stdin.take().expect("stdin piped");
        writeln!(stdin, "{told}").expect("the script reads");
        drop(stdin);
        let mut rest = String::new();
        for line in self.stdout.lines() {
            rest.push_str(&line.expect("utf-8 output"));
            rest.push('\n');
        }
        let status = self.child.wait().expect("node exits");
        let result: Value = rest
            .lines()
            .rev()
            .find_map(|line| serde_json::from_str(line).ok())
            .unwrap_or_else(|| panic!("no result line; stdout: {rest}"));
        eprintln!("official admin UI, {what}: {result:#}");
        assert!(
            status.success() && result["ok"] == true,
            "the official Admin UI {what} failed: {result:#}"
        );
        result
    }
}
