//! The hub's supervised actors: restarts, mailbox depths and messages handled, by actor.

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
    )
}
