//! The built-in `join` and `leave` as durable subscriptions see them: a join by an
//! identified user asks for its room to be kept (with the join's options), a leave for it
//! to be removed, both in the order the client sent them; the ack then says what became of
//! the write (`"durable": "kept" | "removed" | "queued" | "dropped" | "failed"`). A join
//! over `max_rooms_per_user` is undone and refused. Anonymous sockets keep nothing.

use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value};
use siohub_actors::{Payload, Socket};

use super::status::{Refusal, WriteOutcome};
use super::{Subscriptions, WriteOp, Written};
use crate::error_code::{ErrorCode, EventError};

/// Most bytes of user id, namespace and room together that are kept (PostgreSQL's index
/// entries hold at most about 2.7 kB).
pub const MAX_KEY_BYTES: usize = 2048;

type WriteFuture = Pin<Box<dyn Future<Output = Written>>>;

/// A keep asked for a join, settled once the join itself is done.
pub struct PendingKeep {
    subs: Subscriptions,
    user: String,
    room: String,
    written: WriteFuture,
}

/// A removal asked for a leave.
pub struct PendingForget {
    written: WriteFuture,
}

/// The options a join carries: its JSON object without `room` (`{}` for a bare name).
pub fn join_options(payload: &Payload) -> Value {
    let mut options = match payload.args.first() {
        Some(Value::Object(body)) => body.clone(),
        _ => Map::new(),
    };
    options.remove("room");
    Value::Object(options)
}

/// For a `join` of `room` by `socket`: with a store and a user, queues the keep (now, in
/// the client's order) or refuses what cannot be kept; `None` when nothing is kept.
pub fn keep_for_join(
    subs: Option<&Subscriptions>,
    socket: &Socket,
    room: &str,
    payload: &Payload,
) -> Result<Option<PendingKeep>, EventError> {
    let Some(subs) = subs else {
        return Ok(None);
    };
    subs.touch(socket.id(), room);
    let Some(user) = socket.user() else {
        return Ok(None);
    };
    let options = join_options(payload);
    check_storable(subs, socket.nsp(), &user, room, &options)?;
    let written = subs.write(WriteOp::Keep {
        nsp: socket.nsp().to_owned(),
        user: user.clone(),
        room: room.to_owned(),
        options,
    });
    Ok(Some(PendingKeep {
        subs: subs.clone(),
        user,
        room: room.to_owned(),
        written: Box::pin(written),
    }))
}

/// Refuses (counted) what PostgreSQL could not keep or the bounds do not allow.
fn check_storable(
    subs: &Subscriptions,
    nsp: &str,
    user: &str,
    room: &str,
    options: &Value,
) -> Result<(), EventError> {
    let refuse = |reason, code, message: String| {
        subs.status().count_refused(reason);
        Err(EventError::new(code, message))
    };
    let text = options.to_string();
    let max = subs.settings().max_options_bytes;
    if text.len() > max {
        return refuse(
            Refusal::OptionsTooLarge,
            ErrorCode::PayloadTooLarge,
            format!(
                "the join's options are {} bytes; at most {max} are kept ([subscriptions] max_options_bytes)",
                text.len()
            ),
        );
    }
    // jsonb and text refuse NUL; serde_json writes it as \u0000.
    if [nsp, user, room].iter().any(|s| s.contains('\0')) || text.contains("\\u0000") {
        return refuse(
            Refusal::NotStorable,
            ErrorCode::InvalidPayload,
            "a room or option with a NUL character cannot be kept".into(),
        );
    }
    if nsp.len() + user.len() + room.len() > MAX_KEY_BYTES {
        return refuse(
            Refusal::NotStorable,
            ErrorCode::InvalidPayload,
            format!(
                "user id, namespace and room over {MAX_KEY_BYTES} bytes together cannot be kept"
            ),
        );
    }
    Ok(())
}

impl PendingKeep {
    /// The join's answer once the keep is known: `joined` with `"durable"` added, or the
    /// refusal of a join over `max_rooms_per_user` (the socket leaves the room again). A
    /// join that failed takes back a room it newly kept.
    pub async fn settle(
        self,
        socket: &Socket,
        joined: Result<Value, EventError>,
    ) -> Result<Value, EventError> {
        let written = self.written.await;
        let mut body = match joined {
            Ok(body) => body,
            Err(e) => {
                if matches!(written, Written::Done { inserted: true, .. }) {
                    self.subs.enqueue(WriteOp::Forget {
                        nsp: socket.nsp().to_owned(),
                        user: self.user,
                        room: self.room,
                    });
                }
                return Err(e);
            }
        };
        if let Written::Done {
            outcome: WriteOutcome::OverLimit,
            ..
        } = written
        {
            self.subs.status().count_refused(Refusal::OverLimit);
            let _ = socket.leave(&self.room).await;
            let max = self.subs.settings().max_rooms_per_user;
            return Err(EventError::new(
                ErrorCode::RateLimitExceeded,
                format!(
                    "user {:?} keeps {max} rooms already ([subscriptions] max_rooms_per_user); leave one first",
                    self.user
                ),
            ));
        }
        body["durable"] = Value::from(label(&written, "kept"));
        Ok(body)
    }
}

/// For a `leave` of `room` by `socket`: with a store and a user, queues the removal (now,
/// in the client's order); `None` when nothing is kept.
pub fn forget_for_leave(
    subs: Option<&Subscriptions>,
    socket: &Socket,
    room: &str,
) -> Option<PendingForget> {
    let subs = subs?;
    subs.touch(socket.id(), room);
    let user = socket.user()?;
    let written = subs.write(WriteOp::Forget {
        nsp: socket.nsp().to_owned(),
        user,
        room: room.to_owned(),
    });
    Some(PendingForget {
        written: Box::pin(written),
    })
}

impl PendingForget {
    /// The leave's answer with `"durable"` added.
    pub async fn settle(self, left: Result<Value, EventError>) -> Result<Value, EventError> {
        let written = self.written.await;
        let mut body = left?;
        body["durable"] = Value::from(label(&written, "removed"));
        Ok(body)
    }
}

/// What the ack says of a write.
fn label(written: &Written, done: &'static str) -> &'static str {
    match written {
        Written::Done { .. } => done,
        Written::Queued => "queued",
        Written::Dropped => "dropped",
        Written::Failed(_) => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn options_are_the_join_object_without_its_room() {
        let of = |v: Value| join_options(&Payload::new(vec![v]));
        assert_eq!(of(json!("r")), json!({}));
        assert_eq!(of(json!({"room": "r"})), json!({}));
        assert_eq!(
            of(json!({"room": "r", "fields": ["price"]})),
            json!({"fields": ["price"]})
        );
    }

    #[test]
    fn acks_name_what_became_of_the_write() {
        let done = Written::Done {
            outcome: WriteOutcome::Kept,
            inserted: true,
        };
        assert_eq!(label(&done, "kept"), "kept");
        assert_eq!(label(&Written::Queued, "kept"), "queued");
        assert_eq!(label(&Written::Dropped, "removed"), "dropped");
        assert_eq!(label(&Written::Failed("x".into()), "kept"), "failed");
    }
}
