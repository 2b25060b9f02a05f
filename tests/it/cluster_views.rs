//! The cluster-wide views (issue 12, item 2): two or three in-process siohub nodes on one
//! real `redis-server` of the test's own, with `[adapter] kind = "redis"`, and raw
//! websocket clients spread over them. From one node: the rooms and a room's members of
//! every node, join / leave / disconnect by room and by user acting on another node's
//! sockets, `/connections?scope=cluster`, an `/admin` watcher that gets every node's
//! `server_stats` and a dashboard node list with every node (and the official UI's
//! commands reaching another node's sockets); with a node that hangs (SIGSTOP) or is
//! killed (SIGKILL, a separate process), the views answer with the live nodes within the
//! request timeout; and a Node.js server instrumented by `@socket.io/admin-ui` beside a
//! siohub node: each side sees the other's `server_stats` and sockets. What a node did
//! is read from its own hub (its membership), never slept for.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use siohub::config::Settings;
use siohub::server::BackgroundServer;

use crate::support;
use support::binary;
use support::tokens::user_token;
use support::wire::{json_after, request, Frame, Response, Ws};
use support::{policy, room_members, wait_until, RedisServer, OPERATOR_KEY};

const SECRET: &str = "cluster-views-jwt-secret-of-32-bytes!";
/// Short, so that a view with a dead node answers soon.
const REQUEST_TIMEOUT_MS: u64 = 1000;
const WAIT: Duration = Duration::from_secs(15);

/// Settings for one node of the cluster on `redis`.
pub(crate) fn node_settings(redis: &RedisServer) -> Settings {
    let mut settings = support::test_settings();
    settings.namespaces = vec![policy("/")];
    settings.auth.jwt_secret = SECRET.into();
    settings.adapter.kind = "redis".into();
    settings.adapter.redis_url = redis.url();
    settings.adapter.request_timeout_ms = REQUEST_TIMEOUT_MS;
    settings.api.insecure = true;
    settings
}

/// A node of the cluster on `redis` (insecure: the API and `/admin` need no login).
pub(crate) fn start_node(redis: &RedisServer) -> BackgroundServer {
    support::start_hub_from(node_settings(redis))
}

