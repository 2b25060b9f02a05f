//! The built-in `publish`: `{"room","event","data"}` emitted to the room, the sender
//! excluded unless `"echo": true`, deduplicated by an optional `"id"`; the ack carries the
//! number of recipients. Binary in `data` (Buffers, ArrayBuffers, bytes) goes out as binary
//! attachments, so it reaches receivers, buffers, replays and recoveries as binary.

use serde_json::{json, Value};
use siohub_actors::hub_messages::Broadcast;
use siohub_actors::{AckSender, Payload, RefusalReason, Socket, Target};

use super::answer::answer;
use super::policy::{denied, roles_of};
use super::rooms::check_room_name;
use crate::config::NamespacePolicy;
use crate::error_code::{ErrorCode, EventError};
use crate::limits::TaskPermit;

/// A checked `publish` request.
struct Publish {
    room: String,
    event: String,
    /// `data` with the buffers it names.
    data: Payload,
    echo: bool,
    id: Option<String>,
}

fn parse_publish(policy: &NamespacePolicy, payload: &Payload) -> Result<Publish, EventError> {
    let Some(Value::Object(body)) = payload.args.first() else {
        return Err(EventError::invalid(
            "expected {\"room\", \"event\", \"data\"}",
        ));
    };
    let binary: usize = payload.attachments.iter().map(|b| b.len()).sum();
    let size = payload.args[0].to_string().len() + binary;
    if size > policy.max_event_bytes {
        return Err(EventError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "the event is {size} bytes; the limit is {}",
                policy.max_event_bytes
            ),
        ));
    }
    let room = match body.get("room") {
        Some(Value::String(room)) => room.clone(),
        _ => return Err(EventError::invalid("publish needs a \"room\" string")),
    };
    check_room_name(&room)?;
    let event = match body.get("event") {
        Some(Value::String(event)) if !event.is_empty() => event.clone(),
        _ => {
            return Err(EventError::invalid(
                "publish needs a non-empty \"event\" string",
            ))
        }
    };
    if siohub_protocol::RESERVED_EVENTS.contains(&event.as_str()) {
        return Err(EventError::invalid(
            "that event name is reserved by Socket.IO",
        ));
    }
    let id = match body.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err(EventError::invalid("\"id\" is a string or a number")),
    };
    Ok(Publish {
        room,
        event,
        data: payload.select(vec![body.get("data").cloned().unwrap_or(Value::Null)]),
        echo: body.get("echo") == Some(&Value::Bool(true)),
        id,
    })
}

/// The handler of `publish`.
pub(super) fn on_publish(
    policy: &NamespacePolicy,
    socket: &Socket,
    payload: Payload,
    ack: Option<AckSender>,
    permit: TaskPermit,
) {
    let publish = match parse_publish(policy, &payload) {
        Ok(p) => p,
        Err(e) => {
            if e.code == ErrorCode::PayloadTooLarge {
                let counters = socket.hub().counters();
                counters.refused(RefusalReason::EventTooLarge);
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
        payload: publish.data,
        volatile: false,
        dedupe_id: publish.id,
    };
    // Handed to the Broadcaster now, in the order the client sent its events (a task's
    // first step would run in whatever order the session polls its tasks); the ack goes
    // out from inside the session once the Broadcaster answered.
    let outcome = socket.hub().broadcast(broadcast);
    let session = socket.clone();
    let socket = socket.clone();
    session.run_in_session(async move {
        let _permit = permit;
        let result = match outcome.await {
            Ok(outcome) if outcome.duplicate => {
                Ok(json!({ "ok": true, "recipients": 0, "duplicate": true }))
            }
            Ok(outcome) => Ok(json!({ "ok": true, "recipients": outcome.recipients })),
            Err(e) => Err(EventError::new(ErrorCode::InternalError, e.to_string())),
        };
        answer(&socket, "publish", ack, result);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(v: Value) -> Payload {
        Payload::new(vec![v])
    }

    #[test]
    fn binary_data_is_published_as_binary() {
        let policy = NamespacePolicy {
            max_event_bytes: 200,
            ..NamespacePolicy::default()
        };
        let mut with_binary = Payload::default();
        let ignored = with_binary.push_binary(&b"not data"[..]);
        let blob = with_binary.push_binary(&[0u8, 1, 255][..]);
        with_binary.push_arg(json!({"room":"r","event":"e","extra":ignored,"data":{"blob":blob}}));
        let ok = parse_publish(&policy, &with_binary).unwrap();
        assert_eq!(
            ok.data.args,
            vec![json!({"blob": siohub_protocol::placeholder(0)})]
        );
        assert_eq!(
            ok.data.attachments,
            vec![bytes::Bytes::from_static(&[0, 1, 255])]
        );
        // The buffers count against max_event_bytes.
        let mut big = Payload::default();
        let blob = big.push_binary(vec![7u8; 200]);
        big.push_arg(json!({"room":"r","event":"e","data":blob}));
        let err = parse_publish(&policy, &big).err().map(|e| e.code);
        assert_eq!(err, Some(ErrorCode::PayloadTooLarge));
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
            (json!("x"), ErrorCode::InvalidPayload),
            (json!({"event":"e"}), ErrorCode::InvalidPayload),
            (json!({"room":"r"}), ErrorCode::InvalidPayload),
            (
                json!({"room":"r","event":"connect"}),
                ErrorCode::InvalidPayload,
            ),
            (
                json!({"room":"r","event":"e","id":[1]}),
                ErrorCode::InvalidPayload,
            ),
            (
                json!({"room":"r","event":"e","data":"x".repeat(200)}),
                ErrorCode::PayloadTooLarge,
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
    }
}
