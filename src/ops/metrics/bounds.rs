//! What the hub's bounds did: connections cut for a full buffer or a stalled write,
//! websockets still writing out their queue, reads paused, drains cut short, and events and
//! handshakes refused by a limit.

use std::fmt;

use siohub_actors::RefusalReason;

use super::families::Families;
use crate::state::AppState;

pub(super) fn encode(state: &AppState, out: &mut Families) -> fmt::Result {
    let counters = state.hub.counters();
    out.counter(
        "siohub_slow_consumer_disconnects_total",
        "Connections closed because their outgoing buffer filled up.",
        counters.slow_consumer_disconnects(),
    )?;
    out.counter(
        "siohub_ws_write_timeouts_total",
        "Websocket connections closed because a write made no progress within outgoing.write_timeout_ms.",
        counters.write_timeouts(),
    )?;
    out.gauge(
        "siohub_ws_lingering_connections",
        "Websocket connections whose session ended, still writing out their queue (they count against max_connections).",
        counters.lingering_connections(),
    )?;
    out.gauge(
        "siohub_polling_closed_sessions",
        "Polling sessions closed and waiting, at most a ping timeout, for the poll in flight that takes their last packet (they count against max_connections).",
        counters.closed_polling_sessions(),
    )?;
    out.counter(
        "siohub_polling_held_requests_total",
        "Polling GETs held open because nothing was queued for them (long polls).",
        counters.polls_held(),
    )?;
    out.counter(
        "siohub_polling_posts_begun_total",
        "Polling POSTs whose body a session began to take (overlapping and late ones refused are not counted).",
        counters.posts_begun(),
    )?;
    out.counter(
        "siohub_ws_read_pauses_total",
        "Times a websocket stopped being read because its session had incoming.max_messages/max_bytes unhandled.",
        counters.read_pauses(),
    )?;
    out.gauge(
        "siohub_ws_inflight_high_water",
        "The most messages any websocket had read and its session not yet handled.",
        counters.inflight_high_water(),
    )?;
    out.counter(
        "siohub_drain_unflushed_connections_total",
        "Websocket connections cut at the end of a drain before their queue was written out.",
        counters.drain_unflushed_connections(),
    )?;
    let (responses, bytes_in, bytes_out) = state.transport.compressed.snapshot();
    out.counter(
        "siohub_http_compressed_responses_total",
        "Polling responses compressed (engine.http_compression).",
        responses,
    )?;
    out.counter(
        "siohub_http_compressed_bytes_in_total",
        "Bytes of polling responses before compression.",
        bytes_in,
    )?;
    out.counter(
        "siohub_http_compressed_bytes_out_total",
        "Bytes of polling responses after compression.",
        bytes_out,
    )?;
    out.counters(
        "siohub_refused_total",
        "Events and handshakes refused by a limit, by reason.",
        RefusalReason::ALL
            .iter()
            .map(|reason| ([("reason", reason.as_str())], counters.refusals(*reason))),
    )
}
