//! Requests and responses between nodes, as `@socket.io/redis-adapter` 8.3 sends them on
//! the request and response channels: JSON when the message starts with `{`, msgpack
//! otherwise (a broadcast with acks and its acks, whose packets may carry buffers).
//!
//! Types: 0 SOCKETS, 1 ALL_ROOMS, 2 REMOTE_JOIN, 3 REMOTE_LEAVE, 4 REMOTE_DISCONNECT,
//! 5 REMOTE_FETCH, 6 SERVER_SIDE_EMIT, 7 BROADCAST (with acks), 8 BROADCAST_CLIENT_COUNT,
//! 9 BROADCAST_ACK.

use bytes::Bytes;
use rmpv::Value as Pack;
use serde_json::{json, Value};
use siohub_actors::{OutboundBroadcast, Payload};

use super::broadcast_wire::{string_array, target_rooms};
use super::values;

/// The request types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// The ids of the sockets in some rooms.
    Sockets = 0,
    /// Every room of a namespace.
    AllRooms = 1,
    /// Sockets join rooms.
    RemoteJoin = 2,
    /// Sockets leave rooms.
    RemoteLeave = 3,
    /// Sockets are disconnected.
    RemoteDisconnect = 4,
    /// The sockets of some rooms, serialized.
    RemoteFetch = 5,
    /// An event for the servers.
    ServerSideEmit = 6,
    /// A broadcast that asks for acks.
    Broadcast = 7,
    /// How many clients a node sent a broadcast with acks to.
    BroadcastClientCount = 8,
    /// One client's ack.
    BroadcastAck = 9,
}

impl Kind {
    fn from_number(n: u64) -> Option<Kind> {
        Some(match n {
            0 => Kind::Sockets,
            1 => Kind::AllRooms,
            2 => Kind::RemoteJoin,
            3 => Kind::RemoteLeave,
            4 => Kind::RemoteDisconnect,
            5 => Kind::RemoteFetch,
            6 => Kind::ServerSideEmit,
            7 => Kind::Broadcast,
            8 => Kind::BroadcastClientCount,
            9 => Kind::BroadcastAck,
            _ => return None,
        })
    }
}

/// A request or response, decoded: its JSON body (buffers as placeholders into
/// `attachments`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    /// The whole message.
    pub body: Value,
    /// The buffers its placeholders stand for.
    pub attachments: Vec<Bytes>,
}

