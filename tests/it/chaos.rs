//! Chaos: 1,000 real socket.io-client sockets on two siohub nodes sharing a Redis of the
//! test's own, publishing the whole time, while the test breaks everything in turn.
//!
//! Node A runs in this process (so the test can crash its actors through the
//! `fault-injection` feature); node B is the `siohub` binary (so it can be stopped with
//! SIGTERM and its log read). On each node (one Node.js driver process each): 300
//! websocket and 100 polling sockets in namespace `/` (rooms `r0`..`r3`), 50 in `/buf`
//! (room `b`, `buffer = "always"`) and 50 in `/rec` (room `q`, connection state recovery).
//! One socket per room and node publishes `{from, seq}` every 250 ms with an ack.
//!
//! The faults, in order: every actor of A crashed in turn while every room publishes (the
//! RoomSupervisor's restart keeps its membership published while it reconciles, so no
//! broadcast misses a member); forced transport closes of recovery sockets; a
//! reconnect storm (502 sockets' transports closed at once); malformed packets from extra
//! raw connections; Redis killed and restarted; B's clients of `/` and `/buf` moved to A;
//! node B stopped with SIGTERM while its other clients move to A. Checked: no panic (B's
//! log; A's actors restarted exactly once each, by the test); no event lost or doubled in
//! `/buf` nor in `/rec` (recovered sockets included), and a new joiner on either node gets
//! them all from the room's history; recovered sockets get exactly what they missed, after
//! a transport close on their own node and after the SIGTERM on the other; sockets whose recovery state went with the Redis restart
//! come back fresh, each refusal counted; what did not cross the nodes while Redis was
//! down or resubscribing is counted (`siohub_adapter_dropped_total`, reasons
//! `publish_failed` and `unsubscribed`); `/metrics` deliveries equal what the clients got
//! and nothing was dropped; once B's clients of `/` and `/buf` left it, B's RSS (the
//! `siohub` binary, read from `/proc`) gave back most of what they took; once every client
//! left, A's counted state holds nothing per client.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value};
use siohub::config::BufferName;
use siohub::server::BackgroundServer;
use siohub_actors::HubActor;
use support::binary::Server;
use support::cluster::{emit, health, node_settings};
use support::ops::{connections, metrics_text};
use support::temp_file::TempFile;
use support::wire::{self, Ws};
use support::{policy, wait_until, Driver, RedisServer};

const WAIT: Duration = Duration::from_secs(60);
/// Websocket sockets per node in `/`, in three rooms of 100.
const WS_GROUPS: usize = 3;
const WS_PER_GROUP: usize = 100;
/// Polling sockets per node in `/` (room `r3`).
const POLLING: usize = 100;
/// Sockets per node in `/buf` and in `/rec`.
const BUF: usize = 50;
const REC: usize = 50;
const PUBLISH_EVERY_MS: u64 = 250;
/// How far above its baseline node B's RSS may stay once its clients left (measured: 8 to
/// 10 MB over a 30 MB baseline, debug build; its 510 clients took 7 MB when they came).
const B_RSS_SLACK_KB: u64 = 20 * 1024;

/// Node B's configuration: the same namespaces as A's.
const B_CONFIG: &str = "\
    [adapter]\nrequest_timeout_ms = 1000\n\n\
    [[namespaces]]\nname = \"/\"\n\n\
    [[namespaces]]\nname = \"/buf\"\nbuffer = \"always\"\nbuffer_size = 5000\n\n\
    [[namespaces]]\nname = \"/rec\"\nrecovery_s = 120\n";

/// One node's sockets, by the names its driver knows them by.
struct Side {
    d: Driver,
    /// `X-` prefix of every name: which node the sockets started on.
    tag: &'static str,
}

impl Side {
    fn name(&self, what: &str, i: usize) -> String {
        format!("{}-{what}{i}", self.tag)
    }

    fn ws(&self, group: usize) -> Vec<String> {
        (0..WS_PER_GROUP)
            .map(|i| self.name(&format!("w{group}-"), i))
            .collect()
    }

    fn all_ws(&self) -> Vec<String> {
        (0..WS_GROUPS).flat_map(|g| self.ws(g)).collect()
    }

