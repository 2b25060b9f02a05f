//! Helpers for the actor-level tests: a hub on an actix System, and clients that drive a
//! polling session through the messages the HTTP transport sends it.

#![allow(dead_code)]

pub mod read_lock;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use actix::Addr;
use serde_json::Value;
use siohub_actors::messages::{BeginPost, EndPost, Poll, PollOutcome};
use siohub_actors::{
    Application, Broadcast, DeliveryPolicies, DeliveryPolicy, EngineConfig, HandshakeInfo,
    HeaderList, Hub, Namespaces, Payload, Session, SessionParams, Socket, Target,
};
use siohub_protocol::{decode_payload, EnginePacket};

/// How long a test waits for anything before it fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A hub whose every namespace has `policy`.
pub fn hub(policy: DeliveryPolicy) -> Hub {
    Hub::start(DeliveryPolicies::new(policy))
}

/// The sockets the namespace's connect handler saw, newest last.
#[derive(Clone, Default)]
pub struct Sockets(Arc<Mutex<Vec<Socket>>>);

impl Sockets {
    /// The newest socket.
    pub fn last(&self) -> Socket {
        self.0
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a socket connected")
    }
}

/// Namespace `/` that records its sockets, with an optional user set by its middleware.
pub fn namespaces(sockets: &Sockets, user: Option<&str>) -> Namespaces {
    let sockets = sockets.clone();
    let user = user.map(str::to_owned);
    Namespaces::new().add("/", move |n| {
        let n = n.on_connect(move |socket, _| sockets.0.lock().unwrap().push(socket.clone()));
        match user {
            Some(user) => n.middleware(move |req| {
                let user = user.clone();
                async move {
                    req.data
                        .lock()
                        .unwrap()
                        .insert("user".into(), Value::String(user));
                    Ok(())
                }
            }),
            None => n,
        }
    })
}

/// One Engine.IO client on polling.
pub struct Client {
    /// The Engine.IO session id.
    pub sid: Arc<str>,
    pub session: Addr<Session>,
    /// Socket.IO packets received and not taken yet.
    pending: Vec<String>,
}

impl Client {
    /// Opens a session on `hub` serving `namespaces`.
    pub async fn open(hub: &Hub, namespaces: Namespaces) -> Client {
        let params = SessionParams {
            config: Arc::new(EngineConfig::default()),
            hub: hub.clone(),
            app: Application::SocketIo(Arc::new(namespaces)),
            handshake: Arc::new(HandshakeInfo {
                headers: HeaderList::default(),
                address: String::new(),
                url: "/socket.io/".into(),
                issued: SystemTime::now(),
                secure: false,
            }),
        };
        let started = Session::start_polling(params);
        started.registered.await.expect("registered");
        let (sid, session) = (started.sid, started.session);
        let mut client = Client {
            sid,
            session,
            pending: Vec::new(),
        };
        client.next_packets().await;
        client
    }

    /// Opens a session and connects to `/` with `auth`; returns the CONNECT reply's data.
    pub async fn connect(
        hub: &Hub,
        namespaces: Namespaces,
        auth: Option<Value>,
    ) -> (Client, Value) {
        let mut client = Self::open(hub, namespaces).await;
        let connect = match auth {
            Some(auth) => format!("0{auth}"),
            None => "0".to_owned(),
        };
        client.post(&[&connect]).await;
        let reply = client.next_matching(|p| p.starts_with('0')).await;
        let data = serde_json::from_str(&reply[1..]).expect("a CONNECT reply carries JSON");
        (client, data)
    }

    /// Sends Socket.IO packets (`0` for a CONNECT to `/`, …) in one POST.
    pub async fn post(&self, packets: &[&str]) {
        self.session.send(BeginPost).await.unwrap().unwrap();
        let packets: Vec<_> = packets
            .iter()
            .map(|p| EnginePacket::Message((*p).to_owned()))
            .collect();
        let bytes = siohub_protocol::encode_payload(&packets).len();
        let end = EndPost {
            packets: Ok(packets),
            bytes,
        };
        self.session.send(end).await.unwrap().unwrap();
    }

    /// The next polling body, as Socket.IO packets (pings answered and left out).
    async fn next_packets(&mut self) -> Vec<String> {
        let outcome = self.session.send(Poll).await.unwrap().unwrap();
        let body = match outcome {
            PollOutcome::Ready(body) => body,
            PollOutcome::Pending(rx) => {
                let body = tokio::time::timeout(PATIENCE, rx).await;
                body.expect("something arrives").expect("the session lives")
            }
        };
        let mut out = Vec::new();
        for packet in decode_payload(&body).unwrap() {
            match packet {
                EnginePacket::Message(text) => out.push(text),
                EnginePacket::Ping(_) => self.post_pong().await,
                _ => {}
            }
        }
        out
    }

    async fn post_pong(&self) {
        self.session.send(BeginPost).await.unwrap().unwrap();
        let end = EndPost {
            packets: Ok(vec![EnginePacket::Pong(String::new())]),
            bytes: 1,
        };
        self.session.send(end).await.unwrap().unwrap();
    }

    /// The next Socket.IO packet.
    pub async fn next(&mut self) -> String {
        while self.pending.is_empty() {
            self.pending = self.next_packets().await;
        }
        self.pending.remove(0)
    }

    /// The next packet `matches` accepts (earlier ones are dropped).
    pub async fn next_matching(&mut self, matches: impl Fn(&str) -> bool) -> String {
        loop {
            let packet = self.next().await;
            if matches(&packet) {
                return packet;
            }
        }
    }

    /// The first argument of the next `count` events named `event` (others are dropped).
    pub async fn events(&mut self, event: &str, count: usize) -> Vec<Value> {
        let mut out = Vec::new();
        while out.len() < count {
            let packet = self.next().await;
            if let Some((name, arg)) = event_of(&packet) {
                if name == event {
                    out.push(arg);
                }
            }
        }
        out
    }
}

/// The name and first argument of an event packet on `/`.
pub fn event_of(packet: &str) -> Option<(String, Value)> {
    let json = packet.strip_prefix('2')?;
    let Value::Array(mut items) = serde_json::from_str(json).ok()? else {
        return None;
    };
    let name = items.first()?.as_str()?.to_owned();
    let arg = items.drain(..).nth(1).unwrap_or(Value::Null);
    Some((name, arg))
}

/// An event with one argument to `target`.
pub fn event(target: Target, name: &str, arg: Value) -> Broadcast {
    Broadcast {
        target,
        event: name.to_owned(),
        payload: Payload::new(vec![arg]),
        volatile: false,
        dedupe_id: None,
    }
}

/// Room `room` of `/`.
pub fn room(room: &str) -> Target {
    Target {
        rooms: vec![room.to_owned()],
        ..Target::namespace("/")
    }
}
