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

/// The fuzz target's body for the `POST` routes (see [`crate::fuzzing`]): `route` picks emit,
/// disconnect or join/leave, and `body` is decoded and checked as that route does before it
/// acts.
pub(crate) fn fuzz_body(route: u8, body: &[u8]) {
    match route % 3 {
        0 => {
            if let Ok(request) = serde_json::from_slice::<emit::EmitRequest>(body) {
                if request.check().is_ok() {
                    if let Ok(id) = request.dedupe_id() {
                        let _ = request.into_broadcast(id);
                    }
                }
            }
        }
        1 => {
            let _ = serde_json::from_slice::<disconnect::DisconnectRequest>(body);
        }
        _ => {
            let _ = serde_json::from_slice::<rooms::MembershipRequest>(body);
        }
    }
}

/// The fuzz target's body for the API's query strings (see [`crate::fuzzing`]).
pub(crate) fn fuzz_queries(query: &str) {
    use actix_web::web::Query;
    let _ = Query::<rooms::NamespaceQuery>::from_query(query);
    let _ = Query::<sse::SseQuery>::from_query(query);
}
