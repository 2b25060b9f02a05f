//! The history of a room with `buffer = "always"` survives in Redis: siohub nodes on one
//! `redis-server` of the test's own, events published by the HTTP emit of one node, a
//! socket.io-client 4.8 joiner on another. A node started after the events were published
//! (or while they are) gets them all, once, in order; Redis keeps at most `buffer_size`
//! events per room, forgets a room after its TTL and at most `history_max_rooms` rooms;
//! a node whose link to Redis was cut while Redis was killed and restarted loads, once it
//! subscribes again, whatever could be written meanwhile, and the rest is counted as lost.

use crate::support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use siohub::config::{BufferName, NamespacePolicy, Settings};
use siohub::server::BackgroundServer;
use support::cluster::{emit, node_settings, wait_counted};
use support::ops::metrics_text;
use support::{policy, start_hub_from, wait_until, Driver, RedisServer};

const WAIT: Duration = Duration::from_secs(20);

/// An always-namespace `name` keeping `size` events per room for `ttl_s` seconds.
fn always(name: &str, size: usize, ttl_s: u64) -> NamespacePolicy {
    NamespacePolicy {
        buffer: BufferName::Always,
        buffer_size: size,
        buffer_ttl_s: ttl_s,
        ..policy(name)
    }
}

/// A node on `redis` (reached at `url`): `/h` keeps 1000 events for 5 minutes, `/small`
/// 5 events for 2 s, `/flood` 10 events per room and 20 kB in all, with at most 20 rooms
/// in Redis.
pub(crate) fn settings(redis: &RedisServer, url: &str) -> Settings {
    let mut settings = node_settings(redis);
    settings.adapter.redis_url = url.to_owned();
    settings.adapter.history_max_rooms = 20;
    let flood = NamespacePolicy {
        max_buffer_bytes: 20_000,
        ..always("/flood", 10, 300)
    };
    settings
        .namespaces
        .extend([always("/h", 1000, 300), always("/small", 5, 2), flood]);
    settings
}

