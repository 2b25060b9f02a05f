//! The backend HTTP API, `/api/v1/*` (SPEC §3): its routes behind the API-key guard, its
//! shared state, and what every endpoint needs — a bounded JSON body, a served namespace,
//! and socket selections (`sids`, `users`, `rooms`).
//!
//! | route | body / query | answer |
//! |---|---|---|
//! | `POST /api/v1/emit` | `{namespace?, rooms?, users?, sids?, except?, event, data?, args?, ack?, timeout_ms?, volatile?, id?}` | `{"recipients":N}`; with acks `{"recipients","acks","timeouts"}` or an SSE stream |
//! | `GET /api/v1/rooms` | `?namespace=/` | `{"namespace","rooms":[{"name","members"}]}` |
//! | `GET /api/v1/rooms/{room}` | `?namespace=/` | `{"namespace","room","members":[{"sid","user"}]}`, 404 if empty |
//! | `GET /api/v1/rooms/{room}/presence` | `?namespace=/&cursor=&limit=` | `{"namespace","room","count","members":[{"sid","user"}],"next_cursor"?}`, 404 if empty |
//! | `GET /api/v1/rooms/{room}/history` | `?namespace=/&since=&limit=` | `{"namespace","room","events":[{"offset","event","data"}],"complete","more"}`, 404 if the room keeps none |
//! | `POST /api/v1/rooms/{room}/join`, `/leave` | `{namespace?, sids?, users?, rooms?}` | `{"affected":N}` |
//! | `POST /api/v1/disconnect` | `{namespace?, sids?, users?, rooms?, close?}` | `{"disconnected":N}` |
//! | `GET /api/v1/sse` | `?namespace=/&rooms=a,b` | `text/event-stream` of the events sent there |
//! | `GET /api/v1/users/{user}/subscriptions` | `?namespace=` | `{"user","subscriptions":[{"namespace","room","options","since_ms"}],"max_rooms_per_user"}` (durable subscriptions) |
//!
//! With the Redis adapter the rooms, join / leave and disconnect routes cover every node
//! of the cluster (see `rooms`, `disconnect` and [`super::cluster_scope`]).
//!
//! Every error is JSON `{code,message}`: 400 `INVALID_PAYLOAD`, 401 `UNAUTHORIZED`,
//! 404 `NOT_FOUND`, 405 `METHOD_NOT_ALLOWED`, 413 `PAYLOAD_TOO_LARGE`, 503 `UNAVAILABLE`.

use std::sync::atomic::AtomicUsize;

use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{web, HttpRequest};
use futures::StreamExt;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use siohub_actors::{Application, Recipients, Target, Unavailable};

use super::keys::{require_key, KeyRing};
use super::operators::OperatorAccess;
use super::{disconnect, emit, history, presence, rooms, sse, subscriptions, ApiError};
use crate::config::{AdminSettings, ApiSettings};
use crate::state::AppState;

/// What the API handlers share: the settings, the keys, the admin login of the operators'
/// routes, and the SSE subscriber count.
#[derive(Debug)]
pub struct ApiState {
    /// `[api]`.
    pub settings: ApiSettings,
    /// The keys that open the API (and the operators' routes).
    pub keys: KeyRing,
    /// The `[admin]` login, which also opens the operators' routes.
    pub operators: OperatorAccess,
    /// SSE subscribers connected now.
    pub sse_subscribers: AtomicUsize,
}

impl ApiState {
    /// The state of an API configured by `settings`, with `admin`'s login for operators.
    pub fn new(settings: &ApiSettings, admin: &AdminSettings) -> Self {
        ApiState {
            settings: settings.clone(),
            keys: KeyRing::new(&settings.keys, settings.insecure),
            operators: OperatorAccess::new(admin),
            sse_subscribers: AtomicUsize::new(0),
        }
    }
}

/// Mounts `/api` (the app must carry a `web::Data<ApiState>`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api")
            .wrap(from_fn(require_key))
            .service(post("/v1/emit", emit::emit))
            .service(get("/v1/rooms", rooms::list))
            .service(get("/v1/rooms/{room}", rooms::show))
            .service(get("/v1/rooms/{room}/presence", presence::show))
            .service(get("/v1/rooms/{room}/history", history::show))
            .service(post("/v1/rooms/{room}/join", rooms::join))
            .service(post("/v1/rooms/{room}/leave", rooms::leave))
            .service(post("/v1/disconnect", disconnect::disconnect))
            .service(get("/v1/sse", sse::subscribe))
            .service(get("/v1/users/{user}/subscriptions", subscriptions::list))
            .default_service(web::to(|req: HttpRequest| async move {
                Err::<actix_web::HttpResponse, _>(ApiError::not_found(format!(
                    "no API route {} {}",
                    req.method(),
                    req.path()
                )))
            })),
    );
}

