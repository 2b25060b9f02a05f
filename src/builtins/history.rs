//! The built-in `history {"room", "since"?, "limit"?}`: the events a buffered room keeps
//! (`buffer = "if_no_clients" | "always"`), answered `{"ok":true,"room","events":[{"offset",
//! "event","data","args"?}],"complete","more"}` to a socket that may join the room.
//!
//! Offsets are the recovery offsets: in a namespace with `recovery_s > 0` each event's
//! offset is the last argument its receivers got, so a client that was away asks with the
//! last offset it saw and gets what it missed without reconnecting. In a namespace without
//! recovery each kept event is given an offset of the same form (the same counter) that
//! only the history shows. With `since`, the first `limit` events after it (`more`: later
//! ones follow: ask again from the last offset listed); `complete` is false when `since` is
//! no longer in the buffer (it expired or was pushed out: events may be missing before the
//! first one listed). Without `since`, the newest `limit` events. `limit` is 1 to
//! [`MAX_LIMIT`] (default [`DEFAULT_LIMIT`]).
//!
//! `data` is the event's first argument (what `publish` and the HTTP emit send); `args`
//! lists them all when there are several. Binary data goes out as binary in the ack (as
//! base64 from the HTTP API, `GET /api/v1/rooms/{room}/history`).

use bytes::Bytes;
use serde_json::{json, Value};
use siohub_actors::{
    AckSender, BufferPolicy, DeliveryPolicy, History, HistoryEvent, Payload, Socket,
    USER_ROOM_PREFIX,
};

use super::answer::answer;
use super::policy::{denied, roles_of};
use super::room_query::room_query;
use super::rooms::check_room_name;
use crate::config::NamespacePolicy;
use crate::error_code::{ErrorCode, EventError};
use crate::limits::TaskPermit;

/// Most events one answer lists.
pub const MAX_LIMIT: usize = 1000;
/// Events listed when no `limit` is given.
pub const DEFAULT_LIMIT: usize = 100;
/// Longest offset taken: a node prefix and a 64-bit counter in hex fit well within it.
const MAX_OFFSET: usize = 128;

/// What a history read asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    /// The room.
    pub room: String,
    /// The offset to read after.
    pub since: Option<String>,
    /// Most events listed.
    pub limit: usize,
}

impl HistoryQuery {
    /// Checks the parts of a query (the same for the built-in and the HTTP API).
    pub fn new(
        room: String,
        since: Option<String>,
        limit: Option<u64>,
    ) -> Result<Self, EventError> {
        check_room_name(&room)?;
        if let Some(since) = &since {
            check_offset(since)?;
        }
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(n) if (1..=MAX_LIMIT as u64).contains(&n) => n as usize,
            Some(n) => {
                return Err(EventError::invalid(format!(
                    "\"limit\" is 1 to {MAX_LIMIT}, not {n}"
                )))
            }
        };
        Ok(HistoryQuery { room, since, limit })
    }
}

/// An offset is what the hub hands out: hex digits, after a node prefix (`<node>.`) when
/// the cluster shares a recovery store.
fn check_offset(offset: &str) -> Result<(), EventError> {
    let counter = offset.rsplit('.').next().unwrap_or_default();
    let prefix_ok = offset[..offset.len() - counter.len()]
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    let counter_ok =
        (1..=16).contains(&counter.len()) && counter.chars().all(|c| c.is_ascii_hexdigit());
    if offset.len() <= MAX_OFFSET && prefix_ok && counter_ok {
        return Ok(());
    }
    Err(EventError::invalid(format!(
        "\"since\" is an offset the hub handed out (the last argument of an event, or an offset of a history answer), not {:?}",
        offset.chars().take(MAX_OFFSET).collect::<String>()
    )))
}

/// Whether rooms of a namespace with `policy` keep a history; the error says why not.
pub fn check_buffered(policy: &DeliveryPolicy, nsp: &str, room: &str) -> Result<(), EventError> {
    if room.starts_with(USER_ROOM_PREFIX) {
        return Err(EventError::new(
            ErrorCode::NotFound,
            format!(
                "user rooms keep no history (their offline queue is theirs alone), not {room:?}"
            ),
        ));
    }
    if policy.buffer == BufferPolicy::Drop || policy.buffer_size == 0 {
        return Err(EventError::new(
            ErrorCode::NotFound,
            format!(
                "room {room:?} keeps no history: namespace {nsp} has buffer = \"drop\" (history needs \"if_no_clients\" or \"always\")"
            ),
        ));
    }
    Ok(())
}

/// One event as history lists it, its placeholders numbered from `base` (the attachments
/// listed before it).
pub fn event_json(event: &HistoryEvent, base: usize) -> Value {
    let args: Vec<Value> = event
        .payload
        .args
        .iter()
        .map(|a| renumber(a, base))
        .collect();
    let mut item = json!({
        "offset": event.offset,
        "event": event.event,
        "data": args.first().cloned().unwrap_or(Value::Null),
    });
    if args.len() > 1 {
        item["args"] = Value::Array(args);
    }
    item
}

/// How a history answer carries binary data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// As attachments of the answer (a Socket.IO ack), placeholders numbered across events.
    Attached,
    /// As base64 strings inside the JSON (the HTTP API).
    Base64,
}

