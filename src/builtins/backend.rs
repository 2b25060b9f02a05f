//! The events that go to the backend: the built-in `request` (`{"action","payload",
//! "request_id"}`) and the namespace's `forward`ed events. Each is checked, sent through
//! the [`Webhook`] client, and the reply acked as `{"ok":true,"request_id":..,"data":R}`;
//! a [`WebhookError`] is acked with its error code: `TIMEOUT`; 401/403
//! `PERMISSION_DENIED`, 413 `PAYLOAD_TOO_LARGE`, 429 `RATE_LIMIT_EXCEEDED`, other 4xx
//! `INVALID_PAYLOAD` (with the backend's message); `BACKEND_UNAVAILABLE` otherwise.

use serde_json::{json, Value};
use siohub_actors::{AckSender, Payload, RefusalReason, Socket};

use super::answer::answer;
use crate::config::NamespacePolicy;
use crate::error_code::{ErrorCode, EventError};
use crate::limits::TaskPermit;
use crate::webhook::{Webhook, WebhookCall, WebhookError};

/// The error code a client is answered with when the backend gave no answer.
fn code_of(error: &WebhookError) -> ErrorCode {
    match error {
        WebhookError::Timeout(_) => ErrorCode::Timeout,
        WebhookError::Encode(_) => ErrorCode::InternalError,
        WebhookError::Rejected { status, .. } => match status {
            401 | 403 => ErrorCode::PermissionDenied,
            413 => ErrorCode::PayloadTooLarge,
            429 => ErrorCode::RateLimitExceeded,
            _ => ErrorCode::InvalidPayload,
        },
        WebhookError::NotConfigured
        | WebhookError::Busy(_)
        | WebhookError::Unreachable(_)
        | WebhookError::UnreadableReply(_)
        | WebhookError::NotJson(_)
        | WebhookError::Failed(_) => ErrorCode::BackendUnavailable,
    }
}

impl From<WebhookError> for EventError {
    fn from(error: WebhookError) -> Self {
        EventError::new(code_of(&error), error.to_string())
    }
}

/// A request id given by the client (a string or a number), or a fresh one.
fn request_id_of(value: Option<&Value>) -> Result<String, EventError> {
    match value {
        None | Some(Value::Null) => Ok(uuid::Uuid::new_v4().to_string()),
        Some(Value::String(id)) if !id.is_empty() && id.len() <= 256 => Ok(id.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(_) => Err(EventError::invalid(
            "\"request_id\" is a string of 1 to 256 characters or a number",
        )),
    }
}

fn check_size(policy: &NamespacePolicy, socket: &Socket, args: &[Value]) -> Result<(), EventError> {
    let size: usize = args.iter().map(|a| a.to_string().len()).sum();
    if size > policy.max_event_bytes {
        socket
            .hub()
            .counters()
            .refused(RefusalReason::EventTooLarge);
        return Err(EventError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "the event is {size} bytes; the limit is {} (max_event_bytes)",
                policy.max_event_bytes
            ),
        ));
    }
    Ok(())
}

fn json_only(payload: &Payload) -> Result<(), EventError> {
    if payload.attachments.is_empty() {
        Ok(())
    } else {
        Err(EventError::invalid(
            "events for the backend carry JSON only (no binary attachments)",
        ))
    }
}

/// The call a `request` event asks for: `{"action","payload","request_id"}`.
fn parse_request(
    policy: &NamespacePolicy,
    socket: &Socket,
    payload: &Payload,
) -> Result<WebhookCall, EventError> {
    json_only(payload)?;
    let Some(Value::Object(body)) = payload.args.first() else {
        return Err(EventError::invalid(
            "expected {\"action\": \"<name>\", \"payload\": <any>, \"request_id\": <optional>}",
        ));
    };
    check_size(policy, socket, &payload.args[..1])?;
    let action = match body.get("action") {
        Some(Value::String(action)) if !action.is_empty() => action.clone(),
        _ => {
            return Err(EventError::invalid(
                "request needs a non-empty \"action\" string",
            ))
        }
    };
    Ok(WebhookCall {
        namespace: socket.nsp().to_owned(),
        socket_id: socket.id().to_owned(),
        user: socket.user(),
        event: "request".into(),
        action: Some(action),
        payload: body.get("payload").cloned().unwrap_or(Value::Null),
        request_id: request_id_of(body.get("request_id"))?,
    })
}

