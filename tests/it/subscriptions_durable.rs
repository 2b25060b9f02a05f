//! Durable subscriptions in a real PostgreSQL of the test's own, driven by real
//! socket.io-client sockets with users' tokens: a join is kept and every new socket of the
//! user joins the room on connect (with the room's history replayed), `leave` removes it,
//! anonymous sockets keep nothing, the API lists a user's rooms, a second node sharing the
//! database (and Redis, as a cluster) restores them too, the bounds refuse with a clear ack error, and PostgreSQL
//! killed mid-run leaves the hub serving (health degraded, writes queued and counted), then
//! everything comes back by itself once it is restarted.

use crate::support;

use std::time::Duration;

use serde_json::{json, Value};
use siohub::config::{BufferName, Settings};
use siohub::server::BackgroundServer;
use siohub_actors::Target;
use support::cluster::{api, emit, health, wait_counted};
use support::ops::metrics_text;
use support::tokens::user_token;
use support::{
    hub_broadcast, policy, room_members, start_hub_from, test_settings, wait_until, Driver,
    PostgresServer, RedisServer,
};

const SECRET: &str = "durable-subscriptions-test-secret-32-bytes!";
const WAIT: Duration = Duration::from_secs(20);

/// A hub whose `/` and `/other` keep a history (`always`) and whose subscriptions are kept
/// in `pg`.
fn settings(pg: &PostgresServer) -> Settings {
    let mut settings = test_settings();
    settings.auth.jwt_secret = SECRET.into();
    settings.subscriptions.store = "postgres".into();
    settings.subscriptions.postgres_url = pg.url();
    settings.namespaces = ["/", "/other"]
        .into_iter()
        .map(|name| siohub::config::NamespacePolicy {
            buffer: BufferName::Always,
            ..policy(name)
        })
        .collect();
    settings
}

fn room_target(room: &str) -> Target {
    Target {
        rooms: vec![room.into()],
        ..Target::namespace("/")
    }
}

fn auth(user: &str) -> Value {
    json!({ "token": user_token(SECRET, json!({ "sub": user })) })
}

fn connect_as(d: &mut Driver, name: &str, nsp: &str, user: &str) -> String {
    let reply = d.call(
        "connect",
        json!({ "name": name, "nsp": nsp, "auth": auth(user) }),
    );
    reply["id"].as_str().expect("a socket id").to_owned()
}

