//! The socketioxide peer of the siohub benchmark.
//!
//! A plain socketioxide server (default settings, in-memory adapter) that gives clients the
//! same built-in events as siohub's hub (SPEC §2), so the load generator drives all servers
//! with identical traffic:
//! - `join` `"room"` | `{"room":..}` → joins, ack `{"ok":true,"room":..}`
//! - `leave` `"room"` | `{"room":..}` → leaves, ack `{"ok":true,"room":..}`
//! - `publish` `{"room","event","data","echo"?}` → emits `event` with `data` to the room
//!   (sender excluded unless `echo`), ack `{"ok":true,"recipients":N}`
//! - `ping` → ack `{"server_time":ms}` (or emits `pong` without an ack)
//!
//! The handlers are registered before socketioxide acknowledges the CONNECT (see `serve`),
//! and a publish whose broadcast overflowed some sockets' buffers reports how many in
//! `"dropped"` (socketioxide itself only returns them as an error to the emitter).
//!
//! With `REDIS_URL` set (`redis://127.0.0.1:6379`), the peer runs on socketioxide-redis's
//! adapter with its default settings (prefix `socket.io`; RESP3 is asked for, as the crate
//! requires), so several peers on one Redis form a cluster (the benchmark's `cluster`
//! scenario). A publish's `recipients` then counts this node's room members only, as Node's
//! peer does.
//!
//! With `PARSER=msgpack`, the peer speaks socket.io-msgpack-parser's wire format
//! (socketioxide's `msgpack` feature, `ParserConfig::msgpack()`), as siohub with
//! `[server] parser = "msgpack"` (the benchmark's `msgpack` scenario). socketioxide has no
//! permessage-deflate (its websockets are tokio-tungstenite's, which has none): the peer
//! never compresses, whatever the client offers.
//!
//! `POST /api/v1/emit` `{"rooms","event","data"}` (the body of siohub's HTTP API; `rooms` a
//! string or a list) with `Authorization: Bearer <API_KEY>` (`API_KEY`, default `bench-key`)
//! emits `event` with `data` to the rooms from an axum handler (`io.to(rooms).emit`) and
//! answers `{"recipients":N}`, the rooms' member count (the benchmark's `push` scenario). A
//! wrong key gets 401, a bad body 400.
//!
//! Usage: `[REDIS_URL=..] [PARSER=msgpack] socketioxide-peer <port>`; listens on 127.0.0.1,
//! path `/socket.io/`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::handler::FromMessageParts;
use socketioxide::socket::Socket;
use socketioxide::{BroadcastError, ParserConfig, SocketIo, SocketIoBuilder};
use socketioxide_redis::{RedisAdapter, RedisAdapterCtr};

/// Whether the client asked for an ack (socketioxide's `AckSender` does not say).
struct AckWanted(bool);

