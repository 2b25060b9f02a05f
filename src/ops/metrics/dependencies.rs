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
