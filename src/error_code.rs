//! The error codes a client is answered with (SPEC §2): in the ack of a refused built-in
//! event, and in the CONNECT error of a refused token.

use serde_json::{json, Value};

/// The error codes of the built-in events and of authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The namespace needs a valid token.
    AuthRequired,
    /// The policy does not allow this room or event.
    PermissionDenied,
    /// The payload does not have the documented shape.
    InvalidPayload,
    /// The event is over `max_event_bytes`.
    PayloadTooLarge,
    /// Too many events per second.
    RateLimitExceeded,
    /// The backend webhook could not be reached.
    BackendUnavailable,
    /// Something did not answer in time.
    Timeout,
    /// The hub failed; the client did nothing wrong.
    InternalError,
    /// The namespace handles no event of that name (it is neither a built-in nor
    /// forwarded); answered only when the client asked for an ack.
    UnknownEvent,
    /// What the event names is not there (a room with no member for `presence`, a room
    /// that keeps no history for `history`).
    NotFound,
}

impl ErrorCode {
    /// The code as clients see it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AuthRequired => "AUTH_REQUIRED",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::InvalidPayload => "INVALID_PAYLOAD",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::RateLimitExceeded => "RATE_LIMIT_EXCEEDED",
            ErrorCode::BackendUnavailable => "BACKEND_UNAVAILABLE",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::UnknownEvent => "UNKNOWN_EVENT",
            ErrorCode::NotFound => "NOT_FOUND",
        }
    }
}

/// A refused built-in event: answered `{"error":{"code","message"}}` through the ack, and
/// logged once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// What was wrong and what to do.
    pub message: String,
}

impl EventError {
    /// A failure with `code`, saying `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        EventError {
            code,
            message: message.into(),
        }
    }

    /// An `INVALID_PAYLOAD` failure: the payload does not have the documented shape.
    pub fn invalid(message: impl Into<String>) -> Self {
        EventError::new(ErrorCode::InvalidPayload, message)
    }

    /// The ack body.
    pub fn to_json(&self) -> Value {
        json!({ "error": { "code": self.code.as_str(), "message": self.message } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ack_body_names_the_code() {
        let failure = EventError::new(ErrorCode::PermissionDenied, "no");
        assert_eq!(
            failure.to_json(),
            json!({"error":{"code":"PERMISSION_DENIED","message":"no"}})
        );
    }
}
