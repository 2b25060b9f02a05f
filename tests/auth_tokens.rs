//! Tokens against a real hub, sent the way an attacker would: malformed and forged tokens
//! (a `"never"` or negative `exp`, `alg: none`, an HS256 token keyed with the server's
//! public key) are refused with `AUTH_REQUIRED` and counted; RS256/ES256 tokens verify
//! against a PEM public key and against a JWKS fetched over https (with the test CA), whose
//! refresh a client with random `kid`s cannot drive; a JWKS server with a certificate of an
//! untrusted CA is refused; and a recovered socket regains its user only with a valid
//! token for that user.

mod support;
#[path = "support/tls_backend.rs"]
mod tls_backend;
#[path = "support/wire.rs"]
mod wire;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use siohub::config::{NamespacePolicy, Settings};
use siohub::server::BackgroundServer;
use siohub_actors::{RefusalReason, Target};
use support::{hub_broadcast, policy, room_members, start_hub_with, wait_until};
use tls_backend::{other_ca, test_ca, Hit, TlsBackend, FIXTURES};
use wire::*;

const SECRET: &str = "auth-tests-secret-of-at-least-32-bytes";
const NSP: &str = "/private";
const WAIT: Duration = Duration::from_secs(10);

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(String::from);
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

fn hs256(claims: Value) -> String {
    sign(
        Algorithm::HS256,
        None,
        &EncodingKey::from_secret(SECRET.as_bytes()),
        claims,
    )
}

fn rs256(kid: Option<&str>, claims: Value) -> String {
    let key = EncodingKey::from_rsa_pem(&fixture("rs256.key")).unwrap();
    sign(Algorithm::RS256, kid, &key, claims)
}

fn es256(kid: Option<&str>, claims: Value) -> String {
    let key = EncodingKey::from_ec_pem(&fixture("es256.key")).unwrap();
    sign(Algorithm::ES256, kid, &key, claims)
}

fn valid(user: &str) -> Value {
    json!({ "sub": user, "exp": now_s() + 3600 })
}

fn required(name: &str) -> NamespacePolicy {
    NamespacePolicy {
        require_auth: true,
        ..policy(name)
    }
}

fn hub(namespaces: Vec<NamespacePolicy>, adjust: impl FnOnce(&mut Settings)) -> BackgroundServer {
    start_hub_with(namespaces, adjust)
}

/// Opens a session and sends CONNECT to `nsp` with `auth`; returns the socket and the
/// reply: `Ok(connect data)` or `Err(connect_error data)`.
fn connect(server: &BackgroundServer, nsp: &str, auth: Value) -> (Ws, Result<Value, Value>) {
    let (mut ws, _, _) = Ws::open(server.addr);
    ws.send_text(&format!("40{nsp},{auth}"));
    let reply = ws.text_skipping_pings();
    let ok = format!("40{nsp},");
    let refused = format!("44{nsp},");
    let result = if reply.starts_with(&ok) {
        Ok(json_after(&reply, &ok))
    } else {
        Err(json_after(&reply, &refused))
    };
    (ws, result)
}

#[track_caller]
fn assert_refused(server: &BackgroundServer, token: &str, why: &str) {
    let (_ws, reply) = connect(server, NSP, json!({ "token": token }));
    let refusal = reply.expect_err("the token is refused");
    assert_eq!(refusal["message"], "AUTH_REQUIRED", "{refusal}");
    let message = refusal["data"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(why), "expected {why:?} in {refusal}");
}

fn token_refusals(server: &BackgroundServer) -> u64 {
    server.hub.counters().refusals(RefusalReason::TokenInvalid)
}

