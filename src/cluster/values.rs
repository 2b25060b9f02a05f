//! msgpack values ↔ siohub's event arguments. `@socket.io/redis-adapter` sends buffers as
//! msgpack `bin` inside the arguments; siohub keeps them as placeholders
//! (`{"_placeholder":true,"num":i}`) beside a list of attachments. Both ways here, plus the
//! decoding of a whole message with a bound on its nesting.

use bytes::Bytes;
use rmpv::Value as Pack;
use serde_json::{Map, Number, Value};
use siohub_actors::Payload;
use siohub_protocol::placeholder;

/// How deep a peer's message may nest (socket.io's own parser allows far less in practice).
const MAX_DEPTH: usize = 64;

/// Decodes one msgpack value that must fill `bytes` exactly.
pub(crate) fn decode(bytes: &[u8]) -> Result<Pack, String> {
    let mut reader = bytes;
    let value = rmpv::decode::read_value_with_max_depth(&mut reader, MAX_DEPTH)
        .map_err(|e| format!("not msgpack: {e}"))?;
    if !reader.is_empty() {
        return Err(format!("{} bytes after the msgpack value", reader.len()));
    }
    Ok(value)
}

/// Encodes one msgpack value.
pub(crate) fn encode(value: &Pack) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, value);
    out
}

/// A msgpack value as JSON, each `bin` becoming a placeholder numbered in `attachments`.
/// What JSON has no word for (ext types, such as notepack's `undefined`) becomes `null`;
/// map keys that are not strings are written as their JSON text.
pub(crate) fn to_json(value: Pack, attachments: &mut Vec<Bytes>) -> Value {
    match value {
        Pack::Nil | Pack::Ext(..) => Value::Null,
        Pack::Boolean(b) => Value::Bool(b),
        Pack::Integer(i) => match (i.as_i64(), i.as_u64()) {
            (Some(n), _) => Value::from(n),
            (None, Some(n)) => Value::from(n),
            _ => Value::Null,
        },
        Pack::F32(f) => float(f64::from(f)),
        Pack::F64(f) => float(f),
        Pack::String(s) => Value::String(s.into_str().unwrap_or_default()),
        Pack::Binary(b) => {
            attachments.push(Bytes::from(b));
            placeholder(attachments.len() - 1)
        }
        Pack::Array(items) => {
            Value::Array(items.into_iter().map(|v| to_json(v, attachments)).collect())
        }
        Pack::Map(pairs) => {
            let mut map = Map::with_capacity(pairs.len());
            for (k, v) in pairs {
                let key = match k {
                    Pack::String(s) => s.into_str().unwrap_or_default(),
                    other => to_json(other, attachments).to_string(),
                };
                map.insert(key, to_json(v, attachments));
            }
            Value::Object(map)
        }
    }
}

/// A JSON value as msgpack; placeholders that point into `attachments` become `bin`.
pub(crate) fn from_json(value: &Value, attachments: &[Bytes]) -> Pack {
    match value {
        Value::Null => Pack::Nil,
        Value::Bool(b) => Pack::Boolean(*b),
        Value::Number(n) => number(n),
        Value::String(s) => Pack::from(s.as_str()),
        Value::Array(items) => {
            Pack::Array(items.iter().map(|v| from_json(v, attachments)).collect())
        }
        Value::Object(map) => {
            if let Some(bytes) = placeholder_of(map, attachments) {
                return Pack::Binary(bytes.to_vec());
            }
            Pack::Map(
                map.iter()
                    .map(|(k, v)| (Pack::from(k.as_str()), from_json(v, attachments)))
                    .collect(),
            )
        }
    }
}

/// The event name and the arguments as socket.io's packet `data` (`[event, ...args]`).
pub(crate) fn event_data(event: &str, payload: &Payload) -> Pack {
    let mut data = Vec::with_capacity(payload.args.len() + 1);
    data.push(Pack::from(event));
    data.extend(
        payload
            .args
            .iter()
            .map(|a| from_json(a, &payload.attachments)),
    );
    Pack::Array(data)
}

/// A packet's `data` (`[event, ...args]`) as the event name and its payload; `None` when it
/// is not an array starting with a string.
pub(crate) fn split_event(data: Pack) -> Option<(String, Payload)> {
    let Pack::Array(mut items) = data else {
        return None;
    };
    if items.is_empty() {
        return None;
    }
    let Pack::String(event) = items.remove(0) else {
        return None;
    };
    let event = event.into_str()?;
    let mut attachments = Vec::new();
    let args = items
        .into_iter()
        .map(|v| to_json(v, &mut attachments))
        .collect();
    Some((event, Payload { args, attachments }))
}

