//! Operations: `GET /health` and `GET /ready` ([`health`]), `GET /metrics` in the
//! Prometheus text format ([`metrics`]), the checks made at the Engine.IO handshake
//! (draining, `max_connections`, per-address limits: [`admission`]), and the graceful
//! drain run on SIGTERM ([`drain`]).

pub mod admission;
pub mod drain;
pub mod health;
pub mod metrics;

use actix_web::web;

/// Mounts `/health`, `/ready` and `/metrics`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health::health))
        .route("/ready", web::get().to(health::ready))
        .route("/metrics", web::get().to(metrics::metrics));
}
