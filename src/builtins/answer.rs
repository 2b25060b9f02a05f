//! Answering a built-in event through its ack: the success body, or the error body of an
//! [`EventError`] (logged either way).

use serde_json::{json, Value};
use siohub_actors::{AckSender, Socket};

use crate::error_code::{ErrorCode, EventError};

/// Answers through the ack (when the client asked for one): the success body or the error
/// body. Errors are logged either way.
pub(crate) fn answer(
    socket: &Socket,
    event: &str,
    ack: Option<AckSender>,
    result: Result<Value, EventError>,
) {
    let body = match result {
        Ok(body) => body,
        Err(failure) => {
            siohub_actors::limited!(
                info,
                "socket {} on {}: {} refused: {} {}",
                socket.id(),
                siohub_actors::ClientText(socket.nsp()),
                siohub_actors::ClientText(event),
                failure.code.as_str(),
                siohub_actors::ClientText(&failure.message)
            );
            failure.to_json()
        }
    };
    if let Some(ack) = ack {
        ack.send_json(json!([body]));
    }
}

/// Answers an event refused by a per-socket bound with `RATE_LIMIT_EXCEEDED` through its
/// ack, when it asked for one (the message is only made then).
pub(super) fn over_limit(ack: Option<AckSender>, message: impl FnOnce() -> String) {
    if let Some(ack) = ack {
        let refusal = EventError::new(ErrorCode::RateLimitExceeded, message());
        ack.send_json(json!([refusal.to_json()]));
    }
}
