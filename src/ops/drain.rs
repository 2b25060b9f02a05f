//! The graceful drain run on SIGTERM: refuse new connections, close every session, and
//! wait (within a budget) until they are gone and every websocket wrote out its queue.

use std::time::{Duration, Instant};

use siohub_actors::DisconnectReason;

use crate::state::AppState;

/// Drains the server: from now on `/ready` answers 503 and handshakes are refused; every
/// session is closed (its sockets are told, websockets get a close frame after what was
/// queued, polling clients a close packet with their next poll); resolves when every
/// session has ended and every websocket has written out its queue, or `budget` has
/// passed, whichever comes first. Returns the sessions and connections still open (cut by
/// the caller's stop, and counted).
pub async fn drain(state: &AppState, budget: Duration) -> usize {
    let deadline = Instant::now() + budget;
    begin_drain(state, budget);
    while open_for_drain(state) > 0 && Instant::now() < deadline {
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    end_drain(state)
}

/// Sessions still open and websockets still writing out their queue, and the durable
/// subscriptions' writes still queued while PostgreSQL is reachable (they are lost at
/// exit; while it is not, nothing is waited for).
pub fn open_for_drain(state: &AppState) -> usize {
    state.hub.registry().len()
        + state.hub.counters().lingering_connections()
        + unwritten_subscriptions(state)
}

fn unwritten_subscriptions(state: &AppState) -> usize {
    match &state.subscriptions {
        Some(subs) if subs.status().is_connected() => subs.status().queued(),
        _ => 0,
    }
}

/// The first half of [`drain`]: marks the server draining and closes every session.
pub fn begin_drain(state: &AppState, budget: Duration) {
    state.ops.set_draining();
    log::info!(
        "draining: refusing new connections, closing {} sessions (at most {} ms)",
        state.hub.registry().len(),
        budget.as_millis()
    );
    state
        .hub
        .close_all_sessions(DisconnectReason::ServerShuttingDown);
}

/// The end of [`drain`]: logs, counts and returns the sessions still open and the
/// websockets that could not write out their queue in time.
pub fn end_drain(state: &AppState) -> usize {
    let sessions = state.hub.registry().len();
    let unflushed = state.hub.counters().lingering_connections();
    if unflushed > 0 {
        state.hub.counters().drain_unflushed(unflushed as u64);
        log::warn!(
            "drain: {unflushed} websocket connections had not written out their queue at the end of the grace period; cut (counted in siohub_drain_unflushed_connections_total)"
        );
    }
    if sessions > 0 {
        log::warn!("drain: {sessions} sessions still open at the end of the grace period");
    }
    if let Some(queued) = state.subscriptions.as_ref().map(|s| s.status().queued()) {
        if queued > 0 {
            log::warn!(
                "drain: {queued} writes of durable subscriptions not written to PostgreSQL; lost"
            );
        }
    }
    if sessions + unflushed == 0 {
        log::info!("drain: every session closed and every queue written out");
    }
    sessions + unflushed
}