/// The call a forwarded event makes: its argument (an array when it had several, `null`
/// when none) as the payload.
fn parse_forward(
    policy: &NamespacePolicy,
    socket: &Socket,
    event: &str,
    payload: &Payload,
) -> Result<WebhookCall, EventError> {
    json_only(payload)?;
    check_size(policy, socket, &payload.args)?;
    let request_id = request_id_of(payload.args.first().and_then(|a| a.get("request_id")))?;
    let payload = match payload.args.as_slice() {
        [] => Value::Null,
        [one] => one.clone(),
        many => Value::Array(many.to_vec()),
    };
    Ok(WebhookCall {
        namespace: socket.nsp().to_owned(),
        socket_id: socket.id().to_owned(),
        user: socket.user(),
        event: event.to_owned(),
        action: None,
        payload,
        request_id,
    })
}

/// Sends `call` and answers the ack with the reply; the task holds `permit` (its share of
/// the socket's `max_tasks_per_socket`) until the reply is in.
fn dispatch(
    webhook: &Webhook,
    socket: &Socket,
    ack: Option<AckSender>,
    call: WebhookCall,
    permit: TaskPermit,
) {
    let event = call.event.clone();
    let request_id = call.request_id.clone();
    let reply = webhook.call(socket.hub().counters().clone(), call);
    let socket = socket.clone();
    actix_rt::spawn(async move {
        let _permit = permit;
        let result = match reply.await {
            Ok(data) => Ok(json!({ "ok": true, "request_id": request_id, "data": data })),
            Err(e) => Err(EventError::from(e)),
        };
        answer(&socket, &event, ack, result);
    });
}

/// The handler of the built-in `request` event.
pub(super) fn on_request(
    policy: &NamespacePolicy,
    webhook: &Webhook,
    socket: &Socket,
    payload: Payload,
    ack: Option<AckSender>,
    permit: TaskPermit,
) {
    match parse_request(policy, socket, &payload) {
        Ok(call) => dispatch(webhook, socket, ack, call, permit),
        Err(e) => answer(socket, "request", ack, Err(e)),
    }
}

/// The handler of a forwarded event.
pub(super) fn on_forward(
    policy: &NamespacePolicy,
    webhook: &Webhook,
    socket: &Socket,
    event: &str,
    payload: Payload,
    ack: Option<AckSender>,
    permit: TaskPermit,
) {
    match parse_forward(policy, socket, event, &payload) {
        Ok(call) => dispatch(webhook, socket, ack, call, permit),
        Err(e) => answer(socket, event, ack, Err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_errors_map_to_codes() {
        let rejected = |status| WebhookError::Rejected {
            status,
            message: "not yours".into(),
        };
        assert_eq!(
            EventError::from(rejected(403)),
            EventError::new(ErrorCode::PermissionDenied, "not yours")
        );
        assert_eq!(code_of(&rejected(401)), ErrorCode::PermissionDenied);
        assert_eq!(code_of(&rejected(413)), ErrorCode::PayloadTooLarge);
        assert_eq!(code_of(&rejected(429)), ErrorCode::RateLimitExceeded);
        assert_eq!(code_of(&rejected(400)), ErrorCode::InvalidPayload);
        assert_eq!(code_of(&WebhookError::Timeout(5)), ErrorCode::Timeout);
        assert_eq!(
            code_of(&WebhookError::Encode("x".into())),
            ErrorCode::InternalError
        );
        for unavailable in [
            WebhookError::NotConfigured,
            WebhookError::Busy(1),
            WebhookError::NotJson(200),
            WebhookError::Failed(503),
        ] {
            assert_eq!(code_of(&unavailable), ErrorCode::BackendUnavailable);
        }
    }

    #[test]
    fn request_ids_are_kept_or_made() {
        assert_eq!(request_id_of(Some(&json!("r1"))).unwrap(), "r1");
        assert_eq!(request_id_of(Some(&json!(7))).unwrap(), "7");
        assert_eq!(request_id_of(None).unwrap().len(), 36);
        assert!(request_id_of(Some(&json!([1]))).is_err());
        assert!(request_id_of(Some(&json!(""))).is_err());
    }
}
