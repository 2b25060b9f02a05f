//! Events the namespace does not handle (neither a built-in nor in its `forward` list): a
//! client that asked for an ack is answered `UNKNOWN_EVENT` at once, so it does not wait
//! for its ack timeout; without an ack the event is only counted, as any event is.

use std::sync::Arc;

use siohub_actors::{AckSender, ClientText, Socket};

use super::answer::answer;
use super::limited::refuse_over_rate;
use crate::error_code::{ErrorCode, EventError};
use crate::limits::EventRateLimiter;

/// The handler of every event without one of its own. The answer goes through the socket's
/// rate limit like any other event's.
pub(super) fn on_unknown(
    limiter: &Arc<EventRateLimiter>,
    socket: &Socket,
    event: &str,
    ack: Option<AckSender>,
) {
    let Some(ack) = ack else {
        return;
    };
    if !limiter.allow(socket.id()) {
        return refuse_over_rate(limiter, socket, event, Some(ack));
    }
    let refusal = EventError::new(
        ErrorCode::UnknownEvent,
        format!(
            "namespace {} handles no event {}: the hub answers join, leave, publish, ping and request, and sends the namespace's forward events to the backend",
            socket.nsp(),
            ClientText(event)
        ),
    );
    answer(socket, event, Some(ack), Err(refusal));
}
