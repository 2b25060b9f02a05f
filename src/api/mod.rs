//! The HTTP surface besides the Engine.IO endpoint: operations (`/connections`), the
//! backend API under `/api` (see [`v1`]), and the JSON error body every route answers with.

pub mod connections;
mod disconnect;
mod emit;
mod error;
mod keys;
mod rooms;
mod sse;
pub mod v1;

pub use error::ApiError;
pub use keys::KeyRing;
pub use v1::ApiState;

use actix_web::web;

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/connections", web::get().to(connections::list));
    cfg.configure(v1::configure);
}
