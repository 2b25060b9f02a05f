//! How the recovery store writes events and records in Redis, and reads them back.
//!
//! A stream entry holds `offset` (as the clients got it), `target` (JSON: rooms, users,
//! socket ids and the two except lists) and the event's frames as they were sent, in
//! order: a `t` field per text frame (the Engine.IO packet), a `b` field per binary one.
//! A record is `<owner>\n<JSON>`: the node that last wrote it, then the socket's id,
//! namespace, rooms, data and, once finalised, when it disconnected.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use siohub_actors::fields::FieldSet;
use siohub_actors::hub_messages::PreservedSocket;
use siohub_actors::recovery_store::StoredEvent;
use siohub_actors::wire_frame::WireFrame;
use siohub_actors::Target;

/// A socket's record as JSON.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    id: String,
    nsp: String,
    rooms: Vec<String>,
    /// Its field sets, in the rooms where it has one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    fields: BTreeMap<String, Vec<String>>,
    data: Map<String, Value>,
    /// When it disconnected (ms since the epoch); absent while it is connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gone_at_ms: Option<u64>,
}

/// Milliseconds since the epoch.
pub(super) fn epoch_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// A record as stored: `owner`'s line, then the JSON.
pub(super) fn encode_record(owner: &str, socket: &PreservedSocket, finalised: bool) -> Vec<u8> {
    let record = Record {
        id: socket.socket_id.clone(),
        nsp: socket.nsp.clone(),
        rooms: socket.rooms.iter().cloned().collect(),
        fields: socket
            .fields
            .iter()
            .map(|(room, set)| {
                (
                    room.clone(),
                    set.names().iter().map(|n| n.to_string()).collect(),
                )
            })
            .collect(),
        data: socket.data.clone(),
        gone_at_ms: finalised.then(|| epoch_ms(socket.at)),
    };
    let mut out = format!("{owner}\n").into_bytes();
    // A map of strings and JSON values always serializes.
    serde_json::to_writer(&mut out, &record).expect("a record serializes");
    out
}

/// The node that last wrote a record.
pub(super) fn record_owner(bytes: &[u8]) -> Option<&str> {
    let newline = bytes.iter().position(|b| *b == b'\n')?;
    std::str::from_utf8(&bytes[..newline]).ok()
}

/// The node that wrote a record still marked connected (no disconnection time), if the
/// record is one.
pub(super) fn live_owner(bytes: &[u8]) -> Option<&str> {
    let newline = bytes.iter().position(|b| *b == b'\n')?;
    let record: Record = serde_json::from_slice(&bytes[newline + 1..]).ok()?;
    match record.gone_at_ms {
        Some(_) => None,
        None => std::str::from_utf8(&bytes[..newline]).ok(),
    }
}

/// A stored record back, when it is well-formed, in `nsp` and within `window` of its
/// disconnection (a record of a node that died has no disconnection: its expiry bounds it).
pub(super) fn decode_record(bytes: &[u8], nsp: &str, window: Duration) -> Option<PreservedSocket> {
    let json = &bytes[bytes.iter().position(|b| *b == b'\n')? + 1..];
    let record: Record = serde_json::from_slice(json).ok()?;
    if record.nsp != nsp {
        return None;
    }
    let at = match record.gone_at_ms {
        Some(ms) => UNIX_EPOCH + Duration::from_millis(ms),
        None => SystemTime::now(),
    };
    if at.elapsed().unwrap_or_default() > window {
        return None;
    }
    Some(PreservedSocket {
        socket_id: record.id,
        nsp: record.nsp,
        rooms: record.rooms.into_iter().collect(),
        // A set that no longer passes the bounds is dropped: the room gives everything.
        fields: record
            .fields
            .into_iter()
            .filter_map(|(room, names)| Some((room, FieldSet::new(names).ok()?)))
            .collect(),
        data: record.data,
        at,
    })
}

/// The fields of a stream entry for `event`, in order.
pub(super) fn event_fields(event: &StoredEvent) -> Vec<(&'static str, Vec<u8>)> {
    let mut fields = vec![
        ("offset", event.offset.as_bytes().to_vec()),
        ("target", target_json(&event.target).into_bytes()),
    ];
    for frame in event.frames.iter() {
        let name = if frame.is_binary() { "b" } else { "t" };
        fields.push((name, frame.payload().to_vec()));
    }
    fields
}

