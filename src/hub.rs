//! The hub's own namespaces: what a client can do with no server code. Every namespace of
//! the configuration gets the built-in events `join`, `leave`, `publish`, `ping` and
//! `request` (and its `forward`ed events go to the backend webhook), under its policy (who
//! may join and publish where: [`NamespacePolicy::publish_right`]), its per-socket rate
//! limit and its bound on events in flight per socket, written on the same [`Namespaces`]
//! API server code uses.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use siohub_actors::hub_messages::Broadcast;
use siohub_actors::{
    AckSender, Application, ConnectRefusal, JoinError, Namespace, Namespaces, Payload,
    RefusalReason, Socket, Target,
};

use crate::auth::{presented_token, JwtVerifier};
use crate::config::{AuthSettings, NamespacePolicy, Settings};
use crate::http_client::HttpClient;
use crate::limits::{EventRateLimiter, TaskLimiter, TaskPermit};
use crate::webhook::{self, Webhook};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The error codes of the built-in events (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubErrorCode {
    /// The namespace needs a valid token.
    AuthRequired,
    /// The policy does not allow this room or event.
    PermissionDenied,
    /// The payload does not have the documented shape.
    InvalidPayload,
    /// The event is over `max_event_bytes`.
    PayloadTooLarge,
    /// Too many events per second.
    RateLimitExceeded,
    /// The backend webhook could not be reached.
    BackendUnavailable,
    /// Something did not answer in time.
    Timeout,
    /// The hub failed; the client did nothing wrong.
    InternalError,
}

impl HubErrorCode {
    /// The code as clients see it.
    pub fn as_str(self) -> &'static str {
        match self {
            HubErrorCode::AuthRequired => "AUTH_REQUIRED",
            HubErrorCode::PermissionDenied => "PERMISSION_DENIED",
            HubErrorCode::InvalidPayload => "INVALID_PAYLOAD",
            HubErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            HubErrorCode::RateLimitExceeded => "RATE_LIMIT_EXCEEDED",
            HubErrorCode::BackendUnavailable => "BACKEND_UNAVAILABLE",
            HubErrorCode::Timeout => "TIMEOUT",
            HubErrorCode::InternalError => "INTERNAL_ERROR",
        }
    }
}

/// A refused built-in event: answered `{"error":{"code","message"}}` through the ack, and
/// logged once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubFailure {
    /// What kind of failure.
    pub code: HubErrorCode,
    /// What was wrong and what to do.
    pub message: String,
}

impl HubFailure {
    fn new(code: HubErrorCode, message: impl Into<String>) -> Self {
        HubFailure {
            code,
            message: message.into(),
        }
    }

    /// The ack body.
    pub fn to_json(&self) -> Value {
        json!({ "error": { "code": self.code.as_str(), "message": self.message } })
    }
}

/// Answers through the ack (when the client asked for one): the success body or the error
/// body. Errors are logged either way.
pub(crate) fn answer(
    socket: &Socket,
    event: &str,
    ack: Option<AckSender>,
    result: Result<Value, HubFailure>,
) {
    let body = match result {
        Ok(body) => body,
        Err(failure) => {
            siohub_actors::limited!(
                info,
                "socket {} on {}: {} refused: {} {}",
                socket.id(),
                siohub_actors::ClientText(socket.nsp()),
                siohub_actors::ClientText(event),
                failure.code.as_str(),
                siohub_actors::ClientText(&failure.message)
            );
            failure.to_json()
        }
    };
    if let Some(ack) = ack {
        ack.send_json(json!([body]));
    }
}

/// The room named by a `join`/`leave` payload: `"room"` or `{"room": "room"}`.
fn room_of(payload: &Payload) -> Result<String, HubFailure> {
    let room = match payload.args.first() {
        Some(Value::String(room)) => room.clone(),
        Some(Value::Object(obj)) => match obj.get("room") {
            Some(Value::String(room)) => room.clone(),
            _ => return Err(invalid("expected {\"room\": \"<name>\"}")),
        },
        _ => return Err(invalid("expected a room name or {\"room\": \"<name>\"}")),
    };
    check_room_name(&room)?;
    Ok(room)
}

