//! The broadcast message of `@socket.io/redis-adapter` 8.3, msgpack of
//! `[uid, packet {type: 2, data: [event, ...args], nsp}, {rooms, except, flags}]`, with
//! buffers as msgpack `bin`.
//!
//! siohub targets map onto socket.io's rooms: a user is its `user:<id>` room, a socket id is
//! the room named by it (socket.io puts every socket in that room), except rooms and except
//! sockets both go to `except`. `flags.volatile` carries volatility; siohub adds
//! `flags.siohubOffset` when the last argument is a recovery offset it appended (Node ignores
//! flags it does not know), and `opts.siohubSeq` and `opts.siohubAt`, the publishing node's
//! number for the broadcast (which names it in the cluster with the uid) and when it was
//! published, in µs since the epoch (see `room_history`; Node's adapter reads only `rooms`,
//! `except` and `flags` of `opts`).

use rmpv::Value as Pack;
use siohub_actors::{user_room, OutboundBroadcast, Payload, Target};

use super::values::{self, field, strings, take_field};

/// Rooms (or except rooms) one broadcast may name at most: more is refused as garbage.
pub(crate) const MAX_ROOMS_PER_MESSAGE: usize = 10_000;

/// socket.io's EVENT and BINARY_EVENT packet types.
const EVENT: u64 = 2;
const BINARY_EVENT: u64 = 5;

/// A broadcast from another node, decoded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InboundBroadcast {
    /// The publishing node.
    pub uid: String,
    /// The namespace.
    pub nsp: String,
    /// The event name.
    pub event: String,
    /// The arguments.
    pub payload: Payload,
    /// Rooms (and socket ids) whose sockets get it; empty: the whole namespace.
    pub rooms: Vec<String>,
    /// Rooms (and socket ids) whose sockets do not.
    pub except: Vec<String>,
    /// Whether it may be dropped for a slow socket.
    pub volatile: bool,
    /// Whether the last argument is a recovery offset the origin appended.
    pub origin_offset: bool,
    /// The origin's number for it (siohub origins only).
    pub seq: Option<u64>,
    /// When the origin published it, in µs since the epoch (siohub origins only).
    pub at_us: Option<u64>,
}

/// The rooms and except list of a target, as socket.io names them.
pub(crate) fn target_rooms(t: &Target) -> (Vec<String>, Vec<String>) {
    let mut rooms: Vec<String> =
        Vec::with_capacity(t.rooms.len() + t.users.len() + t.socket_ids.len());
    let named = t
        .rooms
        .iter()
        .cloned()
        .chain(t.users.iter().map(|u| user_room(u)));
    for room in named.chain(t.socket_ids.iter().cloned()) {
        if !rooms.contains(&room) {
            rooms.push(room);
        }
    }
    let mut except: Vec<String> = t.except_rooms.clone();
    for id in &t.except_socket_ids {
        if !except.contains(id) {
            except.push(id.clone());
        }
    }
    (rooms, except)
}

/// Encodes a broadcast of node `uid`; returns the single room (for the channel name) and the
/// message.
pub(crate) fn encode(uid: &str, b: &OutboundBroadcast, offset: bool) -> (Option<String>, Vec<u8>) {
    let (rooms, except) = target_rooms(&b.target);
    let single = (rooms.len() == 1).then(|| rooms[0].clone());
    let packet = Pack::Map(vec![
        (Pack::from("type"), Pack::from(EVENT)),
        (Pack::from("data"), values::event_data(&b.event, &b.payload)),
        (Pack::from("nsp"), Pack::from(b.target.nsp.as_str())),
    ]);
    let mut flags = Vec::new();
    if b.volatile {
        flags.push((Pack::from("volatile"), Pack::from(true)));
    }
    if offset {
        flags.push((Pack::from("siohubOffset"), Pack::from(true)));
    }
    let mut opts = vec![
        (Pack::from("rooms"), string_array(rooms)),
        (Pack::from("except"), string_array(except)),
        (Pack::from("flags"), Pack::Map(flags)),
    ];
    if let Some(history) = &b.history {
        opts.push((Pack::from("siohubSeq"), Pack::from(history.seq)));
        opts.push((Pack::from("siohubAt"), Pack::from(history.at_us)));
    }
    let opts = Pack::Map(opts);
    let message = Pack::Array(vec![Pack::from(uid), packet, opts]);
    (single, values::encode(&message))
}

/// A list of strings as a msgpack array.
pub(crate) fn string_array(items: Vec<String>) -> Pack {
    Pack::Array(items.into_iter().map(Pack::from).collect())
}

/// The uid at the head of a broadcast message (`[uid, ...]`), read without decoding the
/// rest: a node receives each of its own broadcasts back and drops them this cheaply.
pub(crate) fn peek_uid(bytes: &[u8]) -> Option<&[u8]> {
    let rest = match bytes.first()? {
        0x90..=0x9f => &bytes[1..],
        0xdc => bytes.get(3..)?,
        0xdd => bytes.get(5..)?,
        _ => return None,
    };
    let (len, at) = match *rest.first()? {
        b @ 0xa0..=0xbf => (usize::from(b & 0x1f), 1),
        0xd9 => (usize::from(*rest.get(1)?), 2),
        _ => return None,
    };
    rest.get(at..at + len)
}