/// The answer to a history read, `{"room","events","complete","more"}`, as the built-in and
/// the HTTP API both give it, with the attachments it names (none with [`Binary::Base64`]).
pub fn history_body(room: &str, history: &History, binary: Binary) -> (Value, Vec<Bytes>) {
    let mut attachments = Vec::new();
    let events: Vec<Value> = history
        .events
        .iter()
        .map(|event| match binary {
            Binary::Attached => {
                let item = event_json(event, attachments.len());
                attachments.extend(event.payload.attachments.iter().cloned());
                item
            }
            Binary::Base64 => {
                siohub_actors::with_base64(&event_json(event, 0), &event.payload.attachments)
            }
        })
        .collect();
    let body = json!({
        "room": room,
        "events": events,
        "complete": history.complete,
        "more": history.more,
    });
    (body, attachments)
}

/// `value` with every binary placeholder's number moved up by `base`.
fn renumber(value: &Value, base: usize) -> Value {
    match value {
        Value::Object(map) if map.get("_placeholder") == Some(&Value::Bool(true)) => {
            let num = map.get("num").and_then(Value::as_u64).unwrap_or(0) as usize;
            siohub_protocol::placeholder(num + base)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| renumber(v, base)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), renumber(v, base)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The query of a `history` payload: `{"room", "since"?, "limit"?}` (or the room alone).
fn query_of(payload: &Payload) -> Result<HistoryQuery, EventError> {
    let q = room_query(payload, "since", MAX_LIMIT)?;
    HistoryQuery::new(q.room, q.from, q.limit)
}

/// The handler of `history`.
pub(super) fn on_history(
    policy: &NamespacePolicy,
    socket: &Socket,
    payload: Payload,
    ack: Option<AckSender>,
    permit: TaskPermit,
) {
    let query = match query_of(&payload) {
        Ok(query) => query,
        Err(e) => return answer(socket, "history", ack, Err(e)),
    };
    let delivery = socket.hub().policies().of(socket.nsp());
    if let Err(e) = check_buffered(&delivery, socket.nsp(), &query.room) {
        return answer(socket, "history", ack, Err(e));
    }
    if !policy.may_join(&query.room, &roles_of(socket)) {
        let refusal = denied(
            socket,
            format!(
                "reading the history of room {:?} takes the right to join it (client_join of namespace {})",
                query.room,
                socket.nsp()
            ),
        );
        return answer(socket, "history", ack, Err(refusal));
    }
    let read = socket
        .hub()
        .history(socket.nsp(), &query.room, query.since.clone(), query.limit);
    let session = socket.clone();
    let socket = socket.clone();
    session.run_in_session(async move {
        let _permit = permit;
        let history = match read.await {
            Ok(history) => history,
            Err(e) => {
                let failure = EventError::new(ErrorCode::InternalError, e.to_string());
                return answer(&socket, "history", ack, Err(failure));
            }
        };
        let (mut body, attachments) = history_body(&query.room, &history, Binary::Attached);
        body["ok"] = json!(true);
        if let Some(ack) = ack {
            ack.send(Payload {
                args: vec![body],
                attachments,
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(v: Value) -> Payload {
        Payload::new(vec![v])
    }

    #[test]
    fn queries_are_checked() {
        let q = query_of(&payload(json!("r"))).unwrap();
        assert_eq!((q.limit, q.since), (DEFAULT_LIMIT, None));
        for since in ["1f", "abc123.ff", "n-1.a"] {
            let q = query_of(&payload(
                json!({"room": "r", "since": since, "limit": 1000}),
            ));
            assert_eq!(q.unwrap().since.as_deref(), Some(since));
        }
        for bad in [
            json!({"room": "r", "since": ""}),
            json!({"room": "r", "since": "xyz"}),
            json!({"room": "r", "since": "a.b.zz"}),
            json!({"room": "r", "since": "12345678901234567"}),
            json!({"room": "r", "since": 12}),
            json!({"room": "r", "since": "a b.1"}),
            json!({"room": "r", "limit": 0}),
            json!({"room": "r", "limit": 1001}),
            json!({"room": "r", "limit": -1}),
            json!({"room": 1}),
            json!([]),
        ] {
            let err = query_of(&payload(bad.clone())).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidPayload, "{bad}");
        }
    }

    #[test]
    fn unbuffered_and_user_rooms_have_no_history() {
        let drop = DeliveryPolicy::default();
        let err = check_buffered(&drop, "/", "r").unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound);
        let always = DeliveryPolicy {
            buffer: BufferPolicy::Always,
            ..DeliveryPolicy::default()
        };
        assert!(check_buffered(&always, "/", "r").is_ok());
        assert!(check_buffered(&always, "/", "user:1").is_err());
    }

    #[test]
    fn placeholders_are_numbered_after_earlier_events() {
        let mut payload = Payload::new(vec![json!({"n": 1})]);
        let buffer = payload.push_binary(vec![1u8]);
        payload.push_arg(json!({"b": buffer}));
        let event = HistoryEvent {
            offset: "a".into(),
            event: "ev".into(),
            payload,
        };
        let item = event_json(&event, 3);
        assert_eq!(item["data"], json!({"n": 1}));
        assert_eq!(item["args"][1]["b"], siohub_protocol::placeholder(3));
    }
}