#[test]
fn malformed_and_forged_tokens_are_refused_and_counted() {
    let server = hub(vec![required(NSP)], |s| s.auth.jwt_secret = SECRET.into());
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let none_alg = format!(
        "{}.{}.",
        engine.encode(br#"{"alg":"none","typ":"JWT"}"#),
        engine.encode(json!({ "sub": "admin" }).to_string())
    );
    let attacks = [
        ("not-a-jwt".to_owned(), "not a well-formed JWT"),
        (
            hs256(json!({ "sub": "x", "exp": "never" })),
            "exp is not a non-negative whole number",
        ),
        (
            hs256(json!({ "sub": "x", "exp": -1 })),
            "exp is not a non-negative whole number",
        ),
        (
            hs256(json!({ "sub": "x", "exp": [1] })),
            "exp is not a non-negative whole number",
        ),
        (
            hs256(json!({ "sub": "x", "nbf": "later" })),
            "nbf is not a non-negative whole number",
        ),
        (
            hs256(json!({ "sub": "x", "nbf": -5 })),
            "nbf is not a non-negative whole number",
        ),
        (
            hs256(json!({ "sub": "x", "exp": now_s() - 3600 })),
            "expired",
        ),
        (none_alg, "signed with none"),
        (
            sign(
                Algorithm::HS256,
                None,
                &EncodingKey::from_secret(b"a-guess-at-the-secret-of-32-bytes"),
                valid("admin"),
            ),
            "signature is invalid",
        ),
    ];
    for (token, why) in &attacks {
        assert_refused(&server, token, why);
    }
    let (_ws, missing) = connect(&server, NSP, json!({}));
    assert_eq!(missing.unwrap_err()["message"], "AUTH_REQUIRED");
    assert_eq!(token_refusals(&server), attacks.len() as u64 + 1);

    // The well-behaved client connects as before, and its user is known.
    let (_ws, ok) = connect(&server, NSP, json!({ "token": hs256(valid("alice")) }));
    let sid = ok.expect("a valid token connects")["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_until("alice is in her user room", WAIT, || {
        room_members(&server, NSP, "user:alice") == vec![sid.clone()]
    });
    assert_eq!(token_refusals(&server), attacks.len() as u64 + 1);
}

#[test]
fn a_public_key_hub_verifies_rs256_and_refuses_hs256_keyed_with_that_key() {
    let server = hub(vec![required(NSP)], |s| {
        s.auth.jwt_public_key = format!("{FIXTURES}/rs256.pub.pem");
    });
    let (_ws, ok) = connect(
        &server,
        NSP,
        json!({ "token": rs256(None, valid("carol")) }),
    );
    assert!(ok.is_ok(), "{ok:?}");
    // Algorithm confusion: the public key (known to everyone) as an HMAC secret.
    let forged = sign(
        Algorithm::HS256,
        None,
        &EncodingKey::from_secret(&fixture("rs256.pub.pem")),
        valid("admin"),
    );
    assert_refused(
        &server,
        &forged,
        "signed with HS256, for which no key is configured",
    );
    // A key of the other family is not configured either.
    assert_refused(&server, &es256(None, valid("carol")), "signed with ES256");
    assert_eq!(token_refusals(&server), 2);
}

/// Serves tests/fixtures/jwks.json at `/jwks`; after `rotate` is set, its RSA key is also
/// listed as `rsa-2` (the issuer rotated in a new key id).
fn jwks_route(rotate: Arc<AtomicBool>) -> impl Fn(&Hit) -> (u16, String) + Send + Sync {
    move |hit| {
        if hit.path != "/jwks" {
            return (404, "{}".into());
        }
        let mut set: Value = serde_json::from_slice(&fixture("jwks.json")).unwrap();
        if rotate.load(Ordering::SeqCst) {
            let mut rotated = set["keys"][0].clone();
            rotated["kid"] = json!("rsa-2");
            set["keys"].as_array_mut().unwrap().push(rotated);
        }
        (200, set.to_string())
    }
}

fn jwks_hub(issuer: &TlsBackend, refresh_min_s: u64) -> BackgroundServer {
    hub(vec![required(NSP)], |s| {
        s.auth.jwks_url = issuer.url("/jwks");
        s.http_client.ca_file = test_ca();
        s.auth.jwks_refresh_min_s = refresh_min_s;
    })
}

