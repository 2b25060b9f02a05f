//! `/admin` as the hosted `@socket.io/admin-ui` 0.5.1 and siohub's dashboard use it:
//! `tests/clients/node/admin_ui.mjs` connects with the hosted UI's handshake (auth,
//! `withCredentials`, Origin `https://admin.socket.io`, the CORS answers checked) and
//! checks every event's shape, each command's effect on real client sockets, the logins
//! (wrong credentials, session-id reconnect, API key), the read-only refusals and the
//! `siohub:*` requests; this side starts the server each scenario expects and checks what
//! the hub reports about its Admin actor.

use crate::support;

use serde_json::Value;
use siohub::config::Settings;
use siohub::server::BackgroundServer;
use std::time::Duration;

use siohub_actors::{HubActor, RefusalReason};
use support::{clients, ops};
use support::{policy, start_hub_from, test_settings};

/// The hosted UI's origin.
const HOSTED_UI: &str = "https://admin.socket.io";

/// Settings with `/`, the hosted UI allowed with credentials, and the admin login
/// `admin` / `s3cret` (bcrypt at the lowest cost, so the test stays fast).
fn admin_settings() -> Settings {
    let mut settings = test_settings();
    settings.namespaces = vec![policy("/")];
    settings.cors.origins = vec![HOSTED_UI.into()];
    settings.cors.credentials = true;
    settings.admin.password_hash = bcrypt::hash("s3cret", 4).expect("bcrypt hashes");
    settings
}

/// Runs one scenario of the script against `server`; returns its report (asserting it
/// passed).
fn run(server: &BackgroundServer, scenario: &str) -> Value {
    run_with(server, scenario, &[])
}