/// The value of the series `series` (name and labels) in `server`'s `/metrics` (0 when
/// absent).
fn metric(server: &BackgroundServer, series: &str) -> f64 {
    metrics_text(server)
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The rooms `user` keeps, as PostgreSQL has them: `namespace|room|options` lines, sorted.
fn rows(pg: &PostgresServer, user: &str) -> Vec<String> {
    let sql = format!(
        "SELECT namespace, room, options FROM siohub_subscriptions WHERE user_id = '{user}' ORDER BY 1, 2"
    );
    let out = pg.psql("siohub", &sql);
    out.lines().map(String::from).collect()
}

fn wait_connected(server: &BackgroundServer) {
    wait_until("the store is connected", WAIT, || {
        health(server)["subscriptions"]["connected"] == json!(true)
    });
}

#[test]
fn subscriptions_durable_join_is_kept_and_new_sockets_join_with_replay() {
    let pg = PostgresServer::start();
    let server = start_hub_from(settings(&pg));
    wait_connected(&server);
    let mut d = Driver::node(&server);
    connect_as(&mut d, "a", "/", "alice");
    // a's own restore finds nothing kept; it ends before a joins, so that it is counted
    // as empty (a restore reading after the join would find "news" and leave it alone).
    wait_until("a's restore is done (nothing kept yet)", WAIT, || {
        metric(
            &server,
            r#"siohub_subscriptions_restores_total{outcome="empty"}"#,
        ) >= 1.0
    });
    let ack = d.ack(
        "a",
        "join",
        json!([{ "room": "news", "fields": ["price"] }]),
    );
    assert_eq!(ack["ok"], json!(true), "{ack}");
    assert_eq!(ack["durable"], json!("kept"), "{ack}");
    assert_eq!(
        rows(&pg, "alice"),
        vec![r#"/|news|{"fields": ["price"]}"#.to_owned()]
    );
    // The room's history: what a new socket gets replayed when it is restored into it,
    // with the field set its join named.
    let sent = hub_broadcast(
        &server,
        room_target("news"),
        "tick",
        json!({"n": 1, "price": 10}),
    );
    assert_eq!(sent.recipients, 1);
    d.wait_counts(&["a".to_owned()], "tick", 1);

    // A second socket of alice: joined to "news" on connect, without asking, with the replay,
    // and only the fields the kept join named.
    let b = connect_as(&mut d, "b", "/", "alice");
    d.wait_counts(&["b".to_owned()], "tick", 1);
    assert_eq!(d.received("b", "tick"), vec![json!({"price": 10})]);
    wait_until("b is a member of news", WAIT, || {
        room_members(&server, "/", "news").contains(&b)
    });
    // And it gets what is published there from now on.
    let sent = hub_broadcast(
        &server,
        room_target("news"),
        "tick",
        json!({"n": 2, "price": 11}),
    );
    assert_eq!(sent.recipients, 2);
    d.wait_counts(&["b".to_owned()], "tick", 2);
    assert_eq!(d.received("b", "tick")[1], json!({"price": 11}));
    // Restores are per namespace: a socket of alice on /other is not joined to /'s room.
    let c = connect_as(&mut d, "c", "/other", "alice");
    wait_until("c's restore is done (nothing kept there)", WAIT, || {
        metric(
            &server,
            r#"siohub_subscriptions_restores_total{outcome="empty"}"#,
        ) >= 2.0
    });
    assert!(!room_members(&server, "/other", "news").contains(&c));
    assert_eq!(
        metric(
            &server,
            r#"siohub_subscriptions_restores_total{outcome="restored"}"#
        ),
        1.0
    );
    assert_eq!(
        metric(&server, "siohub_subscriptions_rooms_restored_total"),
        1.0
    );
}

#[test]
fn subscriptions_durable_leave_removes_and_anonymous_sockets_keep_nothing() {
    let pg = PostgresServer::start();
    let server = start_hub_from(settings(&pg));
    wait_connected(&server);
    let mut d = Driver::node(&server);
    connect_as(&mut d, "a", "/", "bob");
    for room in ["r1", "r2"] {
        assert_eq!(d.ack("a", "join", json!([room]))["durable"], json!("kept"));
    }
    let ack = d.ack("a", "leave", json!(["r1"]));
    assert_eq!(ack["ok"], json!(true), "{ack}");
    assert_eq!(ack["durable"], json!("removed"), "{ack}");
    assert_eq!(rows(&pg, "bob"), vec!["/|r2|{}".to_owned()]);

    // A new socket of bob is restored into r2 only.
    let b = connect_as(&mut d, "b", "/", "bob");
    wait_until("b is a member of r2", WAIT, || {
        room_members(&server, "/", "r2").contains(&b)
    });
    assert!(!room_members(&server, "/", "r1").contains(&b));

    // An anonymous socket joins as before, and nothing is kept for it.
    d.connect("anon", "/");
    let ack = d.ack("anon", "join", json!(["r3"]));
    assert_eq!(ack["ok"], json!(true), "{ack}");
    assert_eq!(ack.get("durable"), None, "{ack}");
    let all = pg.psql("siohub", "SELECT count(*) FROM siohub_subscriptions");
    assert_eq!(all, "1", "only bob's r2 is kept");
}

#[test]
fn subscriptions_durable_api_lists_a_users_rooms() {
    let pg = PostgresServer::start();
    let server = start_hub_from(settings(&pg));
    wait_connected(&server);
    let mut d = Driver::node(&server);
    connect_as(&mut d, "a", "/", "carol");
    connect_as(&mut d, "o", "/other", "carol");
    d.ack(
        "a",
        "join",
        json!([{ "room": "prices", "fields": ["bid", "ask"] }]),
    );
    d.ack("o", "join", json!(["chat"]));

    let all = api(&server, "GET", "/api/v1/users/carol/subscriptions", None);
    assert_eq!(all.status, 200, "{}", all.text());
    let body = all.json();
    assert_eq!(body["user"], json!("carol"));
    let listed: Vec<_> = body["subscriptions"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| {
            (
                s["namespace"].clone(),
                s["room"].clone(),
                s["options"].clone(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (
                json!("/"),
                json!("prices"),
                json!({"fields": ["bid", "ask"]})
            ),
            (json!("/other"), json!("chat"), json!({})),
        ]
    );
    assert!(body["subscriptions"][0]["since_ms"].as_i64().unwrap() > 0);

    let one = api(
        &server,
        "GET",
        "/api/v1/users/carol/subscriptions?namespace=/other",
        None,
    );
    assert_eq!(one.json()["subscriptions"].as_array().unwrap().len(), 1);
    let nobody = api(&server, "GET", "/api/v1/users/dave/subscriptions", None);
    assert_eq!(nobody.json()["subscriptions"], json!([]));
    // The API's own errors: unknown namespace, no key.
    let unknown = api(
        &server,
        "GET",
        "/api/v1/users/carol/subscriptions?namespace=/nope",
        None,
    );
    assert_eq!(unknown.status, 404, "{}", unknown.text());
    let anonymous = support::wire::request(
        server.addr,
        "GET",
        "/api/v1/users/carol/subscriptions",
        &[],
        b"",
    );
    assert_eq!(anonymous.status, 401);

    // Without a store the route says so.
    let plain = start_hub_from(test_settings());
    let off = api(&plain, "GET", "/api/v1/users/carol/subscriptions", None);
    assert_eq!(off.status, 404, "{}", off.text());
    assert!(off.text().contains("store"), "{}", off.text());
}

#[test]
fn subscriptions_durable_bounds_are_refused_with_a_clear_ack_error() {
    let pg = PostgresServer::start();
    let mut settings = settings(&pg);
    settings.subscriptions.max_rooms_per_user = 2;
    settings.subscriptions.max_options_bytes = 64;
    let server = start_hub_from(settings);
    wait_connected(&server);
    let mut d = Driver::node(&server);
    let a = connect_as(&mut d, "a", "/", "erin");
    connect_as(&mut d, "o", "/other", "erin");
    assert_eq!(d.ack("a", "join", json!(["k1"]))["durable"], json!("kept"));
    // The bound is per user, over every namespace.
    assert_eq!(d.ack("o", "join", json!(["k2"]))["durable"], json!("kept"));
    let refused = d.ack("a", "join", json!(["k3"]));
    assert_eq!(
        refused["error"]["code"],
        json!("RATE_LIMIT_EXCEEDED"),
        "{refused}"
    );
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("max_rooms_per_user"), "{message}");
    assert!(
        !room_members(&server, "/", "k3").contains(&a),
        "the join was undone"
    );
    // A room already kept is joined again (its options updated), whatever the bound.
    let again = d.ack("a", "join", json!([{ "room": "k1", "fields": ["x"] }]));
    assert_eq!(again["durable"], json!("kept"), "{again}");

    let big = d.ack(
        "a",
        "join",
        json!([{ "room": "k1", "fields": ["x".repeat(100)] }]),
    );
    assert_eq!(big["error"]["code"], json!("PAYLOAD_TOO_LARGE"), "{big}");
    let nul = d.ack("a", "join", json!(["bad\u{0}room"]));
    assert_eq!(nul["error"]["code"], json!("INVALID_PAYLOAD"), "{nul}");
    assert_eq!(
        rows(&pg, "erin"),
        vec![
            r#"/|k1|{"fields": ["x"]}"#.to_owned(),
            "/other|k2|{}".to_owned()
        ]
    );
    for (reason, n) in [
        ("over_limit", 1.0),
        ("options_too_large", 1.0),
        ("not_storable", 1.0),
    ] {
        let series = format!("siohub_subscriptions_refused_total{{reason=\"{reason}\"}}");
        assert_eq!(metric(&server, &series), n, "{series}");
    }
    // The socket is fine after all that.
    assert_eq!(d.ack("a", "ping", json!([]))["ok"], json!(true));
}

#[test]
fn subscriptions_durable_a_second_node_on_the_same_database_restores_the_rooms() {
    let pg = PostgresServer::start();
    let redis = RedisServer::start();
    let clustered = || {
        let mut settings = settings(&pg);
        settings.adapter.kind = "redis".into();
        settings.adapter.redis_url = redis.url();
        start_hub_from(settings)
    };
    let nodes = [clustered(), clustered()];
    wait_counted(&nodes, 2);
    let [node_a, node_b] = &nodes;
    wait_connected(node_a);
    wait_connected(node_b);
    let mut da = Driver::node(node_a);
    let mut db = Driver::node(node_b);
    connect_as(&mut da, "a", "/", "frank");
    // Once the ack says "kept", the row is in: node B sees it at the user's next connect.
    assert_eq!(
        da.ack("a", "join", json!(["desk"]))["durable"],
        json!("kept")
    );
    let b = connect_as(&mut db, "b", "/", "frank");
    wait_until("frank's socket on node B is in desk", WAIT, || {
        room_members(node_b, "/", "desk").contains(&b)
    });
    // An emit to the room on node A reaches it on node B through the adapter.
    emit(
        node_a,
        json!({ "rooms": "desk", "event": "memo", "data": 1 }),
    );
    db.wait_counts(&["b".to_owned()], "memo", 1);
    // A leave on node B is seen by node A's next socket of frank.
    assert_eq!(
        db.ack("b", "leave", json!(["desk"]))["durable"],
        json!("removed")
    );
    connect_as(&mut da, "a2", "/", "frank");
    wait_until("a2's restore is done", WAIT, || {
        metric(
            node_a,
            r#"siohub_subscriptions_restores_total{outcome="empty"}"#,
        ) >= 1.0
    });
    assert_eq!(room_members(node_a, "/", "desk").len(), 1, "a only");
}

#[test]
fn subscriptions_durable_postgres_killed_mid_run_the_hub_serves_and_recovers() {
    let mut pg = PostgresServer::start();
    let server = start_hub_from(settings(&pg));
    wait_connected(&server);
    let mut d = Driver::node(&server);
    connect_as(&mut d, "a", "/", "gina");
    d.connect("watcher", "/");
    d.ack("watcher", "join", json!(["w"]));
    assert_eq!(
        d.ack("a", "join", json!(["before"]))["durable"],
        json!("kept")
    );
    assert_eq!(health(&server)["status"], json!("healthy"));

    pg.kill();
    wait_until("health says the store is down", WAIT, || {
        let h = health(&server);
        h["status"] == json!("degraded")
            && h["reasons"].to_string().contains("subscriptions store")
            && h["subscriptions"]["connected"] == json!(false)
    });
    assert_eq!(metric(&server, "siohub_subscriptions_store_up"), 0.0);
    // The hub serves: joins, leaves and publishes work; the writes wait in the queue.
    let joined = d.ack("a", "join", json!(["during"]));
    assert_eq!(joined["ok"], json!(true), "{joined}");
    assert_eq!(joined["durable"], json!("queued"), "{joined}");
    let left = d.ack("a", "leave", json!(["before"]));
    assert_eq!(left["durable"], json!("queued"), "{left}");
    let published = d.ack(
        "a",
        "publish",
        json!([{ "room": "w", "event": "m", "data": 1 }]),
    );
    assert_eq!(published["recipients"], json!(1), "{published}");
    d.wait_counts(&["watcher".to_owned()], "m", 1);
    assert_eq!(metric(&server, "siohub_subscriptions_queued"), 2.0);
    // A socket connecting now is connected; its restore waits for PostgreSQL (counted).
    let meanwhile = connect_as(&mut d, "meanwhile", "/", "gina");
    wait_until("the deferred restore is counted", WAIT, || {
        metric(
            &server,
            r#"siohub_subscriptions_restores_total{outcome="deferred"}"#,
        ) >= 1.0
    });
    assert_eq!(
        metric(&server, "siohub_subscriptions_deferred_restores"),
        1.0
    );

    pg.restart();
    wait_until("the store is back and the queue written", WAIT, || {
        let h = health(&server);
        h["status"] == json!("healthy") && h["subscriptions"]["queued"] == json!(0)
    });
    assert_eq!(rows(&pg, "gina"), vec!["/|during|{}".to_owned()]);
    // The queued writes were written after the restart, and counted as such.
    let kept = r#"siohub_subscriptions_writes_total{outcome="kept"}"#;
    let removed = r#"siohub_subscriptions_writes_total{outcome="removed"}"#;
    assert_eq!(metric(&server, kept), 2.0, "before, then during");
    assert_eq!(metric(&server, removed), 1.0);
    assert!(metric(&server, "siohub_subscriptions_reconnects_total") >= 1.0);
    assert_eq!(metric(&server, "siohub_subscriptions_store_up"), 1.0);
    // The deferred restore ran once the queue was written: what gina keeps now.
    wait_until("meanwhile is restored into during", WAIT, || {
        room_members(&server, "/", "during").contains(&meanwhile)
    });
    assert!(!room_members(&server, "/", "before").contains(&meanwhile));
    assert_eq!(
        metric(&server, "siohub_subscriptions_deferred_restores"),
        0.0
    );
    // And a new socket of gina is restored again.
    let c = connect_as(&mut d, "c", "/", "gina");
    wait_until("c is restored into during", WAIT, || {
        room_members(&server, "/", "during").contains(&c)
    });
}

#[test]
fn subscriptions_durable_a_hung_postgres_costs_acks_at_most_the_timeout() {
    let pg = PostgresServer::start();
    let mut settings = settings(&pg);
    settings.subscriptions.timeout_ms = 500;
    let server = start_hub_from(settings);
    wait_connected(&server);
    let mut d = Driver::node(&server);
    connect_as(&mut d, "a", "/", "hank");
    assert_eq!(d.ack("a", "join", json!(["x"]))["durable"], json!("kept"));

    pg.signal("STOP");
    // The ack comes after at most timeout_ms, the write stays queued.
    let joined = d.ack("a", "join", json!(["y"]));
    assert_eq!(joined["ok"], json!(true), "{joined}");
    assert_eq!(joined["durable"], json!("queued"), "{joined}");
    wait_until("health says the store is down", WAIT, || {
        health(&server)["status"] == json!("degraded")
    });
    // Connecting is not held up: the socket's restore waits for PostgreSQL.
    let b = connect_as(&mut d, "b", "/", "hank");
    wait_until("the deferred restore is counted", WAIT, || {
        metric(
            &server,
            r#"siohub_subscriptions_restores_total{outcome="deferred"}"#,
        ) >= 1.0
    });

    pg.signal("CONT");
    wait_until("the store is back and the queue written", WAIT, || {
        let h = health(&server);
        h["status"] == json!("healthy") && h["subscriptions"]["queued"] == json!(0)
    });
    assert_eq!(
        rows(&pg, "hank"),
        vec!["/|x|{}".to_owned(), "/|y|{}".to_owned()]
    );
    wait_until("b is restored into x and y", WAIT, || {
        room_members(&server, "/", "x").contains(&b) && room_members(&server, "/", "y").contains(&b)
    });
}

#[test]
fn subscriptions_durable_one_users_churn_cannot_push_out_anothers_writes() {
    let mut pg = PostgresServer::start();
    let mut settings = settings(&pg);
    settings.subscriptions.queue_size = 20;
    // Each user holds at most twice this many places of the queue.
    settings.subscriptions.max_rooms_per_user = 3;
    let server = start_hub_from(settings);
    wait_connected(&server);
    let mut d = Driver::node(&server);
    connect_as(&mut d, "mallory", "/", "mallory");
    connect_as(&mut d, "vic", "/", "vic");
    pg.kill();
    wait_until("the store is down", WAIT, || {
        health(&server)["subscriptions"]["connected"] == json!(false)
    });

    // The same join again and again changes nothing beyond the first: queued once.
    for _ in 0..10 {
        let joined = d.ack("mallory", "join", json!(["same"]));
        assert_eq!(joined["durable"], json!("queued"), "{joined}");
    }
    assert_eq!(
        metric(&server, "siohub_subscriptions_writes_coalesced_total"),
        9.0
    );
    // Leaves of 30 rooms mallory never kept: past mallory's share, mallory's own are
    // dropped (counted), the queue keeps room for others.
    for n in 0..30 {
        d.ack("mallory", "leave", json!([format!("never-{n}")]));
    }
    let dropped = r#"siohub_subscriptions_writes_total{outcome="dropped"}"#;
    assert_eq!(metric(&server, dropped), 25.0, "1 join + 5 leaves fit");
    assert_eq!(metric(&server, "siohub_subscriptions_queued"), 6.0);
    let joined = d.ack("vic", "join", json!(["v"]));
    assert_eq!(joined["durable"], json!("queued"), "{joined}");

    pg.restart();
    wait_until("the store is back and the queue written", WAIT, || {
        let h = health(&server);
        h["status"] == json!("healthy") && h["subscriptions"]["queued"] == json!(0)
    });
    assert_eq!(rows(&pg, "vic"), vec!["/|v|{}".to_owned()]);
    assert_eq!(rows(&pg, "mallory"), vec!["/|same|{}".to_owned()]);
}
