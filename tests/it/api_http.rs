//! The backend HTTP API (SPEC §3) over real HTTP/1.1 on TCP, with real Socket.IO clients
//! (raw websocket clients speaking the wire protocol, and python-socketio for the SSE ack
//! stream read by `requests`): emit to rooms / users / sids / except with its `data`/`args`
//! rules, acks as JSON and as an event stream read incrementally, rooms (list, members,
//! join, leave), disconnect (namespace and whole connection), the SSE subscribe stream (room
//! filter, keep-alive, unsubscribe on close, a slow reader cut off), API keys, and every
//! error status: 400, 401, 404, 405, 413 and 503 (the SSE subscriber cap; an actor that is
//! unavailable cannot be provoked reliably, so that 503 is not tested here).
//!
//! What clients did not get is checked without sleeping: after the emits of a phase a
//! namespace-wide sentinel follows, and a session delivers in order, so the next frame a
//! client reads is either what it should have got or the sentinel.

use crate::support;
use crate::support::wire;

use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use siohub::config::Settings;
use siohub::server::BackgroundServer;
use siohub_actors::Target;
use support::hub_state::subscriber_count;
use support::sse::{Sse, SseReader};
use support::tokens::user_token;
use support::{hub_broadcast, policy, room_members, wait_until};
use wire::{json_after, request, Response, Ws, IO_TIMEOUT};

const KEY: &str = "test-key-0123456789";
const OTHER_KEY: &str = "second-key-abcdef";
const SECRET: &str = "api-test-jwt-secret-of-32-bytes-or-more";

fn start(tweak: impl FnOnce(&mut Settings)) -> BackgroundServer {
    let mut settings = support::test_settings();
    settings.api.keys = vec![KEY.into(), OTHER_KEY.into()];
    settings.api.max_body_bytes = 4096;
    settings.auth.jwt_secret = SECRET.into();
    settings.namespaces = vec![policy("/"), policy("/chat")];
    tweak(&mut settings);
    support::start_hub_from(settings)
}