impl<A: Adapter> FromMessageParts<A> for AckWanted {
    type Error = std::convert::Infallible;
    fn from_message_parts(
        _: &Arc<Socket<A>>,
        _: &mut socketioxide::handler::Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Self::Error> {
        Ok(AckWanted(ack_id.is_some()))
    }
}

/// Members per room, kept beside socketioxide's own adapter so a publish can report its
/// recipient count in O(1) (as Node's `adapter.rooms.get(room).size` does), without
/// collecting the room's sockets on every publish.
#[derive(Default)]
struct RoomSizes(Mutex<HashMap<String, usize>>);

impl RoomSizes {
    fn add(&self, room: &str) {
        *self.0.lock().unwrap().entry(room.to_owned()).or_default() += 1;
    }
    fn remove(&self, room: &str) {
        let mut map = self.0.lock().unwrap();
        if let Some(n) = map.get_mut(room) {
            *n -= 1;
            if *n == 0 {
                map.remove(room);
            }
        }
    }
    fn size(&self, room: &str) -> usize {
        self.0.lock().unwrap().get(room).copied().unwrap_or(0)
    }
}

fn error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

/// The room named by a `join`/`leave` payload: `"room"` or `{"room": "..."}`.
fn room_of(payload: &Value) -> Option<String> {
    match payload {
        Value::String(room) => Some(room.clone()),
        Value::Object(map) => map.get("room")?.as_str().map(str::to_owned),
        _ => None,
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn on_connect<A: Adapter>(socket: SocketRef<A>, sizes: Arc<RoomSizes>) {
    // Rooms this socket joined, to keep `RoomSizes` right when it leaves or disconnects.
    let joined: Arc<Mutex<HashSet<String>>> = Arc::default();

    let (sz, mine) = (sizes.clone(), joined.clone());
    socket.on(
        "join",
        move |s: SocketRef<A>, TryData::<Value>(data), ack: AckSender<A>| async move {
            let reply = match data.ok().as_ref().and_then(room_of) {
                Some(room) => {
                    if mine.lock().unwrap().insert(room.clone()) {
                        s.join(room.clone());
                        sz.add(&room);
                    }
                    json!({"ok": true, "room": room})
                }
                None => error("INVALID_PAYLOAD", "join expects \"room\" or {\"room\":..}"),
            };
            ack.send(&reply).ok();
        },
    );

    let (sz, mine) = (sizes.clone(), joined.clone());
    socket.on(
        "leave",
        move |s: SocketRef<A>, TryData::<Value>(data), ack: AckSender<A>| async move {
            let reply = match data.ok().as_ref().and_then(room_of) {
                Some(room) => {
                    if mine.lock().unwrap().remove(&room) {
                        s.leave(room.clone());
                        sz.remove(&room);
                    }
                    json!({"ok": true, "room": room})
                }
                None => error("INVALID_PAYLOAD", "leave expects \"room\" or {\"room\":..}"),
            };
            ack.send(&reply).ok();
        },
    );

    let (sz, mine) = (sizes.clone(), joined.clone());
    socket.on(
        "publish",
        move |s: SocketRef<A>, TryData::<Value>(data), ack: AckSender<A>| {
            async move {
                let msg = data.unwrap_or(Value::Null);
                let room = msg.get("room").and_then(Value::as_str);
                let event = msg.get("event").and_then(Value::as_str);
                let (Some(room), Some(event)) = (room, event) else {
                    let e = error("INVALID_PAYLOAD", "publish expects {room, event, data}");
                    ack.send(&e).ok();
                    return;
                };
                let echo = msg.get("echo").and_then(Value::as_bool).unwrap_or(false);
                let payload = msg.get("data").unwrap_or(&Value::Null);
                let mut recipients = sz.size(room);
                let sent = if echo {
                    s.within(room.to_owned()).emit(event, payload).await
                } else {
                    if mine.lock().unwrap().contains(room) {
                        recipients -= 1;
                    }
                    s.to(room.to_owned()).emit(event, payload).await
                };
                // socketioxide drops a packet for a socket whose buffer is full and lists
                // those sockets in the error; the ack reports them instead of failing.
                let reply = match sent {
                    Ok(()) => json!({"ok": true, "recipients": recipients}),
                    Err(BroadcastError::Socket(failed)) => json!({
                        "ok": true,
                        "recipients": recipients.saturating_sub(failed.len()),
                        "dropped": failed.len(),
                    }),
                    Err(e) => error("INTERNAL_ERROR", &e.to_string()),
                };
                ack.send(&reply).ok();
            }
        },
    );

    socket.on(
        "ping",
        async |s: SocketRef<A>, AckWanted(wanted), ack: AckSender<A>| {
            let reply = json!({"server_time": now_ms()});
            // An ack when the client asked for one, else a `pong` event (SPEC §2).
            if wanted {
                ack.send(&reply).ok();
            } else {
                s.emit("pong", &reply).ok();
            }
        },
    );

    socket.on_disconnect(move || async move {
        for room in joined.lock().unwrap().drain() {
            sizes.remove(&room);
        }
    });
}

/// What the `/api/v1/emit` handler needs.
struct Api<A: Adapter> {
    io: SocketIo<A>,
    sizes: Arc<RoomSizes>,
    /// `Bearer <API_KEY>`.
    auth: String,
}

/// `POST /api/v1/emit`: the backend's push, as server code does it.
async fn emit<A: Adapter>(
    axum::extract::State(api): axum::extract::State<Arc<Api<A>>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    use axum::http::StatusCode;
    let key = headers.get("authorization").and_then(|v| v.to_str().ok());
    if key != Some(api.auth.as_str()) {
        let e = error("UNAUTHORIZED", "bad API key");
        return (StatusCode::UNAUTHORIZED, axum::Json(e));
    }
    let msg: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let rooms: Option<Vec<String>> = match msg.get("rooms") {
        Some(Value::String(room)) => Some(vec![room.clone()]),
        Some(Value::Array(list)) => list.iter().map(|r| r.as_str().map(str::to_owned)).collect(),
        _ => None,
    };
    let (Some(rooms), Some(event)) = (rooms, msg.get("event").and_then(Value::as_str)) else {
        let e = error("INVALID_PAYLOAD", "emit expects {rooms, event, data}");
        return (StatusCode::BAD_REQUEST, axum::Json(e));
    };
    let recipients: usize = rooms.iter().map(|r| api.sizes.size(r)).sum();
    let data = msg.get("data").unwrap_or(&Value::Null);
    match api.io.to(rooms).emit(event, data).await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(json!({"recipients": recipients})),
        ),
        Err(BroadcastError::Socket(failed)) => (
            StatusCode::OK,
            axum::Json(json!({
                "recipients": recipients.saturating_sub(failed.len()),
                "dropped": failed.len(),
            })),
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(error("INTERNAL_ERROR", &e.to_string())),
        ),
    }
}

/// The app: the `/api/v1/emit` route, under socketioxide's layer (which serves
/// `/socket.io/` and passes the rest on).
fn app<A: Adapter>(
    io: SocketIo<A>,
    sizes: Arc<RoomSizes>,
    layer: socketioxide::layer::SocketIoLayer<A>,
) -> axum::Router {
    let key = std::env::var("API_KEY").unwrap_or_else(|_| "bench-key".to_owned());
    let api = Arc::new(Api {
        io,
        sizes,
        auth: format!("Bearer {key}"),
    });
    axum::Router::new()
        .route("/api/v1/emit", axum::routing::post(emit::<A>))
        .with_state(api)
        .layer(layer)
}

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(serve(port));
}