/// Decodes a broadcast message; the error says what was wrong with it.
pub(crate) fn decode(bytes: &[u8]) -> Result<InboundBroadcast, String> {
    let Pack::Array(mut parts) = values::decode(bytes)? else {
        return Err("a broadcast is a msgpack array".into());
    };
    if parts.len() < 3 {
        return Err(format!("a broadcast has 3 parts, not {}", parts.len()));
    }
    let opts = parts.pop().unwrap_or(Pack::Nil);
    let mut packet = parts.pop().unwrap_or(Pack::Nil);
    let uid = parts.pop().and_then(|u| u.as_str().map(str::to_owned));
    let uid = uid.ok_or("the broadcast's uid is not a string")?;
    let nsp = match field(&packet, "nsp") {
        None => "/".to_owned(),
        Some(nsp) => nsp.as_str().ok_or("packet.nsp is not a string")?.to_owned(),
    };
    let kind = field(&packet, "type").and_then(Pack::as_u64);
    if kind != Some(EVENT) && kind != Some(BINARY_EVENT) {
        return Err(format!("packet.type {kind:?} is not an event"));
    }
    let data = take_field(&mut packet, "data").ok_or("the packet has no data")?;
    let (event, payload) =
        values::split_event(data).ok_or("packet.data is not [event, ...args]")?;
    values::check_event(&event, &payload)?;
    let rooms = strings(field(&opts, "rooms"), MAX_ROOMS_PER_MESSAGE)
        .ok_or("opts.rooms is not a list of at most 10000 rooms")?;
    let except = strings(field(&opts, "except"), MAX_ROOMS_PER_MESSAGE)
        .ok_or("opts.except is not a list of at most 10000 rooms")?;
    let flag = |name: &str| {
        field(&opts, "flags")
            .and_then(|f| field(f, name))
            .and_then(Pack::as_bool)
            .unwrap_or(false)
    };
    Ok(InboundBroadcast {
        uid,
        nsp,
        event,
        payload,
        rooms,
        except,
        volatile: flag("volatile"),
        origin_offset: flag("siohubOffset"),
        seq: field(&opts, "siohubSeq").and_then(Pack::as_u64),
        at_us: field(&opts, "siohubAt").and_then(Pack::as_u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_broadcast_round_trips_with_its_target_as_rooms() {
        let mut payload = Payload::new(vec![json!("a")]);
        let ph = payload.push_binary(vec![9u8]);
        payload.push_arg(ph);
        let b = OutboundBroadcast {
            target: Target {
                nsp: "/chat".into(),
                rooms: vec!["r".into()],
                users: vec!["ann".into()],
                socket_ids: vec!["s1".into()],
                except_rooms: vec!["x".into()],
                except_socket_ids: vec!["s2".into()],
            },
            event: "ev".into(),
            payload: payload.clone(),
            volatile: true,
            history: None,
        };
        let (single, bytes) = encode("uid1", &b, true);
        assert_eq!(single, None);
        let back = decode(&bytes).unwrap();
        assert_eq!(back.uid, "uid1");
        assert_eq!(back.nsp, "/chat");
        assert_eq!(back.event, "ev");
        assert_eq!(back.payload, payload);
        assert_eq!(back.rooms, vec!["r", "user:ann", "s1"]);
        assert_eq!(back.except, vec!["x", "s2"]);
        assert!(back.volatile && back.origin_offset);
        assert_eq!(back.seq, None, "no history, no number");
        let numbered = OutboundBroadcast {
            history: Some(siohub_actors::room_history::OutboundHistory {
                seq: 42,
                rooms: Vec::new(),
                size: 1,
                ttl: std::time::Duration::from_secs(1),
                at_us: 7,
                frames: Vec::new().into(),
            }),
            ..b
        };
        let back = decode(&encode("uid1", &numbered, true).1).unwrap();
        assert_eq!((back.seq, back.at_us), (Some(42), Some(7)));
    }

    #[test]
    fn the_uid_is_read_without_decoding() {
        let b = OutboundBroadcast {
            target: Target::namespace("/"),
            event: "ev".into(),
            payload: Payload::new(vec![json!(1)]),
            volatile: false,
            history: None,
        };
        let (_, bytes) = encode("node-uid-1", &b, false);
        assert_eq!(peek_uid(&bytes), Some(&b"node-uid-1"[..]));
        assert_eq!(peek_uid(b"garbage"), None);
        assert_eq!(peek_uid(&[0x93, 0xa5, b'a']), None);
    }

    #[test]
    fn a_single_room_names_the_channel() {
        let b = OutboundBroadcast {
            target: Target {
                nsp: "/".into(),
                rooms: vec!["r".into()],
                ..Target::default()
            },
            event: "ev".into(),
            payload: Payload::new(vec![]),
            volatile: false,
            history: None,
        };
        assert_eq!(encode("u", &b, false).0.as_deref(), Some("r"));
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert!(decode(b"hello").is_err());
        let not_event = values::encode(&Pack::Array(vec![
            Pack::from("u"),
            Pack::Map(vec![(Pack::from("type"), Pack::from(3))]),
            Pack::Map(vec![]),
        ]));
        assert!(decode(&not_event).unwrap_err().contains("not an event"));
        let no_uid = values::encode(&Pack::Array(vec![Pack::Nil, Pack::Nil, Pack::Nil]));
        assert!(decode(&no_uid).is_err());
    }
}
