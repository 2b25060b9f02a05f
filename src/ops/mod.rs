//! Operations: `GET /health` and `GET /ready` ([`health`]), `GET /metrics` in the
//! Prometheus text format ([`metrics`]), the checks made at the Engine.IO handshake
//! (draining, `max_connections`, per-address limits: [`admission`]), the graceful drain
//! run on SIGTERM ([`drain`]), and the start-up lines that say who may reach each surface
//! ([`surfaces`]).

pub mod admission;
pub mod drain;
pub mod health;
pub mod metrics;
pub mod surfaces;

use actix_web::middleware::{from_fn, Condition};
use actix_web::web;

use crate::api::operators::require_operator;

/// Mounts `/health`, `/ready` and `/metrics`; with `guard_metrics` (`[metrics]
/// require_auth`), `/metrics` answers operators only, as `/connections` does.
pub fn configure(cfg: &mut web::ServiceConfig, guard_metrics: bool) {
    cfg.route("/health", web::get().to(health::health))
        .route("/ready", web::get().to(health::ready))
        .service(
            web::resource("/metrics")
                .wrap(Condition::new(guard_metrics, from_fn(require_operator)))
                .route(web::get().to(metrics::metrics)),
        );
}