    fn polling(&self) -> Vec<String> {
        (0..POLLING).map(|i| self.name("p", i)).collect()
    }

    fn buf(&self) -> Vec<String> {
        (0..BUF).map(|i| self.name("b", i)).collect()
    }

    fn rec(&self) -> Vec<String> {
        (0..REC).map(|i| self.name("q", i)).collect()
    }

    /// Every socket of namespace `/`.
    fn root(&self) -> Vec<String> {
        let mut all = self.all_ws();
        all.extend(self.polling());
        all
    }

    fn connect_all(&mut self) {
        for g in 0..WS_GROUPS {
            let prefix = format!("{}-w{g}-", self.tag);
            let room = format!("r{g}");
            self.connect_many(&prefix, WS_PER_GROUP, "/", &room, None);
        }
        let prefix = format!("{}-p", self.tag);
        self.connect_many(&prefix, POLLING, "/", "r3", Some("polling"));
        let prefix = format!("{}-b", self.tag);
        self.connect_many(&prefix, BUF, "/buf", "b", None);
        let prefix = format!("{}-q", self.tag);
        self.connect_many(&prefix, REC, "/rec", "q", None);
    }

    fn connect_many(
        &mut self,
        prefix: &str,
        count: usize,
        nsp: &str,
        room: &str,
        transport: Option<&str>,
    ) {
        let transports = json!([transport.unwrap_or("websocket")]);
        let reply = self.d.call(
            "connect_many",
            json!({ "prefix": prefix, "count": count, "nsp": nsp, "join": [room],
                    "transports": transports }),
        );
        assert_eq!(reply["ids"].as_array().map(Vec::len), Some(count));
    }

    /// Each room's first socket publishes to its room: those of `/` (`root`), or those of
    /// `/buf` and `/rec`.
    fn start_publishing(&mut self, root: bool) {
        let rooms = if root {
            vec![
                (self.ws(0)[0].clone(), "r0"),
                (self.ws(1)[0].clone(), "r1"),
                (self.ws(2)[0].clone(), "r2"),
                (self.polling()[0].clone(), "r3"),
            ]
        } else {
            vec![(self.buf()[0].clone(), "b"), (self.rec()[0].clone(), "q")]
        };
        for (name, room) in rooms {
            self.d.call(
                "publish_loop",
                json!({ "names": [name], "room": room, "event": "m",
                        "interval_ms": PUBLISH_EVERY_MS }),
            );
        }
    }

    fn states(&mut self, names: &[String]) -> BTreeMap<String, Value> {
        let reply = self.d.call("states", json!({ "names": names }));
        serde_json::from_value(reply).expect("states")
    }

    fn wait_connected(&mut self, names: &[String], what: &str) {
        wait_until(what, WAIT, || {
            self.states(names)
                .values()
                .all(|s| s["connected"] == json!(true))
        });
    }

    /// `[from, seq]` of every `m` each named socket received, in order.
    fn seqs(&mut self, names: &[String]) -> BTreeMap<String, Vec<(String, u64)>> {
        let reply = self.d.call("seqs", json!({ "names": names, "event": "m" }));
        reply
            .as_object()
            .expect("seqs")
            .iter()
            .map(|(k, v)| {
                let list = v
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_u64().unwrap()))
                    .collect();
                (k.clone(), list)
            })
            .collect()
    }
}

/// The sum of every series of metric `name` (with any labels) on a `/metrics` page, or of
/// the one series `name{labels}` when `name` has them.
fn metric(page: &str, name: &str) -> f64 {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let hit = if name.contains('{') {
                series == name
            } else {
                series == name || series.starts_with(&format!("{name}{{"))
            };
            hit.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}

fn page_b(b: &Server) -> String {
    wire::request(b.addr(), "GET", "/metrics", &[], b"").text()
}

fn restarts(a: &BackgroundServer, actor: HubActor) -> u64 {
    let name = format!("{actor:?}");
    connections(a)["actors"]
        .as_array()
        .expect("actor stats")
        .iter()
        .find(|s| s["name"] == name.as_str())
        .unwrap_or_else(|| panic!("no stats for {name}"))["restarts"]
        .as_u64()
        .unwrap()
}

/// The resident set of process `pid` (`self`: this one), in kB.
fn rss_kb(pid: &str) -> u64 {
    status_kb(pid, "VmRSS:")
}

