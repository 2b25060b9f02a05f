//! The HTTP surface besides the Engine.IO endpoint: operations (`/connections`, for
//! operators only: see [`operators`]), the backend API under `/api` (see [`v1`]), and the
//! JSON error body every route answers with.

pub mod cluster_scope;
pub mod connections;
mod disconnect;
mod emit;
mod error;
mod history;
mod keys;
pub mod login_budget;
pub mod operators;
mod presence;
mod rooms;
mod sse;
mod subscriptions;
pub mod v1;

pub use error::ApiError;
pub use keys::KeyRing;
pub use v1::ApiState;

use actix_web::middleware::from_fn;
use actix_web::web;

/// Mounts the routes (the app must carry a `web::Data<ApiState>`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    // It lists every Engine.IO sid, a polling session's bearer credential: operators only.
    cfg.service(
        web::resource("/connections")
            .wrap(from_fn(operators::require_operator))
            .route(web::get().to(connections::list)),
    );
    cfg.configure(v1::configure);
}