/// [`run`] with more arguments for the script.
fn run_with(server: &BackgroundServer, scenario: &str, more: &[&str]) -> Value {
    let output = clients::node("admin_ui.mjs")
        .args([server.url().as_str(), scenario])
        .args(more)
        .output()
        .expect("node starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let report: Value = serde_json::from_str(last).unwrap_or_else(|_| {
        panic!(
            "admin_ui.mjs {scenario}: no JSON report; stdout: {stdout}; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(
        output.status.success() && report["ok"] == Value::Bool(true),
        "admin_ui.mjs {scenario} failed: {report}; stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    report
}

#[test]
fn the_hosted_admin_ui_sees_and_drives_real_clients() {
    let server = start_hub_from(admin_settings());
    run(&server, "full");
    let admin = server
        .hub
        .actor_stats()
        .into_iter()
        .find(|a| a.name == "Admin")
        .expect("the Admin actor reports its stats");
    assert!(admin.messages_handled > 0, "{admin:?}");
    assert_eq!(admin.restarts, 0);
    // /connections and /metrics show the Admin like the other actors, and its bounds.
    let listing = ops::connections(&server);
    let actors = listing["actors"].as_array().expect("actors listed");
    assert!(actors.iter().any(|a| a["name"] == "Admin"), "{listing}");
    let metrics = ops::metrics_text(&server);
    for series in [
        "siohub_actor_messages_handled_total{actor=\"Admin\"}",
        "siohub_admin_watchers ",
        "siohub_admin_dropped_total{reason=\"queue_full\"}",
        "siohub_admin_dropped_total{reason=\"push_budget\"}",
        "siohub_admin_dropped_total{reason=\"sampled_out\"}",
    ] {
        assert!(metrics.contains(series), "{series} missing from /metrics");
    }
}

#[test]
fn a_crashed_admin_restarts_and_serves_the_admin_ui() {
    let server = start_hub_from(admin_settings());
    server.hub.crash(HubActor::Admin);
    support::wait_until("the Admin restarted", Duration::from_secs(10), || {
        server
            .hub
            .actor_stats()
            .iter()
            .any(|a| a.name == "Admin" && a.restarts == 1)
    });
    run(&server, "full");
}

#[test]
fn at_most_32_admin_sockets_connect_at_once() {
    let server = start_hub_from(admin_settings());
    run(&server, "bounds");
}

#[test]
fn read_only_admin_offers_and_runs_no_command() {
    let mut settings = admin_settings();
    settings.admin.read_only = true;
    let server = start_hub_from(settings);
    run(&server, "read_only");
}

#[test]
fn admin_access_is_off_without_a_password_hash_or_a_key() {
    let mut settings = admin_settings();
    settings.admin.password_hash.clear();
    settings.api.keys.clear();
    let server = start_hub_from(settings);
    run(&server, "off");
}

#[test]
fn with_api_keys_and_no_password_hash_only_a_key_opens_admin() {
    let mut settings = admin_settings();
    settings.admin.password_hash.clear();
    let server = start_hub_from(settings);
    run_with(&server, "off", &[support::OPERATOR_KEY]);
}

#[test]
fn a_configured_admin_namespace_does_not_shadow_the_admin() {
    let mut settings = admin_settings();
    settings.namespaces.push(policy("/admin"));
    settings.admin.password_hash.clear();
    settings.api.keys.clear();
    // The configured `/admin` would accept anyone; the admin namespace refuses, saying
    // admin access is off.
    let server = start_hub_from(settings);
    run(&server, "off");
}

/// The Admin's mailbox depth (the count its feed's bound reads).
fn admin_mailbox_depth(server: &BackgroundServer) -> u64 {
    server
        .hub
        .actor_stats()
        .into_iter()
        .find(|a| a.name == "Admin")
        .expect("the Admin actor reports its stats")
        .mailbox_depth
}

#[test]
fn admin_requests_whose_asker_left_are_counted_off_and_the_feed_goes_on() {
    // A watcher that leaves with requests still waiting drops their answers' futures.
    // Each such request must still be counted off the Admin's mailbox depth: before, the
    // depth grew by one for each, and past the feed's 10,000 bound the Admin was fed
    // nothing more (the official UI saw no socket or event until a restart).
    let server = start_hub_from(admin_settings());
    let admin = server.hub.admin().clone();
    for _ in 0..10_001 {
        drop(admin.overview());
    }
    support::wait_until(
        "the Admin's mailbox depth is back to 0",
        Duration::from_secs(30),
        || admin_mailbox_depth(&server) == 0,
    );
    // The feed goes on: the official UI sees sockets connect and their events.
    run(&server, "full");
    support::wait_until(
        "the Admin's mailbox is empty again",
        Duration::from_secs(30),
        || admin_mailbox_depth(&server) == 0,
    );
}

/// How often the hub refused something for `reason`.
fn refusals(server: &BackgroundServer, reason: RefusalReason) -> u64 {
    server.hub.counters().refusals(reason)
}

#[test]
fn admin_watchers_see_long_event_names_cut_and_are_not_cut_off() {
    // 100 KiB event names: before, every watcher got each name in full (and was soon
    // disconnected as a slow consumer), and the recent-events ring kept 100 of them.
    let server = start_hub_from(admin_settings());
    run(&server, "names");
}

#[test]
fn admin_emit_refuses_the_names_socket_io_reserves() {
    // Before, `emit("/", null, "connect")` reached every client of `/`, which dropped its
    // connection with "parse error".
    let server = start_hub_from(admin_settings());
    run(&server, "reserved");
}

#[test]
fn admin_sockets_connecting_at_once_stay_within_32() {
    // The bound was checked before the count was raised: sockets connecting at once got
    // 33 to 41 in.
    let server = start_hub_from(admin_settings());
    run(&server, "race");
    assert!(refusals(&server, RefusalReason::AdminWatchersFull) >= 68);
}

#[test]
fn admin_request_flood_of_one_socket_is_bounded_and_others_are_served() {
    let server = start_hub_from(admin_settings());
    let report = run_with(&server, "flood", &["100000"]);
    let busy = report["busy_answers"]
        .as_u64()
        .expect("busy answers counted");
    assert!(busy > 0, "{report}");
    assert!(
        refusals(&server, RefusalReason::AdminTasksFull) >= busy,
        "{report}"
    );
    support::wait_until(
        "the Admin's mailbox is empty after the flood",
        Duration::from_secs(30),
        || admin_mailbox_depth(&server) == 0,
    );
}

#[test]
fn admin_login_flood_from_one_address_leaves_room_for_the_operator() {
    // Wrong passwords from 127.0.0.2, retried at once, used to fill the bcrypt checker's
    // queue ([admin] max_pending_logins) so that the operator's first login was refused.
    let mut settings = admin_settings();
    // A slower hash, so the flood's checks really queue.
    settings.admin.password_hash = bcrypt::hash("s3cret", 8).expect("bcrypt hashes");
    let server = start_hub_from(settings);
    run(&server, "login_flood");
    assert!(refusals(&server, RefusalReason::AdminLoginFailures) > 0);
    let metrics = ops::metrics_text(&server);
    assert!(
        metrics.contains("siohub_refused_total{reason=\"admin_login_failures\"}"),
        "the budget's refusals are not in /metrics"
    );
}