/// The connect middleware that registers the handlers: socketioxide sends the CONNECT ack
/// before it spawns the connect handler, so handlers registered there can miss an event the
/// client emits right after connecting (it is dropped, unanswered). Middlewares run before
/// the CONNECT ack.
fn register<A: Adapter>(
    sizes: Arc<RoomSizes>,
) -> impl Fn(SocketRef<A>) -> std::future::Ready<Result<(), std::convert::Infallible>>
       + Clone
       + Send
       + Sync
       + 'static {
    move |s: SocketRef<A>| {
        on_connect(s, sizes.clone());
        std::future::ready(Ok(()))
    }
}

/// A builder with the parser `PARSER` names: `msgpack`, or the default (JSON) otherwise.
fn builder<A: Adapter>(b: SocketIoBuilder<A>) -> SocketIoBuilder<A> {
    match std::env::var("PARSER").as_deref() {
        Ok("msgpack") => {
            eprintln!("socketioxide peer with the msgpack parser");
            b.with_parser(ParserConfig::msgpack())
        }
        _ => b,
    }
}

async fn serve(port: u16) {
    let sizes = Arc::new(RoomSizes::default());
    let app = match std::env::var("REDIS_URL") {
        Ok(url) => {
            // socketioxide-redis's drivers speak RESP3 (Redis 7+) and say so in the URL.
            let sep = if url.contains('?') { '&' } else { '?' };
            let client = redis::Client::open(format!("{url}{sep}protocol=resp3"))
                .unwrap_or_else(|e| panic!("REDIS_URL {url}: {e}"));
            let adapter = RedisAdapterCtr::new_with_redis(&client)
                .await
                .unwrap_or_else(|e| panic!("redis at {url}: {e}"));
            let (layer, io) =
                builder(SocketIo::builder().with_adapter::<RedisAdapter<_>>(adapter)).build_layer();
            io.ns("/", (async || {}).with(register(sizes.clone())))
                .await
                .unwrap_or_else(|e| panic!("redis adapter for /: {e}"));
            eprintln!("socketioxide peer on the redis adapter at {url}");
            app(io, sizes, layer)
        }
        Err(_) => {
            let (layer, io) = builder(SocketIo::builder()).build_layer();
            io.ns("/", (async || {}).with(register(sizes.clone())));
            app(io, sizes, layer)
        }
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("bind 127.0.0.1:{port}: {e}"));
    eprintln!("socketioxide peer listening on http://127.0.0.1:{port}/socket.io/");
    axum::serve(listener, app).await.expect("serve");
}
