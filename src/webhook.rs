//! The backend webhook client: a [`WebhookCall`] is POSTed as JSON to `[webhook] url`, and
//! the backend's JSON reply, or a [`WebhookError`] saying why there is none, comes back.
//! What a client is answered is for the built-in events to decide; this client knows
//! nothing of sockets, acks or error codes.
//!
//! The call body is `{"namespace","sid","user","event","action","payload","request_id"}`
//! (`sid` is the socket id). A 2xx reply with a JSON body (or none) is the answer; a 4xx
//! is [`WebhookError::Rejected`] with the backend's `message` when it sent one; anything
//! else, no answer within `timeout_ms`, or an unreachable backend is an error of its own.
//!
//! The backend may be `http://` or `https://`: the client (see [`crate::http_client`])
//! verifies TLS against the webpki roots and `[http_client] ca_file`. With `[webhook]
//! secret` set, the body is signed (HMAC-SHA256, in [`SIGNATURE_HEADER`]).
//!
//! Connections are pooled (one `awc` client per worker thread, keep-alive), and at most
//! `max_concurrency` calls wait for the backend at once: more are refused at once
//! ([`WebhookError::Busy`]) and counted, so a slow backend cannot pile up work in the hub.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;
use siohub_actors::{HubCounters, RefusalReason, WebhookOutcome};

use crate::config::WebhookSettings;
use crate::http_client::HttpClient;

/// The header carrying the HMAC-SHA256 of the body when `[webhook] secret` is set.
pub const SIGNATURE_HEADER: &str = "X-Siohub-Signature";

/// What is POSTed to the backend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookCall {
    /// The socket's namespace.
    pub namespace: String,
    /// The socket id (`sid` on the wire).
    #[serde(rename = "sid")]
    pub socket_id: String,
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

/// Why a call brought no answer. Each says what was wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// `[webhook] url` is empty.
    #[error("no backend is configured (set [webhook] url)")]
    NotConfigured,
    /// `max_concurrency` calls were already waiting for the backend.
    #[error("the backend is busy: {0} calls are already waiting for it (webhook.max_concurrency); retry later")]
    Busy(usize),
    /// The call could not be written as JSON.
    #[error("{0}")]
    Encode(String),
    /// No answer within `timeout_ms`.
    #[error("the backend did not answer within {0} ms")]
    Timeout(u128),
    /// No connection, or it failed before the reply.
    #[error("the backend cannot be reached: {0}")]
    Unreachable(String),
    /// The reply's body could not be read (or was over the limit).
    #[error("the backend's reply could not be read: {0}")]
    UnreadableReply(String),
    /// A 2xx reply whose body is not JSON.
    #[error("the backend answered {0} with a body that is not JSON")]
    NotJson(u16),
    /// A 4xx reply: the backend refused the call.
    #[error("{message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The backend's `message` (or `error.message`), or one that names the status.
        message: String,
    },
    /// Any other status.
    #[error("the backend failed ({0})")]
    Failed(u16),
}

impl WebhookError {
    /// How the call is counted in `siohub_webhook_requests_total`.
    pub fn outcome(&self) -> WebhookOutcome {
        match self {
            WebhookError::Timeout(_) => WebhookOutcome::Timeout,
            WebhookError::Rejected { .. } => WebhookOutcome::Rejected,
            _ => WebhookOutcome::Unavailable,
        }
    }
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

