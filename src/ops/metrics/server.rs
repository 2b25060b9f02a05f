//! The server itself: uptime, draining, and HTTP requests by method, route and status.

use std::fmt;

use super::families::Families;
use crate::state::AppState;

pub(super) fn encode(state: &AppState, out: &mut Families) -> fmt::Result {
    let ops = &state.ops;
    out.gauge(
        "siohub_uptime_seconds",
        "Seconds since the server started.",
        ops.uptime_s(),
    )?;
    out.gauge(
        "siohub_draining",
        "1 while the server drains for shutdown.",
        u64::from(ops.is_draining()),
    )?;
    let requests = ops.http().snapshot();
    out.counters(
        "siohub_http_requests_total",
        "HTTP requests by method, route and status.",
        requests.iter().map(|(method, route, status, n)| {
            let labels = [
                ("method", method.to_string()),
                ("route", route.clone()),
                ("status", status.to_string()),
            ];
            (labels, *n)
        }),
    )
}
