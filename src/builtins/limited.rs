//! Registering an event behind the socket's bounds: its rate limit (the namespace's
//! `rate_limit`) and, for events that start a task, its bound on tasks in flight
//! (`max_tasks_per_socket`). Over a bound, the event is not handled, its ack says
//! `RATE_LIMIT_EXCEEDED`, and it is counted.

use std::sync::Arc;

use siohub_actors::{AckSender, Namespace, Payload, RefusalReason, Socket};

use super::answer::over_limit;
use crate::limits::{EventRateLimiter, TaskLimiter, TaskPermit};

/// Registers `handler` for `event`, behind the socket's rate limit.
pub(super) fn on_limited(
    ns: Namespace,
    limiter: &Arc<EventRateLimiter>,
    event: &str,
    handler: impl Fn(&Socket, Payload, Option<AckSender>) + Send + Sync + 'static,
) -> Namespace {
    let limiter = limiter.clone();
    let name = event.to_owned();
    ns.on(event, move |socket, payload, ack| {
        if limiter.allow(socket.id()) {
            return handler(socket, payload, ack);
        }
        refuse_over_rate(&limiter, socket, &name, ack);
    })
}

/// Refuses an event of `socket` over its namespace's rate limit: counted, logged at debug
/// level, and answered `RATE_LIMIT_EXCEEDED` when it asked for an ack.
pub(super) fn refuse_over_rate(
    limiter: &EventRateLimiter,
    socket: &Socket,
    event: &str,
    ack: Option<AckSender>,
) {
    let counters = socket.hub().counters();
    counters.refused(RefusalReason::EventRateLimited);
    siohub_actors::limited!(
        debug,
        "socket {} on {}: {} over the rate limit",
        socket.id(),
        siohub_actors::ClientText(socket.nsp()),
        siohub_actors::ClientText(event)
    );
    over_limit(ack, || {
        format!(
            "more than {} events a second (rate_limit of namespace {}); slow down",
            limiter.per_s(),
            socket.nsp()
        )
    });
}

/// Registers `handler` for `event`, behind the socket's rate limit and its bound on events
/// in flight. The handler holds the permit for as long as its task runs.
pub(super) fn on_tasked(
    ns: Namespace,
    limiter: &Arc<EventRateLimiter>,
    tasks: &Arc<TaskLimiter>,
    event: &str,
    handler: impl Fn(&Socket, Payload, Option<AckSender>, TaskPermit) + Send + Sync + 'static,
) -> Namespace {
    let tasks = tasks.clone();
    on_limited(ns, limiter, event, move |socket, payload, ack| {
        if let Some(permit) = tasks.try_start(socket.id()) {
            return handler(socket, payload, ack, permit);
        }
        let counters = socket.hub().counters();
        counters.refused(RefusalReason::SocketTasksFull);
        over_limit(ack, || {
            format!(
                "{} events of this socket are still being handled (max_tasks_per_socket of namespace {}); wait for their acks",
                tasks.max(),
                socket.nsp()
            )
        });
    })
}
