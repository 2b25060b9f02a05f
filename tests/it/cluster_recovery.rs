//! Connection state recovery that survives a node: three `siohub` binaries on one Redis
//! of the test's own, `recovery_s > 0`, Node `socket.io-client` 4.8 clients. A client whose
//! node was killed with SIGKILL reconnects to another node and recovers exactly the events
//! it missed, in order; an unknown pid, an offset trimmed from the stream or a Redis that
//! is down at reconnect give a fresh socket, counted, never a hang. A room with
//! `buffer = "always"` keeps its history on every node.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::binary::Server;
use crate::support::temp_file::TempFile;
use crate::support::wire;
use crate::support::{wait_until, Driver, RedisServer};

/// A recovery namespace where clients may join and publish; a short Redis read timeout.
const CONFIG: &str = "[adapter]\nrecovery_read_timeout_ms = 500\n\n\
     [[namespaces]]\nname = \"/\"\nrecovery_s = 60\nclient_join = true\nclient_publish = true\n";

/// The stream of namespace `/` (`[adapter] key_prefix` is `socket.io`).
const STREAM: &str = "socket.io-recovery#/";

const WAIT: Duration = Duration::from_secs(15);

/// A node of the cluster.
fn node(redis: &RedisServer, config: &TempFile) -> Server {
    let url = redis.url();
    let env = [
        ("SOCKETIO_ADAPTER__KIND", "redis"),
        ("SOCKETIO_ADAPTER__REDIS_URL", url.as_str()),
    ];
    Server::start(&["--config", config.path()], &env)
}

fn url(server: &Server) -> String {
    format!("http://{}/", server.addr())
}