/// One `kB` line of `/proc/<pid>/status`.
fn status_kb(pid: &str, key: &str) -> u64 {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).expect(&path);
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{key} in {path}"))
}

/// What each publisher of a round sent (all acked, no error).
fn finished_round(stats: &Value) -> BTreeMap<String, u64> {
    assert_eq!(stats["errors"], json!([]), "{stats}");
    assert_eq!(stats["acked"], stats["sent"], "{stats}");
    serde_json::from_value(stats["sent_by"].clone()).expect("sent_by")
}

/// Every socket in `names` got exactly `1..=sent[p]` from every publisher `p` in
/// `publishers` (other than itself), each once.
fn assert_exactly_once(
    got: &BTreeMap<String, Vec<(String, u64)>>,
    sent: &BTreeMap<String, u64>,
    publishers: &[String],
    what: &str,
) {
    for (name, seqs) in got {
        for p in publishers.iter().filter(|p| *p != name) {
            let mut from_p: Vec<u64> = seqs
                .iter()
                .filter(|(from, _)| from == p)
                .map(|(_, s)| *s)
                .collect();
            from_p.sort_unstable();
            let want: Vec<u64> = (1..=sent[p]).collect();
            assert!(
                from_p == want,
                "{what}: {name} from {p}: got {} events (want {}), missing {:?}, twice {:?}",
                from_p.len(),
                want.len(),
                want.iter()
                    .filter(|s| !from_p.contains(s))
                    .take(20)
                    .collect::<Vec<_>>(),
                from_p
                    .windows(2)
                    .filter(|w| w[0] == w[1])
                    .take(20)
                    .collect::<Vec<_>>()
            );
        }
    }
}

