//! Attacks on the room histories kept in Redis (see `cluster_history.rs`): keys of the
//! wrong type and garbage entries written straight into Redis under the histories' names.
//! A node that writes or loads them counts and skips them, and goes on serving.

use crate::cluster_history::{
    buffered, joiner_gets, loads, metric, news, settings, start, wait_connected, writes,
};
use crate::support;

use std::time::Duration;

use support::cluster::{health, wait_counted};
use support::{wait_until, RedisServer};

const WAIT: Duration = Duration::from_secs(20);
const INVALID: &str = r#"siohub_history_events_skipped_total{reason="invalid"}"#;
const PUBLISH_FAILED: &str = r#"siohub_adapter_dropped_total{reason="publish_failed"}"#;

#[test]
fn cluster_history_attack_forged_keys_and_entries_are_counted_and_skipped() {
    let redis = RedisServer::start();
    let a = start(&redis);
    wait_connected(&a);
    for n in 1..=3 {
        news(&a, "/h", "good", n);
    }
    wait_until("A wrote 1 to 3", WAIT, || writes(&a, "written") == 3);
    let far = "99999999999999";
    // A room whose stream is a string, listed in the index.
    redis.cli(&["SET", "socket.io-history#/h#bad", "not a stream"]);
    redis.cli(&["ZADD", "socket.io-history-rooms#/h", far, "bad"]);
    // Garbage entries in a good room: a number that is not one, no fields of ours, no frame.
    let good = "socket.io-history#/h#good";
    redis.cli(&[
        "XADD",
        good,
        "*",
        "o",
        "forger",
        "c",
        "x",
        "w",
        "1",
        "t",
        "42[\"news\",{\"n\":99}]",
    ]);
    redis.cli(&["XADD", good, "*", "junk", "1"]);
    redis.cli(&["XADD", good, "*", "o", "forger", "c", "7", "w", "1"]);
    // A namespace whose index is a string.
    redis.cli(&["SET", "socket.io-history-rooms#/small", "not a zset"]);
    redis.cli(&["ZADD", "socket.io-history-namespaces", far, "/small"]);

    // A node started now loads the good events, counts the rest, and serves.
    let b = start(&redis);
    let nodes = [a, b];
    wait_counted(&nodes, 2);
    let [a, b] = &nodes;
    wait_until("B's load completed", WAIT, || loads(b, "complete") >= 1);
    assert_eq!(loads(b, "failed"), 0, "a forged key fails no load");
    assert_eq!(buffered(b, "/h"), 3);
    assert_eq!(joiner_gets(b, "/h", "good"), [1, 2, 3]);
    // Three garbage entries, the string stream and the string index.
    assert_eq!(metric(b, INVALID), 5);

    // A publish into the room whose stream is a string: its write fails (counted), the
    // broadcast and the writes of the same pipeline do not, and the node stays healthy.
    let written = writes(a, "written");
    news(a, "/h", "bad", 4);
    news(a, "/h", "good", 5);
    wait_until("A counted both writes", WAIT, || {
        writes(a, "written") + writes(a, "failed") >= written + 2
    });
    assert_eq!(writes(a, "failed"), 1, "the write into the string");
    assert_eq!(writes(a, "written"), written + 1);
    assert_eq!(metric(a, PUBLISH_FAILED), 0, "both broadcasts went out");
    wait_until("B got 4 and 5 live", WAIT, || buffered(b, "/h") == 5);
    assert_eq!(health(a)["status"], "healthy", "{}", health(a));
    assert_eq!(joiner_gets(b, "/h", "bad"), [4]);
}