fn post<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::post().to(handler))
        .default_service(web::to(|| async { wrong_method("POST") }))
}

fn get<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler))
        .default_service(web::to(|| async { wrong_method("GET") }))
}

fn wrong_method(allowed: &str) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::method_not_allowed(format!(
        "this route answers {allowed} only"
    )))
}

/// Reads a JSON body of at most `limit` bytes (413 above it, 400 if it is not the JSON
/// expected).
pub async fn read_json<T: DeserializeOwned>(
    req: &HttpRequest,
    mut body: web::Payload,
    limit: usize,
) -> Result<T, ApiError> {
    let too_large = || {
        ApiError::too_large(format!(
            "the body is larger than api.max_body_bytes ({limit} bytes)"
        ))
    };
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::invalid(format!("the body could not be read: {e}")))?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    if bytes.is_empty() {
        return Err(ApiError::invalid("a JSON object body is required"));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::invalid(format!("the body is not the JSON this route takes: {e}")))
}

/// Parses the query string (400 if it does not fit).
pub fn read_query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    web::Query::<T>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| ApiError::invalid(format!("bad query string: {e}")))
}

/// 404 unless the server serves namespace `nsp`.
pub fn check_namespace(engine: &AppState, nsp: &str) -> Result<(), ApiError> {
    let served = match &engine.app {
        Application::SocketIo(namespaces) => {
            nsp.starts_with('/') && namespaces.resolve(nsp).is_some()
        }
        Application::EngineEcho => false,
    };
    if served {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "namespace {nsp:?} is not served here (see [[namespaces]])"
        )))
    }
}

/// 400 unless `room` is a usable room name.
pub fn check_room(room: &str) -> Result<(), ApiError> {
    if room.is_empty() || room.len() > 256 {
        return Err(ApiError::invalid(format!(
            "a room name is 1 to 256 bytes, not {room:?}"
        )));
    }
    Ok(())
}

/// The hub's failure as a 503.
pub fn unavailable(e: Unavailable) -> ApiError {
    ApiError::unavailable(format!("{e}; try again"))
}

/// The default namespace.
pub fn root_namespace() -> String {
    "/".into()
}

/// A list given as one string or number, a list of them, or `null`.
pub fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let item = |v: Value| match v {
        Value::String(s) if !s.is_empty() => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(D::Error::custom(
            "expected a non-empty string or a list of them",
        )),
    };
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items.into_iter().map(item).collect(),
        other => item(other).map(|one| vec![one]),
    }
}

/// The sockets of namespace `nsp` named by `socket_ids`, `users` and `rooms` (their union):
/// the target, and this node's sockets with their sessions: 404 for a namespace not
/// served, 400 when no selector is given (so that a forgotten selector never means the
/// whole namespace), 503 if the hub is away.
pub async fn selected_sockets(
    engine: &AppState,
    nsp: String,
    socket_ids: Vec<String>,
    users: Vec<String>,
    rooms: Vec<String>,
) -> Result<(Target, Recipients), ApiError> {
    check_namespace(engine, &nsp)?;
    if socket_ids.is_empty() && users.is_empty() && rooms.is_empty() {
        return Err(ApiError::invalid(
            "name the sockets: \"sids\", \"users\" or \"rooms\" (a string or a list)",
        ));
    }
    for room in &rooms {
        check_room(room)?;
    }
    let target = Target {
        nsp,
        rooms,
        users,
        socket_ids,
        ..Target::default()
    };
    let sockets = engine.hub.resolve(&target);
    Ok((target, sockets))
}

/// Whether the client asked for Server-Sent Events.
pub fn wants_event_stream(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

/// A `text/event-stream` response around `body`.
pub fn event_stream<S>(body: S) -> actix_web::HttpResponse
where
    S: futures::Stream<Item = Result<web::Bytes, actix_web::Error>> + 'static,
{
    actix_web::HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Proxies such as nginx would otherwise hold events back.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body)
}

/// One SSE chunk: `event: <name>` and `data: <json>`.
pub fn sse_event(name: &str, data: &Value) -> web::Bytes {
    web::Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}
