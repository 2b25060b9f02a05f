//! Several siohub nodes (and a Node.js socket.io server with `@socket.io/redis-adapter`) on
//! one [`RedisServer`] of the test's own: the settings of a node, starting nodes and waiting
//! until they count each other, the Node peer driven over stdin, and HTTP calls to a node's
//! API.

use std::io::{BufRead, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use serde_json::{json, Value};
use siohub::config::Settings;
use siohub::server::BackgroundServer;

use super::redis::RedisServer;
use super::settings::{policy, test_settings, OPERATOR_KEY};
use super::wait::wait_until;
use super::wire::{request, Response};

/// The JWT secret cluster tests sign users' tokens with.
pub const CLUSTER_SECRET: &str = "cluster-tests-secret-of-at-least-32-bytes";

/// Settings of a node on `redis`, namespaces `/` and `/chat`, a 1 s request timeout.
pub fn node_settings(redis: &RedisServer) -> Settings {
    let mut settings = test_settings();
    settings.namespaces = vec![policy("/"), policy("/chat")];
    settings.auth.jwt_secret = CLUSTER_SECRET.into();
    settings.adapter.kind = "redis".into();
    settings.adapter.redis_url = redis.url();
    settings.adapter.request_timeout_ms = 1000;
    settings
}

/// Starts `n` nodes on `redis` and waits until each is connected and counts `n` nodes.
pub fn start_nodes(redis: &RedisServer, n: usize) -> Vec<BackgroundServer> {
    let nodes: Vec<BackgroundServer> = (0..n)
        .map(|_| super::start_hub_from(node_settings(redis)))
        .collect();
    wait_counted(&nodes, n);
    nodes
}

/// Waits until every node is connected and counts `n` nodes.
#[track_caller]
pub fn wait_counted(nodes: &[BackgroundServer], n: usize) {
    wait_until(
        "every node connected and counting the others",
        Duration::from_secs(10),
        || {
            nodes.iter().all(|node| {
                let cluster = node.cluster.as_ref().expect("a clustered node");
                cluster.is_connected() && cluster.node_count() == n
            })
        },
    );
}

/// One API request to `node` with the operator key; `body` is sent as JSON.
pub fn api(node: &BackgroundServer, method: &str, path: &str, body: Option<Value>) -> Response {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let headers = [
        ("X-API-Key", OPERATOR_KEY),
        ("Content-Type", "application/json"),
    ];
    request(node.addr, method, path, &headers, body.as_bytes())
}

/// `POST /api/v1/emit` on `node`; returns the JSON answer (fails the test on another
/// status).
#[track_caller]
pub fn emit(node: &BackgroundServer, body: Value) -> Value {
    let res = api(node, "POST", "/api/v1/emit", Some(body));
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()
}

/// `GET /health` of `node`.
pub fn health(node: &BackgroundServer) -> Value {
    request(node.addr, "GET", "/health", &[], b"").json()
}

/// A Node.js socket.io server with the Redis adapter (`tests/clients/node/cluster_peer.mjs`).
pub struct NodePeer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    next_id: u64,
    /// The port it listens on.
    pub port: u16,
}

impl NodePeer {
    /// Starts one on `redis` and waits until it listens.
    pub fn start(redis: &RedisServer) -> NodePeer {
        let mut child = super::clients::node("cluster_peer.mjs")
            .arg(redis.url())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs cluster_peer.mjs");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines
            .recv_timeout(Duration::from_secs(20))
            .expect("the Node peer says where it listens");
        let port = serde_json::from_str::<Value>(&first).expect("JSON")["listening"]
            .as_u64()
            .expect("a port") as u16;
        NodePeer {
            stdin: child.stdin.take(),
            child,
            lines,
            next_id: 0,
            port,
        }
    }

    /// Its base URL, for clients.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs one command; returns its result (fails the test on an error).
    #[track_caller]
    pub fn call(&mut self, cmd: &str, mut args: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        args["id"] = json!(id);
        args["cmd"] = json!(cmd);
        let stdin = self.stdin.as_mut().expect("the peer runs");
        writeln!(stdin, "{args}").expect("the peer reads commands");
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|e| panic!("Node peer: no answer to {cmd} ({e})"));
            let Ok(reply) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if reply["id"] != json!(id) {
                continue;
            }
            assert_eq!(reply["ok"], json!(true), "Node peer: {cmd} failed: {reply}");
            return reply["result"].clone();
        }
    }
}

impl Drop for NodePeer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        super::driver::await_exit(&mut self.child);
    }
}
