//! The backend webhook: the built-in `request` event and the namespace's `forward`ed events
//! are POSTed as JSON to `[webhook] url`, and the backend's JSON reply comes back in the
//! client's ack.
//!
//! The call body is `{"namespace","sid","user","event","action","payload","request_id"}`;
//! a 2xx reply `R` is acked as `{"ok":true,"request_id":..,"data":R}`. No answer within
//! `timeout_ms` acks `TIMEOUT`; an unreachable backend, a 5xx or a reply that is not JSON
//! acks `BACKEND_UNAVAILABLE`; a 4xx acks the matching hub error (401/403
//! `PERMISSION_DENIED`, 413 `PAYLOAD_TOO_LARGE`, 429 `RATE_LIMIT_EXCEEDED`, others
//! `INVALID_PAYLOAD`) with the backend's `message` when it sent one.
//!
//! The backend may be `http://` or `https://`: the client (see [`crate::http_client`])
//! verifies TLS against the webpki roots and `[http_client] ca_file`.
//!
//! Connections are pooled (one `awc` client per worker thread, keep-alive), and at most
//! `max_concurrency` calls wait for the backend at once: more are refused at once with
//! `BACKEND_UNAVAILABLE` and counted, so a slow backend cannot pile up work in the hub.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::Sha256;
use siohub_actors::{AckSender, HubCounters, Payload, RefusalReason, Socket, WebhookOutcome};

use crate::config::{NamespacePolicy, WebhookSettings};
use crate::http_client::HttpClient;
use crate::hub::{answer, HubErrorCode, HubFailure};
use crate::limits::TaskPermit;

/// The header carrying the HMAC-SHA256 of the body when `[webhook] secret` is set.
pub const SIGNATURE_HEADER: &str = "X-Siohub-Signature";

/// What is POSTed to the backend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookCall {
    /// The socket's namespace.
    pub namespace: String,
    /// The socket id.
    pub sid: String,
    /// The authenticated user, if any.
    pub user: Option<String>,
    /// `request`, or the forwarded event's name.
    pub event: String,
    /// The `action` of a `request`; `null` for forwarded events.
    pub action: Option<String>,
    /// The `payload` of a `request`, or the forwarded event's argument (an array when it had
    /// several, `null` when none).
    pub payload: Value,
    /// The client's `request_id`, or a fresh one.
    pub request_id: String,
}

struct Inner {
    url: String,
    timeout: Duration,
    max_concurrency: usize,
    in_flight: AtomicUsize,
    secret: Option<Vec<u8>>,
    max_reply: usize,
    /// `http://` or `https://` (TLS verified against the webpki roots and
    /// `[http_client] ca_file`).
    http: HttpClient,
}

/// The webhook of one server. Cheap to clone.
#[derive(Clone)]
pub struct Webhook {
    inner: Option<Arc<Inner>>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.inner.as_ref().map(|i| i.url.as_str()))
            .finish_non_exhaustive()
    }
}

