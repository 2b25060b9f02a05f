//! The hub's supervised actors: restarts, mailbox depths and messages handled, by actor;
//! and what the Admin actor's watchers cost: how many, and what its bounds dropped.

use std::fmt;

use super::families::Families;
use crate::state::AppState;

pub(super) fn encode(state: &AppState, out: &mut Families) -> fmt::Result {
    let actors = state.hub.actor_stats();
    out.counters(
        "siohub_actor_restarts_total",
        "Restarts of each supervised actor.",
        actors.iter().map(|a| ([("actor", a.name)], a.restarts)),
    )?;
    out.gauges(
        "siohub_actor_mailbox_depth",
        "Messages waiting in each actor's mailbox.",
        actors
            .iter()
            .map(|a| ([("actor", a.name)], a.mailbox_depth)),
    )?;
    out.counters(
        "siohub_actor_messages_handled_total",
        "Messages each actor handled.",
        actors
            .iter()
            .map(|a| ([("actor", a.name)], a.messages_handled)),
    )?;
    let admin = state.hub.admin();
    out.gauge(
        "siohub_admin_watchers",
        "Sockets of /admin watching the hub (admin UIs and dashboards).",
        admin.watchers(),
    )?;
    let drops = admin.dropped();
    out.counters(
        "siohub_admin_dropped_total",
        "What the Admin actor's bounds left out: feed messages over its mailbox cap, per-socket pushes over a watcher's budget, client events over the per-second sample, aggregatedEvents buckets over their bound.",
        [
            ([("reason", "queue_full")], drops.queue_full),
            ([("reason", "push_budget")], drops.push_budget),
            ([("reason", "sampled_out")], drops.sampled_out),
            ([("reason", "aggregate_full")], drops.aggregate_full),
        ],
    )
}
