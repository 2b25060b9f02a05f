//! The cluster-wide views: how often each was answered by every node it expected or
//! without some, and how many other nodes the Admin hears from (their `server_stats`).
//! The node count itself is the adapter's (`siohub_adapter_nodes`).

use std::fmt;

use super::families::Families;
use crate::api::cluster_scope::View;
use crate::state::AppState;

pub(super) fn encode(state: &AppState, out: &mut Families) -> fmt::Result {
    out.counters(
        "siohub_cluster_views_total",
        "Cluster-wide views answered (rooms, room members, join/leave, disconnect, connections), with every expected node or without some (a node slow or dead).",
        View::ALL.iter().flat_map(|view| {
            let (all, partial) = state.views.get(*view);
            [
                ([("view", view.as_str()), ("answered", "all")], all),
                ([("view", view.as_str()), ("answered", "partial")], partial),
            ]
        }),
    )?;
    out.gauge(
        "siohub_admin_cluster_nodes",
        "Other nodes whose server_stats the Admin received in the last 30 s (the dashboard's node list).",
        state.hub.admin().cluster_nodes(),
    )
}