/// Malformed input from extra connections: each is refused or closed, and the node
/// serves a well-formed client afterwards.
fn malformed_packets(addr: std::net::SocketAddr) {
    let garbage = [
        "4",
        "42[",
        "42[\"publish\",{\"room\":",
        "99",
        "40/nope,",
        "45-[\"x\"]",
        "451-[\"join\",{\"_placeholder\":true,\"num\":7}]",
        "42[\"join\",\"x\"",
        "\u{0}\u{1}\u{2}",
        "3probe",
    ];
    for text in garbage {
        let (mut ws, _sid, _open) = Ws::open(addr);
        ws.try_send_text("40");
        ws.try_send_text(text);
        // Whatever the server answers, it must go on serving: a new client connects.
        drop(ws);
    }
    // A websocket frame that is not even a frame (reserved bits, bad length).
    let mut conn = wire::Conn::open(addr);
    conn.write(
        wire::upgrade_head(&wire::target("EIO=4&transport=websocket"), false, &[]).as_bytes(),
    );
    let _ = conn.read_head();
    conn.write(&[0xF7, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    conn.abort();
    // A polling session fed garbage payloads.
    let (sid, _) = wire::open_polling(addr);
    let res = wire::request(
        addr,
        "POST",
        &wire::target(&wire::sid_query(&sid)),
        &[("Content-Type", "text/plain")],
        b"\x1e\x1e42[\x1e99999999999999999999",
    );
    assert!(res.status == 400 || res.status == 200, "{}", res.status);
    let bad = wire::request(
        addr,
        "GET",
        "/socket.io/?EIO=9&transport=carrier-pigeon",
        &[],
        b"",
    );
    assert_eq!(bad.status, 400, "{}", bad.text());
    // Still serving.
    let (mut ws, _) = wire::sio_connect(addr);
    let pong = wire::ack(&mut ws, 1, "ping", json!([{}]));
    assert!(pong["server_time"].is_u64(), "{pong}");
}

#[test]
fn chaos_1000_publishing_clients_two_nodes_every_fault_in_turn() {
    let mut redis = RedisServer::start();
    let mut a_settings = node_settings(&redis);
    let mut buf = policy("/buf");
    buf.buffer = BufferName::Always;
    buf.buffer_size = 5000;
    let mut rec = policy("/rec");
    rec.recovery_s = 120;
    a_settings.namespaces = vec![policy("/"), buf, rec];
    let a = support::start_hub_from(a_settings);
    let config = TempFile::with(B_CONFIG);
    let url = redis.url();
    let mut b = Server::start(
        &["--config", config.path()],
        &[
            ("SOCKETIO_ADAPTER__KIND", "redis"),
            ("SOCKETIO_ADAPTER__REDIS_URL", url.as_str()),
        ],
    );
    let url_a = format!("http://{}", a.addr);
    let url_b = format!("http://{}", b.addr());
    wait_until("A counts both nodes", WAIT, || {
        let c = a.cluster.as_ref().expect("a clustered node");
        c.is_connected() && c.node_count() == 2
    });
    let rss_baseline = rss_kb("self");
    let b_pid = b.child.id().to_string();
    let b_baseline = rss_kb(&b_pid);

    let mut sa = Side {
        d: Driver::node_at(&url_a),
        tag: "A",
    };
    let mut sb = Side {
        d: Driver::node_at(&url_b),
        tag: "B",
    };
    sa.connect_all();
    sb.connect_all();
    let b_loaded = rss_kb(&b_pid);
    let clients_per_node = WS_GROUPS * WS_PER_GROUP + POLLING + BUF + REC;
    assert_eq!(
        metric(&metrics_text(&a), "siohub_namespace_sockets"),
        clients_per_node as f64
    );
    assert_eq!(
        metric(&page_b(&b), "siohub_namespace_sockets"),
        clients_per_node as f64
    );

    // ---- Round 1: publishing while A's actors crash, transports close, a storm comes
    // and garbage arrives.
    for side in [&mut sa, &mut sb] {
        side.start_publishing(true);
        side.start_publishing(false);
    }
    let watch = sa.ws(1)[5..6].to_vec();
    let chatter = |s: &mut Side, names: &[String], more: usize| {
        let before = s.seqs(names).values().map(Vec::len).min().unwrap_or(0);
        wait_until("the chatter goes on", WAIT, || {
            s.seqs(names).values().map(Vec::len).min().unwrap_or(0) >= before + more
        });
    };
    chatter(&mut sa, &watch, 4);
    // Every room publishes through every crash.
    let order = [
        HubActor::RoomSupervisor,
        HubActor::ConnectionManager,
        HubActor::Broadcaster,
        HubActor::Admin,
    ];
    assert_eq!(
        BTreeSet::from(order.map(|a| format!("{a:?}"))).len(),
        HubActor::ALL.len()
    );
    for actor in order {
        let before = restarts(&a, actor);
        a.hub.crash(actor);
        wait_until(&format!("{actor:?} restarted"), WAIT, || {
            restarts(&a, actor) == before + 1
        });
        chatter(&mut sa, &watch, 4);
    }

    // Forced transport closes: recovery sockets come back recovered, on both nodes.
    for side in [&mut sa, &mut sb] {
        let closed: Vec<String> = side.rec()[1..11].to_vec();
        side.d.call("close_transports", json!({ "names": closed }));
        side.wait_connected(&closed, "closed recovery sockets reconnect");
        for (name, s) in side.states(&closed) {
            assert_eq!(s["recovered"], json!(true), "{name}: {s}");
            assert!(s["connects"].as_u64().unwrap() >= 2, "{name}: {s}");
        }
    }
    // The storm: 250 websocket sockets of `/` per node lose their transport at once and
    // all reconnect (as fresh sockets: `/` has no recovery, so they leave their rooms).
    let storm = |s: &Side| -> Vec<String> {
        let mut names = s.ws(2)[1..].to_vec();
        names.extend_from_slice(&s.ws(1)[50..]);
        names.extend_from_slice(&s.ws(0)[50..]);
        names.extend_from_slice(&s.polling()[1..53]);
        names
    };
    let (storm_a, storm_b) = (storm(&sa), storm(&sb));
    assert_eq!(storm_a.len() + storm_b.len(), 502);
    sa.d.call("close_transports", json!({ "names": storm_a }));
    sb.d.call("close_transports", json!({ "names": storm_b }));
    sa.wait_connected(&storm_a, "A's storm reconnects");
    sb.wait_connected(&storm_b, "B's storm reconnects");

    malformed_packets(a.addr);
    malformed_packets(b.addr());
    chatter(&mut sa, &watch, 4);

    let round_a = finished_round(&sa.d.call("stop_loops", json!({})));
    let round_b = finished_round(&sb.d.call("stop_loops", json!({})));
    let mut sent: BTreeMap<String, u64> = round_a.clone();
    sent.extend(round_b.clone());
    // Every publish is in: a namespace-wide marker sent after them arrives after them
    // (one session delivers in order), on both nodes, in `/buf` and `/rec`.
    for nsp in ["/buf", "/rec"] {
        emit(
            &a,
            json!({ "namespace": nsp, "event": "m", "data": { "from": "end", "seq": 0 } }),
        );
    }
    let ends = |s: &mut Side, names: &[String]| {
        wait_until("the end marker arrives", WAIT, || {
            s.seqs(names)
                .values()
                .all(|l| l.iter().any(|(f, _)| f == "end"))
        });
    };
    let (buf_a, buf_b, rec_a, rec_b) = (sa.buf(), sb.buf(), sa.rec(), sb.rec());
    ends(&mut sa, &buf_a);
    ends(&mut sb, &buf_b);
    ends(&mut sa, &rec_a);
    ends(&mut sb, &rec_b);
    let buf_publishers = vec![buf_a[0].clone(), buf_b[0].clone()];
    let rec_publishers = vec![rec_a[0].clone(), rec_b[0].clone()];
    assert!(sent[&buf_publishers[0]] >= 8, "{sent:?}");
    // `/buf`: nothing lost, nothing twice, through the crashes, the storm and the garbage.
    assert_exactly_once(&sa.seqs(&buf_a), &sent, &buf_publishers, "/buf on A");
    assert_exactly_once(&sb.seqs(&buf_b), &sent, &buf_publishers, "/buf on B");
    // `/rec`: every socket, the recovered ones included (each got what it missed while
    // away, and nothing it had), got everything once.
    assert_exactly_once(&sa.seqs(&rec_a), &sent, &rec_publishers, "/rec on A");
    assert_exactly_once(&sb.seqs(&rec_b), &sent, &rec_publishers, "/rec on B");
    // A new joiner of room b on either node gets its whole history.
    for (side, tag) in [(&mut sa, "A"), (&mut sb, "B")] {
        let late = format!("{tag}-late");
        side.d.connect(&late, "/buf");
        let reply = side.d.ack(&late, "join", json!(["b"]));
        assert_eq!(reply["ok"], true, "{reply}");
        let total: u64 = buf_publishers.iter().map(|p| sent[p]).sum();
        let names = [late.clone()];
        wait_until("the history replays", WAIT, || {
            side.seqs(&names)[&late].len() as u64 >= total
        });
        let got = side.seqs(&names);
        assert_exactly_once(&got, &sent, &buf_publishers, "history of b");
    }

    // ---- Round 2: Redis killed and restarted while both nodes publish to r0.
    // New publishers (their seqs start again at 1), and listeners the storm left alone.
    let publishers_r0 = [sa.ws(0)[1].clone(), sb.ws(0)[1].clone()];
    let listeners_a: Vec<String> = sa.ws(0)[2..50].to_vec();
    let listeners_b: Vec<String> = sb.ws(0)[2..50].to_vec();
    let before_a = sa.seqs(&listeners_a);
    let before_b = sb.seqs(&listeners_b);
    let failed = r#"siohub_adapter_dropped_total{reason="publish_failed"}"#;
    // Lost for the other node: not published, or published while it had not subscribed
    // again yet.
    let lost = |page: &str| {
        metric(page, failed)
            + metric(
                page,
                r#"siohub_adapter_dropped_total{reason="unsubscribed"}"#,
            )
    };
    let failed_a0 = lost(&metrics_text(&a));
    let failed_b0 = lost(&page_b(&b));
    for (side, p) in [(&mut sa, &publishers_r0[0]), (&mut sb, &publishers_r0[1])] {
        side.d.call(
            "publish_loop",
            json!({ "names": [p], "room": "r0", "event": "m", "interval_ms": PUBLISH_EVERY_MS }),
        );
    }
    chatter(&mut sa, &listeners_a[..1], 4);
    redis.kill();
    wait_until("A sees Redis gone", WAIT, || {
        health(&a)["status"] == json!("degraded")
    });
    wait_until("both nodes count failed publishes", WAIT, || {
        lost(&metrics_text(&a)) > failed_a0 + 2.0 && lost(&page_b(&b)) > failed_b0 + 2.0
    });
    // Local delivery goes on.
    chatter(&mut sa, &listeners_a[..1], 4);
    redis.restart();
    wait_until("A counts both nodes again", WAIT, || {
        let c = a.cluster.as_ref().unwrap();
        c.is_connected() && c.node_count() == 2
    });
    wait_until("B is healthy again", WAIT, || {
        wire::request(b.addr(), "GET", "/health", &[], b"").json()["status"] == json!("healthy")
    });
    chatter(&mut sb, &listeners_b[..1], 4);
    let round2_a = finished_round(&sa.d.call("stop_loops", json!({})));
    let round2_b = finished_round(&sb.d.call("stop_loops", json!({})));
    // Markers (one per node, published after the loops stopped) bound the round.
    emit(
        &a,
        json!({ "rooms": "r0", "event": "m", "data": { "from": "end2", "seq": 0 } }),
    );
    let end2 = |s: &mut Side, names: &[String]| {
        wait_until("the round-2 marker arrives", WAIT, || {
            s.seqs(names)
                .values()
                .all(|l| l.iter().any(|(f, _)| f == "end2"))
        });
    };
    end2(&mut sa, &listeners_a);
    end2(&mut sb, &listeners_b);
    let failed_a = lost(&metrics_text(&a)) - failed_a0;
    let failed_b = lost(&page_b(&b)) - failed_b0;
    // What each listener missed from the other node's publisher is at most what that
    // node counted as not published; from its own node's publisher, nothing.
    let missed = |s: &mut Side,
                  names: &[String],
                  before: &BTreeMap<String, Vec<(String, u64)>>,
                  local: &str,
                  local_sent: u64,
                  remote: &str,
                  remote_sent: u64,
                  remote_failed: f64| {
        for (name, all) in s.seqs(names) {
            let new = &all[before[&name].len()..];
            let count = |p: &str| {
                let set: BTreeSet<u64> = new
                    .iter()
                    .filter(|(f, _)| f == p)
                    .map(|(_, q)| *q)
                    .collect();
                let n = new.iter().filter(|(f, _)| f == p).count();
                assert_eq!(set.len(), n, "{name}: an event from {p} twice");
                n as u64
            };
            assert_eq!(count(local), local_sent, "{name}: from its own node");
            let got = count(remote);
            assert!(got <= remote_sent);
            assert!(
                (remote_sent - got) as f64 <= remote_failed,
                "{name}: {} missed from {remote}, {remote_failed} counted",
                remote_sent - got
            );
        }
    };
    let (pa, pb) = (&publishers_r0[0], &publishers_r0[1]);
    missed(
        &mut sa,
        &listeners_a,
        &before_a,
        pa,
        round2_a[pa],
        pb,
        round2_b[pb],
        failed_b,
    );
    missed(
        &mut sb,
        &listeners_b,
        &before_b,
        pb,
        round2_b[pb],
        pa,
        round2_a[pa],
        failed_a,
    );

    // ---- The counters agree with the clients: namespace-wide probes to `/` reach every
    // socket of `/` once, and the nodes count exactly those deliveries.
    let root_a = sa.root();
    let root_b = sb.root();
    let delivered = "siohub_events_delivered_total";
    let (del_a0, del_b0) = (
        metric(&metrics_text(&a), delivered),
        metric(&page_b(&b), delivered),
    );
    const PROBES: u64 = 3;
    for n in 0..PROBES {
        emit(&a, json!({ "event": "probe", "data": n }));
    }
    for (side, names) in [(&mut sa, &root_a), (&mut sb, &root_b)] {
        side.d.wait_counts(names, "probe", PROBES);
        let counts = side.d.counts(names, "probe");
        assert!(counts.values().all(|c| *c == PROBES), "{counts:?}");
    }
    let sockets_a = metric(
        &metrics_text(&a),
        r#"siohub_namespace_sockets{namespace="/"}"#,
    );
    assert_eq!(sockets_a, (root_a.len()) as f64);
    wait_until("the nodes count what the clients got", WAIT, || {
        let da = metric(&metrics_text(&a), delivered) - del_a0;
        let db = metric(&page_b(&b), delivered) - del_b0;
        da == (PROBES * root_a.len() as u64) as f64 && db == (PROBES * root_b.len() as u64) as f64
    });
    let drops = metric(&metrics_text(&a), "siohub_dropped_events_total")
        + metric(&page_b(&b), "siohub_dropped_events_total");
    assert_eq!(
        drops, 0.0,
        "no event dropped for a slow consumer or a full buffer"
    );

    // ---- B's clients of `/` and `/buf` move to A (their transports closed, as a load
    // balancer draining B would): B gives back what they took.
    let leaving: Vec<String> = sb
        .root()
        .into_iter()
        .chain(sb.buf())
        .chain(["B-late".to_owned()])
        .collect();
    sb.d.call("retarget_many", json!({ "names": leaving, "url": url_a }));
    sb.d.call("close_transports", json!({ "names": leaving }));
    sb.wait_connected(&leaving, "B's clients of / and /buf reconnect to A");
    wait_until("B holds only its /rec sockets", WAIT, || {
        let page = page_b(&b);
        metric(&page, "siohub_connections") == REC as f64
            && metric(&page, "siohub_namespace_sockets") == REC as f64
    });
    let b_after = rss_kb(&b_pid);
    eprintln!(
        "chaos: B's RSS {b_baseline} kB before its clients, {b_loaded} kB with them, \
         {b_after} kB once {} of {} left",
        leaving.len(),
        leaving.len() + REC
    );
    // B's ~800 session lives so far (510 clients, the storm, the recoveries) end back
    // within B_RSS_SLACK_KB of its baseline: the allocator keeps what it freed for the
    // next connections, but a leak of a few dozen kB per session would not fit.
    assert!(
        b_after <= b_baseline + B_RSS_SLACK_KB,
        "B's RSS {b_after} kB, {b_baseline} kB before its clients"
    );

    // ---- B stopped with SIGTERM: its sockets move to A. The recovery store is Redis, which
    // restarted empty: sockets of `/rec` connected before that lost their records with it,
    // until B's drain writes them again (`Hub::preserve` finalises each socket's record).
    // Whether that write lands before the client's reconnect reaches A is a race the drain
    // does not order, so each such socket either recovers (and then gets exactly what it
    // missed) or comes back fresh with A counting its refusal. Ten sockets that connect to
    // B after the restart, held until B has exited while events they miss are published on
    // A, recover exactly those on A.
    let fresh: Vec<String> = (0..10).map(|i| format!("B-z{i}")).collect();
    sb.connect_many("B-z", fresh.len(), "/rec", "q", None);
    let announce = |sa: &mut Side, seq: u64| {
        let data = json!({ "from": "away", "seq": seq });
        let reply = sa.d.ack(
            &rec_a[0],
            "publish",
            json!([{ "room": "q", "event": "m", "data": data }]),
        );
        assert_eq!(reply["ok"], true, "{reply}");
    };
    // Each fresh socket holds an offset of the new stream.
    announce(&mut sa, 0);
    wait_until("the fresh sockets get event 0", WAIT, || {
        sb.seqs(&fresh)
            .values()
            .all(|l| l.iter().any(|(f, _)| f == "away"))
    });
    let b_all: Vec<String> = sb
        .root()
        .into_iter()
        .chain(sb.buf())
        .chain(sb.rec())
        .chain(fresh.iter().cloned())
        .chain(["B-late".to_owned()])
        .collect();
    let refusals = |page: &str| {
        ["no_record", "offset_gone", "unavailable", "owner_alive"]
            .iter()
            .map(|o| {
                let series = format!("siohub_recovery_store_recoveries_total{{outcome=\"{o}\"}}");
                metric(page, &series)
            })
            .sum::<f64>()
    };
    let refused_before = refusals(&metrics_text(&a));
    sb.d.call("hold_many", json!({ "names": fresh }));
    sb.d.call("retarget_many", json!({ "names": b_all, "url": url_a }));
    let before_rec = sb.seqs(&fresh);
    let old_rec = sb.rec();
    b.signal("-TERM");
    assert_eq!(b.wait_exit(Duration::from_secs(30)), Some(0));
    let panics: Vec<String> = b
        .stderr()
        .into_iter()
        .filter(|l| l.to_lowercase().contains("panic"))
        .collect();
    assert!(panics.is_empty(), "B's log: {panics:?}");
    let missed_rec: u64 = 5;
    for n in 1..=missed_rec {
        announce(&mut sa, n);
    }
    let moving: Vec<String> = b_all
        .iter()
        .filter(|n| !fresh.contains(n))
        .cloned()
        .collect();
    sb.wait_connected(&moving, "B's sockets reconnect to A");
    // A recovered socket got exactly the events it missed (the only events of "away" after
    // event 0, which it saw on B), once each, in order; a fresh one's refusal is counted.
    let want: Vec<(String, u64)> = (1..=missed_rec).map(|n| ("away".to_owned(), n)).collect();
    let old_seqs = sb.seqs(&old_rec);
    let mut came_back_fresh = 0u64;
    for (name, s) in sb.states(&old_rec) {
        if s["recovered"] == json!(true) {
            let away: Vec<(String, u64)> = old_seqs[&name]
                .iter()
                .filter(|(from, n)| from == "away" && *n >= 1)
                .cloned()
                .collect();
            assert_eq!(away, want, "{name} recovered: exactly what it missed");
        } else {
            assert_eq!(s["recovered"], json!(false), "{name}: {s}");
            came_back_fresh += 1;
        }
    }
    let refused = refusals(&metrics_text(&a)) - refused_before;
    assert!(
        refused >= came_back_fresh as f64,
        "{refused} refusals counted, {came_back_fresh} sockets came back fresh"
    );
    sb.d.call("resume_many", json!({ "names": fresh }));
    sb.wait_connected(&fresh, "B's fresh recovery sockets reconnect to A");
    let store_page = metrics_text(&a);
    let store: Vec<&str> = store_page
        .lines()
        .filter(|l| l.starts_with("siohub_recovery_store"))
        .collect();
    for (name, s) in sb.states(&fresh) {
        assert_eq!(s["recovered"], json!(true), "{name}: {s}; A: {store:?}");
    }
    for (name, all) in sb.seqs(&fresh) {
        let new: Vec<(String, u64)> = all[before_rec[&name].len()..].to_vec();
        let want: Vec<(String, u64)> = (1..=missed_rec).map(|n| ("away".to_owned(), n)).collect();
        assert_eq!(new, want, "{name}: exactly what it missed");
    }

    // ---- Everyone leaves: A's sessions, sockets and rooms go to 0, and its memory back
    // near where it was before the clients came.
    drop(sa);
    drop(sb);
    wait_until("A has no session left", WAIT, || {
        let page = metrics_text(&a);
        metric(&page, "siohub_connections") == 0.0 && metric(&page, "siohub_rooms") == 0.0
    });
    for actor in HubActor::ALL {
        assert_eq!(
            restarts(&a, actor),
            1,
            "{actor:?}: restarted only by the test's crash"
        );
    }
    // What the hub holds is back to what stays by design: the room history of `/buf` and
    // the recovery log of `/rec` (both bounded, both expiring), nothing per client.
    // (This process's RSS is not checked: besides A it holds the test's own allocations
    // and what symbolizing the backtraces of the injected panics loads from this debug
    // test binary, which stays resident; B's RSS above is the hub's.)
    wait_until("nothing per client is left on A", WAIT, || {
        let page = metrics_text(&a);
        metric(&page, "siohub_recovery_preserved_sockets") == 0.0
            && metric(&page, "siohub_ws_lingering_connections") == 0.0
            && metric(&page, "siohub_offline_queue_events") == 0.0
    });
    let page = metrics_text(&a);
    let published_buf: u64 = buf_publishers.iter().map(|p| sent[p]).sum();
    assert_eq!(
        metric(&page, r#"siohub_buffered_events{namespace="/buf"}"#),
        published_buf as f64,
        "the history of b, once"
    );
    assert!(metric(&page, r#"siohub_recovery_log_events{namespace="/rec"}"#) <= 10_000.0);
    eprintln!(
        "chaos: A's process RSS {} kB after ({} kB anonymous, {} kB file), {rss_baseline} kB \
         before the clients",
        rss_kb("self"),
        status_kb("self", "RssAnon:"),
        status_kb("self", "RssFile:")
    );
}