impl Message {
    /// Decodes a message: JSON if it starts with `{`, msgpack otherwise.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Message, String> {
        let (body, attachments) = if bytes.first() == Some(&b'{') {
            let body = serde_json::from_slice(bytes).map_err(|e| format!("bad JSON: {e}"))?;
            (body, Vec::new())
        } else {
            let mut attachments = Vec::new();
            let body = values::to_json(values::decode(bytes)?, &mut attachments);
            (body, attachments)
        };
        if !body.is_object() {
            return Err("a request or response is an object".into());
        }
        Ok(Message { body, attachments })
    }

    /// The type, when it is one of the known ones.
    pub(crate) fn kind(&self) -> Option<Kind> {
        self.body
            .get("type")
            .and_then(Value::as_u64)
            .and_then(Kind::from_number)
    }

    /// A string field.
    pub(crate) fn str(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(Value::as_str)
    }

    /// The requesting node.
    pub(crate) fn uid(&self) -> Option<&str> {
        self.str("uid")
    }

    /// The request id (absent for requests that expect no answer).
    pub(crate) fn request_id(&self) -> Option<&str> {
        self.str("requestId")
    }

    /// A list of strings at `pointer` (rooms), at most `max`; `None` when it is not one.
    pub(crate) fn strings(&self, pointer: &str, max: usize) -> Option<Vec<String>> {
        match self.body.pointer(pointer) {
            None | Some(Value::Null) => Some(Vec::new()),
            Some(Value::Array(items)) if items.len() <= max => Some(
                items
                    .iter()
                    .filter_map(|v| match v {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect(),
            ),
            Some(_) => None,
        }
    }

    /// The event and payload of `packet.data` (a broadcast with acks).
    pub(crate) fn packet_event(&self) -> Option<(String, Payload)> {
        let data = self.body.pointer("/packet/data")?.as_array()?;
        let (event, args) = data.split_first()?;
        let event = event.as_str()?.to_owned();
        let all = Payload {
            args: Vec::new(),
            attachments: self.attachments.clone(),
        };
        Some((event, all.select(args.to_vec())))
    }

    /// The value at `key` with its buffers as base64 strings.
    pub(crate) fn value_with_base64(&self, key: &str) -> Value {
        let value = self.body.get(key).cloned().unwrap_or(Value::Null);
        siohub_actors::with_base64(&value, &self.attachments)
    }
}

/// `{uid, requestId, type: 1}`.
pub(crate) fn all_rooms(uid: &str, request_id: &str) -> Vec<u8> {
    json_bytes(json!({"uid": uid, "requestId": request_id, "type": Kind::AllRooms as u8}))
}

/// `{uid, requestId, type: 5, opts: {rooms, except}}`.
pub(crate) fn fetch(uid: &str, request_id: &str, rooms: &[String], except: &[String]) -> Vec<u8> {
    json_bytes(json!({
        "uid": uid,
        "requestId": request_id,
        "type": Kind::RemoteFetch as u8,
        "opts": {"rooms": rooms, "except": except},
    }))
}

/// `{uid, type: 2|3, opts: {rooms, except}, rooms}` (join or leave, no answer).
pub(crate) fn membership(
    uid: &str,
    kind: Kind,
    target: (&[String], &[String]),
    rooms: &[String],
) -> Vec<u8> {
    json_bytes(json!({
        "uid": uid,
        "type": kind as u8,
        "opts": {"rooms": target.0, "except": target.1},
        "rooms": rooms,
    }))
}

/// `{uid, type: 4, opts: {rooms, except}, close}`.
pub(crate) fn disconnect(uid: &str, target: (&[String], &[String]), close: bool) -> Vec<u8> {
    json_bytes(json!({
        "uid": uid,
        "type": Kind::RemoteDisconnect as u8,
        "opts": {"rooms": target.0, "except": target.1},
        "close": close,
    }))
}

/// `{uid, [requestId], type: 6, data: [event, ...args]}`.
pub(crate) fn server_side_emit(
    uid: &str,
    request_id: Option<&str>,
    event: &str,
    args: Vec<Value>,
) -> Vec<u8> {
    let mut data = vec![Value::String(event.to_owned())];
    data.extend(args);
    let mut body = json!({"uid": uid, "type": Kind::ServerSideEmit as u8, "data": data});
    if let Some(id) = request_id {
        body["requestId"] = json!(id);
    }
    json_bytes(body)
}

/// msgpack `{uid, requestId, type: 7, packet: {type: 2, data, nsp}, opts: {rooms, except, flags}}`.
pub(crate) fn broadcast(
    uid: &str,
    request_id: &str,
    b: &OutboundBroadcast,
    timeout_ms: u64,
) -> Vec<u8> {
    let (rooms, except) = target_rooms(&b.target);
    let packet = Pack::Map(vec![
        (Pack::from("type"), Pack::from(2)),
        (Pack::from("data"), values::event_data(&b.event, &b.payload)),
        (Pack::from("nsp"), Pack::from(b.target.nsp.as_str())),
    ]);
    let flags = Pack::Map(vec![(Pack::from("timeout"), Pack::from(timeout_ms))]);
    let opts = Pack::Map(vec![
        (Pack::from("rooms"), string_array(rooms)),
        (Pack::from("except"), string_array(except)),
        (Pack::from("flags"), flags),
    ]);
    values::encode(&Pack::Map(vec![
        (Pack::from("uid"), Pack::from(uid)),
        (Pack::from("requestId"), Pack::from(request_id)),
        (Pack::from("type"), Pack::from(Kind::Broadcast as u8)),
        (Pack::from("packet"), packet),
        (Pack::from("opts"), opts),
    ]))
}

/// A JSON response `{requestId, ...fields}`.
pub(crate) fn response(request_id: &str, mut fields: Value) -> Vec<u8> {
    fields["requestId"] = json!(request_id);
    json_bytes(fields)
}

/// msgpack `{type: 9, requestId, packet}`: one client's ack (its first argument, as Node
/// sends it), plus `sid` and every argument (`args`) for siohub requesters.
pub(crate) fn broadcast_ack(request_id: &str, socket_id: &str, payload: &Payload) -> Vec<u8> {
    let args: Vec<Pack> = payload
        .args
        .iter()
        .map(|a| values::from_json(a, &payload.attachments))
        .collect();
    let first = args.first().cloned().unwrap_or(Pack::Nil);
    values::encode(&Pack::Map(vec![
        (Pack::from("type"), Pack::from(Kind::BroadcastAck as u8)),
        (Pack::from("requestId"), Pack::from(request_id)),
        (Pack::from("packet"), first),
        (Pack::from("sid"), Pack::from(socket_id)),
        (Pack::from("args"), Pack::Array(args)),
    ]))
}

fn json_bytes(value: Value) -> Vec<u8> {
    serde_json::to_vec(&value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use siohub_actors::Target;

    #[test]
    fn json_and_msgpack_both_decode() {
        let m = Message::decode(&all_rooms("u", "r1")).unwrap();
        assert_eq!(m.kind(), Some(Kind::AllRooms));
        assert_eq!((m.uid(), m.request_id()), (Some("u"), Some("r1")));

        let mut payload = Payload::new(vec![serde_json::json!(1)]);
        let ph = payload.push_binary(vec![7u8]);
        payload.push_arg(ph);
        let b = OutboundBroadcast {
            target: Target {
                nsp: "/".into(),
                rooms: vec!["r".into()],
                ..Target::default()
            },
            event: "ev".into(),
            payload: payload.clone(),
            volatile: false,
            history: None,
        };
        let m = Message::decode(&broadcast("u", "r2", &b, 100)).unwrap();
        assert_eq!(m.kind(), Some(Kind::Broadcast));
        assert_eq!(m.strings("/opts/rooms", 10).unwrap(), vec!["r"]);
        assert_eq!(
            m.packet_event().unwrap(),
            ("ev".to_owned(), payload.clone())
        );

        let ack = Message::decode(&broadcast_ack("r2", "s1", &payload)).unwrap();
        assert_eq!(ack.kind(), Some(Kind::BroadcastAck));
        assert_eq!(ack.value_with_base64("packet"), serde_json::json!(1));
        assert_eq!(ack.str("sid"), Some("s1"));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(Message::decode(b"{nope").is_err());
        assert!(Message::decode(b"[1]").is_err());
        assert!(Message::decode(&[0x93, 1, 2, 3]).is_err());
        let m = Message::decode(br#"{"type":42,"opts":{"rooms":"x"}}"#).unwrap();
        assert_eq!(m.kind(), None);
        assert_eq!(m.strings("/opts/rooms", 5), None);
    }
}
