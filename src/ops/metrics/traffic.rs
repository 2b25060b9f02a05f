//! What went through the hub: Engine.IO packets and bytes in and out, Socket.IO events
//! received and delivered, fan-out sizes, and events that reached no socket.

use std::fmt;

use siohub_actors::{DropReason, FANOUT_BUCKETS};

use super::families::Families;
use crate::state::AppState;

pub(super) fn encode(state: &AppState, out: &mut Families) -> fmt::Result {
    let counters = state.hub.counters();
    let traffic = counters.traffic();
    out.counters(
        "siohub_engine_packets_total",
        "Engine.IO packets received (in) and sent (out).",
        [
            ([("direction", "in")], traffic.packets_in),
            ([("direction", "out")], traffic.packets_out),
        ],
    )?;
    out.counters(
        "siohub_bytes_total",
        "Bytes received (in) and sent (out) on every transport.",
        [
            ([("direction", "in")], traffic.bytes_in),
            ([("direction", "out")], traffic.bytes_out),
        ],
    )?;
    out.counter(
        "siohub_events_received_total",
        "Socket.IO events received from clients.",
        traffic.events_in,
    )?;
    let (broadcasts, deliveries) = counters.fanout();
    out.counter(
        "siohub_events_delivered_total",
        "Broadcast events handed to recipient sockets.",
        deliveries,
    )?;

    // The counters keep cumulative counts per bucket (and a last `+Inf` one); the encoder
    // wants each bucket's own count.
    let cumulative = counters.fanout_histogram();
    let mut below = 0;
    let buckets: Vec<(f64, u64)> = FANOUT_BUCKETS
        .iter()
        .zip(&cumulative)
        .map(|(le, &upto)| {
            let own = upto - below;
            below = upto;
            (*le as f64, own)
        })
        .collect();
    out.histogram(
        "siohub_broadcast_recipients",
        "Recipients per broadcast (fan-out size).",
        deliveries as f64,
        cumulative.last().copied().unwrap_or(broadcasts),
        &buckets,
    )?;

    out.counters(
        "siohub_dropped_events_total",
        "Events that did not reach a socket, by reason.",
        DropReason::ALL
            .iter()
            .map(|reason| ([("reason", reason.as_str())], counters.drops(*reason))),
    )
}
