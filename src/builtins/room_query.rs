//! The payload of the built-ins that read a room page by page (`history`, `presence`):
//! `"<room>"` or `{"room": "<name>", "<key>"?: "<string>", "limit"?: <n>}`.

use serde_json::Value;
use siohub_actors::Payload;

use crate::error_code::EventError;

/// A room read as the payload asked for it.
pub(super) struct RoomQuery {
    /// The room.
    pub(super) room: String,
    /// Where to read from (`since`, `cursor`), if given.
    pub(super) from: Option<String>,
    /// How many to answer, if given (the caller checks its bounds).
    pub(super) limit: Option<u64>,
}

/// Reads `payload` as a room query whose position is named `key`; `max` is the largest
/// `limit` (for the message only).
pub(super) fn room_query(
    payload: &Payload,
    key: &str,
    max: usize,
) -> Result<RoomQuery, EventError> {
    let shape = || {
        EventError::invalid(format!(
            "expected {{\"room\": \"<name>\", \"{key}\"?, \"limit\"?}}"
        ))
    };
    match payload.args.first() {
        Some(Value::String(room)) => Ok(RoomQuery {
            room: room.clone(),
            from: None,
            limit: None,
        }),
        Some(Value::Object(obj)) => {
            let room = obj.get("room").and_then(Value::as_str).ok_or_else(shape)?;
            let from = match obj.get(key) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => {
                    return Err(EventError::invalid(format!(
                        "\"{key}\" is a string, not {other}"
                    )))
                }
            };
            let limit = match obj.get("limit") {
                None | Some(Value::Null) => None,
                Some(n) => Some(n.as_u64().ok_or_else(|| {
                    EventError::invalid(format!("\"limit\" is 1 to {max}, not {n}"))
                })?),
            };
            Ok(RoomQuery {
                room: room.to_owned(),
                from,
                limit,
            })
        }
        _ => Err(shape()),
    }
}