#[test]
fn jwks_over_https_verifies_by_kid_and_random_kids_cannot_drive_its_refresh() {
    let issuer = TlsBackend::start(jwks_route(Arc::new(AtomicBool::new(false))));
    let server = jwks_hub(&issuer, 3600);
    let counters = server.hub.counters().clone();
    let (_a, rs) = connect(
        &server,
        NSP,
        json!({ "token": rs256(Some("rsa-1"), valid("a")) }),
    );
    assert!(rs.is_ok(), "{rs:?}");
    let (_b, es) = connect(
        &server,
        NSP,
        json!({ "token": es256(Some("ec-1"), valid("b")) }),
    );
    assert!(es.is_ok(), "{es:?}");
    assert_eq!(issuer.hits().len(), 1, "one fetch, then the cache");
    assert_eq!(counters.jwks_fetches(true), 1);

    // A key pinned to RS256 does not verify RS384, and no HMAC key exists to confuse.
    let rsa = EncodingKey::from_rsa_pem(&fixture("rs256.key")).unwrap();
    let rs384 = sign(Algorithm::RS384, Some("rsa-1"), &rsa, valid("a"));
    assert_refused(&server, &rs384, "signed with RS384");
    let confused = sign(
        Algorithm::HS256,
        Some("rsa-1"),
        &EncodingKey::from_secret(&fixture("rs256.pub.pem")),
        valid("admin"),
    );
    assert_refused(&server, &confused, "signed with HS256");
    assert_refused(&server, &rs256(None, valid("a")), "no key id");

    // The attack: many tokens naming kids the set does not hold, within the refresh
    // interval of the first fetch. None fetches the set again; each is counted.
    const RANDOM_KIDS: u64 = 30;
    // (The attacker has no signing key: a made-up signature is all it can send.)
    use base64::Engine as _;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    for n in 0..RANDOM_KIDS {
        let kid = format!("random-{n}-{}", uuid::Uuid::new_v4());
        let header = b64(json!({ "alg": "RS256", "typ": "JWT", "kid": kid }));
        let token = format!("{header}.{}.c2lnbmF0dXJl", b64(valid("a")));
        assert_refused(&server, &token, "not in the JWKS");
    }
    assert_eq!(
        issuer.hits().len(),
        1,
        "{RANDOM_KIDS} unknown kids fetched nothing"
    );
    assert_eq!(
        counters.refusals(RefusalReason::JwksRefreshThrottled),
        RANDOM_KIDS
    );
    // The known keys still work meanwhile.
    let (_c, again) = connect(
        &server,
        NSP,
        json!({ "token": es256(Some("ec-1"), valid("c")) }),
    );
    assert!(again.is_ok(), "{again:?}");
}

#[test]
fn a_rotated_key_is_fetched_once_the_refresh_interval_has_passed() {
    let rotate = Arc::new(AtomicBool::new(false));
    let issuer = TlsBackend::start(jwks_route(rotate.clone()));
    let server = jwks_hub(&issuer, 1);
    let (_a, first) = connect(
        &server,
        NSP,
        json!({ "token": rs256(Some("rsa-1"), valid("a")) }),
    );
    assert!(first.is_ok(), "{first:?}");
    rotate.store(true, Ordering::SeqCst);
    // Sleeping past the interval makes the outcome certain (no race decides it).
    std::thread::sleep(Duration::from_millis(1100));
    let (_b, rotated) = connect(
        &server,
        NSP,
        json!({ "token": rs256(Some("rsa-2"), valid("b")) }),
    );
    assert!(rotated.is_ok(), "{rotated:?}");
    assert_eq!(issuer.hits().len(), 2);
    assert_eq!(server.hub.counters().jwks_fetches(true), 2);
    assert_eq!(server.hub.counters().jwks_fetches(false), 0);
}

#[test]
fn a_jwks_server_with_an_untrusted_certificate_is_refused() {
    let issuer = TlsBackend::start(jwks_route(Arc::new(AtomicBool::new(false))));
    let server = hub(vec![required(NSP)], |s| {
        s.auth.jwks_url = issuer.url("/jwks");
        s.http_client.ca_file = other_ca();
    });
    assert_refused(
        &server,
        &rs256(Some("rsa-1"), valid("a")),
        "cannot be fetched right now",
    );
    assert!(issuer.hits().is_empty());
    // The server sees the handshake fail a moment after the client gave up on it.
    wait_until("the issuer saw the refused handshake", WAIT, || {
        issuer.handshakes_failed() >= 1
    });
    assert_eq!(server.hub.counters().jwks_fetches(false), 1);
    assert_eq!(server.hub.counters().jwks_fetches(true), 0);
}

#[test]
fn start_up_refuses_a_short_secret_in_one_line() {
    let mut settings = support::test_settings();
    settings.auth.jwt_secret = "short".into();
    let err = settings.validate().unwrap_err().to_string();
    assert_eq!(
        err,
        "configuration key `auth.jwt_secret` = a secret of 5 bytes: empty (no HMAC tokens) or at least 32 bytes, such as the output of `openssl rand -hex 32`"
    );
    assert!(!err.contains('\n'));
}

// ---------------------------------------------------------------------------------------
// Connection state recovery and identity

fn recovering(name: &str, require_auth: bool) -> NamespacePolicy {
    NamespacePolicy {
        recovery_s: 60,
        require_auth,
        ..policy(name)
    }
}

fn to_user(nsp: &str, user: &str) -> Target {
    Target {
        rooms: vec![format!("user:{user}")],
        ..Target::namespace(nsp)
    }
}

