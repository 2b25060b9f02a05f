//! `GET /health` (healthy, or degraded while a dependency is: the adapter, the webhook, a
//! restarting actor) and `GET /ready` (503 while draining), and the drain itself on an
//! in-process server: handshakes refused, every client told.

use crate::support;
use crate::support::backend;
use crate::support::wire;

use std::time::{Duration, Instant};

use backend::*;
use serde_json::{json, Value};
use siohub::config::Settings;
use siohub::server::BackgroundServer;
use support::{free_port, test_settings};
use wire::*;

fn hub(adjust: impl FnOnce(&mut Settings)) -> BackgroundServer {
    let mut settings = test_settings();
    adjust(&mut settings);
    support::start_hub_from(settings)
}

fn health(server: &BackgroundServer) -> Value {
    let res = request(server.addr, "GET", "/health", &[], b"");
    assert_eq!(res.status, 200, "{res:?}");
    res.json()
}

#[test]
fn a_fresh_hub_is_healthy() {
    let server = hub(|_| {});
    let (_ws, _) = sio_connect(server.addr);
    let body = health(&server);
    assert_eq!(body["status"], "healthy", "{body}");
    assert_eq!(body["reasons"], json!([]));
    assert_eq!(body["connections"], 1);
    assert!(body["uptime"].is_u64());
    assert_eq!(body["draining"], false);
    assert_eq!(
        body["adapter"],
        json!({ "kind": "memory", "connected": true })
    );
    assert_eq!(body["webhook"]["configured"], false);
    let actors = body["actors"].as_array().unwrap();
    let names: Vec<&str> = actors.iter().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "ConnectionManager",
            "RoomSupervisor",
            "Broadcaster",
            "Admin"
        ]
    );
    assert!(actors.iter().all(|a| a["restarts"] == 0), "{actors:?}");
    let ready = request(server.addr, "GET", "/ready", &[], b"");
    assert_eq!(
        (ready.status, ready.json()),
        (200, json!({ "ready": true }))
    );
}

#[test]
fn a_redis_adapter_that_is_not_connected_degrades_health() {
    let port = free_port();
    let server = hub(|s| {
        s.adapter.kind = "redis".into();
        // Nothing listens there.
        s.adapter.redis_url = format!("redis://127.0.0.1:{port}");
    });
    let body = health(&server);
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["adapter"]["kind"], "redis");
    assert_eq!(body["adapter"]["connected"], false);
    assert_eq!(body["adapter"]["nodes"], 1);
    // The reason says which connection and why.
    let reason = body["reasons"][0].as_str().unwrap();
    assert!(
        reason.contains("redis adapter is not connected"),
        "{reason}"
    );
    assert!(reason.contains("connection"), "{reason}");
    // The node still serves its own clients.
    let (mut a, _) = sio_connect(server.addr);
    assert!(ack(&mut a, 1, "ping", json!([]))["server_time"].is_u64());
}

#[test]
fn a_failing_webhook_degrades_health_until_it_answers_again() {
    let port = free_port();
    let server = hub(|s| {
        s.webhook.url = format!("http://127.0.0.1:{port}/ok");
        s.webhook.timeout_ms = 500;
    });
    assert_eq!(health(&server)["status"], "healthy");
    let (mut ws, _) = sio_connect(server.addr);
    let reply = ack(&mut ws, 1, "request", json!([{ "action": "a" }]));
    assert_eq!(error_code(&reply), Some("BACKEND_UNAVAILABLE"));
    let body = health(&server);
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["webhook"]["failing"], true);

    // The backend comes up: one answered call and the hub is healthy again.
    let _backend = Backend::start_on(port);
    assert_eq!(
        ack(&mut ws, 2, "request", json!([{ "action": "a" }]))["ok"],
        true
    );
    assert_eq!(health(&server)["status"], "healthy");
}

#[test]
fn a_restarted_actor_degrades_health_for_a_while() {
    let server = hub(|_| {});
    server.hub.crash(siohub_actors::HubActor::Broadcaster);
    support::wait_until("the health says degraded", IO_TIMEOUT, || {
        health(&server)["status"] == "degraded"
    });
    let body = health(&server);
    assert!(
        body["reasons"][0]
            .as_str()
            .unwrap()
            .contains("Broadcaster restarted"),
        "{body}"
    );
    let broadcaster = body["actors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "Broadcaster")
        .unwrap()
        .clone();
    assert_eq!(broadcaster["restarts"], 1);
    assert!(broadcaster["last_restart_ms"].is_u64());
}

#[test]
fn draining_answers_ready_503_refuses_handshakes_and_disconnects_everyone() {
    let server = hub(|_| {});
    let (mut ws, _) = sio_connect(server.addr);
    let (sid, _) = open_polling(server.addr);
    push(server.addr, &sid, "40");
    assert!(poll(server.addr, &sid).text().starts_with("40{"));
    let pending = support::hub_state::held_poll(&server, &sid);

    let started = Instant::now();
    let left = server.drain(Duration::from_secs(5));
    assert_eq!(left, 0, "every session closed");
    assert!(started.elapsed() < Duration::from_secs(3));

    // The websocket client got the close frame, the pending poll the close packet.
    ws.assert_closed();
    let body = pending.join().unwrap().text();
    assert_eq!(
        body, "1",
        "the pending poll is answered with a close packet"
    );

    let ready = request(server.addr, "GET", "/ready", &[], b"");
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["code"], "DRAINING");
    let refused = get(server.addr, POLLING);
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.json()["code"], 4);
    assert!(Ws::try_connect(server.addr, WEBSOCKET).is_err());
    assert_eq!(health(&server)["draining"], true);
}
