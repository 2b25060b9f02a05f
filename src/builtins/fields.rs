//! Field filters of the built-ins: the `"fields"` of a `join {"room", "fields"}`, and the
//! built-in `fields {"room", "fields"}` that changes the set of a room the socket is in.
//! `"fields"` is an array of top-level field names (the socket then gets only those fields
//! of events to the room whose data is one JSON object) or `null` (everything); see
//! `siohub_actors::fields` for what a socket reached by several paths gets.

use serde_json::{json, Value};
use siohub_actors::fields::{FieldSet, FieldsError, FieldsUpdate};
use siohub_actors::{AckSender, Payload, Socket};

use super::answer::answer;
use super::rooms::check_room_name;
use crate::config::NamespacePolicy;
use crate::error_code::{ErrorCode, EventError};
use crate::limits::TaskPermit;

/// The `"fields"` of a payload's object: absent (`None`), `null` (`Some(None)`: everything)
/// or a checked set of names.
pub(super) fn fields_of(payload: &Payload) -> Result<Option<Option<FieldSet>>, EventError> {
    let Some(Value::Object(obj)) = payload.args.first() else {
        return Ok(None);
    };
    let names = match obj.get("fields") {
        None => return Ok(None),
        Some(Value::Null) => return Ok(Some(None)),
        Some(Value::Array(names)) => names,
        Some(_) => return Err(not_names()),
    };
    let names: Vec<&str> = names
        .iter()
        .map(|n| n.as_str().ok_or_else(not_names))
        .collect::<Result<_, _>>()?;
    FieldSet::new(names)
        .map(|set| Some(Some(set)))
        .map_err(|e| EventError::invalid(format!("\"fields\": {e}")))
}

fn not_names() -> EventError {
    EventError::invalid("\"fields\" must be an array of field names (strings) or null")
}

/// The update a policy allows for `fields`.
pub(super) fn update(policy: &NamespacePolicy, fields: Option<FieldSet>) -> FieldsUpdate {
    FieldsUpdate {
        fields,
        max: policy.max_field_sets_per_room,
    }
}

/// The ack error of a refused field set.
pub(super) fn refusal(e: FieldsError) -> EventError {
    let code = match e {
        FieldsError::TooManyFieldSets { .. } => ErrorCode::RateLimitExceeded,
        FieldsError::NotInRoom => ErrorCode::InvalidPayload,
        FieldsError::NotConnected => ErrorCode::InternalError,
    };
    EventError::new(code, e.to_string())
}

/// The echo of a set in an ack: its names, or `null`.
pub(super) fn echo(fields: &Option<FieldSet>) -> Value {
    fields.as_ref().map_or(Value::Null, FieldSet::to_json)
}

/// The handler of `fields`.
pub(super) fn on_fields(
    policy: &NamespacePolicy,
    socket: &Socket,
    payload: Payload,
    ack: Option<AckSender>,
    permit: TaskPermit,
) {
    let parsed = (|| {
        let room = match payload.args.first() {
            Some(Value::Object(obj)) => obj.get("room").and_then(Value::as_str),
            _ => None,
        };
        let room = room.map(str::to_owned).ok_or_else(|| {
            EventError::invalid("expected {\"room\": \"<name>\", \"fields\": [..] | null}")
        })?;
        check_room_name(&room)?;
        let fields = fields_of(&payload)?.ok_or_else(|| {
            EventError::invalid("\"fields\" is required: an array of field names or null")
        })?;
        Ok((room, fields))
    })();
    let (room, fields) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return answer(socket, "fields", ack, Err(e)),
    };
    // Asked now, in the order the client sent its events (see `join`).
    let set = socket.set_fields(&room, update(policy, fields.clone()));
    let session = socket.clone();
    let socket = socket.clone();
    session.run_in_session(async move {
        let _permit = permit;
        let result = match set.await {
            Ok(()) => Ok(json!({ "ok": true, "room": room, "fields": echo(&fields) })),
            Err(e) => Err(refusal(e)),
        };
        answer(&socket, "fields", ack, result);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(v: Value) -> Payload {
        Payload::new(vec![v])
    }

    #[test]
    fn fields_are_names_null_or_absent() {
        assert_eq!(fields_of(&payload(json!({"room": "r"}))).unwrap(), None);
        assert_eq!(fields_of(&payload(json!("r"))).unwrap(), None);
        assert_eq!(
            fields_of(&payload(json!({"room": "r", "fields": null}))).unwrap(),
            Some(None)
        );
        let set = fields_of(&payload(json!({"fields": ["b", "a"]}))).unwrap();
        assert_eq!(set, Some(Some(FieldSet::new(["a", "b"]).unwrap())));
        for bad in [
            json!({"fields": "price"}),
            json!({"fields": [1]}),
            json!({"fields": [""]}),
            json!({"fields": ["x".repeat(129)]}),
            json!({"fields": (0..65).map(|i| format!("f{i}")).collect::<Vec<_>>()}),
        ] {
            let err = fields_of(&payload(bad)).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidPayload);
        }
    }
}
