//! The built-in events every configured namespace gets: `join`, `leave`, `publish`, `ping`,
//! `request`, `presence` and `history`, the namespace's `forward`ed events (sent to the backend webhook), and the
//! `UNKNOWN_EVENT` answer to any other event that asks for an ack.
//! Each runs under the namespace's policy (who may join and publish where:
//! [`NamespacePolicy::publish_right`]), behind its per-socket rate limit and (all but
//! `ping`) its bound on events in flight per socket, and answers through the ack:
//! `{"ok":true,..}` or `{"error":{"code","message"}}` ([`crate::error_code`]). They are
//! written on the same [`Namespace`] API server code uses.

pub(crate) mod answer;
mod backend;
mod fields;
pub mod history;
mod limited;
mod ping;
mod policy;
pub mod presence;
mod publish;
mod room_query;
mod rooms;
mod unknown;

use std::sync::Arc;

use siohub_actors::Namespace;

use crate::config::NamespacePolicy;
use crate::limits::{EventRateLimiter, TaskLimiter};
use crate::subscriptions::Subscriptions;
use crate::webhook::Webhook;
use limited::{on_limited, on_tasked};
pub(crate) use policy::roles_of;

/// Adds the built-in events of `policy` to a namespace, and its `forward`ed events (sent to
/// `webhook`), all behind the policy's per-socket rate limit; those that start a task
/// (everything but `ping`) also behind its `max_tasks_per_socket`. Any other event is
/// answered `UNKNOWN_EVENT` when it asks for an ack. With `subscriptions` (durable
/// subscriptions), joins and leaves of identified users are kept, and their new sockets
/// join the kept rooms on connect.
pub fn with_builtins(
    ns: Namespace,
    policy: NamespacePolicy,
    webhook: Webhook,
    subscriptions: Option<Subscriptions>,
) -> Namespace {
    let limiter = Arc::new(EventRateLimiter::new(policy.rate_limit));
    let tasks = TaskLimiter::new(policy.max_tasks_per_socket);
    let policy = Arc::new(policy);
    let (join_policy, publish_policy) = (policy.clone(), policy.clone());
    let fields_policy = policy.clone();
    let (join_subs, leave_subs) = (subscriptions.clone(), subscriptions.clone());
    let ns = on_tasked(
        ns,
        &limiter,
        &tasks,
        "join",
        move |socket, payload, ack, permit| {
            rooms::on_join(
                &join_policy,
                join_subs.as_ref(),
                socket,
                payload,
                ack,
                permit,
            )
        },
    );
    let ns = on_tasked(
        ns,
        &limiter,
        &tasks,
        "leave",
        move |socket, payload, ack, permit| {
            rooms::on_leave(leave_subs.as_ref(), socket, payload, ack, permit)
        },
    );
    let ns = match subscriptions {
        Some(subs) => {
            let restore_policy = policy.clone();
            ns.on_connect(move |socket, _auth| {
                crate::subscriptions::restore::on_connect(&subs, &restore_policy, socket)
            })
        }
        None => ns,
    };
    let ns = on_tasked(
        ns,
        &limiter,
        &tasks,
        "fields",
        move |socket, payload, ack, permit| {
            fields::on_fields(&fields_policy, socket, payload, ack, permit)
        },
    );
    let ns = on_tasked(
        ns,
        &limiter,
        &tasks,
        "publish",
        move |socket, payload, ack, permit| {
            publish::on_publish(&publish_policy, socket, payload, ack, permit)
        },
    );
    let ns = on_limited(ns, &limiter, "ping", ping::on_ping);
    let presence_policy = policy.clone();
    let ns = on_tasked(
        ns,
        &limiter,
        &tasks,
        "presence",
        move |socket, payload, ack, permit| {
            presence::on_presence(&presence_policy, socket, payload, ack, permit)
        },
    );
    let history_policy = policy.clone();
    let ns = on_tasked(
        ns,
        &limiter,
        &tasks,
        "history",
        move |socket, payload, ack, permit| {
            history::on_history(&history_policy, socket, payload, ack, permit)
        },
    );
    let (request_policy, request_webhook) = (policy.clone(), webhook.clone());
    let ns = on_tasked(
        ns,
        &limiter,
        &tasks,
        "request",
        move |socket, payload, ack, permit| {
            backend::on_request(
                &request_policy,
                &request_webhook,
                socket,
                payload,
                ack,
                permit,
            )
        },
    );
    let unknown_limiter = limiter.clone();
    let ns = ns.on_any(move |socket, event, _payload, ack| {
        unknown::on_unknown(&unknown_limiter, socket, event, ack)
    });
    policy.forward.iter().fold(ns, |ns, event| {
        let (policy, webhook, name) = (policy.clone(), webhook.clone(), event.clone());
        on_tasked(
            ns,
            &limiter,
            &tasks,
            event,
            move |socket, payload, ack, permit| {
                backend::on_forward(&policy, &webhook, socket, &name, payload, ack, permit)
            },
        )
    })
}