/// Releases a concurrency slot when the call ends, however it ends.
struct Slot(Arc<Inner>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

fn failure(code: HubErrorCode, message: impl Into<String>) -> HubFailure {
    HubFailure {
        code,
        message: message.into(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `sha256=<hex HMAC-SHA256 of body under secret>`, the value of [`SIGNATURE_HEADER`].
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

impl Webhook {
    /// The webhook of `[webhook]`, called through `http`; replies over `max_reply` bytes
    /// are refused.
    pub fn new(settings: &WebhookSettings, max_reply: usize, http: HttpClient) -> Self {
        let inner = (!settings.url.is_empty()).then(|| {
            Arc::new(Inner {
                url: settings.url.clone(),
                timeout: Duration::from_millis(settings.timeout_ms),
                max_concurrency: settings.max_concurrency,
                in_flight: AtomicUsize::new(0),
                secret: (!settings.secret.is_empty()).then(|| settings.secret.as_bytes().to_vec()),
                max_reply,
                http,
            })
        });
        Webhook { inner }
    }

    /// Whether a backend URL is configured.
    pub fn is_configured(&self) -> bool {
        self.inner.is_some()
    }

    /// POSTs `call` to the backend and resolves to its reply. Must run on an actix system
    /// (a worker or a session's arbiter).
    pub fn call(
        &self,
        counters: Arc<HubCounters>,
        call: WebhookCall,
    ) -> impl std::future::Future<Output = Result<Value, HubFailure>> + 'static {
        let inner = self.inner.clone();
        async move {
            let Some(inner) = inner else {
                return Err(failure(
                    HubErrorCode::BackendUnavailable,
                    "no backend is configured (set [webhook] url)",
                ));
            };
            let taken = inner.in_flight.fetch_add(1, Ordering::Relaxed);
            let slot = Slot(inner.clone());
            if taken >= inner.max_concurrency {
                counters.refused(RefusalReason::WebhookBusy);
                return Err(failure(
                    HubErrorCode::BackendUnavailable,
                    format!(
                        "the backend is busy: {} calls are already waiting for it (webhook.max_concurrency); retry later",
                        inner.max_concurrency
                    ),
                ));
            }
            counters.webhook_started();
            let (outcome, result) = post(&inner, &call).await;
            counters.webhook_finished(outcome);
            drop(slot);
            if let (Err(e), WebhookOutcome::Timeout | WebhookOutcome::Unavailable) =
                (&result, outcome)
            {
                siohub_actors::limited!(
                    warn,
                    "webhook {} for {} on {} ({}): {} {}",
                    siohub_actors::ClientText(&call.request_id),
                    siohub_actors::ClientText(&call.event),
                    siohub_actors::ClientText(&call.namespace),
                    outcome.as_str(),
                    e.code.as_str(),
                    siohub_actors::ClientText(&e.message)
                );
            }
            result
        }
    }
}

async fn post(inner: &Inner, call: &WebhookCall) -> (WebhookOutcome, Result<Value, HubFailure>) {
    let body = match serde_json::to_vec(call) {
        Ok(body) => body,
        Err(e) => {
            let e = failure(HubErrorCode::InternalError, e.to_string());
            return (WebhookOutcome::Unavailable, Err(e));
        }
    };
    let mut request = inner
        .http
        .client()
        .post(&inner.url)
        .timeout(inner.timeout)
        .insert_header(("content-type", "application/json"))
        .insert_header(("x-siohub-request-id", call.request_id.as_str()));
    if let Some(secret) = &inner.secret {
        request = request.insert_header((SIGNATURE_HEADER, signature(secret, &body)));
    }
    let timed_out = || {
        failure(
            HubErrorCode::Timeout,
            format!(
                "the backend did not answer within {} ms",
                inner.timeout.as_millis()
            ),
        )
    };
    let exchange = async {
        let mut response = request.send_body(body).await?;
        let status = response.status();
        let bytes = response.body().limit(inner.max_reply).await;
        Ok::<_, awc::error::SendRequestError>((status, bytes))
    };
    let (status, bytes) = match actix_rt::time::timeout(inner.timeout, exchange).await {
        Err(_) | Ok(Err(awc::error::SendRequestError::Timeout)) => {
            return (WebhookOutcome::Timeout, Err(timed_out()));
        }
        Ok(Err(e)) => {
            let e = failure(
                HubErrorCode::BackendUnavailable,
                format!("the backend cannot be reached: {e}"),
            );
            return (WebhookOutcome::Unavailable, Err(e));
        }
        Ok(Ok(answer)) => answer,
    };
    let bytes = match bytes {
        Ok(bytes) => bytes,
        Err(e) => {
            let e = failure(
                HubErrorCode::BackendUnavailable,
                format!("the backend's reply could not be read: {e}"),
            );
            return (WebhookOutcome::Unavailable, Err(e));
        }
    };
    interpret(status.as_u16(), &bytes)
}

/// What a backend answer means for the client.
fn interpret(status: u16, body: &[u8]) -> (WebhookOutcome, Result<Value, HubFailure>) {
    let json: Option<Value> = if body.iter().all(u8::is_ascii_whitespace) {
        Some(Value::Null)
    } else {
        serde_json::from_slice(body).ok()
    };
    match status {
        200..=299 => match json {
            Some(reply) => (WebhookOutcome::Ok, Ok(reply)),
            None => (
                WebhookOutcome::Unavailable,
                Err(failure(
                    HubErrorCode::BackendUnavailable,
                    format!("the backend answered {status} with a body that is not JSON"),
                )),
            ),
        },
        400..=499 => {
            let code = match status {
                401 | 403 => HubErrorCode::PermissionDenied,
                413 => HubErrorCode::PayloadTooLarge,
                429 => HubErrorCode::RateLimitExceeded,
                _ => HubErrorCode::InvalidPayload,
            };
            let message = json
                .as_ref()
                .and_then(|j| {
                    j.get("message")
                        .or_else(|| j.get("error").and_then(|e| e.get("message")))
                })
                .and_then(Value::as_str)
                .map(String::from)
                .unwrap_or_else(|| format!("the backend refused the request ({status})"));
            (WebhookOutcome::Rejected, Err(failure(code, message)))
        }
        _ => (
            WebhookOutcome::Unavailable,
            Err(failure(
                HubErrorCode::BackendUnavailable,
                format!("the backend failed ({status})"),
            )),
        ),
    }
}

/// A request id given by the client (a string or a number), or a fresh one.
fn request_id_of(value: Option<&Value>) -> Result<String, HubFailure> {
    match value {
        None | Some(Value::Null) => Ok(uuid::Uuid::new_v4().to_string()),
        Some(Value::String(id)) if !id.is_empty() && id.len() <= 256 => Ok(id.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(_) => Err(failure(
            HubErrorCode::InvalidPayload,
            "\"request_id\" is a string of 1 to 256 characters or a number",
        )),
    }
}

fn check_size(policy: &NamespacePolicy, socket: &Socket, args: &[Value]) -> Result<(), HubFailure> {
    let size: usize = args.iter().map(|a| a.to_string().len()).sum();
    if size > policy.max_event_bytes {
        socket
            .hub()
            .counters()
            .refused(RefusalReason::EventTooLarge);
        return Err(failure(
            HubErrorCode::PayloadTooLarge,
            format!(
                "the event is {size} bytes; the limit is {} (max_event_bytes)",
                policy.max_event_bytes
            ),
        ));
    }
    Ok(())
}

fn json_only(payload: &Payload) -> Result<(), HubFailure> {
    if payload.attachments.is_empty() {
        Ok(())
    } else {
        Err(failure(
            HubErrorCode::InvalidPayload,
            "events for the backend carry JSON only (no binary attachments)",
        ))
    }
}

/// The call a `request` event asks for: `{"action","payload","request_id"}`.
pub fn parse_request(
    policy: &NamespacePolicy,
    socket: &Socket,
    payload: &Payload,
) -> Result<WebhookCall, HubFailure> {
    json_only(payload)?;
    let Some(Value::Object(body)) = payload.args.first() else {
        return Err(failure(
            HubErrorCode::InvalidPayload,
            "expected {\"action\": \"<name>\", \"payload\": <any>, \"request_id\": <optional>}",
        ));
    };
    check_size(policy, socket, &payload.args[..1])?;
    let action = match body.get("action") {
        Some(Value::String(action)) if !action.is_empty() => action.clone(),
        _ => {
            return Err(failure(
                HubErrorCode::InvalidPayload,
                "request needs a non-empty \"action\" string",
            ))
        }
    };
    Ok(WebhookCall {
        namespace: socket.nsp().to_owned(),
        sid: socket.id().to_owned(),
        user: socket.user(),
        event: "request".into(),
        action: Some(action),
        payload: body.get("payload").cloned().unwrap_or(Value::Null),
        request_id: request_id_of(body.get("request_id"))?,
    })
}

/// The call a forwarded event makes.
pub fn parse_forward(
    policy: &NamespacePolicy,
    socket: &Socket,
    event: &str,
    payload: &Payload,
) -> Result<WebhookCall, HubFailure> {
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
        sid: socket.id().to_owned(),
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
        let result = reply
            .await
            .map(|data| json!({ "ok": true, "request_id": request_id, "data": data }));
        answer(&socket, &event, ack, result);
    });
}

/// The handler of the built-in `request` event.
pub fn on_request(
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
pub fn on_forward(
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
    fn replies_map_to_acks() {
        assert_eq!(interpret(200, br#"{"a":1}"#).1, Ok(json!({"a":1})));
        assert_eq!(interpret(204, b"").1, Ok(Value::Null));
        let (outcome, result) = interpret(200, b"<html>");
        assert_eq!(outcome, WebhookOutcome::Unavailable);
        assert_eq!(result.unwrap_err().code, HubErrorCode::BackendUnavailable);
        let (outcome, result) = interpret(403, br#"{"message":"not yours"}"#);
        assert_eq!(outcome, WebhookOutcome::Rejected);
        assert_eq!(
            result.unwrap_err(),
            failure(HubErrorCode::PermissionDenied, "not yours")
        );
        assert_eq!(
            interpret(429, b"").1.unwrap_err().code,
            HubErrorCode::RateLimitExceeded
        );
        assert_eq!(
            interpret(400, b"bad").1.unwrap_err().code,
            HubErrorCode::InvalidPayload
        );
        assert_eq!(
            interpret(503, b"{}").1.unwrap_err().code,
            HubErrorCode::BackendUnavailable
        );
    }

    #[test]
    fn request_ids_are_kept_or_made() {
        assert_eq!(request_id_of(Some(&json!("r1"))).unwrap(), "r1");
        assert_eq!(request_id_of(Some(&json!(7))).unwrap(), "7");
        assert_eq!(request_id_of(None).unwrap().len(), 36);
        assert!(request_id_of(Some(&json!([1]))).is_err());
        assert!(request_id_of(Some(&json!(""))).is_err());
    }

    #[test]
    fn signatures_are_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