/// Redis full (`maxmemory` reached, `noeviction`): it refuses the history writes, which are
/// counted as failed; the broadcasts of the same pipelines still reach the other nodes, the
/// node stays healthy, and writes go on once Redis has room again.
#[test]
fn cluster_history_attack_redis_out_of_memory_fails_the_writes_not_the_broadcasts() {
    let redis = RedisServer::start();
    let nodes = [start(&redis), start(&redis)];
    wait_counted(&nodes, 2);
    let [a, b] = &nodes;
    news(a, "/h", "r", 1);
    wait_until("A wrote 1", WAIT, || writes(a, "written") == 1);
    redis.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    redis.cli(&["CONFIG", "SET", "maxmemory", "1"]);
    for n in 2..=3 {
        news(a, "/h", "r", n);
    }
    wait_until("A counted 2 and 3 as not written", WAIT, || {
        writes(a, "failed") == 2
    });
    wait_until("B got 1 to 3 live", WAIT, || buffered(b, "/h") == 3);
    assert_eq!(metric(a, PUBLISH_FAILED), 0, "the broadcasts went out");
    assert_eq!(health(a)["status"], "healthy", "{}", health(a));
    redis.cli(&["CONFIG", "SET", "maxmemory", "0"]);
    news(a, "/h", "r", 4);
    wait_until("A wrote 4", WAIT, || writes(a, "written") == 2);
    assert_eq!(
        redis.cli(&["XLEN", "socket.io-history#/h#r"]),
        "2",
        "1 and 4 are in Redis"
    );
    assert_eq!(joiner_gets(b, "/h", "r"), [1, 2, 3, 4]);
}

/// A full history in Redis (history_max_rooms = 20 rooms x buffer_size = 1000 events of
/// 1 kB in `/h`, 20 MB, written straight into Redis) loaded by a node that starts: the load
/// completes within its bounds, and the node delivers live events right after. Prints the
/// figures (`--no-capture`).
#[test]
fn cluster_history_attack_a_full_history_loads_within_bounds() {
    let redis = RedisServer::start();
    forge_history(&redis, "/h", 20, 1000, 1000);
    redis.cli(&[
        "ZADD",
        "socket.io-history-namespaces",
        "99999999999999",
        "/h",
    ]);
    let info = redis.cli(&["INFO", "memory"]);
    let used = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .unwrap_or("?")
        .trim()
        .to_owned();
    let a = start(&redis);
    wait_connected(&a);
    let started = std::time::Instant::now();
    // 20 MB through a debug build on a machine shared with the rest of the suite: 1-2 s
    // alone, far more under load. The node gives a load up after 4 read timeouts (8 s by
    // default), which a loaded machine can exceed: B waits longer than this test does.
    let load_wait = std::time::Duration::from_secs(90);
    let mut patient = settings(&redis, &redis.url());
    patient.adapter.history_read_timeout_ms = 30_000;
    let b = support::start_hub_from(patient);
    wait_until("B's load completed", load_wait, || {
        loads(&b, "complete") >= 1
    });
    let load = started.elapsed();
    let bytes = metric(&b, "siohub_buffered_bytes{namespace=\"/h\"}");
    assert_eq!(metric(&b, "siohub_history_events_loaded_total"), 20_000);
    assert!(bytes <= 67_108_864, "{bytes} bytes: max_buffer_bytes");
    let nodes = [a, b];
    wait_counted(&nodes, 2);
    let sent = std::time::Instant::now();
    news(&nodes[0], "/h", "live", 1);
    wait_until("B got the live event", WAIT, || {
        buffered(&nodes[1], "/h") == 20_001
    });
    eprintln!(
        "full history: Redis used_memory {used} B; B started and loaded 20,000 events ({bytes} B buffered) in {} ms; a live event A->B then took {} ms",
        load.as_millis(),
        sent.elapsed().as_millis()
    );
}

/// The origin restarts with a new uid: the node that takes its place loads the old node's
/// events (named by the old uid) and numbers its own anew; a node that got the old events
/// live, and one started afterwards, each hold every event once, in order.
#[test]
fn cluster_history_attack_a_restarted_origin_duplicates_and_loses_nothing() {
    let redis = RedisServer::start();
    let nodes = [start(&redis), start(&redis)];
    wait_counted(&nodes, 2);
    let [a, b] = nodes;
    for n in 1..=3 {
        news(&a, "/h", "r", n);
    }
    wait_until("B got 1 to 3 live", WAIT, || buffered(&b, "/h") == 3);
    drop(a);
    let a2 = start(&redis);
    wait_until("A2 loaded", WAIT, || loads(&a2, "complete") >= 1);
    wait_connected(&a2);
    assert_eq!(buffered(&a2, "/h"), 3);
    for n in 4..=5 {
        news(&a2, "/h", "r", n);
    }
    wait_until("B got 4 and 5 live", WAIT, || buffered(&b, "/h") == 5);
    let c = start(&redis);
    wait_until("C loaded", WAIT, || loads(&c, "complete") >= 1);
    for node in [&a2, &b, &c] {
        assert_eq!(joiner_gets(node, "/h", "r"), [1, 2, 3, 4, 5]);
    }
    assert_eq!(buffered(&c, "/h"), 5);
}

