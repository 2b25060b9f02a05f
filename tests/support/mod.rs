//! Shared by the integration tests: the scenario server (the contract in
//! tests/clients/README.md) with a record of what it saw, and helpers to start it.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use siohub::config::Settings;
use siohub::server::BackgroundServer;
use siohub::{Application, ConnectRefusal, Namespaces, Payload};

/// One thing the scenario server saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A socket joined `nsp`.
    Connect { nsp: String, sid: String },
    /// A socket sent `event` with these arguments.
    Event {
        nsp: String,
        sid: String,
        event: String,
        args: Vec<Value>,
        attachments: usize,
    },
    /// A socket left, with the reference server's reason.
    Disconnect {
        nsp: String,
        sid: String,
        reason: String,
    },
    /// A middleware refused a CONNECT.
    Refused { nsp: String, auth: Value },
}

/// Everything the scenario server saw, in order.
#[derive(Debug, Clone, Default)]
pub struct Records(Arc<Mutex<Vec<Record>>>);

impl Records {
    pub fn push(&self, record: Record) {
        self.0.lock().unwrap().push(record);
    }

    pub fn all(&self) -> Vec<Record> {
        self.0.lock().unwrap().clone()
    }

    pub fn connected_sids(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .filter_map(|r| match r {
                Record::Connect { sid, .. } => Some(sid),
                _ => None,
            })
            .collect()
    }

    pub fn events_of(&self, sid: &str) -> Vec<(String, Vec<Value>, usize)> {
        self.all()
            .into_iter()
            .filter_map(|r| match r {
                Record::Event {
                    sid: s,
                    event,
                    args,
                    attachments,
                    ..
                } if s == sid => Some((event, args, attachments)),
                _ => None,
            })
            .collect()
    }

    pub fn disconnect_reason(&self, sid: &str) -> Option<String> {
        self.all().into_iter().find_map(|r| match r {
            Record::Disconnect { sid: s, reason, .. } if s == sid => Some(reason),
            _ => None,
        })
    }
}

fn record_event(records: &Records, socket: &siohub::Socket, event: &str, payload: &Payload) {
    records.push(Record::Event {
        nsp: socket.nsp().to_owned(),
        sid: socket.id().to_owned(),
        event: event.to_owned(),
        args: payload.args.clone(),
        attachments: payload.attachments.len(),
    });
}

/// The scenario server's namespaces, recording into `records`.
pub fn scenario_namespaces(records: &Records) -> Namespaces {
    let (r1, r2, r3, r4, r5, r6) = (
        records.clone(),
        records.clone(),
        records.clone(),
        records.clone(),
        records.clone(),
        records.clone(),
    );
    Namespaces::new()
        .add("/", move |ns| {
            ns.on_connect(move |socket, _auth| {
                r1.push(Record::Connect {
                    nsp: "/".into(),
                    sid: socket.id().into(),
                })
            })
            .on_any(move |socket, event, payload, ack| {
                record_event(&r2, socket, event, &payload);
                match event {
                    "echo" => socket.emit_payload("echo-back", payload),
                    "echo-ack" => {
                        if let Some(ack) = ack {
                            ack.send(payload)
                        }
                    }
                    "whoami" => {
                        if let Some(ack) = ack {
                            ack.send_json(json!([{ "sid": socket.id(), "nsp": socket.nsp() }]))
                        }
                    }
                    "kick-me" => socket.disconnect(),
                    "ask-client" => {
                        let socket = socket.clone();
                        actix_rt::spawn(async move {
                            let answer = socket
                                .emit_with_ack(
                                    "question",
                                    Payload::new(vec![json!({ "q": 1 })]),
                                    Duration::from_secs(2),
                                )
                                .await;
                            let reply = match answer {
                                Ok(p) => p.args.into_iter().next().unwrap_or(Value::Null),
                                Err(_) => json!({ "timeout": true }),
                            };
                            socket.emit("answer-received", json!([reply]));
                        });
                    }
                    _ => {}
                }
            })
            .on_disconnect(move |socket, reason| {
                r3.push(Record::Disconnect {
                    nsp: socket.nsp().into(),
                    sid: socket.id().into(),
                    reason: reason.as_str().into(),
                })
            })
        })
        .add("/secure", move |ns| {
            ns.middleware(move |req| {
                let records = r4.clone();
                async move {
                    if req.auth == json!({ "token": "s3cret" }) {
                        Ok(())
                    } else {
                        records.push(Record::Refused {
                            nsp: req.nsp.clone(),
                            auth: req.auth.clone(),
                        });
                        Err(ConnectRefusal::new("unauthorized")
                            .with_data(json!({ "reason": "bad token" })))
                    }
                }
            })
            .on_connect(move |socket, auth| {
                r5.push(Record::Connect {
                    nsp: "/secure".into(),
                    sid: socket.id().into(),
                });
                socket.emit("welcome", json!([{ "auth": auth }]));
            })
            .on("echo-ack", move |socket, payload, ack| {
                record_event(&r6, socket, "echo-ack", &payload);
                if let Some(ack) = ack {
                    ack.send(payload)
                }
            })
        })
}

