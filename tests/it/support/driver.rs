//! A real Socket.IO client (Node `socket.io-client` or `python-socketio`) in its own
//! process, driven line by line over stdin and stdout (tests/clients/node/hub/driver.mjs,
//! tests/clients/python/hub_driver.py).

use std::time::Duration;

use serde_json::{json, Value};
use siohub::server::BackgroundServer;
use siohub_actors::Target;

use super::clients;
use super::hub_state::hub_broadcast;

/// How long one driver command may take before the test fails.
pub const DRIVER_TIMEOUT: Duration = Duration::from_secs(60);

/// The transport a driver's sockets use unless a command names others: the hub scenarios
/// run once on each (`on_each_transport!`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A websocket from the start (the drivers' default).
    WebSocket,
    /// HTTP long-polling only, never upgraded.
    Polling,
}

impl Transport {
    /// The transport's name, as the clients' `transports` option spells it.
    pub fn name(self) -> &'static str {
        match self {
            Transport::WebSocket => "websocket",
            Transport::Polling => "polling",
        }
    }
}

/// Declares each `fn name(transport: Transport)` a hub scenario run on both transports:
/// the tests `name::websocket` and `name::polling`.
#[macro_export]
macro_rules! on_each_transport {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn websocket() {
                    super::$name($crate::support::driver::Transport::WebSocket)
                }

                #[test]
                fn polling() {
                    super::$name($crate::support::driver::Transport::Polling)
                }
            }
        )+
    };
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
        let mut cmd = clients::node("hub/driver.mjs");
        cmd.arg(server.url());
        Self::spawn("node", cmd)
    }

    /// Starts the socket.io-client driver against `server`, its sockets on `transport`.
    pub fn node_on(server: &BackgroundServer, transport: Transport) -> Driver {
        let mut cmd = clients::node("hub/driver.mjs");
        cmd.arg(server.url())
            .env("SIOHUB_DRIVER_TRANSPORTS", transport.name());
        Self::spawn("node", cmd)
    }

    /// Starts the python-socketio driver against `server`, its sockets on `transport`.
    pub fn python_on(server: &BackgroundServer, transport: Transport) -> Driver {
        let mut cmd = clients::python("hub_driver.py");
        cmd.arg(server.url())
            .env("SIOHUB_DRIVER_TRANSPORTS", transport.name());
        Self::spawn("python", cmd)
    }

    /// Starts the socket.io-client driver against the server at `url` (another siohub
    /// node's, or a Node.js server's).
    pub fn node_at(url: &str) -> Driver {
        let mut cmd = clients::node("hub/driver.mjs");
        cmd.arg(url);
        Self::spawn("node", cmd)
    }

    /// Starts the socket.io-client driver against `server` with socket.io-msgpack-parser
    /// on every socket (the hub must run `[server] parser = "msgpack"`).
    pub fn node_msgpack(server: &BackgroundServer) -> Driver {
        let mut cmd = clients::node("hub/driver.mjs");
        cmd.arg(server.url()).env("SIOHUB_DRIVER_PARSER", "msgpack");
        Self::spawn("node msgpack", cmd)
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

    /// Waits until the named socket is connected and has connected at least `connects`
    /// times (it reconnected); answers its state.
    #[track_caller]
    pub fn wait_connects(&mut self, name: &str, connects: usize) -> Value {
        let deadline = std::time::Instant::now() + DRIVER_TIMEOUT;
        loop {
            let state = self.call("state", json!({ "name": name }));
            let seen = state["connects"].as_array().map_or(0, Vec::len);
            if state["connected"] == true && seen >= connects {
                return state;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name} did not connect {connects} times: {state}"
            );
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
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
        await_exit(&mut self.child);
    }
}

/// Sends a namespace-wide `sync<round>` from the server and waits until every one of
/// `names` (the driver's sockets in `nsp`, and no others) got it. A session delivers in
/// order, so by then every earlier event has arrived (or never will): what a socket did not
/// get is checked without sleeping.
#[track_caller]
pub fn settle(
    server: &BackgroundServer,
    d: &mut Driver,
    nsp: &str,
    names: &[impl AsRef<str>],
    round: u64,
) {
    let names: Vec<String> = names.iter().map(|n| n.as_ref().to_owned()).collect();
    let event = format!("sync{round}");
    let out = hub_broadcast(server, Target::namespace(nsp), &event, json!(round));
    assert_eq!(out.recipients, names.len(), "{event} recipients");
    d.wait_counts(&names, &event, 1);
}

/// Waits up to 3 s for a Node script whose stdin was closed to leave, then kills it.
pub fn await_exit(child: &mut std::process::Child) {
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