/// The value of one `/metrics` series (`name{labels}`), 0 when absent.
fn metric(server: &Server, series: &str) -> u64 {
    let res = wire::request(server.addr(), "GET", "/metrics", &[], b"");
    let text = res.text();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

fn recoveries(server: &Server, outcome: &str) -> u64 {
    let series = format!("siohub_recovery_store_recoveries_total{{outcome=\"{outcome}\"}}");
    metric(server, &series)
}

/// Publishes `{"n": n}` as `news` to `room` from socket `name` (the built-in `publish`).
#[track_caller]
fn publish(d: &mut Driver, name: &str, room: &str, n: u64) {
    let body = json!([{ "room": room, "event": "news", "data": { "n": n } }]);
    let reply = d.ack(name, "publish", body);
    assert_eq!(reply["ok"], true, "publish {n} to {room}: {reply}");
}

/// The `n` of every `news` socket `name` received, in order.
fn news(d: &mut Driver, name: &str) -> Vec<u64> {
    let events = d.received(name, "news");
    events.iter().map(|e| e["n"].as_u64().unwrap()).collect()
}

fn state(d: &mut Driver, name: &str) -> Value {
    d.call("state", json!({ "name": name }))
}

fn stream_len(redis: &RedisServer) -> u64 {
    redis.cli(&["XLEN", STREAM]).parse().unwrap_or(0)
}

/// The socket records in Redis, as stored.
fn records(redis: &RedisServer) -> Vec<String> {
    let keys = redis.cli(&["--scan", "--pattern", "socket.io-recovery-session#*"]);
    keys.lines().map(|k| redis.cli(&["GET", k])).collect()
}

/// Socket `c` connected on `node`, in room `r`, having received `news` 0 (published on
/// the same node, so that it holds an offset), with its record and that event in Redis.
fn connect_in_room(redis: &RedisServer, node: &Server) -> (Driver, String) {
    let mut d = Driver::node_at(&url(node));
    let id = d.connect("c", "/");
    assert_eq!(d.ack("c", "join", json!(["r"]))["ok"], true);
    d.connect("p", "/");
    publish(&mut d, "p", "r", 0);
    wait_until("c gets news 0", WAIT, || news(&mut d, "c") == [0]);
    wait_until(
        "c's record (in room r) and news 0 are in Redis",
        WAIT,
        || {
            let in_room = records(redis)
                .iter()
                .any(|r| r.contains(&id) && r.contains("\"r\""));
            in_room && stream_len(redis) >= 1
        },
    );
    (d, id)
}

/// Kills `node` with SIGKILL while its client `c` does not reconnect by itself.
fn kill_under(d: &mut Driver, node: &mut Server) {
    d.call("hold", json!({ "name": "c" }));
    node.signal("-KILL");
    node.wait_exit(WAIT);
    wait_until("c sees its node gone", WAIT, || {
        state(d, "c")["connected"] == false
    });
}

/// Points `c` at `node` and lets it reconnect; returns its state once connected.
fn reconnect_to(d: &mut Driver, node: &Server) -> Value {
    d.call("retarget", json!({ "name": "c", "url": url(node) }));
    d.call("resume", json!({ "name": "c" }));
    wait_until("c reconnects", WAIT, || state(d, "c")["connected"] == true);
    state(d, "c")
}

#[test]
fn cluster_a_client_of_a_killed_node_recovers_its_missed_events_on_another_node() {
    let redis = RedisServer::start();
    let config = TempFile::with(CONFIG);
    let a = node(&redis, &config);
    let mut b = node(&redis, &config);
    let c = node(&redis, &config);
    let (mut on_b, id) = connect_in_room(&redis, &b);
    kill_under(&mut on_b, &mut b);

    // Missed while away: five to its room, one to a room it is not in.
    let mut on_a = Driver::node_at(&url(&a));
    on_a.connect("p", "/");
    for n in 1..=5 {
        publish(&mut on_a, "p", "r", n);
    }
    publish(&mut on_a, "p", "other", 100);
    wait_until("the missed events are in Redis", WAIT, || {
        stream_len(&redis) >= 7
    });

    let back = reconnect_to(&mut on_b, &c);
    assert_eq!(back["recovered"], true, "{back}");
    assert_eq!(back["id"], id.as_str(), "a recovered socket keeps its id");
    // The replay comes before anything live; nothing twice, nothing it was not sent.
    assert_eq!(news(&mut on_b, "c"), [0, 1, 2, 3, 4, 5]);
    assert_eq!(recoveries(&c, "recovered"), 1);

    // Back in its room on C: live events from A reach it there, after the replay.
    publish(&mut on_a, "p", "r", 6);
    wait_until("c gets news 6 live", WAIT, || {
        news(&mut on_b, "c").len() == 7
    });
    assert_eq!(news(&mut on_b, "c"), [0, 1, 2, 3, 4, 5, 6]);
    // The record is C's now: it was taken once, and rewritten by C.
    wait_until("C rewrote the record", WAIT, || {
        records(&redis).iter().any(|r| r.contains(&id))
    });
}

/// Starts socket `p` on `d` publishing `{seq}` as `tick` to room `r` every 3 ms.
fn start_ticks(d: &mut Driver) {
    // A watcher in the room on the publishing node sees the ticks in the order they were
    // broadcast (one socket's publishes are handled concurrently: not always seq order).
    d.connect("w", "/");
    assert_eq!(d.ack("w", "join", json!(["r"]))["ok"], true);
    d.connect("p", "/");
    let tick = json!({ "names": ["p"], "room": "r", "event": "tick", "interval_ms": 3 });
    d.call("publish_loop", tick);
}

/// The seqs of the ticks socket `name` received, in order.
fn tick_seqs(d: &mut Driver, name: &str) -> Vec<u64> {
    let ticks = d.received(name, "tick");
    ticks.iter().map(|t| t["seq"].as_u64().unwrap()).collect()
}

fn ticks(d: &mut Driver) -> usize {
    d.received("c", "tick").len()
}

/// Lets `c` (held, its node dead) recover on `node` while the publisher of `on_pub` ticks,
/// then stops it and checks that `c` got every tick once, in the order they were
/// broadcast.
fn recover_while_ticking(on_b: &mut Driver, on_pub: &mut Driver, node: &Server) {
    let back = reconnect_to(on_b, node);
    assert_eq!(back["recovered"], true, "{back}");
    let before = ticks(on_b);
    wait_until("live ticks arrive", WAIT, || ticks(on_b) > before + 20);
    let stats = on_pub.call("stop_loops", json!({}));
    let sent = stats["acked"].as_u64().unwrap();
    assert_eq!(stats["sent"], sent, "{stats}");
    wait_until("the watcher has every tick", WAIT, || {
        tick_seqs(on_pub, "w").len() as u64 >= sent
    });
    let broadcast = tick_seqs(on_pub, "w");
    let mut all = broadcast.clone();
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=sent).collect::<Vec<_>>(),
        "the watcher saw each once"
    );
    // Waits for them all, then says which are missing, repeated or out of order, if any.
    let deadline = Instant::now() + WAIT;
    while (ticks(on_b) as u64) < sent && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(tick_seqs(on_b, "c"), broadcast, "each tick once, in order");
    assert_eq!(news(on_b, "c"), [0]);
}