/// The API key every test server from [`test_settings`] opens `/api` and `/connections`
/// with.
pub const OPERATOR_KEY: &str = "test-operator-key";

/// The header that makes a request an operator's (`/connections` needs it).
pub const OPERATOR: [(&str, &str); 1] = [("X-API-Key", OPERATOR_KEY)];

/// Settings for a test server on a free port of the loopback, whose `/connections` opens
/// with [`OPERATOR_KEY`].
pub fn test_settings() -> Settings {
    Settings::load(
        None,
        &[
            ("server.host", "127.0.0.1".into()),
            ("server.port", "0".into()),
            ("server.workers", "2".into()),
            ("api.keys", OPERATOR_KEY.into()),
        ],
    )
    .expect("test settings are valid")
}

/// Starts the scenario server; returns it with its records.
pub fn start_scenario_server(settings: Settings) -> (BackgroundServer, Records) {
    let records = Records::default();
    let app = Application::SocketIo(Arc::new(scenario_namespaces(&records)));
    let server = BackgroundServer::start(settings, app).expect("the scenario server starts");
    (server, records)
}

// ---------------------------------------------------------------------------------------
// The hub tests (tests/hub_*.rs): a server with namespace policies, and real clients driven
// line by line (tests/clients/node/hub/driver.mjs, tests/clients/python/hub_driver.py).

/// How long one driver command may take before the test fails.
pub const DRIVER_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts the hub (its built-in events) with `namespaces` as the namespace policies.
pub fn start_hub(namespaces: Vec<siohub::config::NamespacePolicy>) -> BackgroundServer {
    start_hub_with(namespaces, |_| {})
}

/// Starts the hub with `namespaces`, after `adjust` changed the other test settings.
pub fn start_hub_with(
    namespaces: Vec<siohub::config::NamespacePolicy>,
    adjust: impl FnOnce(&mut Settings),
) -> BackgroundServer {
    let mut settings = test_settings();
    settings.namespaces = namespaces;
    adjust(&mut settings);
    settings
        .validate()
        .expect("the test's namespace policies are valid");
    let app = siohub::hub::application(&settings);
    BackgroundServer::start(settings, app).expect("the hub starts")
}

/// A namespace policy with the defaults and this name.
pub fn policy(name: &str) -> siohub::config::NamespacePolicy {
    siohub::config::NamespacePolicy {
        name: name.into(),
        ..Default::default()
    }
}

/// Broadcasts `event` with `data` to `target` from the test, as server code would.
pub fn hub_broadcast(
    server: &BackgroundServer,
    target: siohub_actors::Target,
    event: &str,
    data: Value,
) -> siohub_actors::BroadcastOutcome {
    let broadcast = siohub_actors::Broadcast {
        target,
        event: event.into(),
        payload: Payload::new(vec![data]),
        volatile: false,
        dedupe_id: None,
    };
    futures::executor::block_on(server.hub.broadcast(broadcast)).expect("the broadcaster answers")
}

/// Members of `room` in namespace `nsp`, from the server's room table.
pub fn room_members(server: &BackgroundServer, nsp: &str, room: &str) -> Vec<String> {
    server.hub.members(nsp, room)
}

/// Waits until `check` holds, or fails naming `what` after `timeout`.
#[track_caller]
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One client process (Node or Python) running the hub driver.
pub struct Driver {
    name: &'static str,
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: std::sync::mpsc::Receiver<String>,
    next_id: u64,
}

