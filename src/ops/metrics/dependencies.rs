//! What the hub depends on: the cluster adapter's traffic, errors and connection, the
//! backend webhook's calls, and the JWKS fetches.

use std::fmt;

use siohub_actors::WebhookOutcome;

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

/// The Redis recovery store, when there is one.
fn recovery_store(state: &AppState, out: &mut Families) -> fmt::Result {
    let Some(store) = state.hub.recovery_store() else {
        return Ok(());
    };
    let stats = store.stats();
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
         offset_gone, unavailable (Redis did not answer in time).",
        [
            ([("outcome", "recovered")], stats.recovered),
            ([("outcome", "no_record")], stats.missed_record),
            ([("outcome", "offset_gone")], stats.missed_offset),
            ([("outcome", "unavailable")], stats.missed_unavailable),
        ],
    )
}