fn check_room_name(room: &str) -> Result<(), HubFailure> {
    if room.is_empty() || room.len() > 256 {
        return Err(invalid("a room name is 1 to 256 characters"));
    }
    Ok(())
}

fn invalid(message: &str) -> HubFailure {
    HubFailure::new(HubErrorCode::InvalidPayload, message)
}

/// The roles of a socket (set by authentication as `data.roles`).
pub fn roles_of(socket: &Socket) -> Vec<String> {
    match socket.data("roles") {
        Some(Value::Array(roles)) => roles
            .into_iter()
            .filter_map(|r| r.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// Refuses a `join` or `publish` the policy does not allow, counted.
fn denied(socket: &Socket, message: String) -> HubFailure {
    socket
        .hub()
        .counters()
        .refused(siohub_actors::RefusalReason::RoomDenied);
    HubFailure::new(HubErrorCode::PermissionDenied, message)
}

fn on_join(
    policy: &NamespacePolicy,
    socket: &Socket,
    payload: Payload,
    ack: Option<AckSender>,
    permit: TaskPermit,
) {
    let room = match room_of(&payload) {
        Ok(room) => room,
        Err(e) => return answer(socket, "join", ack, Err(e)),
    };
    if !policy.may_join(&room, &roles_of(socket)) {
        let refusal = denied(
            socket,
            format!(
                "joining room {room:?} is not allowed in namespace {}",
                socket.nsp()
            ),
        );
        return answer(socket, "join", ack, Err(refusal));
    }
    // Runs inside the socket's session: the join and the ack are applied there, not sent
    // to it as messages.
    let session = socket.clone();
    let socket = socket.clone();
    session.run_in_session(async move {
        let _permit = permit;
        let result = match socket.join(&room).await {
            Ok(replayed) => Ok(json!({ "ok": true, "room": room, "replayed": replayed })),
            Err(e @ JoinError::TooManyRooms { .. }) => Err(HubFailure::new(
                HubErrorCode::RateLimitExceeded,
                e.to_string(),
            )),
            Err(e) => Err(HubFailure::new(HubErrorCode::InternalError, e.to_string())),
        };
        answer(&socket, "join", ack, result);
    });
}

fn on_leave(socket: &Socket, payload: Payload, ack: Option<AckSender>, permit: TaskPermit) {
    let room = match room_of(&payload) {
        Ok(room) => room,
        Err(e) => return answer(socket, "leave", ack, Err(e)),
    };
    let session = socket.clone();
    let socket = socket.clone();
    session.run_in_session(async move {
        let _permit = permit;
        let result = match socket.leave(&room).await {
            Ok(()) => Ok(json!({ "ok": true, "room": room })),
            Err(e) => Err(HubFailure::new(HubErrorCode::InternalError, e.to_string())),
        };
        answer(&socket, "leave", ack, result);
    });
}

/// A checked `publish` request.
struct Publish {
    room: String,
    event: String,
    data: Value,
    echo: bool,
    id: Option<String>,
}

fn parse_publish(policy: &NamespacePolicy, payload: &Payload) -> Result<Publish, HubFailure> {
    if !payload.attachments.is_empty() {
        return Err(invalid(
            "publish carries JSON only; send binary with your own events",
        ));
    }
    let Some(Value::Object(body)) = payload.args.first() else {
        return Err(invalid("expected {\"room\", \"event\", \"data\"}"));
    };
    let size = payload.args[0].to_string().len();
    if size > policy.max_event_bytes {
        return Err(HubFailure::new(
            HubErrorCode::PayloadTooLarge,
            format!(
                "the event is {size} bytes; the limit is {}",
                policy.max_event_bytes
            ),
        ));
    }
    let room = match body.get("room") {
        Some(Value::String(room)) => room.clone(),
        _ => return Err(invalid("publish needs a \"room\" string")),
    };
    check_room_name(&room)?;
    let event = match body.get("event") {
        Some(Value::String(event)) if !event.is_empty() => event.clone(),
        _ => return Err(invalid("publish needs a non-empty \"event\" string")),
    };
    if siohub_protocol::RESERVED_EVENTS.contains(&event.as_str()) {
        return Err(invalid("that event name is reserved by Socket.IO"));
    }
    let id = match body.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err(invalid("\"id\" is a string or a number")),
    };
    Ok(Publish {
        room,
        event,
        data: body.get("data").cloned().unwrap_or(Value::Null),
        echo: body.get("echo") == Some(&Value::Bool(true)),
        id,
    })
}

fn on_publish(
    policy: &NamespacePolicy,
    socket: &Socket,
    payload: Payload,
    ack: Option<AckSender>,
    permit: TaskPermit,
) {
    let publish = match parse_publish(policy, &payload) {
        Ok(p) => p,
        Err(e) => {
            if e.code == HubErrorCode::PayloadTooLarge {
                let counters = socket.hub().counters();
                counters.refused(siohub_actors::RefusalReason::EventTooLarge);
            }
            return answer(socket, "publish", ack, Err(e));
        }
    };
    if let Err(why) = policy.publish_right(&publish.room, &roles_of(socket)) {
        let refusal = denied(
            socket,
            format!(
                "publishing to room {:?} is not allowed in namespace {}: {}",
                publish.room,
                socket.nsp(),
                why.explain()
            ),
        );
        return answer(socket, "publish", ack, Err(refusal));
    }
    let target = Target {
        rooms: vec![publish.room],
        except_socket_ids: if publish.echo {
            vec![]
        } else {
            vec![socket.id().to_owned()]
        },
        ..Target::namespace(socket.nsp())
    };
    let broadcast = Broadcast {
        target,
        event: publish.event,
        payload: Payload::new(vec![publish.data]),
        volatile: false,
        dedupe_id: publish.id,
    };
    // The ack goes out from inside the session once the Broadcaster answered.
    let session = socket.clone();
    let socket = socket.clone();
    session.run_in_session(async move {
        let _permit = permit;
        let result = match socket.hub().broadcast(broadcast).await {
            Ok(outcome) if outcome.duplicate => {
                Ok(json!({ "ok": true, "recipients": 0, "duplicate": true }))
            }
            Ok(outcome) => Ok(json!({ "ok": true, "recipients": outcome.recipients })),
            Err(e) => Err(HubFailure::new(HubErrorCode::InternalError, e.to_string())),
        };
        answer(&socket, "publish", ack, result);
    });
}

fn on_ping(socket: &Socket, _payload: Payload, ack: Option<AckSender>) {
    let reply = json!({ "server_time": now_ms() });
    match ack {
        Some(ack) => ack.send_json(json!([reply])),
        None => socket.emit("pong", json!([reply])),
    }
}

/// Adds token checking: a valid token sets `data.user` and `data.roles`; an invalid one,
/// or none where the policy requires one, refuses the CONNECT with `AUTH_REQUIRED`.
fn with_auth(ns: Namespace, verifier: Option<JwtVerifier>, required: bool) -> Namespace {
    if verifier.is_none() && !required {
        return ns;
    }
    ns.middleware(move |req| {
        let verifier = verifier.clone();
        async move {
            let refuse = |why: String| {
                siohub_actors::limited!(
                    info,
                    "CONNECT to {} refused: AUTH_REQUIRED ({})",
                    siohub_actors::ClientText(&req.nsp),
                    siohub_actors::ClientText(&why)
                );
                Err(
                    ConnectRefusal::new(HubErrorCode::AuthRequired.as_str()).with_data(
                        json!({ "code": HubErrorCode::AuthRequired.as_str(), "message": why }),
                    ),
                )
            };
            let token = presented_token(&req.auth, &req.handshake);
            match (token, verifier) {
                (Some(token), Some(verifier)) => match verifier.verify(&token, &req.counters).await
                {
                    Ok(identity) => {
                        let mut data = req.data.lock().unwrap_or_else(|e| e.into_inner());
                        data.insert("user".into(), json!(identity.user));
                        data.insert("roles".into(), json!(identity.roles));
                        Ok(())
                    }
                    Err(e) => {
                        req.counters.refused(RefusalReason::TokenInvalid);
                        refuse(format!("invalid token: {e}"))
                    }
                },
                _ if required => {
                    req.counters.refused(RefusalReason::TokenInvalid);
                    refuse("this namespace requires a valid token".into())
                }
                _ => Ok(()),
            }
        }
    })
}

/// Answers an event refused by a per-socket bound with `RATE_LIMIT_EXCEEDED` through its
/// ack, when it asked for one (the message is only made then).
fn over_limit(ack: Option<AckSender>, message: impl FnOnce() -> String) {
    if let Some(ack) = ack {
        let refusal = HubFailure::new(HubErrorCode::RateLimitExceeded, message());
        ack.send_json(json!([refusal.to_json()]));
    }
}

/// Registers `handler` for `event`, behind the socket's rate limit: over it, the event is
/// not processed, its ack says `RATE_LIMIT_EXCEEDED`, and it is counted.
fn on_limited(
    ns: Namespace,
    limiter: &Arc<EventRateLimiter>,
    event: &str,
    handler: impl Fn(&Socket, Payload, Option<AckSender>) + Send + Sync + 'static,
) -> Namespace {
    let limiter = limiter.clone();
    let name = event.to_owned();
    ns.on(event, move |socket, payload, ack| {
        if limiter.allow(socket.id()) {
            return handler(socket, payload, ack);
        }
        let counters = socket.hub().counters();
        counters.refused(siohub_actors::RefusalReason::EventRateLimited);
        log::debug!(
            "socket {} on {}: {} over the rate limit",
            socket.id(),
            siohub_actors::ClientText(socket.nsp()),
            siohub_actors::ClientText(&name)
        );
        over_limit(ack, || {
            format!(
                "more than {} events a second (rate_limit of namespace {}); slow down",
                limiter.per_s(),
                socket.nsp()
            )
        });
    })
}

/// Registers `handler` for `event`, behind the socket's rate limit and its bound on events
/// in flight: over the bound, nothing is started, the ack says `RATE_LIMIT_EXCEEDED`, and
/// it is counted. The handler holds the permit for as long as its task runs.
fn on_tasked(
    ns: Namespace,
    limiter: &Arc<EventRateLimiter>,
    tasks: &Arc<TaskLimiter>,
    event: &str,
    handler: impl Fn(&Socket, Payload, Option<AckSender>, TaskPermit) + Send + Sync + 'static,
) -> Namespace {
    let tasks = tasks.clone();
    on_limited(ns, limiter, event, move |socket, payload, ack| {
        if let Some(permit) = tasks.try_start(socket.id()) {
            return handler(socket, payload, ack, permit);
        }
        let counters = socket.hub().counters();
        counters.refused(siohub_actors::RefusalReason::SocketTasksFull);
        over_limit(ack, || {
            format!(
                "{} events of this socket are still being handled (max_tasks_per_socket of namespace {}); wait for their acks",
                tasks.max(),
                socket.nsp()
            )
        });
    })
}

/// Adds the built-in events of `policy` to a namespace, and its `forward`ed events (sent to
/// `webhook`), all behind the policy's per-socket rate limit; those that start a task
/// (everything but `ping`) also behind its `max_tasks_per_socket`.
pub fn with_builtins(ns: Namespace, policy: NamespacePolicy, webhook: Webhook) -> Namespace {
    let limiter = Arc::new(EventRateLimiter::new(policy.rate_limit));
    let tasks = TaskLimiter::new(policy.max_tasks_per_socket);
    let policy = Arc::new(policy);
    let (join_policy, publish_policy) = (policy.clone(), policy.clone());
    let ns = on_tasked(
        ns,
        &limiter,
        &tasks,
        "join",
        move |socket, payload, ack, permit| on_join(&join_policy, socket, payload, ack, permit),
    );
    let ns = on_tasked(ns, &limiter, &tasks, "leave", on_leave);
    let ns = on_tasked(
        ns,
        &limiter,
        &tasks,
        "publish",
        move |socket, payload, ack, permit| {
            on_publish(&publish_policy, socket, payload, ack, permit)
        },
    );
    let ns = on_limited(ns, &limiter, "ping", on_ping);
    let (request_policy, request_webhook) = (policy.clone(), webhook.clone());
    let ns = on_tasked(
        ns,
        &limiter,
        &tasks,
        "request",
        move |socket, payload, ack, permit| {
            webhook::on_request(
                &request_policy,
                &request_webhook,
                socket,
                payload,
                ack,
                permit,
            )
        },
    );
    policy.forward.iter().fold(ns, |ns, event| {
        let (policy, webhook, name) = (policy.clone(), webhook.clone(), event.clone());
        on_tasked(
            ns,
            &limiter,
            &tasks,
            event,
            move |socket, payload, ack, permit| {
                webhook::on_forward(&policy, &webhook, socket, &name, payload, ack, permit)
            },
        )
    })
}

/// The namespaces the hub serves: one per `[[namespaces]]` entry, with token checking and
/// the built-ins.
pub fn namespaces(settings: &Settings) -> Namespaces {
    // Both were checked by `Settings::validate`; a file that vanished since start-up
    // leaves the roots only / no public key, and says so.
    let http = HttpClient::new(&settings.http_client.ca_file).unwrap_or_else(|e| {
        log::error!("http_client.ca_file: {e}; trusting the webpki roots only");
        HttpClient::new("").expect("the webpki roots load")
    });
    let verifier = JwtVerifier::from_settings(&settings.auth, &http).unwrap_or_else(|e| {
        log::error!("[auth]: {e}; tokens are checked with the other keys only");
        let without_file = AuthSettings {
            jwt_public_key: String::new(),
            ..settings.auth.clone()
        };
        JwtVerifier::from_settings(&without_file, &http).unwrap_or_default()
    });
    let webhook = Webhook::new(&settings.webhook, settings.engine.max_payload, http);
    settings
        .namespaces
        .iter()
        .fold(Namespaces::new(), |nsps, policy| {
            let policy = policy.clone();
            let verifier = verifier.clone();
            let webhook = webhook.clone();
            nsps.add(&policy.name.clone(), move |ns| {
                let required = policy.require_auth;
                with_builtins(with_auth(ns, verifier, required), policy, webhook)
            })
        })
}

/// The application the binary runs.
pub fn application(settings: &Settings) -> Application {
    Application::SocketIo(Arc::new(namespaces(settings)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(v: Value) -> Payload {
        Payload::new(vec![v])
    }

    #[test]
    fn rooms_come_as_strings_or_objects() {
        assert_eq!(room_of(&payload(json!("a"))).unwrap(), "a");
        assert_eq!(room_of(&payload(json!({"room": "b"}))).unwrap(), "b");
        for bad in [
            json!(1),
            json!({"room": 2}),
            json!(""),
            json!("x".repeat(257)),
        ] {
            let err = room_of(&payload(bad)).unwrap_err();
            assert_eq!(err.code, HubErrorCode::InvalidPayload);
        }
        assert_eq!(
            room_of(&Payload::default()).unwrap_err().code,
            HubErrorCode::InvalidPayload
        );
    }

    #[test]
    fn publish_is_checked() {
        let policy = NamespacePolicy {
            max_event_bytes: 100,
            ..NamespacePolicy::default()
        };
        let ok = parse_publish(
            &policy,
            &payload(json!({"room":"r","event":"e","data":1,"id":7})),
        )
        .unwrap();
        assert_eq!(
            (
                ok.room.as_str(),
                ok.event.as_str(),
                ok.id.as_deref(),
                ok.echo
            ),
            ("r", "e", Some("7"), false)
        );
        let cases = [
            (json!("x"), HubErrorCode::InvalidPayload),
            (json!({"event":"e"}), HubErrorCode::InvalidPayload),
            (json!({"room":"r"}), HubErrorCode::InvalidPayload),
            (
                json!({"room":"r","event":"connect"}),
                HubErrorCode::InvalidPayload,
            ),
            (
                json!({"room":"r","event":"e","id":[1]}),
                HubErrorCode::InvalidPayload,
            ),
            (
                json!({"room":"r","event":"e","data":"x".repeat(200)}),
                HubErrorCode::PayloadTooLarge,
            ),
        ];
        for (body, code) in cases {
            assert_eq!(
                parse_publish(&policy, &payload(body.clone()))
                    .err()
                    .map(|e| e.code),
                Some(code),
                "{body}"
            );
        }
        let failure = HubFailure::new(HubErrorCode::PermissionDenied, "no");
        assert_eq!(
            failure.to_json(),
            json!({"error":{"code":"PERMISSION_DENIED","message":"no"}})
        );
    }
}
