//! `POST /api/v1/emit`: emits an event to a namespace, rooms, users or sockets, as server
//! code would with `io.to(..).except(..).emit(..)`.
//!
//! - `data` is ONE argument, as `socket.emit("event", data)` sends it (an array stays one
//!   array argument); `args` gives several (`["a", 1]` = `emit("event", "a", 1)`); neither
//!   sends the event with no argument.
//! - `rooms`, `users`, `sids` (each a string or a list) are a union; none of them = the
//!   whole namespace. `except` lists rooms or socket ids whose sockets do not get it (in
//!   Socket.IO every socket is in a room named by its id, so both are rooms there).
//! - `volatile: true` may be dropped for a slow client; `id` is dropped as a duplicate within
//!   the namespace's dedupe window.
//! - `ack: true` asks every recipient for an ack with ONE ack id (socket.io's
//!   `broadcastWithAck`), waits `timeout_ms` (default `api.ack_timeout_ms`) and answers
//!   `{"recipients":N,"acks":[{"sid","data"}],"timeouts":N}`; with
//!   `Accept: text/event-stream` each ack is streamed as it arrives (`event: ack`), each
//!   recipient that did not answer as `event: timeout`, then `event: done` with
//!   `{"recipients","acked","timeouts"}`. `data` of an ack is its first argument (`args`
//!   carries them all when there are not exactly one; binary as base64). An event that asks
//!   for acks is not buffered, deduplicated nor kept for recovery. With the Redis adapter
//!   the other nodes' clients are asked too: their acks follow this node's (`sid` null from a
//!   Node.js node), `recipients` and `timeouts` count them, and `nodes` says how many other
//!   nodes were asked and answered in time.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use futures::channel::mpsc;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use siohub_actors::hub_messages::Broadcast;
use siohub_actors::{
    with_base64, AckError, AckReport, BroadcastWithAck, OutboundBroadcast, Payload, Target,
};

use super::v1::{
    check_namespace, check_room, event_stream, one_or_many, read_json, root_namespace, sse_event,
    unavailable, wants_event_stream, ApiState,
};
use super::ApiError;
use crate::cluster::ClusterReply;
use crate::state::AppState;

/// Time granted after the ack timeout for the sessions' timeout reports to arrive.
const REPORT_GRACE: Duration = Duration::from_secs(1);

