//! The namespace policy as it applies to one socket: the roles authentication gave it, and
//! the counted refusal of what the policy does not allow.

use serde_json::Value;
use siohub_actors::{RefusalReason, Socket};

use crate::error_code::{ErrorCode, EventError};

/// The roles of a socket (set by authentication as `data.roles`).
pub(crate) fn roles_of(socket: &Socket) -> Vec<String> {
    match socket.data("roles") {
        Some(Value::Array(roles)) => roles
            .into_iter()
            .filter_map(|r| r.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// Refuses a `join` or `publish` the policy does not allow, counted.
pub(super) fn denied(socket: &Socket, message: String) -> EventError {
    socket.hub().counters().refused(RefusalReason::RoomDenied);
    EventError::new(ErrorCode::PermissionDenied, message)
}