/// A forged publisher on the adapter's channel sends broadcasts into an always-room whose
/// `opts.siohubSeq`/`siohubAt` are of the wrong type or absurd: each is delivered (without
/// a name in the cluster, or with the absurd one), nothing panics, and the node goes on
/// serving its own broadcasts and loads.
#[test]
fn cluster_history_attack_a_forged_sequence_number_of_any_type_is_delivered_and_harmless() {
    use rmpv::Value as Pack;

    let redis = RedisServer::start();
    let a = start(&redis);
    wait_connected(&a);
    let mut d = support::Driver::node(&a);
    d.connect("j", "/h");
    assert_eq!(d.ack("j", "join", serde_json::json!(["r"]))["ok"], true);
    let mut conn = redis::Client::open(redis.url())
        .and_then(|c| c.get_connection())
        .expect("the test connects to its Redis");
    let forged: [(Pack, Pack); 6] = [
        (Pack::from("seven"), Pack::from(5)),
        (Pack::from(-1), Pack::from("now")),
        (Pack::from(1.5), Pack::Nil),
        (Pack::Array(vec![Pack::from(1)]), Pack::Map(vec![])),
        (Pack::from(u64::MAX), Pack::from(u64::MAX)),
        (Pack::from(u64::MAX), Pack::from(0)),
    ];
    for (n, (seq, at)) in forged.into_iter().enumerate() {
        let packet = Pack::Map(vec![
            (Pack::from("type"), Pack::from(2)),
            (
                Pack::from("data"),
                Pack::Array(vec![
                    Pack::from("news"),
                    Pack::Map(vec![(Pack::from("n"), Pack::from(n as u64 + 1))]),
                ]),
            ),
            (Pack::from("nsp"), Pack::from("/h")),
        ]);
        let opts = Pack::Map(vec![
            (Pack::from("rooms"), Pack::Array(vec![Pack::from("r")])),
            (Pack::from("except"), Pack::Array(vec![])),
            (Pack::from("flags"), Pack::Map(vec![])),
            (Pack::from("siohubSeq"), seq),
            (Pack::from("siohubAt"), at),
        ]);
        let mut bytes = Vec::new();
        rmpv::encode::write_value(
            &mut bytes,
            &Pack::Array(vec![Pack::from("forger"), packet, opts]),
        )
        .expect("msgpack");
        let _: i64 = redis::cmd("PUBLISH")
            .arg("socket.io#/h#")
            .arg(bytes)
            .query(&mut conn)
            .expect("PUBLISH");
    }
    wait_until("the six forged events reached the joiner", WAIT, || {
        d.received("j", "news").len() == 6
    });
    assert_eq!(buffered(&a, "/h"), 6, "kept in the room's buffer");
    news(&a, "/h", "r", 7);
    wait_until("A's own event follows", WAIT, || {
        d.received("j", "news").len() == 7
    });
    // A node started now loads A's event and gets the forged ones from nowhere (they were
    // never in Redis); a later join on A replays all seven.
    let b = start(&redis);
    wait_until("B loaded", WAIT, || loads(&b, "complete") >= 1);
    assert_eq!(joiner_gets(&b, "/h", "r"), [7]);
    let mut replayed = joiner_gets(&a, "/h", "r");
    replayed.sort_unstable();
    assert_eq!(replayed, [1, 2, 3, 4, 5, 6, 7]);
}

/// The peak resident memory of this test process, in kB.
/// A connection to the test's Redis for writing histories by hand, and the time now in µs
/// (what a writer stamps its entries with).
fn redis_writer(redis: &RedisServer) -> (redis::Connection, u64) {
    let client = redis::Client::open(redis.url()).expect("a Redis URL");
    let conn = client.get_connection().expect("Redis answers");
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    (conn, now_us)
}