    /// POSTs `call` to the backend and resolves to its reply; `counters` count the call
    /// by outcome, the calls in flight, and those refused for `max_concurrency`. Must run
    /// on an actix system (a worker or a session's arbiter).
    pub fn call(
        &self,
        counters: Arc<HubCounters>,
        call: WebhookCall,
    ) -> impl std::future::Future<Output = Result<Value, WebhookError>> + 'static {
        let inner = self.inner.clone();
        async move {
            let inner = inner.ok_or(WebhookError::NotConfigured)?;
            let taken = inner.in_flight.fetch_add(1, Ordering::Relaxed);
            let slot = Slot(inner.clone());
            if taken >= inner.max_concurrency {
                counters.refused(RefusalReason::WebhookBusy);
                return Err(WebhookError::Busy(inner.max_concurrency));
            }
            counters.webhook_started();
            let result = post(&inner, &call).await;
            let outcome = result
                .as_ref()
                .map_or_else(WebhookError::outcome, |_| WebhookOutcome::Ok);
            counters.webhook_finished(outcome);
            drop(slot);
            if let Err(e) = &result {
                if matches!(
                    outcome,
                    WebhookOutcome::Timeout | WebhookOutcome::Unavailable
                ) {
                    siohub_actors::limited!(
                        warn,
                        "webhook {} for {} on {} ({}): {}",
                        siohub_actors::ClientText(&call.request_id),
                        siohub_actors::ClientText(&call.event),
                        siohub_actors::ClientText(&call.namespace),
                        outcome.as_str(),
                        siohub_actors::ClientText(&e.to_string())
                    );
                }
            }
            result
        }
    }
}

async fn post(inner: &Inner, call: &WebhookCall) -> Result<Value, WebhookError> {
    let body = serde_json::to_vec(call).map_err(|e| WebhookError::Encode(e.to_string()))?;
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
    let exchange = async {
        let mut response = request.send_body(body).await?;
        let status = response.status();
        let bytes = response.body().limit(inner.max_reply).await;
        Ok::<_, awc::error::SendRequestError>((status, bytes))
    };
    let (status, bytes) = match actix_rt::time::timeout(inner.timeout, exchange).await {
        Err(_) | Ok(Err(awc::error::SendRequestError::Timeout)) => {
            return Err(WebhookError::Timeout(inner.timeout.as_millis()));
        }
        Ok(Err(e)) => return Err(WebhookError::Unreachable(e.to_string())),
        Ok(Ok(answer)) => answer,
    };
    let bytes = bytes.map_err(|e| WebhookError::UnreadableReply(e.to_string()))?;
    interpret(status.as_u16(), &bytes)
}

/// What a backend answer means: the reply, or why there is none.
fn interpret(status: u16, body: &[u8]) -> Result<Value, WebhookError> {
    let json: Option<Value> = if body.iter().all(u8::is_ascii_whitespace) {
        Some(Value::Null)
    } else {
        serde_json::from_slice(body).ok()
    };
    match status {
        200..=299 => json.ok_or(WebhookError::NotJson(status)),
        400..=499 => {
            let message = json
                .as_ref()
                .and_then(|j| {
                    j.get("message")
                        .or_else(|| j.get("error").and_then(|e| e.get("message")))
                })
                .and_then(Value::as_str)
                .map(String::from)
                .unwrap_or_else(|| format!("the backend refused the request ({status})"));
            Err(WebhookError::Rejected { status, message })
        }
        _ => Err(WebhookError::Failed(status)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn replies_are_read() {
        assert_eq!(interpret(200, br#"{"a":1}"#), Ok(json!({"a":1})));
        assert_eq!(interpret(204, b""), Ok(Value::Null));
        let not_json = interpret(200, b"<html>").unwrap_err();
        assert_eq!(not_json, WebhookError::NotJson(200));
        assert_eq!(not_json.outcome(), WebhookOutcome::Unavailable);
        let refused = interpret(403, br#"{"message":"not yours"}"#).unwrap_err();
        assert_eq!(
            refused,
            WebhookError::Rejected {
                status: 403,
                message: "not yours".into()
            }
        );
        assert_eq!(refused.outcome(), WebhookOutcome::Rejected);
        assert_eq!(
            interpret(400, b"bad").unwrap_err().to_string(),
            "the backend refused the request (400)"
        );
        assert_eq!(interpret(503, b"{}"), Err(WebhookError::Failed(503)));
        assert_eq!(WebhookError::Timeout(5).outcome(), WebhookOutcome::Timeout);
    }

    #[test]
    fn the_wire_names_the_socket_id_sid() {
        let call = WebhookCall {
            namespace: "/".into(),
            socket_id: "s1".into(),
            user: None,
            event: "request".into(),
            action: None,
            payload: Value::Null,
            request_id: "r".into(),
        };
        assert_eq!(serde_json::to_value(&call).unwrap()["sid"], "s1");
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
