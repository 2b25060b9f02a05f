//! Who may publish where, sent as an attacker would: an anonymous (or any) client's
//! `publish` into a user room is refused with `PERMISSION_DENIED` and never delivered,
//! whatever `client_publish = true` or `"*"` say; a room `client_join` protects takes the
//! right to join it or an explicit `client_publish` rule; an explicit `user:` rule opens user
//! rooms to the roles it names; and ordinary rooms work as before. The server itself (server
//! code, the HTTP API) still reaches user rooms.

use crate::support;
use crate::support::wire;

use std::time::Duration;

use serde_json::{json, Value};
use siohub::config::{NamespacePolicy, RoomAccess, RoomRule};
use siohub::server::BackgroundServer;
use siohub_actors::{RefusalReason, Target};
use support::{hub_broadcast, policy, start_hub_with};
use wire::*;

const SECRET: &str = "publish-rights-tests-secret-0123456789";

fn token(sub: &str, roles: &[&str]) -> String {
    support::tokens::user_token(SECRET, json!({ "sub": sub, "roles": roles }))
}

fn hub(namespaces: Vec<NamespacePolicy>) -> BackgroundServer {
    start_hub_with(namespaces, |s| s.auth.jwt_secret = SECRET.into())
}

/// Opens a websocket session and joins `nsp` with `auth`; returns the websocket.
#[track_caller]
fn connect(server: &BackgroundServer, nsp: &str, auth: Value) -> Ws {
    let (mut ws, _, _) = Ws::open(server.addr);
    let prefix = if nsp == "/" {
        "40".to_owned()
    } else {
        format!("40{nsp},")
    };
    ws.send_text(&format!("{prefix}{auth}"));
    let reply = ws.text_skipping_pings();
    assert!(reply.starts_with(&prefix), "CONNECT to {nsp}: {reply}");
    ws
}

fn as_user(server: &BackgroundServer, nsp: &str, user: &str, roles: &[&str]) -> Ws {
    connect(server, nsp, json!({ "token": token(user, roles) }))
}

/// The namespace part of a packet for `nsp` (`""` for `/`).
fn nsp_prefix(nsp: &str) -> String {
    if nsp == "/" {
        String::new()
    } else {
        format!("{nsp},")
    }
}

/// Emits `event` on `nsp` with ack `id` and returns the ack's first argument.
#[track_caller]
fn ack_in(ws: &mut Ws, nsp: &str, id: u64, event: &str, arg: Value) -> Value {
    let p = nsp_prefix(nsp);
    ws.send_text(&format!("42{p}{id}{}", json!([event, arg])));
    let prefix = format!("43{p}{id}");
    loop {
        let text = ws.text_skipping_pings();
        if text.starts_with(&prefix) && text[prefix.len()..].starts_with('[') {
            return json_after(&text, &prefix)[0].clone();
        }
    }
}

fn publish(room: &str, event: &str) -> Value {
    json!({ "room": room, "event": event, "data": { "from": "client" } })
}

#[track_caller]
fn assert_denied(body: &Value, why: &str) {
    assert_eq!(error_code(body), Some("PERMISSION_DENIED"), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(why), "{message:?} should say {why:?}");
}

#[test]
fn a_forged_publish_into_a_user_room_is_refused_and_not_delivered() {
    let star = NamespacePolicy {
        client_publish: RoomAccess::Rules(vec![RoomRule::Pattern("*".into())]),
        ..policy("/star")
    };
    let server = hub(vec![policy("/"), star]);
    let mut bob = as_user(&server, "/", "bob", &[]);
    let mut bob_star = as_user(&server, "/star", "bob", &[]);
    let mut stranger = connect(&server, "/", json!({}));
    let mut stranger_star = connect(&server, "/star", json!({}));
    let mut alice = as_user(&server, "/", "alice", &[]);

    // client_publish = true, ["*"], anonymous or signed in as someone else: refused.
    let body = ack_in(
        &mut stranger,
        "/",
        1,
        "publish",
        publish("user:bob", "forged"),
    );
    assert_denied(&body, "user rooms are written by the server only");
    let body = ack_in(&mut alice, "/", 1, "publish", publish("user:bob", "forged"));
    assert_denied(&body, "user rooms");
    let body = ack_in(
        &mut stranger_star,
        "/star",
        1,
        "publish",
        publish("user:bob", "forged"),
    );
    assert_denied(&body, "user rooms");
    // Without an ack: refused all the same.
    stranger.send_text(&format!(
        "42{}",
        json!(["publish", publish("user:bob", "forged")])
    ));
    bob.assert_quiet(Duration::from_millis(300));
    bob_star.assert_quiet(Duration::from_millis(100));
    assert_eq!(server.hub.counters().refusals(RefusalReason::RoomDenied), 4);
    // The stranger is still connected, and ordinary rooms work as before.
    assert!(ack_in(&mut stranger, "/", 2, "ping", json!(null))["server_time"].is_u64());
    assert_eq!(ack_in(&mut bob, "/", 1, "join", json!("chat"))["ok"], true);
    let body = ack_in(&mut stranger, "/", 3, "publish", publish("chat", "hello"));
    assert_eq!(body, json!({ "ok": true, "recipients": 1 }));
    assert_eq!(
        bob.text_skipping_pings(),
        r#"42["hello",{"from":"client"}]"#
    );
    // The server still writes to the user.
    let target = Target {
        rooms: vec!["user:bob".into()],
        ..Target::namespace("/")
    };
    let out = hub_broadcast(&server, target, "notice", json!("from the server"));
    assert_eq!(out.recipients, 1);
    assert_eq!(
        bob.text_skipping_pings(),
        r#"42["notice","from the server"]"#
    );
}