/// A TCP relay to Redis that can be cut (every connection closed, new ones refused) and
/// restored: a node behind it loses its link while the others keep theirs.
struct Relay {
    port: u16,
    cut: Arc<AtomicBool>,
    /// While set, a command naming the histories' index waits (a load that hangs).
    stall: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(to: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("bound").port();
        let cut = Arc::new(AtomicBool::new(false));
        let stall = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (is_cut, streams, stalled) = (cut.clone(), open.clone(), stall.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if is_cut.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", to)) else {
                    continue;
                };
                let mut list = streams.lock().unwrap();
                let pairs = [(&client, &upstream, true), (&upstream, &client, false)];
                for (from, into, out) in pairs {
                    let (mut from, mut into) =
                        (from.try_clone().unwrap(), into.try_clone().unwrap());
                    let stalled = stalled.clone();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n @ 1..) = from.read(&mut buf) {
                            let index = b"history-namespaces";
                            if out && buf[..n].windows(index.len()).any(|w| w == index) {
                                while stalled.load(Ordering::SeqCst) {
                                    std::thread::sleep(Duration::from_millis(20));
                                }
                            }
                            if into.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = into.shutdown(Shutdown::Both);
                    });
                }
                list.extend([client, upstream]);
            }
        });
        Relay {
            port,
            cut,
            stall,
            open,
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

pub(crate) fn start(redis: &RedisServer) -> BackgroundServer {
    start_hub_from(settings(redis, &redis.url()))
}

/// `news` `{n}` to `room` of `nsp`, emitted on `node`.
pub(crate) fn news(node: &BackgroundServer, nsp: &str, room: &str, n: u64) {
    emit(
        node,
        json!({ "namespace": nsp, "rooms": room, "event": "news", "data": { "n": n } }),
    );
}

/// The value of one `/metrics` series (`name{labels}`), 0 when absent.
pub(crate) fn metric(node: &BackgroundServer, series: &str) -> u64 {
    metrics_text(node)
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

pub(crate) fn buffered(node: &BackgroundServer, nsp: &str) -> u64 {
    metric(
        node,
        &format!("siohub_buffered_events{{namespace=\"{nsp}\"}}"),
    )
}

pub(crate) fn loads(node: &BackgroundServer, outcome: &str) -> u64 {
    metric(
        node,
        &format!("siohub_history_loads_total{{outcome=\"{outcome}\"}}"),
    )
}

pub(crate) fn writes(node: &BackgroundServer, outcome: &str) -> u64 {
    metric(
        node,
        &format!("siohub_history_writes_total{{outcome=\"{outcome}\"}}"),
    )
}

/// A socket that joins `room` of `nsp` on `node`; returns the `n` of every `news` it got
/// once a namespace-wide `sync` emitted after the join reached it (the replay comes
/// before the join's ack, and the sync after it).
pub(crate) fn joiner_gets(node: &BackgroundServer, nsp: &str, room: &str) -> Vec<u64> {
    let mut d = Driver::node(node);
    d.connect("j", nsp);
    assert_eq!(d.ack("j", "join", json!([room]))["ok"], true);
    emit(
        node,
        json!({ "namespace": nsp, "event": "sync", "data": 1 }),
    );
    d.wait_counts(&["j".to_owned()], "sync", 1);
    d.received("j", "news")
        .iter()
        .map(|e| e["n"].as_u64().expect("n"))
        .collect()
}

pub(crate) fn wait_connected(node: &BackgroundServer) {
    let cluster = node.cluster.as_ref().expect("a clustered node");
    wait_until("the node is connected to Redis", WAIT, || {
        cluster.is_connected()
    });
}

#[test]
fn cluster_history_a_node_started_later_gets_the_history_once_in_order() {
    let redis = RedisServer::start();
    let a = start(&redis);
    wait_connected(&a);
    // More than a page (128 entries) of one room's stream.
    for n in 1..=140 {
        news(&a, "/h", "h1", n);
    }
    // B starts while A goes on publishing: each event reaches B live, from Redis, or both.
    let b = std::thread::scope(|s| {
        s.spawn(|| {
            for n in 141..=160 {
                news(&a, "/h", "h1", n);
            }
        });
        start(&redis)
    });
    let nodes = [a, b];
    wait_counted(&nodes, 2);
    let [a, b] = &nodes;
    wait_until("B holds the 160 events", WAIT, || buffered(b, "/h") == 160);
    assert_eq!(joiner_gets(b, "/h", "h1"), (1..=160).collect::<Vec<_>>());
    assert!(loads(b, "complete") >= 1);
    let loaded = metric(b, "siohub_history_events_loaded_total");
    assert!(
        loaded >= 140,
        "{loaded} events loaded: 1 to 140 were published before B"
    );
    assert_eq!(
        redis.cli(&["XLEN", "socket.io-history#/h#h1"]),
        "160",
        "one entry per event"
    );
    // A later join on A (which published them) gets the same history.
    assert_eq!(joiner_gets(a, "/h", "h1"), (1..=160).collect::<Vec<_>>());
}

#[test]
fn cluster_history_redis_keeps_buffer_size_events_per_room_and_forgets_them_after_the_ttl() {
    let redis = RedisServer::start();
    let a = start(&redis);
    wait_connected(&a);
    for n in 1..=12 {
        news(&a, "/small", "r", n);
    }
    let stream = "socket.io-history#/small#r";
    wait_until("A's writes are in Redis", WAIT, || {
        writes(&a, "written") == 12
    });
    assert_eq!(redis.cli(&["XLEN", stream]), "5", "buffer_size = 5");
    let ttl: u64 = redis.cli(&["PTTL", stream]).parse().unwrap();
    assert!(
        (1..=2000).contains(&ttl),
        "expires with buffer_ttl_s = 2: {ttl} ms"
    );
    let b = start(&redis);
    wait_until("B loaded the room", WAIT, || buffered(&b, "/small") == 5);
    assert_eq!(joiner_gets(&b, "/small", "r"), [8, 9, 10, 11, 12]);

    // Two seconds after its last write the room is gone from Redis, and from its index.
    wait_until("the room's history expired in Redis", WAIT, || {
        redis.cli(&["EXISTS", stream]) == "0"
    });
    wait_until("the index forgot it too", WAIT, || {
        redis.cli(&["EXISTS", "socket.io-history-rooms#/small"]) == "0"
    });
    let c = start(&redis);
    wait_until("C loaded", WAIT, || loads(&c, "complete") >= 1);
    assert_eq!(joiner_gets(&c, "/small", "r"), Vec::<u64>::new());
    wait_until("B's own buffer expired too", WAIT, || {
        buffered(&b, "/small") == 0
    });
}

#[test]
fn cluster_history_a_node_cut_off_while_redis_restarts_loads_what_could_be_written() {
    let mut redis = RedisServer::start();
    let relay = Relay::start(redis.port());
    let a = start(&redis);
    let b = start_hub_from(settings(&redis, &relay.url()));
    let nodes = [a, b];
    wait_counted(&nodes, 2);
    let [a, b] = &nodes;
    for n in 1..=3 {
        news(a, "/h", "r", n);
    }
    wait_until("B got 1 to 3 live", WAIT, || buffered(b, "/h") == 3);
    let loads_before = loads(b, "complete");

    // B's link is cut; Redis dies: 4 and 5 cannot be written (nor published).
    relay.cut();
    redis.kill();
    for n in 4..=5 {
        news(a, "/h", "r", n);
    }
    wait_until("A counts the two writes lost", WAIT, || {
        writes(a, "failed") == 2
    });
    // Redis is back (empty); B is still cut off while A publishes 6 to 8.
    redis.restart();
    wait_connected(a);
    for n in 6..=8 {
        news(a, "/h", "r", n);
    }
    wait_until("6 to 8 are in Redis", WAIT, || {
        redis.cli(&["XLEN", "socket.io-history#/h#r"]) == "3"
    });
    assert_eq!(buffered(b, "/h"), 3, "B cannot have them yet");
    relay.restore();
    wait_until("B subscribed again and loaded", WAIT, || {
        loads(b, "complete") > loads_before
    });
    wait_until("B holds 1-3 and 6-8", WAIT, || buffered(b, "/h") == 6);
    assert_eq!(joiner_gets(b, "/h", "r"), [1, 2, 3, 6, 7, 8]);
    assert_eq!(writes(a, "failed"), 2, "4 and 5 are counted as lost");
    // A holds its own events, 4 and 5 included.
    assert_eq!(joiner_gets(a, "/h", "r"), [1, 2, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn cluster_history_a_flood_into_many_rooms_is_bounded_in_redis_and_in_a_load() {
    let redis = RedisServer::start();
    let a = start(&redis);
    wait_connected(&a);
    let text = "x".repeat(1000);
    for room in 0..60 {
        for n in 0..3 {
            emit(
                &a,
                json!({ "namespace": "/flood", "rooms": format!("r{room}"), "event": "news",
                        "data": { "n": n, "pad": text } }),
            );
        }
    }
    wait_until("A wrote the 180 entries", WAIT, || {
        writes(&a, "written") == 180
    });
    // At most history_max_rooms = 20 rooms are kept in Redis, the newest.
    assert_eq!(
        redis.cli(&["ZCARD", "socket.io-history-rooms#/flood"]),
        "20"
    );
    let keys = redis.cli(&["--scan", "--pattern", "socket.io-history#/flood#*"]);
    assert_eq!(keys.lines().count(), 20, "{keys}");
    assert!(
        keys.lines().any(|k| k.ends_with("#r59")),
        "the newest room stays"
    );
    assert_eq!(metric(&a, "siohub_history_rooms_evicted_total"), 40);

    // A node that loads them takes at most max_buffer_bytes = 20 kB.
    let b = start(&redis);
    wait_until("B loaded", WAIT, || loads(&b, "complete") >= 1);
    let bytes = metric(&b, "siohub_buffered_bytes{namespace=\"/flood\"}");
    assert!(bytes > 0 && bytes <= 20_000, "{bytes} bytes buffered");
    let loaded = metric(&b, "siohub_history_events_loaded_total");
    assert!(
        (1..=20).contains(&loaded),
        "{loaded} events of over 1 kB each"
    );
    // The newest room's history is among what was loaded.
    assert_eq!(joiner_gets(&b, "/flood", "r59"), [0, 1, 2]);
}

#[test]
fn cluster_history_a_load_that_hangs_times_out_and_joins_go_on() {
    let redis = RedisServer::start();
    let relay = Relay::start(redis.port());
    relay.stall.store(true, Ordering::SeqCst);
    let a = start(&redis);
    wait_connected(&a);
    news(&a, "/h", "r", 1);
    let mut settings = settings(&redis, &relay.url());
    settings.adapter.history_read_timeout_ms = 300;
    let b = start_hub_from(settings);
    wait_until("B's load timed out", WAIT, || loads(&b, "timed_out") == 1);
    // While the load hangs, a join is answered with what B holds: nothing yet.
    let mut d = Driver::node(&b);
    d.connect("j", "/h");
    assert_eq!(d.ack("j", "join", json!(["r"]))["ok"], true);
    assert!(d.received("j", "news").is_empty());
    // Redis answers again (the late read is merged, or failed by the connection's own
    // timeout, never counted as complete), and B delivers live.
    relay.stall.store(false, Ordering::SeqCst);
    let nodes = [a, b];
    wait_counted(&nodes, 2);
    news(&nodes[0], "/h", "r", 2);
    wait_until("the joiner gets 2 live", WAIT, || {
        d.received("j", "news").iter().any(|e| e["n"] == 2)
    });
    assert_eq!(loads(&nodes[1], "complete"), 0);
    assert_eq!(loads(&nodes[1], "timed_out"), 1);
}
