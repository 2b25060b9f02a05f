//! The built-in `join` and `leave`: a room named by `"room"` or `{"room": "room"}`, joined
//! if the namespace's policy allows it (with the room's buffered events replayed), or left.
//! A join may name `"fields"` (see `fields`): the socket then gets only those fields of the
//! room's events, and the ack echoes them.

use serde_json::{json, Value};
use siohub_actors::{AckSender, JoinError, Payload, Socket};

use super::answer::answer;
use super::fields::{echo, fields_of, refusal, update};
use super::policy::{denied, roles_of};
use crate::config::NamespacePolicy;
use crate::error_code::{ErrorCode, EventError};
use crate::limits::TaskPermit;
use crate::subscriptions::{hooks, Subscriptions};

/// The room named by a `join`/`leave` payload: `"room"` or `{"room": "room"}`.
fn room_of(payload: &Payload) -> Result<String, EventError> {
    let room = match payload.args.first() {
        Some(Value::String(room)) => room.clone(),
        Some(Value::Object(obj)) => match obj.get("room") {
            Some(Value::String(room)) => room.clone(),
            _ => return Err(EventError::invalid("expected {\"room\": \"<name>\"}")),
        },
        _ => {
            return Err(EventError::invalid(
                "expected a room name or {\"room\": \"<name>\"}",
            ))
        }
    };
    check_room_name(&room)?;
    Ok(room)
}

/// A room name is 1 to 256 characters.
pub(super) fn check_room_name(room: &str) -> Result<(), EventError> {
    if room.is_empty() || room.len() > 256 {
        return Err(EventError::invalid("a room name is 1 to 256 characters"));
    }
    Ok(())
}

/// The handler of `join`.
pub(super) fn on_join(
    policy: &NamespacePolicy,
    subs: Option<&Subscriptions>,
    socket: &Socket,
    payload: Payload,
    ack: Option<AckSender>,
    permit: TaskPermit,
) {
    let room = match room_of(&payload) {
        Ok(room) => room,
        Err(e) => return answer(socket, "join", ack, Err(e)),
    };
    let fields = match fields_of(&payload) {
        Ok(fields) => fields,
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
    // Durable subscriptions: the keep is asked now too, in the client's order.
    let kept = match hooks::keep_for_join(subs, socket, &room, &payload) {
        Ok(kept) => kept,
        Err(e) => return answer(socket, "join", ack, Err(e)),
    };
    // Asked now, in the order the client sent its events (see `publish`); the rest runs
    // inside the socket's session: the join and the ack are applied there, not sent to it
    // as messages.
    let joined = match &fields {
        None => futures::future::Either::Left(socket.join(&room)),
        Some(fields) => {
            let update = update(policy, fields.clone());
            futures::future::Either::Right(socket.join_with_fields(&room, update))
        }
    };
    let session = socket.clone();
    let socket = socket.clone();
    session.run_in_session(async move {
        let _permit = permit;
        let result = match joined.await {
            Ok(replayed) => {
                let mut body = json!({ "ok": true, "room": room, "replayed": replayed });
                if let Some(fields) = &fields {
                    body["fields"] = echo(fields);
                }
                Ok(body)
            }
            Err(e @ JoinError::TooManyRooms { .. }) => {
                Err(EventError::new(ErrorCode::RateLimitExceeded, e.to_string()))
            }
            Err(JoinError::Fields(e)) => Err(refusal(e)),
            Err(e) => Err(EventError::new(ErrorCode::InternalError, e.to_string())),
        };
        let result = match kept {
            Some(kept) => kept.settle(&socket, result).await,
            None => result,
        };
        answer(&socket, "join", ack, result);
    });
}

/// The handler of `leave`.
pub(super) fn on_leave(
    subs: Option<&Subscriptions>,
    socket: &Socket,
    payload: Payload,
    ack: Option<AckSender>,
    permit: TaskPermit,
) {
    let room = match room_of(&payload) {
        Ok(room) => room,
        Err(e) => return answer(socket, "leave", ack, Err(e)),
    };
    // Asked now, in the order the client sent its events (see `publish`).
    let left = socket.leave(&room);
    let forgotten = hooks::forget_for_leave(subs, socket, &room);
    let session = socket.clone();
    let socket = socket.clone();
    session.run_in_session(async move {
        let _permit = permit;
        let result = match left.await {
            Ok(()) => Ok(json!({ "ok": true, "room": room })),
            Err(e) => Err(EventError::new(ErrorCode::InternalError, e.to_string())),
        };
        let result = match forgotten {
            Some(forgotten) => forgotten.settle(result).await,
            None => result,
        };
        answer(&socket, "leave", ack, result);
    });
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
            assert_eq!(err.code, ErrorCode::InvalidPayload);
        }
        assert_eq!(
            room_of(&Payload::default()).unwrap_err().code,
            ErrorCode::InvalidPayload
        );
    }
}