fn placeholder_of<'a>(map: &Map<String, Value>, attachments: &'a [Bytes]) -> Option<&'a Bytes> {
    if map.len() != 2 || map.get("_placeholder") != Some(&Value::Bool(true)) {
        return None;
    }
    let num = map.get("num")?.as_u64()?;
    attachments.get(usize::try_from(num).ok()?)
}

fn number(n: &Number) -> Pack {
    if let Some(i) = n.as_i64() {
        Pack::from(i)
    } else if let Some(u) = n.as_u64() {
        Pack::from(u)
    } else {
        Pack::F64(n.as_f64().unwrap_or(0.0))
    }
}

fn float(f: f64) -> Value {
    Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// Whether a peer's event may reach this node's clients: not a reserved name, and its
/// placeholders (a map shaped like one is no buffer: those travel as msgpack `bin`) point
/// at its buffers; socket.io-client closes the connection on a parse error at either.
pub(crate) fn check_event(event: &str, payload: &Payload) -> Result<(), String> {
    if siohub_protocol::RESERVED_EVENTS.contains(&event) {
        return Err(format!("{event:?} is a reserved event name"));
    }
    if !payload.placeholders_valid() {
        return Err("a placeholder in the arguments points at no buffer".into());
    }
    Ok(())
}

/// A string field of a msgpack map.
pub(crate) fn field<'a>(map: &'a Pack, key: &str) -> Option<&'a Pack> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// Takes a field out of a msgpack map.
pub(crate) fn take_field(map: &mut Pack, key: &str) -> Option<Pack> {
    let Pack::Map(pairs) = map else {
        return None;
    };
    let at = pairs.iter().position(|(k, _)| k.as_str() == Some(key))?;
    Some(pairs.remove(at).1)
}

/// A list of strings (rooms): strings kept, numbers written as text (socket.io rooms may be
/// numbers in Node), anything else skipped; at most `max`, else `None`.
pub(crate) fn strings(value: Option<&Pack>, max: usize) -> Option<Vec<String>> {
    let Some(value) = value else {
        return Some(Vec::new());
    };
    let items = match value {
        Pack::Array(items) => items,
        Pack::Nil => return Some(Vec::new()),
        _ => return None,
    };
    if items.len() > max {
        return None;
    }
    Some(
        items
            .iter()
            .filter_map(|item| match item {
                Pack::String(s) => s.as_str().map(str::to_owned),
                Pack::Integer(i) => Some(i.to_string()),
                Pack::F64(f) => Some(f.to_string()),
                _ => None,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn binary_becomes_placeholders_and_back() {
        let mut payload = Payload::new(vec![]);
        let ph = payload.push_binary(vec![1u8, 2, 3]);
        payload.push_arg(json!({"file": ph, "n": 1.5, "i": -3, "big": u64::MAX}));
        let data = event_data("ev", &payload);
        let bytes = encode(&data);
        let (event, back) = split_event(decode(&bytes).unwrap()).unwrap();
        assert_eq!(event, "ev");
        assert_eq!(back, payload);
    }

    #[test]
    fn garbage_and_trailing_bytes_are_errors() {
        assert!(decode(&[0xa5, b'a']).is_err(), "a string cut short");
        assert!(decode(&[0x01, 0x02]).is_err());
        // An array that claims 2^32-1 elements and has none.
        assert!(decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(split_event(Pack::from(3)).is_none());
        assert!(split_event(Pack::Array(vec![Pack::from(1)])).is_none());
    }

    #[test]
    fn ext_and_odd_keys_become_json() {
        let map = Pack::Map(vec![
            (Pack::from(1), Pack::Ext(0, vec![0])),
            (Pack::from("f"), Pack::F64(f64::NAN)),
        ]);
        let mut att = Vec::new();
        assert_eq!(to_json(map, &mut att), json!({"1": null, "f": null}));
    }

    #[test]
    fn events_with_placeholders_pointing_nowhere_are_refused() {
        let mut payload = Payload::new(vec![]);
        let ph = payload.push_binary(vec![1u8]);
        payload.push_arg(json!({"ok": ph}));
        assert!(check_event("ev", &payload).is_ok());
        payload.push_arg(json!([{"_placeholder": true, "num": 1}]));
        assert!(check_event("ev", &payload).is_err());
        let forged = Payload::new(vec![json!({"_placeholder": true, "num": 0})]);
        assert!(check_event("ev", &forged).is_err());
        let plain = Payload::new(vec![json!(1)]);
        assert!(check_event("disconnect", &plain).is_err());
        assert!(check_event("connect", &plain).is_err());
    }

    #[test]
    fn room_lists_are_bounded() {
        let rooms = Pack::Array(vec![Pack::from("a"), Pack::from(7), Pack::Nil]);
        assert_eq!(strings(Some(&rooms), 3).unwrap(), vec!["a", "7"]);
        assert!(strings(Some(&rooms), 2).is_none());
        assert!(strings(Some(&Pack::from("a")), 2).is_none());
    }
}