/// A target as stored (JSON: rooms, users, socket ids and the two except lists).
fn target_json(target: &Target) -> String {
    serde_json::json!({
        "r": target.rooms,
        "u": target.users,
        "s": target.socket_ids,
        "xr": target.except_rooms,
        "xs": target.except_socket_ids,
    })
    .to_string()
}

/// The offset of a stream entry, if it has one.
pub(super) fn entry_offset(fields: &[Vec<u8>]) -> Option<&[u8]> {
    fields
        .chunks(2)
        .find(|pair| pair[0] == b"offset")
        .and_then(|pair| pair.get(1))
        .map(Vec::as_slice)
}

/// A stream entry (its fields, names and values alternating) back as an event of `nsp`.
pub(super) fn decode_event(nsp: &str, fields: &[Vec<u8>]) -> Option<StoredEvent> {
    let mut offset = None;
    let mut target = None;
    let mut frames = Vec::new();
    for pair in fields.chunks_exact(2) {
        let (name, value) = (pair[0].as_slice(), &pair[1]);
        match name {
            b"offset" => offset = Some(std::str::from_utf8(value).ok()?.into()),
            b"target" => target = Some(decode_target(nsp, value)?),
            b"t" => frames.push(WireFrame::text(String::from_utf8(value.clone()).ok()?)),
            b"b" => frames.push(WireFrame::binary(Bytes::copy_from_slice(value))),
            _ => {}
        }
    }
    Some(StoredEvent {
        offset: offset?,
        target: target?,
        frames: frames.into(),
    })
}

fn decode_target(nsp: &str, json: &[u8]) -> Option<Target> {
    let value: Value = serde_json::from_slice(json).ok()?;
    let list =
        |key: &str| -> Option<Vec<String>> { serde_json::from_value(value.get(key)?.clone()).ok() };
    Some(Target {
        nsp: nsp.to_owned(),
        rooms: list("r")?,
        users: list("u")?,
        socket_ids: list("s")?,
        except_rooms: list("xr")?,
        except_socket_ids: list("xs")?,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn an_event_round_trips() {
        let frames = vec![
            WireFrame::text("451-[\"e\",1]".into()),
            WireFrame::binary(Bytes::from_static(b"\x00\x01")),
        ];
        let event = StoredEvent {
            offset: "n1.2a".into(),
            target: Target {
                nsp: "/chat".into(),
                rooms: vec!["a".into()],
                except_socket_ids: vec!["x".into()],
                ..Target::default()
            },
            frames: frames.into(),
        };
        let fields: Vec<Vec<u8>> = event_fields(&event)
            .into_iter()
            .flat_map(|(name, value)| [name.as_bytes().to_vec(), value])
            .collect();
        assert_eq!(entry_offset(&fields), Some(&b"n1.2a"[..]));
        let back = decode_event("/chat", &fields).unwrap();
        assert_eq!((back.offset, back.target), (event.offset, event.target));
        assert_eq!(back.frames, event.frames);
    }

    #[test]
    fn a_record_is_kept_for_its_namespace_and_window() {
        let socket = PreservedSocket {
            socket_id: "s1".into(),
            nsp: "/chat".into(),
            rooms: HashSet::from(["r".to_owned()]),
            fields: BTreeMap::from([("r".to_owned(), FieldSet::new(["p"]).unwrap())]),
            data: Map::new(),
            at: SystemTime::now() - Duration::from_secs(10),
        };
        let live = encode_record("n1", &socket, false);
        let gone = encode_record("n1", &socket, true);
        let window = Duration::from_secs(5);
        let back = decode_record(&live, "/chat", window).unwrap();
        assert_eq!((&back.rooms, &back.fields), (&socket.rooms, &socket.fields));
        assert!(decode_record(&live, "/other", window).is_none());
        assert!(
            decode_record(&gone, "/chat", window).is_none(),
            "disconnected 10 s ago"
        );
        assert!(decode_record(&gone, "/chat", Duration::from_secs(60)).is_some());
        assert!(decode_record(b"garbage", "/chat", window).is_none());
    }
}