/// One API request to `addr` as the operator; `body` is sent as JSON.
fn call(addr: std::net::SocketAddr, method: &str, path: &str, body: Option<Value>) -> Response {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    request(
        addr,
        method,
        path,
        &[
            ("X-API-Key", OPERATOR_KEY),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
}

#[track_caller]
fn ok(res: Response) -> Value {
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()
}

/// Waits until `addr`'s room list says `n` nodes answered (they found each other).
pub(crate) fn wait_nodes(addr: std::net::SocketAddr, n: u64) {
    wait_until(&format!("{n} nodes answer"), WAIT, || {
        let rooms = ok(call(addr, "GET", "/api/v1/rooms", None));
        rooms["cluster"]["nodes_answered"] == n && rooms["cluster"]["nodes_expected"] == n
    });
}

/// A client socket on `/`, optionally as `user`.
pub(crate) struct Client {
    ws: Ws,
    pub(crate) id: String,
}

impl Client {
    pub(crate) fn connect(addr: std::net::SocketAddr, user: Option<&str>) -> Client {
        let (mut ws, _, _) = Ws::open(addr);
        match user {
            Some(user) => {
                let token = user_token(SECRET, json!({ "sub": user }));
                ws.send_text(&format!("40{}", json!({ "token": token })));
            }
            None => ws.send_text("40"),
        }
        let reply = json_after(&ws.text_skipping_pings(), "40");
        let id = reply["sid"].as_str().expect("a socket id").to_owned();
        Client { ws, id }
    }

    /// Joins `room` with the built-in `join`.
    fn join(&mut self, room: &str) {
        self.ws.send_text(&format!("421{}", json!(["join", room])));
        let ack = json_after(&self.ws.text_skipping_pings(), "431");
        assert_eq!(ack[0]["ok"], true, "{ack}");
    }

    /// Waits for the namespace DISCONNECT the server sends (`41`).
    #[track_caller]
    fn expect_disconnected(&mut self) {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.ws.recv_within(left) {
                Some(Frame::Text(t)) if t == "41" => return,
                Some(Frame::Text(t)) if t == "2" => self.ws.try_send_text("3"),
                Some(Frame::Closed) | None => panic!("{}: no DISCONNECT packet", self.id),
                Some(_) => {}
            }
        }
    }
}

/// The names (and `members`, `elsewhere`) of a room list.
fn room_entry(rooms: &Value, name: &str) -> Option<(u64, bool)> {
    rooms["rooms"].as_array()?.iter().find_map(|r| {
        (r["name"] == name).then(|| (r["members"].as_u64().unwrap(), r["elsewhere"] == true))
    })
}

fn member_ids(room: &Value) -> Vec<String> {
    let mut ids: Vec<String> = room["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["sid"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn cluster_views_rooms_and_room_members_cover_every_node() {
    let redis = RedisServer::start();
    let (a, b) = (start_node(&redis), start_node(&redis));
    wait_nodes(a.addr, 2);
    let mut a1 = Client::connect(a.addr, None);
    let mut b1 = Client::connect(b.addr, Some("u-b1"));
    a1.join("news");
    b1.join("news");
    b1.join("sports");

    let rooms = ok(call(a.addr, "GET", "/api/v1/rooms", None));
    assert_eq!(room_entry(&rooms, "news"), Some((1, true)), "{rooms}");
    assert_eq!(room_entry(&rooms, "sports"), Some((0, true)), "{rooms}");
    // A socket's own-id room is no room anyone joined.
    assert_eq!(room_entry(&rooms, &b1.id), None, "{rooms}");
    assert_eq!(rooms["cluster"]["nodes_answered"], 2);

    let news = ok(call(a.addr, "GET", "/api/v1/rooms/news", None));
    let mut both = vec![a1.id.clone(), b1.id.clone()];
    both.sort();
    assert_eq!(member_ids(&news), both, "{news}");
    let sports = ok(call(a.addr, "GET", "/api/v1/rooms/sports", None));
    assert_eq!(member_ids(&sports), [b1.id.clone()], "{sports}");
    assert_eq!(sports["members"][0]["user"], "u-b1", "{sports}");
    // A room no node has is still 404, after asking them.
    let none = call(a.addr, "GET", "/api/v1/rooms/nowhere", None);
    assert_eq!(none.status, 404, "{}", none.text());
}

#[test]
fn cluster_views_join_leave_and_disconnect_act_on_another_node() {
    let redis = RedisServer::start();
    let (a, b) = (start_node(&redis), start_node(&redis));
    wait_nodes(a.addr, 2);
    let b_user = Client::connect(b.addr, Some("u42"));
    let mut b_plain = Client::connect(b.addr, None);
    b_plain.join("lobby");

    // Join and leave by user, from node A.
    let joined = ok(call(
        a.addr,
        "POST",
        "/api/v1/rooms/vip/join",
        Some(json!({"users": "u42"})),
    ));
    assert_eq!(joined["affected"], 1, "{joined}");
    wait_until("u42's socket on B is in vip", WAIT, || {
        room_members(&b, "/", "vip") == [b_user.id.clone()]
    });
    let left = ok(call(
        a.addr,
        "POST",
        "/api/v1/rooms/vip/leave",
        Some(json!({"users": ["u42"]})),
    ));
    assert_eq!(left["affected"], 1, "{left}");
    wait_until("vip on B is empty", WAIT, || {
        room_members(&b, "/", "vip").is_empty()
    });

    // Join by room, then leave by socket id.
    let joined = ok(call(
        a.addr,
        "POST",
        "/api/v1/rooms/stage/join",
        Some(json!({"rooms": "lobby"})),
    ));
    assert_eq!(joined["affected"], 1, "{joined}");
    wait_until("the lobby socket on B is on stage", WAIT, || {
        room_members(&b, "/", "stage") == [b_plain.id.clone()]
    });
    ok(call(
        a.addr,
        "POST",
        "/api/v1/rooms/stage/leave",
        Some(json!({"sids": b_plain.id})),
    ));
    wait_until("stage on B is empty", WAIT, || {
        room_members(&b, "/", "stage").is_empty()
    });

    // Disconnect by room: the socket on B gets its DISCONNECT.
    let gone = ok(call(
        a.addr,
        "POST",
        "/api/v1/disconnect",
        Some(json!({"rooms": "lobby"})),
    ));
    assert_eq!(gone["disconnected"], 1, "{gone}");
    assert_eq!(gone["cluster"]["nodes_answered"], 2, "{gone}");
    b_plain.expect_disconnected();
    // And by user.
    let mut b_user = b_user;
    let gone = ok(call(
        a.addr,
        "POST",
        "/api/v1/disconnect",
        Some(json!({"users": "u42"})),
    ));
    assert_eq!(gone["disconnected"], 1, "{gone}");
    b_user.expect_disconnected();
    // A selection no node has affects nothing.
    let none = ok(call(
        a.addr,
        "POST",
        "/api/v1/disconnect",
        Some(json!({"users": "nobody"})),
    ));
    assert_eq!(none["disconnected"], 0, "{none}");
}

#[test]
fn cluster_views_connections_scope_cluster_lists_every_node_paged() {
    let redis = RedisServer::start();
    let (a, b, c) = (start_node(&redis), start_node(&redis), start_node(&redis));
    wait_nodes(a.addr, 3);
    let a1 = Client::connect(a.addr, None);
    let b1 = Client::connect(b.addr, Some("u-b"));
    let c1 = Client::connect(c.addr, None);
    let c2 = Client::connect(c.addr, None);

    let all = ok(call(
        a.addr,
        "GET",
        "/connections?scope=cluster&limit=10",
        None,
    ));
    assert_eq!(all["total"], 4, "{all}");
    assert_eq!(all["cluster"]["nodes_answered"], 3, "{all}");
    let listed = all["sockets"].as_array().unwrap();
    assert_eq!(listed[0]["id"], a1.id.as_str(), "this node's first: {all}");
    assert_eq!(listed[0]["here"], true);
    let mut others: Vec<&str> = listed[1..]
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    others.sort();
    let mut expected = vec![b1.id.as_str(), c1.id.as_str(), c2.id.as_str()];
    expected.sort();
    assert_eq!(others, expected, "{all}");
    let b_entry = listed.iter().find(|s| s["id"] == b1.id.as_str()).unwrap();
    assert_eq!(b_entry["transport"], "websocket", "{b_entry}");
    assert_eq!(
        (b_entry["here"].clone(), b_entry["user"].clone()),
        (json!(false), json!("u-b"))
    );
    assert!(!all.to_string().contains(SECRET));

    // Paged as /connections is.
    let page = ok(call(
        a.addr,
        "GET",
        "/connections?scope=cluster&offset=1&limit=2",
        None,
    ));
    assert_eq!(
        (
            page["total"].clone(),
            page["sockets"].as_array().unwrap().len()
        ),
        (json!(4), 2)
    );
    assert_eq!(page["sockets"], json!(listed[1..3]));
    // Bad queries are refused, the node scope is unchanged.
    for bad in [
        "/connections?scope=galaxy",
        "/connections?scope=cluster&limit=0",
        "/connections?scope=cluster&limit=1001",
        "/connections?namespace=/",
    ] {
        assert_eq!(call(a.addr, "GET", bad, None).status, 400, "{bad}");
    }
    let unknown = call(
        a.addr,
        "GET",
        "/connections?scope=cluster&namespace=/nope",
        None,
    );
    assert_eq!(unknown.status, 404);
    let node = ok(call(a.addr, "GET", "/connections?scope=node", None));
    assert_eq!(node["total"], 1, "{node}");
    drop((b, c));
}

/// What an `/admin` watcher got: the last `all_sockets`, each node's last
/// `server_stats` by server id, and the acks by id.
#[derive(Default)]
struct AdminSeen {
    all_sockets: Vec<Value>,
    stats: std::collections::HashMap<String, Value>,
    acks: std::collections::HashMap<u64, Value>,
}

impl AdminSeen {
    fn listed(&self, id: &str) -> Option<&Value> {
        self.all_sockets.iter().find(|s| s["id"] == id)
    }
}

/// Reads `/admin` frames on `ws` into `seen` until `done(seen)` holds, answering pings;
/// fails after [`WAIT`].
#[track_caller]
fn admin_until(ws: &mut Ws, seen: &mut AdminSeen, what: &str, done: impl Fn(&AdminSeen) -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done(seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        match ws.recv_within(left) {
            Some(Frame::Text(t)) if t == "2" => ws.try_send_text("3"),
            Some(Frame::Text(t)) => {
                if let Some(rest) = t.strip_prefix("42/admin,") {
                    let packet: Value = serde_json::from_str(rest).unwrap();
                    match packet[0].as_str() {
                        Some("all_sockets") => {
                            seen.all_sockets = packet[1].as_array().cloned().unwrap_or_default()
                        }
                        Some("server_stats") => {
                            let id = packet[1]["serverId"].as_str().unwrap_or_default();
                            seen.stats.insert(id.to_owned(), packet[1].clone());
                        }
                        _ => {}
                    }
                } else if let Some(rest) = t.strip_prefix("43/admin,") {
                    let split = rest.find('[').unwrap();
                    let ack: Value = serde_json::from_str(&rest[split..]).unwrap();
                    seen.acks
                        .insert(rest[..split].parse().unwrap(), ack[0].clone());
                }
            }
            Some(other) => panic!("waiting for {what}: {other:?}"),
            None => panic!("timed out waiting for {what}"),
        }
    }
}

/// A watcher on `/admin` (the nodes are `insecure`: no login).
fn admin_watcher(addr: std::net::SocketAddr) -> Ws {
    let (mut ws, _, _) = Ws::open(addr);
    ws.send_text("40/admin,");
    let reply = ws.text_skipping_pings();
    assert!(reply.starts_with("40/admin,"), "{reply}");
    ws
}

/// The dashboard's node list (`siohub:overview`), asked with ack `id`.
fn overview_nodes(ws: &mut Ws, seen: &mut AdminSeen, id: u64) -> Vec<Value> {
    ws.send_text(&format!(r#"42/admin,{id}["siohub:overview"]"#));
    admin_until(ws, seen, "the overview", |seen| seen.acks.contains_key(&id));
    seen.acks[&id]["nodes"].as_array().cloned().unwrap()
}

#[test]
fn cluster_views_an_admin_watcher_sees_every_nodes_server_stats_and_sockets() {
    let redis = RedisServer::start();
    let (a, b) = (start_node(&redis), start_node(&redis));
    wait_nodes(a.addr, 2);
    let b1 = Client::connect(b.addr, None);
    let mut b2 = Client::connect(b.addr, None);
    b2.join("on-b");

    let mut watcher = admin_watcher(a.addr);
    let mut seen = AdminSeen::default();
    let own = overview_nodes(&mut watcher, &mut seen, 1)[0]["id"].clone();
    let own = own.as_str().unwrap().to_owned();
    // B's stats come through Redis, with B's uid and rooms; the second all_sockets lists
    // B's sockets too.
    admin_until(
        &mut watcher,
        &mut seen,
        "B's server_stats and the cluster's all_sockets",
        |seen| {
            seen.stats.keys().any(|id| *id != own)
                && seen.listed(&b1.id).is_some()
                && seen.listed(&b2.id).is_some()
        },
    );
    assert!(seen.stats.contains_key(&own), "A's own stats too");
    let b_stats = seen
        .stats
        .iter()
        .find(|(id, _)| **id != own)
        .unwrap()
        .1
        .clone();
    assert!(b_stats["siohub"]["uid"].is_string(), "{b_stats}");
    assert_eq!(b_stats["siohub"]["rooms"], 1, "{b_stats}");
    assert_eq!(b_stats["clientsCount"], 2, "{b_stats}");
    let b2_listed = seen.listed(&b2.id).unwrap();
    assert_eq!(b2_listed["nsp"], "/");
    assert!(
        b2_listed["rooms"]
            .as_array()
            .unwrap()
            .contains(&json!("on-b")),
        "{b2_listed}"
    );

    // The dashboard's node list: A itself, then B from its stats.
    let nodes = overview_nodes(&mut watcher, &mut seen, 2);
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    assert_eq!(
        (nodes[0]["this"].clone(), nodes[0]["id"].clone()),
        (json!(true), json!(own))
    );
    assert!(nodes[0]["uid"].is_string(), "{nodes:?}");
    assert_eq!(nodes[1]["uid"], b_stats["siohub"]["uid"], "{nodes:?}");
    assert_eq!(
        (nodes[1]["sockets"].clone(), nodes[1]["rooms"].clone()),
        (json!(2), json!(1))
    );
    assert!(
        nodes[1]["stats_age_ms"].as_u64().unwrap() < 10_000,
        "{nodes:?}"
    );
    let metrics = support::ops::metrics_text(&a);
    assert!(
        metrics.contains("siohub_admin_cluster_nodes 1"),
        "{metrics}"
    );

    // The official UI's commands reach B's sockets: join by socket id, then disconnect.
    watcher.send_text(&format!(
        r#"42/admin,["join","/","from-a",{}]"#,
        json!(b1.id)
    ));
    wait_until("B's socket joined from A's admin UI", WAIT, || {
        room_members(&b, "/", "from-a") == [b1.id.clone()]
    });
    watcher.send_text(&format!(
        r#"42/admin,["_disconnect","/",false,{}]"#,
        json!(b1.id)
    ));
    let mut b1 = b1;
    b1.expect_disconnected();
}

#[test]
fn cluster_views_answer_with_the_live_nodes_when_one_hangs_or_is_killed() {
    let redis = RedisServer::start();
    let a = start_node(&redis);
    let env = [
        ("SOCKETIO_ADAPTER__KIND", "redis"),
        ("SOCKETIO_ADAPTER__REDIS_URL", &redis.url()),
        ("SOCKETIO_API__KEYS", OPERATOR_KEY),
    ];
    let b = binary::Server::start(&[], &env);
    wait_nodes(a.addr, 2);
    let mut b1 = Client::connect(b.addr(), None);
    b1.join("doomed-node-room");
    let rooms = ok(call(a.addr, "GET", "/api/v1/rooms", None));
    assert_eq!(
        room_entry(&rooms, "doomed-node-room"),
        Some((0, true)),
        "{rooms}"
    );

    // A node that hangs (SIGSTOP: its Redis connections stay open, so it is still
    // counted) costs a view its timeout, and the answer says one node did not answer.
    let within = Duration::from_millis(REQUEST_TIMEOUT_MS) + Duration::from_secs(3);
    b.signal("-STOP");
    let started = Instant::now();
    let rooms = ok(call(a.addr, "GET", "/api/v1/rooms", None));
    assert!(started.elapsed() < within, "took {:?}", started.elapsed());
    assert_eq!(
        rooms["cluster"],
        json!({"nodes_expected": 2, "nodes_answered": 1}),
        "{rooms}"
    );
    let metrics = support::ops::metrics_text(&a);
    assert!(
        metrics.contains(r#"siohub_cluster_views_total{view="rooms",answered="partial"} 1"#),
        "{metrics}"
    );

    b.signal("-KILL");
    // Whether the request went out before or after Redis noticed the death, every view
    // answers within the request timeout (plus slack for a loaded machine) and says how
    // many nodes answered; soon only A is expected.
    for path in [
        "/api/v1/rooms",
        "/api/v1/rooms/doomed-node-room",
        "/connections?scope=cluster",
    ] {
        let started = Instant::now();
        let res = call(a.addr, "GET", path, None);
        assert!(
            started.elapsed() < within,
            "{path} took {:?}",
            started.elapsed()
        );
        assert!([200, 404].contains(&res.status), "{path}: {}", res.text());
    }
    wait_until("A expects itself alone", WAIT, || {
        let rooms = ok(call(a.addr, "GET", "/api/v1/rooms", None));
        rooms["cluster"] == json!({"nodes_expected": 1, "nodes_answered": 1})
            && room_entry(&rooms, "doomed-node-room").is_none()
    });
    let join = ok(call(
        a.addr,
        "POST",
        "/api/v1/rooms/x/join",
        Some(json!({"rooms": "doomed-node-room"})),
    ));
    assert_eq!(join["affected"], 0, "{join}");
    let metrics = support::ops::metrics_text(&a);
    assert!(
        metrics.contains(r#"siohub_cluster_views_total{view="rooms",answered="all"}"#),
        "{metrics}"
    );
}

#[test]
fn cluster_views_on_the_memory_adapter_say_one_node() {
    // scope=cluster on a node alone: its own sockets, one node; the room views unchanged.
    let node = support::start_hub_with(vec![policy("/")], |_| {});
    let mut c = Client::connect(node.addr, None);
    c.join("solo");
    let all = ok(call(node.addr, "GET", "/connections?scope=cluster", None));
    assert_eq!(all["total"], 1);
    assert_eq!(
        all["cluster"],
        json!({"nodes_expected": 1, "nodes_answered": 1})
    );
    let rooms = ok(call(node.addr, "GET", "/api/v1/rooms", None));
    assert!(rooms.get("cluster").is_none(), "{rooms}");
    assert_eq!(rooms["rooms"], json!([{"name": "solo", "members": 1}]));
    let metrics = support::ops::metrics_text(&node);
    assert!(
        metrics.contains("siohub_admin_cluster_nodes 0"),
        "{metrics}"
    );
}

#[test]
fn cluster_views_a_node_js_server_with_the_admin_ui_and_siohub_see_each_other() {
    use std::io::BufRead;
    use std::process::Stdio;

    let redis = RedisServer::start();
    let a = start_node(&redis);
    let s1 = Client::connect(a.addr, None);
    // The Node server (`instrument`ed by @socket.io/admin-ui): its own admin client sees
    // siohub's server_stats and, in all_sockets, siohub's socket.
    let mut peer = support::clients::node("cluster_admin_peer.mjs")
        .arg(redis.url())
        .arg(&s1.id)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs cluster_admin_peer.mjs");
    let stdout = peer.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let line = lines
        .recv_timeout(Duration::from_secs(40))
        .expect("the Node peer reports");
    let seen: Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(seen["ok"], true, "{seen}");
    assert!(seen["siohub_stats"]["siohub"]["uid"].is_string(), "{seen}");
    assert_eq!(seen["listed"]["nsp"], "/", "{seen}");

    // siohub's dashboard lists the Node server from its server_stats (no uid, no rooms).
    let mut watcher = admin_watcher(a.addr);
    let mut seen_here = AdminSeen::default();
    let deadline = Instant::now() + WAIT;
    let mut ack = 0;
    let node = loop {
        ack += 1;
        let nodes = overview_nodes(&mut watcher, &mut seen_here, ack);
        if let Some(node) = nodes.iter().find(|n| n["id"] == "node-admin-peer") {
            break node.clone();
        }
        assert!(Instant::now() < deadline, "no Node server in {nodes:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(node["uid"].is_null() && node["rooms"].is_null(), "{node}");
    assert_eq!(node["this"], false);
    drop(peer.stdin.take());
    let _ = peer.wait();
}
