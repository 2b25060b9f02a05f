//! The operational state of one server: when it started, whether it drains, the limits
//! on new connections, what `/health` reports about its dependencies, and the HTTP
//! request counters.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::HttpCounters;
use crate::cluster::LinkStatus;
use crate::config::Settings;
use crate::handshake_slots::HandshakeSlots;
use crate::limits::ConnectionLimiter;

/// The operational state of one server, shared by every worker.
#[derive(Debug)]
pub struct OpsState {
    started: Instant,
    draining: AtomicBool,
    limiter: ConnectionLimiter,
    slots: HandshakeSlots,
    adapter_kind: String,
    /// The Redis adapter's connection state (`None`: the memory adapter).
    adapter: Option<Arc<LinkStatus>>,
    webhook_configured: bool,
    http: HttpCounters,
}

impl OpsState {
    /// The state of a server starting now with `settings`.
    /// `adapter` is the cluster adapter's connection state, when there is one.
    pub fn new(settings: &Settings, adapter: Option<Arc<LinkStatus>>) -> Self {
        OpsState {
            started: Instant::now(),
            draining: AtomicBool::new(false),
            limiter: ConnectionLimiter::new(&settings.limits),
            slots: HandshakeSlots::default(),
            adapter_kind: settings.adapter.kind.clone(),
            adapter,
            webhook_configured: !settings.webhook.url.is_empty(),
            http: HttpCounters::default(),
        }
    }

    /// Whether the server is draining for shutdown.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Starts draining: `/ready` answers 503 and handshakes are refused from now on.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// The limits on new connections (`[limits]`).
    pub fn limiter(&self) -> &ConnectionLimiter {
        &self.limiter
    }

    /// The handshakes admitted and not yet registered (they count as open).
    pub fn handshake_slots(&self) -> &HandshakeSlots {
        &self.slots
    }

    /// The configured cluster adapter (`[adapter] kind`).
    pub fn adapter_kind(&self) -> &str {
        &self.adapter_kind
    }

    /// Whether the cluster adapter is connected: the memory adapter always is, the Redis
    /// one while both its connections are up.
    pub fn is_adapter_connected(&self) -> bool {
        self.adapter.as_ref().is_none_or(|s| s.is_connected())
    }

    /// Why the cluster adapter is not connected (`None` when it is).
    pub fn adapter_down_reason(&self) -> Option<String> {
        self.adapter.as_ref().and_then(|s| s.down_reason())
    }

    /// Whether a backend webhook is configured (`[webhook] url`).
    pub fn is_webhook_configured(&self) -> bool {
        self.webhook_configured
    }

    /// Seconds since start.
    pub fn uptime_s(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// The HTTP request counters.
    pub fn http(&self) -> &HttpCounters {
        &self.http
    }
}
