//! The HTTP surface besides the Engine.IO endpoint: operations (`/connections`), and the
//! JSON error body every route answers with.

pub mod connections;
mod error;

pub use error::ApiError;

use actix_web::web;

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/connections", web::get().to(connections::list));
}