#[test]
fn an_explicit_user_rule_lets_its_roles_publish_to_user_rooms() {
    let support_desk = NamespacePolicy {
        client_publish: RoomAccess::Rules(vec![
            RoomRule::Pattern("chat".into()),
            RoomRule::WithRoles {
                pattern: "user:*".into(),
                roles: vec!["support".into()],
            },
        ]),
        ..policy("/desk")
    };
    let server = hub(vec![policy("/"), support_desk]);
    let mut bob = as_user(&server, "/desk", "bob", &[]);
    let mut agent = as_user(&server, "/desk", "ann", &["support"]);
    let mut stranger = connect(&server, "/desk", json!({}));
    let body = ack_in(
        &mut agent,
        "/desk",
        1,
        "publish",
        publish("user:bob", "reply"),
    );
    assert_eq!(body, json!({ "ok": true, "recipients": 1 }));
    assert_eq!(
        bob.text_skipping_pings(),
        r#"42/desk,["reply",{"from":"client"}]"#
    );
    // The rule names a role: without it, refused.
    let body = ack_in(
        &mut stranger,
        "/desk",
        1,
        "publish",
        publish("user:bob", "forged"),
    );
    assert_denied(&body, "client_publish does not allow this room");
    bob.assert_quiet(Duration::from_millis(300));
}

#[test]
fn rooms_protected_for_join_are_protected_for_publish() {
    let protected = NamespacePolicy {
        client_join: RoomAccess::Rules(vec![
            RoomRule::Pattern("public:*".into()),
            RoomRule::WithRoles {
                pattern: "staff:*".into(),
                roles: vec!["staff".into()],
            },
            RoomRule::WithRoles {
                pattern: "inbox:*".into(),
                roles: vec!["owner".into()],
            },
        ]),
        client_publish: RoomAccess::Allowed(true),
        ..policy("/p")
    };
    // The same rooms, with an explicit rule that lets anyone drop a note into an inbox.
    let inboxes = NamespacePolicy {
        client_publish: RoomAccess::Rules(vec![
            RoomRule::Pattern("public:*".into()),
            RoomRule::Pattern("inbox:*".into()),
        ]),
        ..protected.clone()
    };
    let inboxes = NamespacePolicy {
        name: "/i".into(),
        ..inboxes
    };
    let server = hub(vec![policy("/"), protected, inboxes]);
    let mut staff = as_user(&server, "/p", "sam", &["staff"]);
    let mut stranger = connect(&server, "/p", json!({}));
    for room in ["staff:ops", "public:lobby"] {
        assert_eq!(ack_in(&mut staff, "/p", 1, "join", json!(room))["ok"], true);
    }
    // A role-only room: refused to whoever may not join it.
    let body = ack_in(
        &mut stranger,
        "/p",
        1,
        "publish",
        publish("staff:ops", "forged"),
    );
    assert_denied(&body, "client_join protects this room");
    // A room nobody may join: refused to everyone, staff included.
    let body = ack_in(
        &mut stranger,
        "/p",
        2,
        "publish",
        publish("secret", "forged"),
    );
    assert_denied(&body, "client_join protects this room");
    let body = ack_in(&mut staff, "/p", 2, "publish", publish("secret", "forged"));
    assert_denied(&body, "client_join protects this room");
    staff.assert_quiet(Duration::from_millis(300));
    // Who may join may publish; open rooms are open to all.
    let mut colleague = as_user(&server, "/p", "sue", &["staff"]);
    assert_eq!(
        ack_in(&mut colleague, "/p", 1, "join", json!("staff:ops"))["ok"],
        true
    );
    let body = ack_in(
        &mut colleague,
        "/p",
        2,
        "publish",
        publish("staff:ops", "memo"),
    );
    assert_eq!(body, json!({ "ok": true, "recipients": 1 }));
    assert_eq!(
        staff.text_skipping_pings(),
        r#"42/p,["memo",{"from":"client"}]"#
    );
    let body = ack_in(
        &mut stranger,
        "/p",
        3,
        "publish",
        publish("public:lobby", "hi"),
    );
    assert_eq!(body, json!({ "ok": true, "recipients": 1 }));
    assert_eq!(
        staff.text_skipping_pings(),
        r#"42/p,["hi",{"from":"client"}]"#
    );

    // The explicit rule: a stranger may write into an inbox it may not join.
    let mut owner = as_user(&server, "/i", "olga", &["owner"]);
    let mut writer = connect(&server, "/i", json!({}));
    assert_eq!(
        ack_in(&mut owner, "/i", 1, "join", json!("inbox:olga"))["ok"],
        true
    );
    let body = ack_in(&mut writer, "/i", 1, "join", json!("inbox:olga"));
    assert_denied(&body, "joining room");
    let body = ack_in(
        &mut writer,
        "/i",
        2,
        "publish",
        publish("inbox:olga", "note"),
    );
    assert_eq!(body, json!({ "ok": true, "recipients": 1 }));
    assert_eq!(
        owner.text_skipping_pings(),
        r#"42/i,["note",{"from":"client"}]"#
    );
    // But the rule does not reach beyond its pattern.
    let body = ack_in(
        &mut writer,
        "/i",
        3,
        "publish",
        publish("staff:ops", "forged"),
    );
    assert_denied(&body, "client_publish does not allow this room");
    assert_eq!(server.hub.counters().refusals(RefusalReason::RoomDenied), 5);
}
