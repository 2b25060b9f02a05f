//! Durable subscriptions (`[subscriptions] store = "postgres"`): whether PostgreSQL is
//! connected, the writes queued and how they ended, the restores of new sockets, and the
//! joins the store's bounds refused. Absent with `store = "none"`.

use std::fmt;

use crate::subscriptions::status::{Refusal, RestoreOutcome, WriteOutcome};

use super::families::Families;
use crate::state::AppState;

pub(super) fn encode(state: &AppState, out: &mut Families) -> fmt::Result {
    let Some(subs) = &state.subscriptions else {
        return Ok(());
    };
    let status = subs.status();
    out.gauge(
        "siohub_subscriptions_store_up",
        "1 while the subscriptions store (PostgreSQL) is connected.",
        u64::from(status.is_connected()),
    )?;
    out.gauge(
        "siohub_subscriptions_queued",
        "Writes waiting for PostgreSQL now ([subscriptions] queue_size at most).",
        status.queued() as u64,
    )?;
    out.gauge(
        "siohub_subscriptions_pending_reads",
        "Reads waiting for PostgreSQL now ([subscriptions] max_pending_reads at most).",
        status.pending_reads() as u64,
    )?;
    out.gauge(
        "siohub_subscriptions_deferred_restores",
        "New sockets waiting for PostgreSQL to come back to be restored ([subscriptions] max_pending_reads at most).",
        status.deferred() as u64,
    )?;
    out.counters(
        "siohub_subscriptions_writes_total",
        "Writes of kept rooms, by how they ended (dropped: the queue, or the user's share of it, was full).",
        WriteOutcome::ALL
            .iter()
            .map(|o| ([("outcome", o.as_str())], status.writes(*o))),
    )?;
    out.counter(
        "siohub_subscriptions_write_retries_total",
        "Writes sent to PostgreSQL again after their connection failed.",
        status.retried(),
    )?;
    out.counter(
        "siohub_subscriptions_writes_coalesced_total",
        "Joins and leaves that wrote nothing: the same write for the same room and user was waiting already.",
        status.coalesced(),
    )?;
    out.counter(
        "siohub_subscriptions_reconnects_total",
        "Times the connection to PostgreSQL was lost.",
        status.reconnects(),
    )?;
    out.counters(
        "siohub_subscriptions_restores_total",
        "New sockets of identified users whose kept rooms were looked up, by outcome.",
        RestoreOutcome::ALL
            .iter()
            .map(|o| ([("outcome", o.as_str())], status.restores(*o))),
    )?;
    out.counter(
        "siohub_subscriptions_rooms_restored_total",
        "Kept rooms joined by new sockets on connect.",
        status.rooms_restored(),
    )?;
    out.counters(
        "siohub_subscriptions_refused_total",
        "Joins refused by the store's bounds, by reason.",
        Refusal::ALL
            .iter()
            .map(|r| ([("reason", r.as_str())], status.refused(*r))),
    )
}
