//! What the hub keeps for later: room buffers and offline queues per namespace (published
//! by the Broadcaster on every change, exact), the dedupe windows, recovery logs and
//! preserved sockets (as of the Broadcaster's last sweep, at most a second old). Only namespaces that keep something
//! have series; they go when it expires.

use std::fmt;

use siohub_actors::{BufferSizes, NamespaceRetention};

use super::families::Families;
use crate::state::AppState;

/// A gauge family read off a sizes struct: name, help, and the sample's value.
type Gauge<T> = (&'static str, &'static str, fn(&T) -> usize);

/// The families of room buffers (read off the rooms' sizes) and offline queues (read off
/// the offline sizes), by namespace.
const BUFFER_FAMILIES: [Gauge<BufferSizes>; 3] = [
    (
        "siohub_buffered_rooms",
        "Rooms with buffered events, by namespace.",
        |s| s.rooms,
    ),
    (
        "siohub_buffered_events",
        "Events kept in room buffers, by namespace.",
        |s| s.events,
    ),
    (
        "siohub_buffered_bytes",
        "Bytes charged for room buffers (against max_buffer_bytes), by namespace.",
        |s| s.bytes,
    ),
];

const OFFLINE_FAMILIES: [Gauge<BufferSizes>; 3] = [
    (
        "siohub_offline_queue_users",
        "Users with queued events (offline queue), by namespace.",
        |s| s.rooms,
    ),
    (
        "siohub_offline_queue_events",
        "Events queued for offline users, by namespace.",
        |s| s.events,
    ),
    (
        "siohub_offline_queue_bytes",
        "Bytes charged for offline queues (against max_buffer_bytes), by namespace.",
        |s| s.bytes,
    ),
];

const RETENTION_FAMILIES: [Gauge<NamespaceRetention>; 3] = [
    (
        "siohub_dedupe_ids",
        "Event ids the dedupe window remembers, by namespace.",
        |n| n.dedupe_ids,
    ),
    (
        "siohub_recovery_log_events",
        "Events in the connection state recovery log, by namespace.",
        |n| n.recovery_events,
    ),
    (
        "siohub_recovery_log_bytes",
        "Bytes charged for the recovery log (against recovery_max_bytes), by namespace.",
        |n| n.recovery_bytes,
    ),
];

pub(super) fn encode(state: &AppState, out: &mut Families) -> fmt::Result {
    let hub = &state.hub;
    let buffers = hub.buffer_sizes();
    for (name, help, value) in BUFFER_FAMILIES {
        let series = buffers
            .iter()
            .map(|(nsp, rooms, _)| ([("namespace", nsp.as_str())], value(rooms)));
        out.gauges(name, help, series)?;
    }
    for (name, help, value) in OFFLINE_FAMILIES {
        let series = buffers
            .iter()
            .map(|(nsp, _, offline)| ([("namespace", nsp.as_str())], value(offline)));
        out.gauges(name, help, series)?;
    }

    let retention = hub.retention();
    for (name, help, value) in RETENTION_FAMILIES {
        let series = retention
            .namespaces
            .iter()
            .map(|n| ([("namespace", n.nsp.as_str())], value(n)));
        out.gauges(name, help, series)?;
    }
    out.gauge(
        "siohub_recovery_preserved_sockets",
        "Disconnected sockets kept for connection state recovery.",
        retention.preserved_sockets,
    )?;
    out.counter(
        "siohub_dedupe_ids_evicted_total",
        "Dedupe ids forgotten before their window ended (the window held dedupe_max_ids).",
        hub.counters().dedupe_evictions(),
    )?;
    let (single, batches, omitted, pending) = hub.counters().presence();
    out.counter(
        "siohub_presence_events_total",
        "presence events sent for one join or leave (presence_events = true).",
        single,
    )?;
    out.counter(
        "siohub_presence_batches_total",
        "Batched presence events sent (rooms from presence_batch_above members).",
        batches,
    )?;
    out.counter(
        "siohub_presence_omitted_total",
        "Joins and leaves batches counted in \"omitted\" instead of listing (over presence_batch_max).",
        omitted,
    )?;
    out.gauge(
        "siohub_presence_batches_pending",
        "Rooms with a presence batch gathering now.",
        pending,
    )
}
