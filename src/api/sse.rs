//! `GET /api/v1/sse?namespace=/&rooms=a,b`: a Server-Sent-Events stream of the events
//! emitted in a namespace, for consumers that cannot speak Socket.IO.
//!
//! Each event comes as `event: <name>` / `data: <arguments as a JSON array>` (binary as
//! base64). With `rooms`, the stream carries the events sent to one of those rooms (named in
//! the emit's rooms, or as a user's `user:<id>` room) and not excepted from them; without,
//! every event of the namespace. With `fields=a,b`, an event whose data is one JSON object
//! comes with only those top-level fields (others unchanged; see
//! `siohub_actors::fields`). A comment line opens the stream once the subscription is
//! in place, and another keeps an idle stream alive every `api.sse_keepalive_s`.
//!
//! Memory is bounded: at most `api.sse_queue` events wait for a subscriber. One that reads
//! more slowly than events come is cut off (a last `event: error` with code
//! `SLOW_CONSUMER` follows what was queued) and counted like a slow socket.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;
use siohub_actors::fields::FieldSet;
use siohub_actors::{Hub, Subscription};

use super::v1::{
    check_namespace, check_room, event_stream, read_query, root_namespace, sse_event, unavailable,
    ApiState,
};
use super::ApiError;
use crate::state::AppState;

/// The query of the stream.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SseQuery {
    #[serde(default = "root_namespace")]
    namespace: String,
    /// Comma-separated room names; none = every event of the namespace.
    #[serde(default)]
    rooms: String,
    /// Comma-separated field names; absent = every field.
    fields: Option<String>,
}

/// Answers `GET /api/v1/sse`.
pub async fn subscribe(
    req: HttpRequest,
    engine: web::Data<AppState>,
    api: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let query: SseQuery = read_query(&req)?;
    check_namespace(&engine, &query.namespace)?;
    let rooms: Vec<String> = query
        .rooms
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(String::from)
        .collect();
    for room in &rooms {
        check_room(room)?;
    }
    let fields = match &query.fields {
        None => None,
        Some(names) => {
            let names = names.split(',').map(str::trim).filter(|n| !n.is_empty());
            let set =
                FieldSet::new(names).map_err(|e| ApiError::invalid(format!("bad fields: {e}")))?;
            Some(set)
        }
    };
    let slot = SubscriberSlot::take(&api)?;
    let subscription = engine
        .hub
        .subscribe_fields(
            &query.namespace,
            rooms.clone(),
            fields,
            api.settings.sse_queue,
        )
        .await
        .map_err(unavailable)?
        .map_err(|e| ApiError::unavailable(format!("{e}; try again later")))?;
    log::info!(
        "SSE subscriber {} on {} (rooms {})",
        subscription.id,
        siohub_actors::ClientText(&query.namespace),
        siohub_actors::ClientText(&rooms.join(","))
    );
    let period = Duration::from_secs(api.settings.sse_keepalive_s);
    let opening = format!(
        ": subscribed to namespace {} rooms [{}]\n\n",
        query.namespace,
        rooms.join(",")
    );
    Ok(event_stream(SseStream {
        opening: Some(web::Bytes::from(opening)),
        keepalive: actix_rt::time::interval_at(actix_rt::time::Instant::now() + period, period),
        ended: false,
        _slot: slot,
        guard: Unsubscribe {
            hub: engine.hub.clone(),
            subscription,
        },
    }))
}

/// One of the `api.sse_max_subscribers` places, given back when the stream ends.
struct SubscriberSlot {
    api: web::Data<ApiState>,
}

impl SubscriberSlot {
    fn take(api: &web::Data<ApiState>) -> Result<Self, ApiError> {
        let max = api.settings.sse_max_subscribers;
        let before = api.sse_subscribers.fetch_add(1, Ordering::Relaxed);
        if before >= max {
            api.sse_subscribers.fetch_sub(1, Ordering::Relaxed);
            return Err(ApiError::unavailable(format!(
                "{max} SSE subscribers are connected already (api.sse_max_subscribers); try again later"
            )));
        }
        Ok(SubscriberSlot { api: api.clone() })
    }
}

impl Drop for SubscriberSlot {
    fn drop(&mut self) {
        self.api.sse_subscribers.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Ends the subscription when the stream is dropped (the client went away, or it ended).
struct Unsubscribe {
    hub: Hub,
    subscription: Subscription,
}

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        let s = &self.subscription;
        self.hub.unsubscribe(&s.nsp, s.id);
        log::info!(
            "SSE subscriber {} on {} ended{}",
            s.id,
            siohub_actors::ClientText(&s.nsp),
            if s.was_cut_off() {
                " (cut off: it read too slowly)"
            } else {
                ""
            }
        );
    }
}

/// The response body: the opening comment, then events and keep-alives.
struct SseStream {
    opening: Option<web::Bytes>,
    keepalive: actix_rt::time::Interval,
    ended: bool,
    _slot: SubscriberSlot,
    guard: Unsubscribe,
}

impl Stream for SseStream {
    type Item = Result<web::Bytes, actix_web::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        if let Some(opening) = this.opening.take() {
            return Poll::Ready(Some(Ok(opening)));
        }
        match this.guard.subscription.events.poll_next_unpin(cx) {
            Poll::Ready(Some(chunk)) => {
                this.keepalive.reset();
                return Poll::Ready(Some(Ok(chunk)));
            }
            Poll::Ready(None) => {
                this.ended = true;
                if !this.guard.subscription.was_cut_off() {
                    return Poll::Ready(None);
                }
                let error = json!({
                    "code": "SLOW_CONSUMER",
                    "message": "this stream read more slowly than events came and was cut off; reconnect",
                });
                return Poll::Ready(Some(Ok(sse_event("error", &error))));
            }
            Poll::Pending => {}
        }
        if this.keepalive.poll_tick(cx).is_ready() {
            return Poll::Ready(Some(Ok(web::Bytes::from_static(b": keep-alive\n\n"))));
        }
        Poll::Pending
    }
}
