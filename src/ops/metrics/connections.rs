//! Who is connected: Engine.IO connections by transport, Socket.IO sockets and rooms by
//! namespace, and how many namespaces are in use.

use std::fmt;

use super::families::Families;
use crate::state::AppState;

pub(super) fn encode(state: &AppState, out: &mut Families) -> fmt::Result {
    let hub = &state.hub;
    let mut by_transport = [("polling", 0u64), ("websocket", 0u64)];
    for (_, meta) in hub.registry().entries() {
        let transport = meta.transport();
        if let Some(slot) = by_transport.iter_mut().find(|(t, _)| *t == transport) {
            slot.1 += 1;
        }
    }
    out.gauges(
        "siohub_connections",
        "Open Engine.IO connections by transport.",
        by_transport.map(|(transport, n)| ([("transport", transport)], n)),
    )?;

    let namespaces = hub.namespace_counts();
    out.gauges(
        "siohub_namespace_sockets",
        "Connected Socket.IO sockets by namespace.",
        namespaces
            .iter()
            .map(|(nsp, sockets, _)| ([("namespace", nsp.as_str())], *sockets)),
    )?;
    out.gauges(
        "siohub_rooms",
        "Rooms with members by namespace.",
        namespaces
            .iter()
            .map(|(nsp, _, rooms)| ([("namespace", nsp.as_str())], *rooms)),
    )?;
    let (filtered, sets) = hub.field_filter_counts();
    out.gauge(
        "siohub_field_filtered_memberships",
        "Room memberships with a field set (join {room, fields}).",
        filtered,
    )?;
    out.gauge(
        "siohub_field_sets",
        "Distinct field sets, summed over the rooms (at most max_field_sets_per_room each).",
        sets,
    )?;
    // One series per namespace above; the table forgets a namespace nothing uses any more,
    // so dynamic names (`/tenant-{id}`) do not pile up series.
    out.gauge(
        "siohub_namespaces",
        "Namespaces with sockets, rooms or subscribers.",
        namespaces.len(),
    )
}