impl Driver {
    /// Starts the socket.io-client driver against `server`.
    pub fn node(server: &BackgroundServer) -> Driver {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/node");
        assert!(
            dir.join("node_modules/socket.io-client").exists(),
            "socket.io-client is not installed: run tests/clients/setup.sh"
        );
        let mut cmd = std::process::Command::new("node");
        cmd.arg(dir.join("hub/driver.mjs")).arg(server.url());
        Self::spawn("node", cmd)
    }

    /// Starts the python-socketio driver against `server`.
    pub fn python(server: &BackgroundServer) -> Driver {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/python");
        let python = dir.join(".venv/bin/python");
        assert!(
            python.exists(),
            "python-socketio is not installed: run tests/clients/setup.sh"
        );
        let mut cmd = std::process::Command::new(python);
        cmd.arg(dir.join("hub_driver.py")).arg(server.url());
        Self::spawn("python", cmd)
    }

    fn spawn(name: &'static str, mut cmd: std::process::Command) -> Driver {
        use std::io::BufRead;
        use std::process::Stdio;
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("the {name} driver starts: {e}"));
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
        Driver {
            name,
            stdin: child.stdin.take(),
            child,
            lines,
            next_id: 0,
        }
    }

    /// Runs one command; returns its result or the driver's error message.
    pub fn try_call(&mut self, cmd: &str, mut args: Value) -> Result<Value, String> {
        use std::io::Write;
        self.next_id += 1;
        let id = self.next_id;
        args["id"] = json!(id);
        args["cmd"] = json!(cmd);
        let stdin = self.stdin.as_mut().expect("the driver is running");
        writeln!(stdin, "{args}")
            .and_then(|_| stdin.flush())
            .unwrap_or_else(|e| panic!("{} driver: cannot send {cmd}: {e}", self.name));
        let deadline = std::time::Instant::now() + DRIVER_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("{} driver: no answer to {cmd} ({e})", self.name));
            let Ok(reply) = serde_json::from_str::<Value>(&line) else {
                eprintln!("{} driver: {line}", self.name);
                continue;
            };
            if reply["id"] != json!(id) {
                continue;
            }
            return if reply["ok"] == json!(true) {
                Ok(reply["result"].clone())
            } else {
                Err(reply["error"].as_str().unwrap_or("?").to_owned())
            };
        }
    }

    /// Runs one command and returns its result; fails the test on an error.
    #[track_caller]
    pub fn call(&mut self, cmd: &str, args: Value) -> Value {
        let name = self.name;
        self.try_call(cmd, args.clone())
            .unwrap_or_else(|e| panic!("{name} driver: {cmd} {args} failed: {e}"))
    }

    /// Connects socket `name` to `nsp`; returns its socket id.
    #[track_caller]
    pub fn connect(&mut self, name: &str, nsp: &str) -> String {
        let reply = self.call("connect", json!({ "name": name, "nsp": nsp }));
        reply["id"].as_str().expect("a socket id").to_owned()
    }

    /// Emits `event` with `args` and returns the ack's first argument.
    #[track_caller]
    pub fn ack(&mut self, name: &str, event: &str, args: Value) -> Value {
        let reply = self.call(
            "emit",
            json!({ "name": name, "event": event, "args": args, "ack": true }),
        );
        reply[0].clone()
    }

    /// The `data` (first argument) of every `event` socket `name` received, in order.
    #[track_caller]
    pub fn received(&mut self, name: &str, event: &str) -> Vec<Value> {
        let events = self.call("events", json!({ "name": name, "event": event }));
        events
            .as_array()
            .expect("a list of events")
            .iter()
            .map(|e| e["args"][0].clone())
            .collect()
    }

    /// How many `event` each named socket received.
    #[track_caller]
    pub fn counts(
        &mut self,
        names: &[String],
        event: &str,
    ) -> std::collections::HashMap<String, u64> {
        let counts = self.call("counts", json!({ "names": names, "event": event }));
        counts
            .as_object()
            .expect("counts by name")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
            .collect()
    }

    /// Waits until every named socket received `event` at least `n` times.
    #[track_caller]
    pub fn wait_counts(&mut self, names: &[String], event: &str, n: u64) {
        let deadline = std::time::Instant::now() + DRIVER_TIMEOUT;
        loop {
            let counts = self.counts(names, event);
            let short: Vec<_> = counts.iter().filter(|(_, c)| **c < n).collect();
            if short.is_empty() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} driver: {} sockets still have fewer than {n} {event}: {short:?}",
                self.name,
                short.len()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Closing stdin makes the driver disconnect its sockets and leave.
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