/// One API request with the key; `body` is sent as JSON.
fn call(server: &BackgroundServer, method: &str, path: &str, body: Option<Value>) -> Response {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    request(
        server.addr,
        method,
        path,
        &[("X-API-Key", KEY), ("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

/// Asserts a 200 JSON answer and returns it.
#[track_caller]
fn ok(res: Response) -> Value {
    assert_eq!(res.status, 200, "{res:?} {}", res.text());
    res.json()
}

/// Asserts an API error: the status, JSON `{code,message}` with this code.
#[track_caller]
fn assert_error(res: &Response, status: u16, code: &str) {
    assert_eq!(res.status, status, "{}", res.text());
    assert_eq!(
        res.header("content-type"),
        Some("application/json"),
        "{res:?}"
    );
    let body = res.json();
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// A Socket.IO client on `/` over a raw websocket.
struct Client {
    ws: Ws,
    sid: String,
    next_ack: u64,
}

impl Client {
    fn connect(server: &BackgroundServer, user: Option<&str>) -> Client {
        let (mut ws, _, _) = Ws::open(server.addr);
        match user {
            Some(user) => {
                let token = user_token(SECRET, json!({ "sub": user }));
                ws.send_text(&format!("40{}", json!({ "token": token })));
            }
            None => ws.send_text("40"),
        }
        let reply = json_after(&ws.text_skipping_pings(), "40");
        let sid = reply["sid"].as_str().expect("a socket id").to_owned();
        Client {
            ws,
            sid,
            next_ack: 1,
        }
    }

    /// The next Socket.IO packet (pings answered).
    fn next(&mut self) -> String {
        self.ws.text_skipping_pings()
    }

    /// Joins `room` with the built-in `join` and waits for its ack.
    fn join(&mut self, room: &str) {
        let id = self.next_ack;
        self.next_ack += 1;
        self.ws
            .send_text(&format!("42{id}{}", json!(["join", room])));
        let ack = json_after(&self.next(), &format!("43{id}"));
        assert_eq!(ack[0]["ok"], true, "{ack}");
    }

    /// Asserts that the next packet is the sentinel (nothing else came before it).
    #[track_caller]
    fn expect_sentinel(&mut self, n: u64) {
        assert_eq!(
            self.next(),
            format!(r#"42["sentinel",{n}]"#),
            "{}",
            self.sid
        );
    }
}

/// Sends a namespace-wide sentinel from the server.
fn sentinel(server: &BackgroundServer, n: u64) {
    hub_broadcast(server, Target::namespace("/"), "sentinel", json!(n));
}

/// Opens an event stream on the API with the key (as a bearer token).
fn open_sse(
    addr: std::net::SocketAddr,
    method: &str,
    target: &str,
    body: Option<Value>,
) -> (u16, Vec<(String, String)>, SseReader) {
    let bearer = format!("Bearer {KEY}");
    SseReader::open(addr, method, target, &[("Authorization", &bearer)], body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

// ---------------------------------------------------------------------------------------
// API keys

#[test]
fn every_api_route_needs_a_valid_key() {
    let server = start(|_| {});
    let routes = [
        ("GET", "/api/v1/rooms"),
        ("GET", "/api/v1/rooms/a"),
        ("POST", "/api/v1/emit"),
        ("POST", "/api/v1/rooms/a/join"),
        ("POST", "/api/v1/rooms/a/leave"),
        ("POST", "/api/v1/disconnect"),
        ("GET", "/api/v1/sse"),
        ("GET", "/api/v1/no-such-route"),
    ];
    let body = br#"{"event":"e"}"#;
    let basic = format!("Basic {KEY}");
    for (method, path) in routes {
        for headers in [
            vec![],
            vec![("X-API-Key", "wrong")],
            vec![("Authorization", "Bearer wrong")],
            vec![("Authorization", basic.as_str())],
        ] {
            let res = request(server.addr, method, path, &headers, body);
            assert_error(&res, 401, "UNAUTHORIZED");
        }
    }
    let emit = |headers: &[(&str, &str)]| {
        request(server.addr, "POST", "/api/v1/emit", headers, body).status
    };
    assert_eq!(emit(&[("X-API-Key", KEY)]), 200);
    assert_eq!(emit(&[("X-API-Key", OTHER_KEY)]), 200);
    assert_eq!(emit(&[("Authorization", &format!("Bearer {KEY}"))]), 200);
    assert_eq!(
        emit(&[("Authorization", &format!("bearer {OTHER_KEY}"))]),
        200
    );
    // A key that is a prefix or an extension of a real one is not one.
    assert_eq!(emit(&[("X-API-Key", &KEY[..KEY.len() - 1])]), 401);
    assert_eq!(emit(&[("X-API-Key", &format!("{KEY}x"))]), 401);

    // With no keys configured the API is closed, and says how to open it.
    let closed = start(|s| s.api.keys.clear());
    let res = request(
        closed.addr,
        "POST",
        "/api/v1/emit",
        &[("X-API-Key", KEY)],
        body,
    );
    assert_error(&res, 401, "UNAUTHORIZED");
    assert!(res.json()["message"].as_str().unwrap().contains("api.keys"));
    let open = start(|s| {
        s.api.keys.clear();
        s.api.insecure = true;
    });
    let res = request(open.addr, "POST", "/api/v1/emit", &[], body);
    assert_eq!(ok(res), json!({ "recipients": 0 }));
}

// ---------------------------------------------------------------------------------------
// Emit

#[test]
fn emit_reaches_rooms_users_and_sids_and_skips_except() {
    let server = start(|_| {});
    let mut a = Client::connect(&server, None);
    let mut b = Client::connect(&server, None);
    let mut c = Client::connect(&server, Some("u1"));
    a.join("red");
    b.join("red");
    b.join("blue");

    // Rooms, with `except` naming a socket id.
    let out = ok(call(
        &server,
        "POST",
        "/api/v1/emit",
        Some(json!({"rooms": "red", "except": [b.sid.clone()], "event": "news", "data": {"n": 1}})),
    ));
    assert_eq!(out, json!({ "recipients": 1 }));
    assert_eq!(a.next(), r#"42["news",{"n":1}]"#);
    // Several rooms are a union (one copy per socket); `except` naming a room.
    let out = ok(call(
        &server,
        "POST",
        "/api/v1/emit",
        Some(json!({"rooms": ["red", "blue"], "event": "both", "data": 2})),
    ));
    assert_eq!(out["recipients"], 2);
    assert_eq!(a.next(), r#"42["both",2]"#);
    assert_eq!(b.next(), r#"42["both",2]"#);
    let out = ok(call(
        &server,
        "POST",
        "/api/v1/emit",
        Some(json!({"rooms": "red", "except": "blue", "event": "not-blue"})),
    ));
    assert_eq!(out["recipients"], 1);
    assert_eq!(a.next(), r#"42["not-blue"]"#);
    // A user (their `user:<id>` room) and single sockets.
    let out = ok(call(
        &server,
        "POST",
        "/api/v1/emit",
        Some(json!({"users": "u1", "event": "dm", "data": "hi"})),
    ));
    assert_eq!(out["recipients"], 1);
    assert_eq!(c.next(), r#"42["dm","hi"]"#);
    let out = ok(call(
        &server,
        "POST",
        "/api/v1/emit",
        Some(json!({"sids": [a.sid.clone(), c.sid.clone()], "event": "pick"})),
    ));
    assert_eq!(out["recipients"], 2);
    assert_eq!(a.next(), r#"42["pick"]"#);
    assert_eq!(c.next(), r#"42["pick"]"#);
    // No rooms/users/sids: the whole namespace. `data` is ONE argument (an array stays one
    // array); `args` are several.
    let out = ok(call(
        &server,
        "POST",
        "/api/v1/emit",
        Some(json!({"event": "all", "data": [1, 2]})),
    ));
    assert_eq!(out["recipients"], 3);
    let out = ok(call(
        &server,
        "POST",
        "/api/v1/emit",
        Some(json!({"namespace": "/", "event": "spread", "args": ["x", 1, null]})),
    ));
    assert_eq!(out["recipients"], 3);
    for client in [&mut a, &mut b, &mut c] {
        assert_eq!(client.next(), r#"42["all",[1,2]]"#);
        assert_eq!(client.next(), r#"42["spread","x",1,null]"#);
    }
    // A room nobody is in, and another namespace nobody joined.
    let out = ok(call(
        &server,
        "POST",
        "/api/v1/emit",
        Some(json!({"rooms": "empty", "event": "void", "data": null})),
    ));
    assert_eq!(out["recipients"], 0);
    let out = ok(call(
        &server,
        "POST",
        "/api/v1/emit",
        Some(json!({"namespace": "/chat", "event": "void"})),
    ));
    assert_eq!(out["recipients"], 0);
    // Nobody got anything else.
    sentinel(&server, 1);
    for client in [&mut a, &mut b, &mut c] {
        client.expect_sentinel(1);
    }
}

#[test]
fn emit_with_acks_answers_json_with_acks_and_timeouts() {
    let server = start(|_| {});
    let mut a = Client::connect(&server, None);
    let mut b = Client::connect(&server, None);
    a.join("r");
    b.join("r");
    let addr = server.addr;
    let http = thread::spawn(move || {
        // B never answers, so the call takes the whole timeout; long enough that A's
        // answer, however slowly the test runs, comes well within it.
        let body = json!({"rooms": "r", "event": "question", "data": {"q": 1}, "ack": true, "timeout_ms": 3000});
        request(
            addr,
            "POST",
            "/api/v1/emit",
            &[("X-API-Key", KEY)],
            body.to_string().as_bytes(),
        )
    });
    // Both get the same frame: ONE ack id for the whole broadcast.
    let frame_a = a.next();
    let frame_b = b.next();
    assert_eq!(frame_a, frame_b);
    let id: String = frame_a
        .strip_prefix("42")
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert!(!id.is_empty(), "an ack id in {frame_a}");
    assert_eq!(frame_a, format!(r#"42{id}["question",{{"q":1}}]"#));
    // A answers; B never does.
    a.ws.send_text(&format!(r#"43{id}[{{"yes":true}}]"#));
    let res = http.join().unwrap();
    let out = ok(res);
    assert_eq!(
        out,
        json!({
            "recipients": 2,
            "acks": [{"sid": a.sid, "data": {"yes": true}}],
            "timeouts": 1,
        })
    );
    // A late ack is ignored; the sockets stay connected.
    b.ws.send_text(&format!(r#"43{id}["late"]"#));
    sentinel(&server, 2);
    a.expect_sentinel(2);
    b.expect_sentinel(2);

    // Acks with several arguments, or none, carry `args`; nobody to ask answers at once.
    let addr = server.addr;
    let http = thread::spawn(move || {
        let body = json!({"sids": ["nobody"], "event": "q", "ack": true});
        request(
            addr,
            "POST",
            "/api/v1/emit",
            &[("X-API-Key", KEY)],
            body.to_string().as_bytes(),
        )
    });
    assert_eq!(
        ok(http.join().unwrap()),
        json!({"recipients": 0, "acks": [], "timeouts": 0})
    );
    let addr = server.addr;
    let target = a.sid.clone();
    let http = thread::spawn(move || {
        let body = json!({"sids": target, "event": "q2", "ack": true, "timeout_ms": 5000});
        request(
            addr,
            "POST",
            "/api/v1/emit",
            &[("X-API-Key", KEY)],
            body.to_string().as_bytes(),
        )
    });
    let frame = a.next();
    let id: String = frame[2..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    a.ws.send_text(&format!(r#"43{id}["x",2]"#));
    assert_eq!(
        ok(http.join().unwrap()),
        json!({"recipients": 1, "acks": [{"sid": a.sid, "data": "x", "args": ["x", 2]}], "timeouts": 0})
    );
}

#[test]
fn emit_with_acks_streams_each_ack_as_it_arrives() {
    let server = start(|_| {});
    let mut a = Client::connect(&server, None);
    let mut b = Client::connect(&server, None);
    let mut c = Client::connect(&server, None);
    for client in [&mut a, &mut b, &mut c] {
        client.join("r");
    }
    let body = json!({"rooms": "r", "event": "vote", "ack": true, "timeout_ms": 10_000});
    let (status, headers, mut sse) = open_sse(server.addr, "POST", "/api/v1/emit", Some(body));
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("text/event-stream"));
    assert_eq!(header(&headers, "transfer-encoding"), Some("chunked"));
    let frame = a.next();
    assert_eq!(b.next(), frame);
    assert_eq!(c.next(), frame);
    let id: String = frame[2..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();

    // A answers: its ack is on the stream while B and C still think (each next answer is
    // sent only once the previous one was read from the stream).
    a.ws.send_text(&format!(r#"43{id}["yes"]"#));
    assert_eq!(
        sse.event(),
        ("ack".into(), json!({"sid": a.sid, "data": "yes"}))
    );
    b.ws.send_text(&format!(r#"43{id}[{{"no":1}}]"#));
    assert_eq!(
        sse.event(),
        ("ack".into(), json!({"sid": b.sid, "data": {"no": 1}}))
    );
    // C leaves before answering: reported at once, not after the timeout.
    let started = Instant::now();
    let c_sid = c.sid.clone();
    drop(c);
    assert_eq!(
        sse.event(),
        (
            "timeout".into(),
            json!({"sid": c_sid, "reason": "disconnected"})
        )
    );
    assert!(started.elapsed() < Duration::from_secs(9));
    assert_eq!(
        sse.event(),
        (
            "done".into(),
            json!({"recipients": 3, "acked": 2, "timeouts": 1})
        )
    );
    assert_eq!(sse.next(), None, "the stream ends after done");

    // Without acks an event-stream request gets `done` alone.
    let body = json!({"rooms": "r", "event": "plain"});
    let (status, _, mut sse) = open_sse(server.addr, "POST", "/api/v1/emit", Some(body));
    assert_eq!(status, 200);
    assert_eq!(sse.event(), ("done".into(), json!({"recipients": 2})));
    assert_eq!(sse.next(), None);
}

#[test]
fn python_requests_reads_the_ack_stream_incrementally() {
    let server = start(|_| {});
    let out = support::clients::python("api_sse_ack.py")
        .arg(server.url())
        .arg(KEY)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stdout.lines().last().unwrap_or_default();
    let result: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("one JSON line ({e}); stdout {stdout:?} stderr {stderr:?}"));
    assert_eq!(result["ok"], true, "{result} stderr {stderr}");
}

// ---------------------------------------------------------------------------------------
// Rooms

#[test]
fn rooms_are_listed_shown_joined_and_left() {
    let server = start(|_| {});
    let mut a = Client::connect(&server, None);
    let mut b = Client::connect(&server, None);
    let mut c = Client::connect(&server, Some("u1"));
    a.join("lobby");

    let rooms = ok(call(&server, "GET", "/api/v1/rooms?namespace=/", None));
    assert_eq!(
        rooms,
        json!({"namespace": "/", "rooms": [
            {"name": "lobby", "members": 1},
            {"name": "user:u1", "members": 1},
        ]})
    );
    assert_eq!(
        ok(call(&server, "GET", "/api/v1/rooms", None)),
        rooms,
        "namespace defaults to /"
    );
    assert_eq!(
        ok(call(&server, "GET", "/api/v1/rooms/user:u1", None)),
        json!({"namespace": "/", "room": "user:u1", "members": [{"sid": c.sid, "user": "u1"}]})
    );
    assert_eq!(
        ok(call(
            &server,
            "GET",
            "/api/v1/rooms/lobby?namespace=%2F",
            None
        )),
        json!({"namespace": "/", "room": "lobby", "members": [{"sid": a.sid, "user": null}]})
    );
    assert_eq!(
        ok(call(&server, "GET", "/api/v1/rooms?namespace=/chat", None)),
        json!({"namespace": "/chat", "rooms": []})
    );

    // Join by socket ids and by user: the sockets really are in the room.
    let out = ok(call(
        &server,
        "POST",
        "/api/v1/rooms/vip/join",
        Some(json!({"sids": [a.sid.clone(), b.sid.clone()]})),
    ));
    assert_eq!(out, json!({"affected": 2}));
    let out = ok(call(
        &server,
        "POST",
        "/api/v1/rooms/vip/join",
        Some(json!({"users": "u1"})),
    ));
    assert_eq!(out, json!({"affected": 1}));
    let mut members: Vec<String> = [&a, &b, &c].iter().map(|c| c.sid.clone()).collect();
    members.sort();
    let shown = ok(call(&server, "GET", "/api/v1/rooms/vip", None));
    let shown: Vec<String> = shown["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["sid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(shown, members);
    // The session knows its room (it shows in /connections) and a broadcast reaches it.
    let connections = request(
        server.addr,
        "GET",
        "/connections",
        &[("X-API-Key", KEY)],
        b"",
    );
    let sockets = connections.json()["connections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["sockets"].as_array().unwrap().clone())
        .filter(|s| s["rooms"].as_array().unwrap().contains(&json!("vip")))
        .count();
    assert_eq!(sockets, 3);
    let out = ok(call(
        &server,
        "POST",
        "/api/v1/emit",
        Some(json!({"rooms": "vip", "event": "in-vip"})),
    ));
    assert_eq!(out["recipients"], 3);
    for client in [&mut a, &mut b, &mut c] {
        assert_eq!(client.next(), r#"42["in-vip"]"#);
    }

    // Leave by socket id, and by room (every socket of `lobby` leaves `vip`).
    let out = ok(call(
        &server,
        "POST",
        "/api/v1/rooms/vip/leave",
        Some(json!({"sids": b.sid.clone()})),
    ));
    assert_eq!(out, json!({"affected": 1}));
    let out = ok(call(
        &server,
        "POST",
        "/api/v1/rooms/vip/leave",
        Some(json!({"rooms": "lobby"})),
    ));
    assert_eq!(out, json!({"affected": 1}));
    let shown = ok(call(&server, "GET", "/api/v1/rooms/vip", None));
    assert_eq!(shown["members"], json!([{"sid": c.sid, "user": "u1"}]));
    let out = ok(call(
        &server,
        "POST",
        "/api/v1/emit",
        Some(json!({"rooms": "vip", "event": "still-vip"})),
    ));
    assert_eq!(out["recipients"], 1);
    assert_eq!(c.next(), r#"42["still-vip"]"#);
    // Selecting nobody affects nobody.
    let out = ok(call(
        &server,
        "POST",
        "/api/v1/rooms/vip/join",
        Some(json!({"sids": "no-such-socket"})),
    ));
    assert_eq!(out, json!({"affected": 0}));
    sentinel(&server, 3);
    for client in [&mut a, &mut b, &mut c] {
        client.expect_sentinel(3);
    }
}

// ---------------------------------------------------------------------------------------
// Disconnect

#[test]
fn disconnect_by_sid_room_and_user_with_and_without_close() {
    let server = start(|_| {});
    let mut a = Client::connect(&server, None);
    let mut b = Client::connect(&server, None);
    let mut c = Client::connect(&server, Some("u1"));
    b.join("kick");

    // A namespace disconnect: the client gets DISCONNECT, its connection stays open.
    let out = ok(call(
        &server,
        "POST",
        "/api/v1/disconnect",
        Some(json!({"sids": a.sid.clone()})),
    ));
    assert_eq!(out, json!({"disconnected": 1}));
    assert_eq!(a.next(), "41");
    a.ws.send_text("40");
    let again = json_after(&a.next(), "40");
    assert_ne!(
        again["sid"],
        a.sid.as_str(),
        "a new socket on the same connection"
    );

    let out = ok(call(
        &server,
        "POST",
        "/api/v1/disconnect",
        Some(json!({"rooms": "kick"})),
    ));
    assert_eq!(out, json!({"disconnected": 1}));
    assert_eq!(b.next(), "41");

    // `close: true` closes the whole connection.
    let out = ok(call(
        &server,
        "POST",
        "/api/v1/disconnect",
        Some(json!({"users": "u1", "close": true})),
    ));
    assert_eq!(out, json!({"disconnected": 1}));
    c.ws.assert_closed();
    wait_until("the user's socket is gone", IO_TIMEOUT, || {
        room_members(&server, "/", "user:u1").is_empty()
    });
    let out = ok(call(
        &server,
        "POST",
        "/api/v1/disconnect",
        Some(json!({"users": "u1"})),
    ));
    assert_eq!(out, json!({"disconnected": 0}));
}

// ---------------------------------------------------------------------------------------
// Errors

#[test]
fn bad_requests_get_json_errors_with_the_right_status() {
    let server = start(|s| s.api.sse_max_subscribers = 1);
    let post = |path: &str, body: &[u8]| {
        request(
            server.addr,
            "POST",
            path,
            &[("X-API-Key", KEY), ("Content-Type", "application/json")],
            body,
        )
    };
    // 400: not JSON, not the shape, values out of range.
    for body in [
        &b"{not json"[..],
        b"",
        b"[]",
        br#"{"data":1}"#,
        br#"{"event":""}"#,
        br#"{"event":"e","room":"typo"}"#,
        br#"{"event":"e","rooms":[1.5e300, {}]}"#,
        br#"{"event":"e","data":1,"args":[1]}"#,
        br#"{"event":"connect"}"#,
        br#"{"event":"e","ack":true,"timeout_ms":0}"#,
        br#"{"event":"e","ack":true,"timeout_ms":600000}"#,
        br#"{"event":"e","id":[1]}"#,
        br#"{"event":"e","rooms":[""]}"#,
    ] {
        let res = post("/api/v1/emit", body);
        assert_eq!(
            res.status,
            400,
            "{}: {}",
            String::from_utf8_lossy(body),
            res.text()
        );
        assert_error(&res, 400, "INVALID_PAYLOAD");
    }
    for path in [
        "/api/v1/disconnect",
        "/api/v1/rooms/a/join",
        "/api/v1/rooms/a/leave",
    ] {
        assert_error(&post(path, b"{}"), 400, "INVALID_PAYLOAD");
        assert_error(
            &post(path, br#"{"sids":["a"],"close":"yes"}"#),
            400,
            "INVALID_PAYLOAD",
        );
    }
    let long_room = format!("/api/v1/rooms/{}/join", "x".repeat(300));
    assert_error(
        &post(&long_room, br#"{"sids":"a"}"#),
        400,
        "INVALID_PAYLOAD",
    );
    assert_error(
        &call(&server, "GET", "/api/v1/rooms?namespace=/&page=2", None),
        400,
        "INVALID_PAYLOAD",
    );

    // 404: unknown namespace, empty room, unknown route.
    assert_error(
        &post("/api/v1/emit", br#"{"namespace":"/nope","event":"e"}"#),
        404,
        "NOT_FOUND",
    );
    assert_error(
        &post("/api/v1/disconnect", br#"{"namespace":"nope","sids":"x"}"#),
        404,
        "NOT_FOUND",
    );
    assert_error(
        &call(&server, "GET", "/api/v1/rooms?namespace=/nope", None),
        404,
        "NOT_FOUND",
    );
    assert_error(
        &call(&server, "GET", "/api/v1/rooms/nobody-here", None),
        404,
        "NOT_FOUND",
    );
    assert_error(
        &call(&server, "GET", "/api/v1/sse?namespace=/nope", None),
        404,
        "NOT_FOUND",
    );
    assert_error(
        &call(&server, "GET", "/api/v2/emit", None),
        404,
        "NOT_FOUND",
    );

    // 405: the wrong method on a known route.
    assert_error(
        &call(&server, "GET", "/api/v1/emit", None),
        405,
        "METHOD_NOT_ALLOWED",
    );
    assert_error(
        &call(&server, "DELETE", "/api/v1/rooms", None),
        405,
        "METHOD_NOT_ALLOWED",
    );

    // 413: over api.max_body_bytes, announced or chunked.
    let big = json!({"event": "e", "data": "x".repeat(5000)}).to_string();
    assert_error(
        &post("/api/v1/emit", big.as_bytes()),
        413,
        "PAYLOAD_TOO_LARGE",
    );
    let mut conn = wire::Conn::open(server.addr);
    conn.send_head(
        "POST",
        "/api/v1/emit",
        &[("X-API-Key", KEY), ("Transfer-Encoding", "chunked")],
    );
    for part in big.as_bytes().chunks(1000) {
        conn.send_chunk(part);
    }
    conn.send_chunk(b"");
    let res = conn.read_response().expect("an answer");
    assert_error(&res, 413, "PAYLOAD_TOO_LARGE");
    // Just under the limit is fine.
    let fits = json!({"event": "e", "data": "x".repeat(4000)}).to_string();
    assert_eq!(post("/api/v1/emit", fits.as_bytes()).status, 200);

    // 503: over api.sse_max_subscribers (1 here).
    let (status, _, mut first) = open_sse(server.addr, "GET", "/api/v1/sse", None);
    assert_eq!(status, 200);
    assert!(matches!(first.next(), Some(Sse::Comment(_))));
    assert_error(
        &call(&server, "GET", "/api/v1/sse", None),
        503,
        "UNAVAILABLE",
    );
    drop(first);
    wait_until("the first subscriber's place is free", IO_TIMEOUT, || {
        call(&server, "GET", "/api/v1/rooms", None).status == 200 && subscriber_count(&server) == 0
    });
    let (status, _, _second) = open_sse(server.addr, "GET", "/api/v1/sse", None);
    assert_eq!(status, 200);
}

// ---------------------------------------------------------------------------------------
// The SSE subscribe stream

#[test]
fn sse_subscribers_get_the_events_of_their_rooms() {
    let server = start(|s| s.api.sse_keepalive_s = 1);
    let mut a = Client::connect(&server, None);
    let mut c = Client::connect(&server, Some("u7"));
    a.join("a");

    let (status, headers, mut rooms_ab) = open_sse(
        server.addr,
        "GET",
        "/api/v1/sse?namespace=/&rooms=a,user:u7",
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("text/event-stream"));
    assert_eq!(header(&headers, "cache-control"), Some("no-cache"));
    assert!(matches!(rooms_ab.next(), Some(Sse::Comment(c)) if c.starts_with("subscribed")));
    let (_, _, mut everything) = open_sse(server.addr, "GET", "/api/v1/sse", None);
    assert!(matches!(everything.next(), Some(Sse::Comment(_))));

    // A client publishes to room a with the built-in `publish`.
    c.ws.send_text(&format!(
        "421{}",
        json!(["publish", {"room": "a", "event": "chat", "data": {"text": "hi"}}])
    ));
    assert_eq!(json_after(&c.next(), "431")[0]["recipients"], 1);
    assert_eq!(a.next(), r#"42["chat",{"text":"hi"}]"#);
    assert_eq!(rooms_ab.event(), ("chat".into(), json!([{"text": "hi"}])));
    assert_eq!(everything.event(), ("chat".into(), json!([{"text": "hi"}])));
    // The API emits to another room, to the user, to the namespace, with several args.
    for body in [
        json!({"rooms": "elsewhere", "event": "skip"}),
        json!({"users": "u7", "event": "dm", "args": [1, "two"]}),
        json!({"event": "broadcast"}),
        json!({"rooms": "a", "except": "a", "event": "excepted"}),
        json!({"rooms": "a", "event": "last", "data": null}),
    ] {
        ok(call(&server, "POST", "/api/v1/emit", Some(body)));
    }
    assert_eq!(rooms_ab.event(), ("dm".into(), json!([1, "two"])));
    assert_eq!(rooms_ab.event(), ("last".into(), json!([null])));
    let names: Vec<String> = (0..5).map(|_| everything.event().0).collect();
    assert_eq!(names, ["skip", "dm", "broadcast", "excepted", "last"]);

    // An idle stream gets keep-alive comments.
    assert_eq!(rooms_ab.next(), Some(Sse::Comment("keep-alive".into())));

    // A closed stream unsubscribes.
    assert_eq!(subscriber_count(&server), 2);
    drop(rooms_ab);
    drop(everything);
    wait_until("the subscribers are gone", IO_TIMEOUT, || {
        subscriber_count(&server) == 0
    });
}

#[test]
fn a_slow_sse_reader_is_cut_off_and_counted() {
    let server = start(|s| s.api.sse_queue = 4);
    let (status, _, mut slow) = open_sse(server.addr, "GET", "/api/v1/sse?rooms=firehose", None);
    assert_eq!(status, 200);
    assert!(matches!(slow.next(), Some(Sse::Comment(_))));
    let before = server.hub.counters().slow_consumer_disconnects();
    // The reader reads nothing while big events pour in: the socket buffers fill, then the
    // queue of 4, then it is cut off.
    let big = "x".repeat(64 * 1024);
    let mut sent = 0;
    while server.hub.counters().slow_consumer_disconnects() == before {
        assert!(sent < 5000, "never cut off after {sent} events");
        let target = Target {
            rooms: vec!["firehose".into()],
            ..Target::namespace("/")
        };
        hub_broadcast(&server, target, "flood", json!(big));
        sent += 1;
    }
    assert_eq!(subscriber_count(&server), 0);
    // What was queued still comes, then the error, then the end.
    let mut floods = 0;
    loop {
        match slow.event() {
            (name, _) if name == "flood" => floods += 1,
            (name, data) => {
                assert_eq!(name, "error");
                assert_eq!(data["code"], "SLOW_CONSUMER");
                break;
            }
        }
    }
    assert!(floods < sent, "{floods} of {sent} events were kept");
    assert_eq!(slow.next(), None);
}
