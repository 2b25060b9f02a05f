//! The backend webhook against a real HTTP backend the test starts: `request` and forwarded
//! events reach it with namespace, sid, user, event, payload and request_id; its reply comes
//! back in the ack; a slow backend gives `TIMEOUT`, a dead one or a 5xx
//! `BACKEND_UNAVAILABLE`, a 403 `PERMISSION_DENIED`; the concurrency bound refuses at once.

use crate::support;
use crate::support::backend;
use crate::support::tls_backend;
use crate::support::wire;

use std::time::Instant;

use backend::*;
use serde_json::json;
use siohub::config::Settings;
use siohub::server::BackgroundServer;
use siohub_actors::{RefusalReason, WebhookOutcome};
use support::{test_settings, wait_until};
use tls_backend::{other_ca, test_ca, TlsBackend};
use wire::*;

fn hub_with_webhook(url: &str, adjust: impl FnOnce(&mut Settings)) -> BackgroundServer {
    let mut settings = test_settings();
    settings.webhook.url = url.into();
    settings.webhook.timeout_ms = 500;
    adjust(&mut settings);
    support::start_hub_from(settings)
}

#[test]
fn a_request_reaches_the_backend_and_its_reply_comes_back_in_the_ack() {
    let backend = Backend::start();
    let server = hub_with_webhook(&backend.url("/ok"), |s| {
        s.webhook.secret = "s3cret".into();
    });
    let (mut ws, sid) = sio_connect(server.addr);
    let reply = ack(
        &mut ws,
        1,
        "request",
        json!([{ "action": "get-profile", "payload": { "id": 7 }, "request_id": "r-1" }]),
    );
    assert_eq!(
        reply,
        json!({
            "ok": true,
            "request_id": "r-1",
            "data": { "echo": { "id": 7 }, "action": "get-profile", "user": null }
        })
    );
    let calls = backend.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(
        call.body,
        json!({
            "namespace": "/",
            "sid": sid,
            "user": null,
            "event": "request",
            "action": "get-profile",
            "payload": { "id": 7 },
            "request_id": "r-1",
        })
    );
    assert_eq!(
        call.signature.as_deref(),
        Some(siohub::webhook::signature(b"s3cret", &call.raw).as_str()),
        "the body is signed with the webhook secret"
    );
    assert_eq!(server.hub.counters().webhook_calls(WebhookOutcome::Ok), 1);
}