/// The `[event, data, offset]` of the next event packet on `nsp`.
fn next_event(ws: &mut Ws, nsp: &str) -> Value {
    let prefix = format!("42{nsp},");
    loop {
        let text = ws.text_skipping_pings();
        if text.starts_with(&prefix) {
            return json_after(&text, &prefix);
        }
    }
}

/// Alice connects to `nsp` with a token, receives one event (for its offset), and loses
/// her transport; one more event for her is published while she is away. Returns her
/// socket id, pid and last offset.
fn alice_drops_out(server: &BackgroundServer, nsp: &str) -> (String, String, String) {
    let (mut ws, ok) = connect(server, nsp, json!({ "token": hs256(valid("alice")) }));
    let ok = ok.expect("alice connects");
    let sid = ok["sid"].as_str().unwrap().to_owned();
    let pid = ok["pid"].as_str().expect("recovery gives a pid").to_owned();
    wait_until("alice is in her user room", WAIT, || {
        room_members(server, nsp, "user:alice") == vec![sid.clone()]
    });
    hub_broadcast(server, to_user(nsp, "alice"), "private", json!("seen"));
    let event = next_event(&mut ws, nsp);
    let offset = event[2].as_str().expect("an offset").to_owned();
    drop(ws);
    wait_until("the server dropped alice's socket", WAIT, || {
        room_members(server, nsp, "user:alice").is_empty()
    });
    hub_broadcast(server, to_user(nsp, "alice"), "private", json!("missed"));
    (sid, pid, offset)
}

#[test]
fn a_recovered_socket_does_not_regain_an_identity_without_a_valid_token() {
    const OPTIONAL: &str = "/optional";
    let server = hub(
        vec![recovering(NSP, true), recovering(OPTIONAL, false)],
        |s| s.auth.jwt_secret = SECRET.into(),
    );

    // require_auth: pid and offset without a token, or with an expired one, are refused.
    let (sid, pid, offset) = alice_drops_out(&server, NSP);
    let expired = hs256(json!({ "sub": "alice", "exp": now_s() - 3600 }));
    for auth in [
        json!({ "pid": pid, "offset": offset }),
        json!({ "pid": pid, "offset": offset, "token": expired }),
        json!({ "pid": pid, "offset": offset, "token": "garbage" }),
    ] {
        let (_ws, reply) = connect(&server, NSP, auth.clone());
        assert_eq!(reply.unwrap_err()["message"], "AUTH_REQUIRED", "{auth}");
    }
    // Another user's valid token: a fresh socket of that user, nothing of alice's.
    let (mut mallory, reply) = connect(
        &server,
        NSP,
        json!({ "pid": pid, "offset": offset, "token": hs256(valid("mallory")) }),
    );
    let reply = reply.expect("mallory's own token is valid");
    let mallory_sid = reply["sid"].as_str().unwrap().to_owned();
    assert_ne!(mallory_sid, sid, "mallory must not get alice's socket");
    wait_until("mallory is in her own user room", WAIT, || {
        room_members(&server, NSP, "user:mallory") == vec![mallory_sid.clone()]
    });
    assert!(room_members(&server, NSP, "user:alice").is_empty());
    hub_broadcast(
        &server,
        to_user(NSP, "mallory"),
        "private",
        json!("for mallory"),
    );
    assert_eq!(
        next_event(&mut mallory, NSP)[1],
        "for mallory",
        "not alice's missed event"
    );

    // Alice with her valid token: recovered as before (a second drop-out, since mallory's
    // attempt used up the first record).
    let (sid, pid, offset) = alice_drops_out(&server, NSP);
    let (mut alice, reply) = connect(
        &server,
        NSP,
        json!({ "pid": pid, "offset": offset, "token": hs256(valid("alice")) }),
    );
    assert_eq!(reply.expect("alice recovers")["sid"], sid.as_str());
    assert_eq!(next_event(&mut alice, NSP)[1], "missed");
    wait_until("alice is back in her user room", WAIT, || {
        room_members(&server, NSP, "user:alice") == vec![sid.clone()]
    });

    // Tokens optional: an anonymous CONNECT with alice's pid gets a fresh, anonymous socket.
    let (old_sid, pid, offset) = alice_drops_out(&server, OPTIONAL);
    let (_anon, reply) = connect(&server, OPTIONAL, json!({ "pid": pid, "offset": offset }));
    let anon_sid = reply.expect("anonymous sockets are allowed")["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(anon_sid, old_sid);
    wait_until("the anonymous socket is connected", WAIT, || {
        server.hub.socket_count(OPTIONAL) == 1
    });
    assert!(room_members(&server, OPTIONAL, "user:alice").is_empty());
}
