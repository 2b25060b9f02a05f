//! What the hub depends on: the cluster adapter's traffic, errors and connection, the
//! backend webhook's calls, and the JWKS fetches.

use std::fmt;

use siohub_actors::WebhookOutcome;

use crate::cluster::{AdapterDrop, ClusterHandle};

use super::families::Families;
use crate::state::AppState;

pub(super) fn encode(state: &AppState, out: &mut Families) -> fmt::Result {
    let counters = state.hub.counters();
    let (adapter_out, adapter_in, adapter_errors) = counters.adapter();
    out.counters(
        "siohub_adapter_messages_total",
        "Cluster adapter messages published (out) and received (in).",
        [
            ([("direction", "in")], adapter_in),
            ([("direction", "out")], adapter_out),
        ],
    )?;
    out.counter(
        "siohub_adapter_errors_total",
        "Cluster adapter errors.",
        adapter_errors,
    )?;
    let connected = u64::from(state.ops.is_adapter_connected());
    out.gauges(
        "siohub_adapter_connected",
        "1 when the cluster adapter is connected.",
        [([("adapter", state.ops.adapter_kind())], connected)],
    )?;
    if let Some(cluster) = &state.cluster {
        cluster_families(cluster, out)?;
    }

    recovery_store(state, out)?;
    out.counters(
        "siohub_webhook_requests_total",
        "Calls to the backend webhook, by outcome.",
        WebhookOutcome::ALL.iter().map(|outcome| {
            let n = counters.webhook_calls(*outcome);
            ([("outcome", outcome.as_str())], n)
        }),
    )?;
    out.gauge(
        "siohub_webhook_in_flight",
        "Webhook calls waiting for the backend.",
        counters.webhook_in_flight(),
    )?;
    out.counters(
        "siohub_jwks_fetches_total",
        "Fetches of the JWKS ([auth] jwks_url), by outcome.",
        [("ok", true), ("failed", false)]
            .map(|(outcome, ok)| ([("outcome", outcome)], counters.jwks_fetches(ok))),
    )
}

/// The Redis adapter's own series: nodes, requests waiting, what it dropped and why,
/// reconnections.
fn cluster_families(cluster: &ClusterHandle, out: &mut Families) -> fmt::Result {
    let status = cluster.status();
    let outbox = cluster.outbox().counters();
    out.gauge(
        "siohub_adapter_nodes",
        "Nodes on the cluster (PUBSUB NUMSUB of the request channel), this one included.",
        status.node_count() as u64,
    )?;
    out.gauge(
        "siohub_adapter_pending_requests",
        "Requests to the other nodes waiting for their answers.",
        status.pending() as u64,
    )?;
    out.gauge(
        "siohub_adapter_outbox_queued",
        "Broadcasts queued for Redis now ([adapter] max_queued at most).",
        cluster.outbox().len() as u64,
    )?;
    let drops = AdapterDrop::ALL
        .iter()
        .map(|r| ([("reason", r.as_str())], status.drops(*r)))
        .chain([
            ([("reason", "outbox_full")], outbox.dropped_full()),
            ([("reason", "outbox_closed")], outbox.dropped_closed()),
        ]);
    out.counters(
        "siohub_adapter_dropped_total",
        "Messages for or from the other nodes dropped, by reason (publish_failed: Redis was down).",
        drops,
    )?;
    out.counter(
        "siohub_adapter_reconnects_total",
        "Times the subscribing connection to Redis was made again after a loss.",
        status.reconnects(),
    )?;
    history_families(cluster, out)
}

/// The room histories in Redis (rooms with `buffer = "always"`).
fn history_families(cluster: &ClusterHandle, out: &mut Families) -> fmt::Result {
    use siohub_actors::room_history::{LoadCount, LoadSkip};
    let history = cluster.outbox().history_counters();
    let (written, failed, dropped) = history.writes();
    out.counters(
        "siohub_history_writes_total",
        "Room history entries for Redis, by outcome (failed: Redis was down; dropped: the outbox was full).",
        [
            ([("outcome", "written")], written),
            ([("outcome", "failed")], failed),
            ([("outcome", "dropped")], dropped),
        ],
    )?;
    out.counter(
        "siohub_history_rooms_evicted_total",
        "Rooms whose history Redis dropped for [adapter] history_max_rooms.",
        history.evicted_rooms(),
    )?;
    out.counters(
        "siohub_history_loads_total",
        "Loads of the room histories from Redis at a (re)subscription, by outcome.",
        [
            ("complete", LoadCount::Complete),
            ("failed", LoadCount::Failed),
            ("timed_out", LoadCount::TimedOut),
        ]
        .map(|(outcome, how)| ([("outcome", outcome)], history.loads(how))),
    )?;
    out.counter(
        "siohub_history_events_loaded_total",
        "Events loaded from Redis into the room buffers.",
        history.events_loaded(),
    )?;
    out.counters(
        "siohub_history_events_skipped_total",
        "Events read from Redis and not kept, by reason.",
        [
            ("duplicate", LoadSkip::Duplicate),
            ("expired", LoadSkip::Expired),
            ("over_bound", LoadSkip::OverBound),
            ("invalid", LoadSkip::Invalid),
        ]
        .map(|(reason, why)| ([("reason", reason)], history.events_skipped(why))),
    )?;
    out.counter(
        "siohub_history_joins_held_total",
        "Joins of always-rooms whose replay waited for a history load.",
        history.joins_held(),
    )
}

/// The Redis recovery store, when there is one.
fn recovery_store(state: &AppState, out: &mut Families) -> fmt::Result {
    let Some(store) = state.hub.recovery_store() else {
        return Ok(());
    };
    let stats = store.stats();
    out.gauge(
        "siohub_recovery_store_queue_writes",
        "Writes for the Redis recovery store waiting in its queue (at most [adapter] \
         recovery_queue; one more is dropped).",
        stats.waiting,
    )?;
    out.counters(
        "siohub_recovery_store_writes_total",
        "Writes for the Redis recovery store (events, socket records), by outcome: queued, \
         dropped (queue full), failed (Redis did not take them).",
        [
            ([("outcome", "queued")], stats.queued),
            ([("outcome", "dropped")], stats.dropped_full),
            ([("outcome", "failed")], stats.write_errors),
        ],
    )?;
    out.counters(
        "siohub_recovery_store_recoveries_total",
        "Recoveries asked of the Redis recovery store, by outcome: recovered, no_record, \
         offset_gone, unavailable (Redis did not answer in time), owner_alive (the socket is \
         still connected on a live node).",
        [
            ([("outcome", "recovered")], stats.recovered),
            ([("outcome", "no_record")], stats.missed_record),
            ([("outcome", "offset_gone")], stats.missed_offset),
            ([("outcome", "unavailable")], stats.missed_unavailable),
            ([("outcome", "owner_alive")], stats.missed_owner_alive),
        ],
    )
}