#[test]
fn forwarded_events_are_posted_and_acked() {
    let backend = Backend::start();
    let server = hub_with_webhook(&backend.url("/ok"), |s| {
        s.namespaces[0].forward = vec!["chat:message".into()];
    });
    let (mut ws, sid) = sio_connect(server.addr);
    let reply = ack(&mut ws, 1, "chat:message", json!([{ "text": "hi" }]));
    assert_eq!(reply["ok"], true);
    assert_eq!(reply["data"]["echo"], json!({ "text": "hi" }));
    let request_id = reply["request_id"]
        .as_str()
        .expect("a generated request id");
    assert_eq!(request_id.len(), 36, "a fresh uuid: {request_id}");
    // Without an ack the event is still forwarded.
    ws.send_text(r#"42["chat:message",{"text":"fire and forget"}]"#);
    wait_until("the second call arrives", IO_TIMEOUT, || {
        backend.calls().len() == 2
    });
    let calls = backend.calls();
    assert_eq!(calls[0].body["event"], "chat:message");
    assert_eq!(calls[0].body["sid"], sid.as_str());
    assert_eq!(calls[0].body["action"], json!(null));
    assert_eq!(
        calls[1].body["payload"],
        json!({ "text": "fire and forget" })
    );
    assert_eq!(calls[0].signature, None, "no secret, no signature");
    // Events not listed are not forwarded.
    ws.send_text(r#"42["other",{"x":1}]"#);
    let reply = ack(&mut ws, 2, "ping", json!([]));
    assert!(reply["server_time"].is_u64());
    assert_eq!(backend.calls().len(), 2);
}

#[test]
fn a_slow_backend_gives_timeout() {
    let backend = Backend::start();
    let server = hub_with_webhook(&backend.url("/slow"), |_| {});
    let (mut ws, _) = sio_connect(server.addr);
    let started = Instant::now();
    let reply = ack(&mut ws, 1, "request", json!([{ "action": "a" }]));
    assert_eq!(error_code(&reply), Some("TIMEOUT"), "{reply}");
    assert!(
        started.elapsed() < SLOW,
        "the ack came at the timeout, not when the backend answered"
    );
    assert_eq!(
        server.hub.counters().webhook_calls(WebhookOutcome::Timeout),
        1
    );
}

#[test]
fn a_dead_or_failing_backend_gives_backend_unavailable() {
    let server = hub_with_webhook(&dead_url(), |_| {});
    let (mut ws, _) = sio_connect(server.addr);
    let reply = ack(&mut ws, 1, "request", json!([{ "action": "a" }]));
    assert_eq!(error_code(&reply), Some("BACKEND_UNAVAILABLE"), "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot be reached"),
        "{reply}"
    );

    let backend = Backend::start();
    let server = hub_with_webhook(&backend.url("/fail"), |_| {});
    let (mut ws, _) = sio_connect(server.addr);
    let reply = ack(&mut ws, 1, "request", json!([{ "action": "a" }]));
    assert_eq!(error_code(&reply), Some("BACKEND_UNAVAILABLE"), "{reply}");

    let server = hub_with_webhook(&backend.url("/forbidden"), |_| {});
    let (mut ws, _) = sio_connect(server.addr);
    let reply = ack(&mut ws, 1, "request", json!([{ "action": "a" }]));
    assert_eq!(
        reply,
        json!({ "error": { "code": "PERMISSION_DENIED", "message": "not for you" } })
    );
}

#[test]
fn no_backend_configured_gives_backend_unavailable() {
    let server = hub_with_webhook("", |_| {});
    let (mut ws, _) = sio_connect(server.addr);
    let reply = ack(&mut ws, 1, "request", json!([{ "action": "a" }]));
    assert_eq!(error_code(&reply), Some("BACKEND_UNAVAILABLE"), "{reply}");
}

#[test]
fn the_concurrency_bound_refuses_at_once() {
    let backend = Backend::start();
    let server = hub_with_webhook(&backend.url("/slow"), |s| {
        s.webhook.timeout_ms = 10_000;
        s.webhook.max_concurrency = 2;
    });
    let (mut ws, _) = sio_connect(server.addr);
    let started = Instant::now();
    for id in 1..=3 {
        emit_with_ack(&mut ws, id, "request", json!([{ "action": "a" }]));
    }
    // The third is refused before the first two are answered.
    let first = ws.text_skipping_pings();
    assert!(
        first.starts_with("433["),
        "the refusal comes first: {first}"
    );
    let refusal = json_after(&first, "433")[0].clone();
    assert_eq!(error_code(&refusal), Some("BACKEND_UNAVAILABLE"));
    assert!(
        refusal["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_concurrency"),
        "{refusal}"
    );
    assert!(started.elapsed() < SLOW);
    for _ in 1..=2 {
        let text = ws.text_skipping_pings();
        let prefix = &text[..3];
        assert!(["431", "432"].contains(&prefix), "{text}");
        assert_eq!(
            json_after(&text, prefix)[0]["data"],
            json!({ "slow": true })
        );
    }
    let counters = server.hub.counters();
    assert_eq!(counters.refusals(RefusalReason::WebhookBusy), 1);
    assert_eq!(counters.webhook_calls(WebhookOutcome::Ok), 2);
    assert_eq!(counters.webhook_in_flight(), 0);
    // The slots are free again.
    let reply = ack(&mut ws, 4, "request", json!([{ "action": "a" }]));
    assert_eq!(reply["ok"], true);
}

#[test]
fn bad_requests_never_reach_the_backend() {
    let backend = Backend::start();
    let server = hub_with_webhook(&backend.url("/ok"), |s| {
        s.namespaces[0].max_event_bytes = 200;
        s.namespaces[0].forward = vec!["note".into()];
    });
    let (mut ws, _) = sio_connect(server.addr);
    let cases = [
        ("request", json!(["not an object"]), "INVALID_PAYLOAD"),
        ("request", json!([{ "payload": 1 }]), "INVALID_PAYLOAD"),
        (
            "request",
            json!([{ "action": "a", "request_id": [1] }]),
            "INVALID_PAYLOAD",
        ),
        (
            "request",
            json!([{ "action": "a", "payload": "x".repeat(300) }]),
            "PAYLOAD_TOO_LARGE",
        ),
        ("note", json!(["y".repeat(300)]), "PAYLOAD_TOO_LARGE"),
    ];
    for (id, (event, args, code)) in cases.into_iter().enumerate() {
        let reply = ack(&mut ws, id as u64 + 1, event, args.clone());
        assert_eq!(error_code(&reply), Some(code), "{event} {args}: {reply}");
    }
    // Binary attachments are refused too.
    ws.send_text(r#"451-9["request",{"action":"a","payload":{"_placeholder":true,"num":0}}]"#);
    ws.send_binary(b"\x01\x02");
    let reply = wait_ack(&mut ws, 9);
    assert_eq!(error_code(&reply), Some("INVALID_PAYLOAD"), "{reply}");
    assert!(backend.calls().is_empty(), "{:?}", backend.calls());
    assert_eq!(
        server.hub.counters().refusals(RefusalReason::EventTooLarge),
        2
    );
}

fn echo_over_tls(hit: &tls_backend::Hit) -> (u16, String) {
    let call: serde_json::Value = serde_json::from_slice(&hit.body).unwrap_or_default();
    (
        200,
        json!({ "tls": true, "echo": call["payload"] }).to_string(),
    )
}

#[test]
fn a_request_reaches_an_https_backend_signed_by_the_configured_ca() {
    let backend = TlsBackend::start(echo_over_tls);
    let server = hub_with_webhook(&backend.url("/hook"), |s| {
        s.http_client.ca_file = test_ca();
    });
    let (mut ws, _) = sio_connect(server.addr);
    let reply = ack(
        &mut ws,
        1,
        "request",
        json!([{ "action": "a", "payload": { "n": 1 }, "request_id": "tls-1" }]),
    );
    assert_eq!(
        reply,
        json!({ "ok": true, "request_id": "tls-1", "data": { "tls": true, "echo": { "n": 1 } } })
    );
    let hits = backend.hits();
    assert_eq!(hits.len(), 1);
    assert_eq!(
        (hits[0].method.as_str(), hits[0].path.as_str()),
        ("POST", "/hook")
    );
    assert_eq!(server.hub.counters().webhook_calls(WebhookOutcome::Ok), 1);
}

#[test]
fn an_https_backend_whose_certificate_chains_to_no_trusted_ca_is_refused() {
    let backend = TlsBackend::start(echo_over_tls);
    // Trusting another CA, and trusting the webpki roots only: both refuse the test CA's
    // certificate, and the call never reaches the backend.
    for ca_file in [other_ca(), String::new()] {
        let server = hub_with_webhook(&backend.url("/hook"), |s| {
            s.http_client.ca_file = ca_file.clone();
        });
        let (mut ws, _) = sio_connect(server.addr);
        let reply = ack(&mut ws, 1, "request", json!([{ "action": "a" }]));
        assert_eq!(
            error_code(&reply),
            Some("BACKEND_UNAVAILABLE"),
            "ca_file {ca_file:?}: {reply}"
        );
        assert_eq!(
            server
                .hub
                .counters()
                .webhook_calls(WebhookOutcome::Unavailable),
            1
        );
    }
    assert!(backend.hits().is_empty(), "{:?}", backend.hits());
    // The server sees each handshake fail a moment after the client gave up on it.
    support::wait_until(
        "the backend saw both refused handshakes",
        IO_TIMEOUT,
        || backend.handshakes_failed() >= 2,
    );
}

#[test]
fn a_ca_file_that_is_not_a_certificate_stops_start_up() {
    let mut settings = test_settings();
    settings.http_client.ca_file = format!("{}/rs256.pub.pem", tls_backend::FIXTURES);
    let err = settings.validate().unwrap_err().to_string();
    assert!(err.contains("`http_client.ca_file`"), "{err}");
    settings.http_client.ca_file = test_ca();
    settings.webhook.url = "https://127.0.0.1:1/hook".into();
    settings
        .validate()
        .expect("an https webhook with a CA file is valid");
}

#[test]
fn backend_refusals_map_to_their_codes_and_are_counted_as_rejected() {
    let backend = Backend::start();
    // The backend's own refusals: its status picks the code, its message (or one naming
    // the status) comes back, and each is counted once as rejected.
    let cases = [
        ("/too-large", "PAYLOAD_TOO_LARGE", "too big for us"),
        (
            "/limited",
            "RATE_LIMIT_EXCEEDED",
            "the backend refused the request (429)",
        ),
        ("/bad", "INVALID_PAYLOAD", "no such action"),
        ("/forbidden", "PERMISSION_DENIED", "not for you"),
    ];
    for (path, code, message) in cases {
        let server = hub_with_webhook(&backend.url(path), |_| {});
        let (mut ws, _) = sio_connect(server.addr);
        let reply = ack(&mut ws, 1, "request", json!([{ "action": "a" }]));
        assert_eq!(
            reply,
            json!({ "error": { "code": code, "message": message } }),
            "{path}"
        );
        let counters = server.hub.counters();
        assert_eq!(
            counters.webhook_calls(WebhookOutcome::Rejected),
            1,
            "{path}"
        );
        assert_eq!(counters.webhook_calls(WebhookOutcome::Unavailable), 0);
        // The socket carries on.
        assert!(ack(&mut ws, 2, "ping", json!([]))["server_time"].is_u64());
    }
}

#[test]
fn an_unreadable_or_oversized_reply_gives_backend_unavailable() {
    let backend = Backend::start();
    // A reply over the bound (the hub's max_payload) is not read whole: the call fails
    // as unreadable, counted once as unavailable, and the socket carries on.
    let server = hub_with_webhook(&backend.url("/huge"), |s| {
        s.engine.max_payload = HUGE_REPLY / 2;
    });
    let (mut ws, _) = sio_connect(server.addr);
    let reply = ack(&mut ws, 1, "request", json!([{ "action": "a" }]));
    assert_eq!(error_code(&reply), Some("BACKEND_UNAVAILABLE"), "{reply}");
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("the backend's reply could not be read: "),
        "{reply}"
    );
    assert_eq!(
        server
            .hub
            .counters()
            .webhook_calls(WebhookOutcome::Unavailable),
        1
    );
    assert!(ack(&mut ws, 2, "ping", json!([]))["server_time"].is_u64());
    // The same reply within the bound is taken whole.
    let server = hub_with_webhook(&backend.url("/huge"), |s| {
        s.engine.max_payload = HUGE_REPLY * 2;
    });
    let (mut ws, _) = sio_connect(server.addr);
    let reply = ack(&mut ws, 1, "request", json!([{ "action": "a" }]));
    assert_eq!(reply["ok"], true, "a reply within the bound");
    assert_eq!(reply["data"].as_str().map(str::len), Some(HUGE_REPLY - 2));
    assert_eq!(server.hub.counters().webhook_calls(WebhookOutcome::Ok), 1);
    // A 2xx reply that is not JSON.
    let server = hub_with_webhook(&backend.url("/not-json"), |_| {});
    let (mut ws, _) = sio_connect(server.addr);
    let reply = ack(&mut ws, 1, "request", json!([{ "action": "a" }]));
    assert_eq!(
        reply,
        json!({ "error": {
            "code": "BACKEND_UNAVAILABLE",
            "message": "the backend answered 200 with a body that is not JSON",
        } })
    );
    assert_eq!(
        server
            .hub
            .counters()
            .webhook_calls(WebhookOutcome::Unavailable),
        1
    );
}