#[test]
fn cluster_events_of_the_recovering_node_reach_the_client_once_in_order() {
    let redis = RedisServer::start();
    let config = TempFile::with(CONFIG);
    let mut b = node(&redis, &config);
    let c = node(&redis, &config);
    let (mut on_b, _) = connect_in_room(&redis, &b);
    kill_under(&mut on_b, &mut b);
    // C ticks before, during and after the recovery: each tick is in the stream, or
    // logged on C only, or live, or several of these.
    let mut on_c = Driver::node_at(&url(&c));
    start_ticks(&mut on_c);
    wait_until("ticks are in Redis", WAIT, || stream_len(&redis) >= 20);
    recover_while_ticking(&mut on_b, &mut on_c, &c);
}

#[test]
fn cluster_another_nodes_events_before_during_and_after_a_recovery_reach_the_client_once() {
    let redis = RedisServer::start();
    let config = TempFile::with(CONFIG);
    let a = node(&redis, &config);
    let mut b = node(&redis, &config);
    let c = node(&redis, &config);
    let (mut on_b, _) = connect_in_room(&redis, &b);
    // A ticks throughout: c gets the first ticks live on B (through Redis), misses some
    // while away, and gets the rest live on C (through Redis).
    let mut on_a = Driver::node_at(&url(&a));
    start_ticks(&mut on_a);
    wait_until("c gets ticks on B", WAIT, || ticks(&mut on_b) >= 20);
    kill_under(&mut on_b, &mut b);
    let missed_from = stream_len(&redis);
    wait_until("c misses ticks", WAIT, || {
        stream_len(&redis) >= missed_from + 20
    });
    recover_while_ticking(&mut on_b, &mut on_a, &c);
}

#[test]
fn cluster_an_unknown_pid_or_an_offset_gone_from_the_stream_gives_a_fresh_socket() {
    let redis = RedisServer::start();
    let config = TempFile::with(CONFIG);
    let b = node(&redis, &config);
    let c = node(&redis, &config);

    // A pid no node gave out.
    let mut d = Driver::node_at(&url(&c));
    let auth = json!({ "pid": "no-such-pid", "offset": "x.1" });
    let reply = d.call("connect", json!({ "name": "u", "nsp": "/", "auth": auth }));
    assert_eq!(reply["recovered"], false, "{reply}");
    assert_eq!(recoveries(&c, "no_record"), 1);

    // A record, but the client's offset trimmed from the stream meanwhile.
    let (mut on_b, _) = connect_in_room(&redis, &b);
    on_b.call("hold", json!({ "name": "c" }));
    on_b.call("close_transport", json!({ "name": "c" }));
    wait_until("c is disconnected", WAIT, || {
        state(&mut on_b, "c")["connected"] == false
    });
    redis.cli(&["DEL", STREAM]);
    publish(&mut on_b, "p", "r", 1);
    wait_until("the stream holds news 1 only", WAIT, || {
        stream_len(&redis) == 1
    });
    let back = reconnect_to(&mut on_b, &c);
    assert_eq!(back["recovered"], false, "{back}");
    assert_eq!(recoveries(&c, "offset_gone"), 1);
    assert_eq!(recoveries(&c, "recovered"), 0);
}