/// The body of `POST /api/v1/emit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EmitRequest {
    #[serde(default = "root_namespace")]
    namespace: String,
    #[serde(default, deserialize_with = "one_or_many")]
    rooms: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    users: Vec<String>,
    #[serde(default, rename = "sids", deserialize_with = "one_or_many")]
    socket_ids: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    except: Vec<String>,
    event: String,
    /// Present (even `null`) = one argument.
    #[serde(default, deserialize_with = "present")]
    data: Option<Value>,
    args: Option<Vec<Value>>,
    #[serde(default)]
    ack: bool,
    timeout_ms: Option<u64>,
    #[serde(default)]
    volatile: bool,
    #[serde(default, deserialize_with = "present")]
    id: Option<Value>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl EmitRequest {
    pub(super) fn check(&self) -> Result<(), ApiError> {
        if self.event.is_empty() {
            return Err(ApiError::invalid("\"event\" must be a non-empty string"));
        }
        if siohub_protocol::RESERVED_EVENTS.contains(&self.event.as_str()) {
            return Err(ApiError::invalid(format!(
                "{:?} is reserved by Socket.IO and cannot be emitted",
                self.event
            )));
        }
        if self.data.is_some() && self.args.is_some() {
            return Err(ApiError::invalid(
                "give \"data\" (one argument) or \"args\" (several), not both",
            ));
        }
        for room in self.rooms.iter().chain(&self.except) {
            check_room(room)?;
        }
        Ok(())
    }

    pub(super) fn dedupe_id(&self) -> Result<Option<String>, ApiError> {
        match &self.id {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(id)) => Ok(Some(id.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(ApiError::invalid("\"id\" is a string or a number")),
        }
    }

    fn ack_timeout(&self, api: &ApiState) -> Result<Duration, ApiError> {
        let max = api.settings.max_ack_timeout_ms;
        match self.timeout_ms.unwrap_or(api.settings.ack_timeout_ms) {
            0 => Err(ApiError::invalid("\"timeout_ms\" must be above 0")),
            ms if ms > max => Err(ApiError::invalid(format!(
                "\"timeout_ms\" is at most {max} (api.max_ack_timeout_ms)"
            ))),
            ms => Ok(Duration::from_millis(ms)),
        }
    }

    pub(super) fn into_broadcast(self, dedupe_id: Option<String>) -> Broadcast {
        let args = match (self.data, self.args) {
            (Some(data), _) => vec![data],
            (None, Some(args)) => args,
            (None, None) => Vec::new(),
        };
        Broadcast {
            target: Target {
                nsp: self.namespace,
                rooms: self.rooms,
                users: self.users,
                socket_ids: self.socket_ids,
                except_rooms: self.except.clone(),
                except_socket_ids: self.except,
            },
            event: self.event,
            payload: Payload::new(args),
            volatile: self.volatile,
            dedupe_id,
        }
    }
}

/// Answers `POST /api/v1/emit`.
pub async fn emit(
    req: HttpRequest,
    body: web::Payload,
    engine: web::Data<AppState>,
    api: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let request: EmitRequest = read_json(&req, body, api.settings.max_body_bytes).await?;
    request.check()?;
    check_namespace(&engine, &request.namespace)?;
    let stream = wants_event_stream(&req);
    if !request.ack {
        let dedupe_id = request.dedupe_id()?;
        let outcome = engine
            .hub
            .broadcast(request.into_broadcast(dedupe_id))
            .await
            .map_err(unavailable)?;
        let mut answer = json!({ "recipients": outcome.recipients });
        if outcome.duplicate {
            answer["duplicate"] = json!(true);
        }
        if stream {
            let done = sse_event("done", &answer);
            return Ok(event_stream(futures::stream::once(async move { Ok(done) })));
        }
        return Ok(HttpResponse::Ok().json(answer));
    }
    let timeout = request.ack_timeout(&api)?;
    let (reports, incoming) = mpsc::unbounded();
    let broadcast = request.into_broadcast(None);
    // The other nodes' clients are asked at the same time; their acks come after ours.
    let remote = engine.cluster.clone().map(|cluster| {
        let outbound = OutboundBroadcast {
            target: broadcast.target.clone(),
            event: broadcast.event.clone(),
            payload: broadcast.payload.clone(),
            volatile: false,
            history: None,
        };
        actix_rt::spawn(async move { cluster.broadcast_with_ack_counted(outbound, timeout).await })
    });
    let sent = engine.hub.broadcast_with_ack(BroadcastWithAck {
        broadcast,
        timeout,
        reports,
    });
    let recipients = sent.await.map_err(unavailable)?.recipients;
    let acks = Acks {
        incoming,
        expected: recipients,
        received: 0,
        deadline: actix_rt::time::Instant::now() + timeout + REPORT_GRACE,
        remote,
    };
    if stream {
        return Ok(event_stream(acks.into_sse()));
    }
    Ok(HttpResponse::Ok().json(acks.collect().await))
}

/// The reports of one broadcast with acks, as they come.
struct Acks {
    incoming: mpsc::UnboundedReceiver<AckReport>,
    expected: usize,
    received: usize,
    deadline: actix_rt::time::Instant,
    /// The other nodes' answer, when clustered.
    remote: Option<actix_rt::task::JoinHandle<RemoteAcks>>,
}

/// The other nodes' acks and how many clients they sent the event to.
type RemoteAcks = (ClusterReply<Vec<Value>>, usize);

/// What the other nodes said (nothing when not clustered, or their task failed).
async fn remote_acks(remote: Option<actix_rt::task::JoinHandle<RemoteAcks>>) -> Option<RemoteAcks> {
    remote?.await.ok()
}

impl Acks {
    /// The next report, or `None` once every recipient reported, the reports ended, or the
    /// deadline passed.
    async fn next(&mut self) -> Option<AckReport> {
        if self.received >= self.expected {
            return None;
        }
        let left = self
            .deadline
            .saturating_duration_since(actix_rt::time::Instant::now());
        let next = actix_rt::time::timeout(left, self.incoming.next()).await;
        let report = next.ok().flatten()?;
        self.received += 1;
        Some(report)
    }

    /// Recipients that never reported (their session went away with the event unsent).
    fn missing(&self) -> usize {
        self.expected - self.received
    }

    /// Every report, as one JSON answer.
    async fn collect(mut self) -> Value {
        let mut acks = Vec::new();
        let mut timeouts = 0;
        while let Some(report) = self.next().await {
            match report.result {
                Ok(payload) => acks.push(ack_json(&report.socket_id, &payload)),
                Err(_) => timeouts += 1,
            }
        }
        timeouts += self.missing();
        let mut recipients = self.expected;
        let remote = remote_acks(self.remote.take()).await;
        if let Some((reply, remote_recipients)) = &remote {
            // The other nodes' counts are theirs to claim: added saturating.
            recipients = recipients.saturating_add(*remote_recipients);
            timeouts = timeouts.saturating_add(remote_recipients.saturating_sub(reply.items.len()));
            acks.extend(reply.items.iter().cloned());
        }
        let mut answer = json!({ "recipients": recipients, "acks": acks, "timeouts": timeouts });
        if let Some((reply, _)) = remote {
            answer["nodes"] = nodes_json(&reply);
        }
        answer
    }

    /// Every report as an SSE event as it arrives, then `done`.
    fn into_sse(self) -> impl futures::Stream<Item = Result<web::Bytes, actix_web::Error>> {
        futures::stream::unfold(Some((self, 0usize, 0usize)), |state| async move {
            let (mut acks, mut acked, mut timeouts) = state?;
            let chunk = match acks.next().await {
                Some(AckReport {
                    socket_id: sid,
                    result: Ok(payload),
                }) => {
                    acked += 1;
                    sse_event("ack", &ack_json(&sid, &payload))
                }
                Some(AckReport {
                    socket_id: sid,
                    result: Err(e),
                }) => {
                    timeouts += 1;
                    let reason = match e {
                        AckError::Timeout => "timeout",
                        AckError::Disconnected => "disconnected",
                    };
                    sse_event("timeout", &json!({ "sid": &*sid, "reason": reason }))
                }
                None => {
                    let mut recipients = acks.expected;
                    let mut timeouts = timeouts + acks.missing();
                    let mut chunks = Vec::new();
                    let remote = remote_acks(acks.remote.take()).await;
                    if let Some((reply, remote_recipients)) = &remote {
                        recipients = recipients.saturating_add(*remote_recipients);
                        let unacked = remote_recipients.saturating_sub(reply.items.len());
                        timeouts = timeouts.saturating_add(unacked);
                        acked += reply.items.len();
                        chunks.extend(reply.items.iter().map(|a| sse_event("ack", a)));
                    }
                    let mut totals = json!({
                        "recipients": recipients,
                        "acked": acked,
                        "timeouts": timeouts,
                    });
                    if let Some((reply, _)) = remote {
                        totals["nodes"] = nodes_json(&reply);
                    }
                    chunks.push(sse_event("done", &totals));
                    return Some((Ok(chunks.concat().into()), None));
                }
            };
            Some((Ok(chunk), Some((acks, acked, timeouts))))
        })
    }
}

/// `{"expected","answered"}`: the other nodes asked, and those that answered in time.
fn nodes_json<T>(reply: &ClusterReply<T>) -> Value {
    json!({ "expected": reply.nodes_expected, "answered": reply.nodes_answered })
}

/// `{"sid","data"}` of one ack (`args` too when it has not exactly one argument).
fn ack_json(socket_id: &str, payload: &Payload) -> Value {
    let args: Vec<Value> = payload
        .args
        .iter()
        .map(|v| with_base64(v, &payload.attachments))
        .collect();
    let mut out = json!({ "sid": socket_id, "data": args.first().cloned().unwrap_or(Value::Null) });
    if args.len() != 1 {
        out["args"] = Value::Array(args);
    }
    out
}