/// Writes a history straight into Redis, as another node would have: `rooms` rooms `r<k>` of
/// `nsp`, each with `events` events `{"n", "pad"}` of origin "elsewhere", `pad` bytes of
/// padding each, listed in the namespace's room index (the namespace index is the
/// caller's).
fn forge_history(redis: &RedisServer, nsp: &str, rooms: u64, events: u64, pad: usize) {
    let (mut conn, now_us) = redis_writer(redis);
    let pad = "x".repeat(pad);
    for room in 0..rooms {
        let key = format!("socket.io-history#{nsp}#r{room}");
        let mut pipe = redis::pipe();
        for n in 0..events {
            let frame = format!("42{nsp},[\"news\",{{\"n\":{n},\"pad\":\"{pad}\"}}]");
            pipe.cmd("XADD")
                .arg(&key)
                .arg("*")
                .arg("o")
                .arg("elsewhere")
                .arg("c")
                .arg(room * events + n)
                .arg("w")
                .arg(now_us + n)
                .arg("t")
                .arg(frame)
                .ignore();
        }
        pipe.cmd("ZADD")
            .arg(format!("socket.io-history-rooms#{nsp}"))
            .arg("99999999999999")
            .arg(format!("r{room}"))
            .ignore();
        pipe.query::<()>(&mut conn).expect("filled");
    }
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("procfs")
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// Entries of 1 MB each in 16 rooms of `/flood` (10 per room, `max_buffer_bytes` = 20 kB),
/// 160 MB written straight into Redis: a node that loads them reads no more than its budget
/// from Redis (Redis skips the events larger than the whole budget, which come back as
/// their ids and are counted invalid), instead of 16 rooms x 10 entries in one answer.
#[test]
fn cluster_history_attack_a_load_reads_no_more_than_its_budget_from_redis() {
    let redis = RedisServer::start();
    forge_history(&redis, "/flood", 16, 10, 1_000_000);
    redis.cli(&[
        "ZADD",
        "socket.io-history-namespaces",
        "99999999999999",
        "/flood",
    ]);
    let a = start(&redis);
    wait_connected(&a);
    let before = peak_rss_kb();
    let b = start(&redis);
    wait_until("B's load completed", WAIT, || loads(&b, "complete") >= 1);
    let grown = peak_rss_kb().saturating_sub(before);
    // Before the fix the answer of one round trip held the 160 MB (peak RSS +322 MB).
    assert!(grown < 64_000, "peak RSS grew {grown} kB during the load");
    assert_eq!(metric(&b, INVALID), 160, "each event is over the budget");
    assert_eq!(buffered(&b, "/flood"), 0);
}

/// A Node.js socket.io server with `@socket.io/redis-adapter` on the same Redis while an
/// always-room's history is written and loaded: siohub's broadcasts (with `siohubSeq` and
/// `siohubAt` in their opts) reach its clients, its broadcasts reach siohub's joiners, and
/// only siohub's events are in Redis's history (a node started later loads those).
#[test]
fn cluster_history_attack_a_node_js_peer_interoperates_while_histories_are_kept() {
    use siohub::config::BufferName;
    use support::cluster::NodePeer;

    let redis = RedisServer::start();
    let mut with_chat = crate::cluster_history::settings(&redis, &redis.url());
    for ns in &mut with_chat.namespaces {
        if ns.name == "/chat" {
            ns.buffer = BufferName::Always;
        }
    }
    let a = support::start_hub_from(with_chat.clone());
    let mut peer = NodePeer::start(&redis);
    let cluster = a.cluster.clone().expect("clustered");
    wait_until("A counts the Node server", WAIT, || {
        cluster.is_connected() && cluster.node_count() == 2
    });
    let mut dn = support::Driver::node_at(&peer.url());
    dn.call(
        "connect",
        serde_json::json!({ "name": "n", "nsp": "/chat", "options": { "auth": { "rooms": ["r"] } } }),
    );
    let mut ds = support::Driver::node(&a);
    ds.connect("s", "/chat");
    assert_eq!(ds.ack("s", "join", serde_json::json!(["r"]))["ok"], true);
    news(&a, "/chat", "r", 1);
    wait_until("the Node client got 1", WAIT, || {
        dn.received("n", "news").len() == 1
    });
    peer.call(
        "emit",
        serde_json::json!({ "nsp": "/chat", "rooms": ["r"], "event": "news", "args": [{ "n": 2 }] }),
    );
    wait_until("the siohub client got 2", WAIT, || {
        ds.received("s", "news").len() == 2
    });
    assert_eq!(dn.received("n", "news")[0]["n"], 1);
    assert_eq!(redis.cli(&["XLEN", "socket.io-history#/chat#r"]), "1");
    let b = support::start_hub_from(with_chat);
    wait_until("B loaded", WAIT, || loads(&b, "complete") >= 1);
    assert_eq!(joiner_gets(&b, "/chat", "r"), [1]);
    assert_eq!(joiner_gets(&a, "/chat", "r"), [1, 2]);
}

/// Stream entries written straight into Redis that carry what the loader does not read:
/// in 10 rooms of `/flood` (budget 20 kB), 10 events each with a valid small frame and a
/// 1 MB field of no meaning (100 MB in all), and in one more room 5 junk entries (5 kB
/// frames with no origin) newer than 5 valid events. Redis sends back only the fields the
/// loader reads, and counts only well-formed entries against the budget: the load brings
/// every valid event, the junk is counted invalid, and the answer does not hold the 100 MB.
#[test]
fn cluster_history_attack_forged_fields_neither_inflate_a_load_nor_use_its_budget() {
    let redis = RedisServer::start();
    let (mut conn, now_us) = redis_writer(&redis);
    let ballast = "x".repeat(1_000_000);
    let frame = |n: u64| format!("42/flood,[\"news\",{{\"n\":{n}}}]");
    let index = "socket.io-history-rooms#/flood";
    let mut seq = 0;
    for room in 0..10 {
        let mut pipe = redis::pipe();
        let key = format!("socket.io-history#/flood#r{room}");
        for n in 0..10 {
            seq += 1;
            pipe.cmd("XADD")
                .arg(&key)
                .arg("*")
                .arg(&["o", "elsewhere", "c", &seq.to_string()])
                .arg(&["w", &(now_us + n).to_string(), "t", &frame(n)])
                .arg(&["ballast", &ballast])
                .ignore();
        }
        pipe.cmd("ZADD")
            .arg(index)
            .arg(99_999_999_999_000u64 + room)
            .arg(format!("r{room}"))
            .ignore();
        pipe.query::<()>(&mut conn).expect("filled");
    }
    // The newest room: 5 valid events, then 5 junk entries over them.
    let key = "socket.io-history#/flood#junk";
    let big = format!("42/flood,[\"news\",{{\"pad\":\"{}\"}}]", "j".repeat(5_000));
    let mut pipe = redis::pipe();
    for n in 0..10u64 {
        seq += 1;
        let mut xadd = redis::cmd("XADD");
        xadd.arg(key).arg("*");
        match n < 5 {
            true => xadd.arg(&["o", "elsewhere", "c", &seq.to_string()]).arg(&[
                "w",
                &(now_us + n).to_string(),
                "t",
                &frame(100 + n),
            ]),
            false => xadd.arg(&["c", "1", "w", "1", "t", &big]),
        };
        pipe.add_command(xadd).ignore();
    }
    pipe.cmd("ZADD")
        .arg(index)
        .arg("99999999999999")
        .arg("junk")
        .ignore();
    pipe.cmd("ZADD")
        .arg("socket.io-history-namespaces")
        .arg("99999999999999")
        .arg("/flood")
        .ignore();
    pipe.query::<()>(&mut conn).expect("filled");

    let before = peak_rss_kb();
    let node = start(&redis);
    wait_until("the load completed", WAIT, || loads(&node, "complete") >= 1);
    let grown = peak_rss_kb().saturating_sub(before);
    assert_eq!(metric(&node, INVALID), 5, "the junk entries");
    assert_eq!(buffered(&node, "/flood"), 105, "every valid event");
    assert_eq!(
        joiner_gets(&node, "/flood", "junk"),
        [100, 101, 102, 103, 104]
    );
    assert_eq!(
        joiner_gets(&node, "/flood", "r3"),
        (0..10).collect::<Vec<_>>()
    );
    // Before the fix the answers held the 100 MB of ballast.
    assert!(grown < 64_000, "peak RSS grew {grown} kB during the load");
}