#[test]
fn cluster_a_redis_restarted_empty_gets_the_records_of_connected_sockets_again() {
    let mut redis = RedisServer::start();
    // A short window: records are refreshed every 2 s.
    let config = TempFile::with(&CONFIG.replace("recovery_s = 60", "recovery_s = 8"));
    let mut b = node(&redis, &config);
    let c = node(&redis, &config);
    let (mut on_b, id) = connect_in_room(&redis, &b);
    // Empty (nothing saved); B's next refresh finds c's record missing.
    redis.restart();
    wait_until("B writes c's record again", WAIT, || {
        records(&redis)
            .iter()
            .any(|r| r.contains(&id) && r.contains("\"r\""))
    });
    // News 0 went with the old stream: c needs an offset the new one has.
    publish(&mut on_b, "p", "r", 1);
    wait_until("c gets news 1", WAIT, || news(&mut on_b, "c") == [0, 1]);
    wait_until("news 1 is in Redis", WAIT, || stream_len(&redis) >= 1);
    kill_under(&mut on_b, &mut b);
    let mut on_c = Driver::node_at(&url(&c));
    on_c.connect("p", "/");
    publish(&mut on_c, "p", "r", 2);
    let back = reconnect_to(&mut on_b, &c);
    assert_eq!(back["recovered"], true, "{back}");
    assert_eq!(news(&mut on_b, "c"), [0, 1, 2]);
}

#[test]
fn cluster_redis_down_at_reconnect_gives_a_fresh_socket_without_a_hang() {
    let mut redis = RedisServer::start();
    let config = TempFile::with(CONFIG);
    let mut b = node(&redis, &config);
    let c = node(&redis, &config);
    let (mut on_b, id) = connect_in_room(&redis, &b);
    kill_under(&mut on_b, &mut b);
    redis.kill();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", redis.port())).is_err(),
        "Redis is down"
    );

    let started = Instant::now();
    let back = reconnect_to(&mut on_b, &c);
    assert_eq!(back["recovered"], false, "{back}");
    assert_ne!(back["id"], id.as_str(), "a fresh socket");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "connected after {:?}",
        started.elapsed()
    );
    assert_eq!(recoveries(&c, "unavailable"), 1);
}

#[test]
fn cluster_a_joiner_on_any_node_gets_an_always_rooms_history() {
    let redis = RedisServer::start();
    let config = TempFile::with(&format!(
        "{CONFIG}\n[[namespaces]]\nname = \"/h\"\nbuffer = \"always\"\n\
         client_join = true\nclient_publish = true\n"
    ));
    let a = node(&redis, &config);
    let b = node(&redis, &config);
    // Published on A to a room nobody is in, on any node.
    let mut on_a = Driver::node_at(&url(&a));
    on_a.connect("p", "/h");
    for n in 1..=3 {
        publish(&mut on_a, "p", "h1", n);
    }
    let series = "siohub_buffered_events{namespace=\"/h\"}";
    wait_until("B keeps the history too", WAIT, || metric(&b, series) == 3);
    for (d, name) in [(&mut on_a, "ja"), (&mut Driver::node_at(&url(&b)), "jb")] {
        d.connect(name, "/h");
        assert_eq!(d.ack(name, "join", json!(["h1"]))["ok"], true);
        wait_until("the joiner gets the history", WAIT, || {
            news(d, name).len() >= 3
        });
        assert_eq!(news(d, name), [1, 2, 3], "{name}");
    }
}
