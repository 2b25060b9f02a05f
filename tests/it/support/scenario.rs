//! The scenario server (the contract in tests/clients/README.md) with a record of what it
//! saw, and its start.

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

/// Starts the scenario server; returns it with its records.
pub fn start_scenario_server(settings: Settings) -> (BackgroundServer, Records) {
    let records = Records::default();
    let app = Application::SocketIo(Arc::new(scenario_namespaces(&records)));
    let server = BackgroundServer::start(settings, app).expect("the scenario server starts");
    (server, records)
}
