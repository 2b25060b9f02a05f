//! `GET /api/v1/users/{user}/subscriptions?namespace=`: the rooms a user keeps (durable
//! subscriptions, `[subscriptions] store = "postgres"`), in one namespace or in all:
//! `{"user", "subscriptions": [{"namespace", "room", "options", "since_ms"}]}`, sorted by
//! namespace and room, at most `max_rooms_per_user`. Read from PostgreSQL, so it covers
//! every node sharing the database. 404 with `store = "none"`, 503 while PostgreSQL is
//! unreachable.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::v1::{check_namespace, read_query};
use super::ApiError;
use crate::state::AppState;
use crate::subscriptions::hooks::MAX_KEY_BYTES;

/// The query: an optional namespace.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscriptionsQuery {
    namespace: Option<String>,
}

/// `GET /api/v1/users/{user}/subscriptions`.
pub async fn list(
    req: HttpRequest,
    user: web::Path<String>,
    engine: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query: SubscriptionsQuery = read_query(&req)?;
    let Some(subs) = &engine.subscriptions else {
        return Err(ApiError::not_found(
            "durable subscriptions are off ([subscriptions] store = \"none\")",
        ));
    };
    if let Some(nsp) = &query.namespace {
        check_namespace(&engine, nsp)?;
    }
    let user = user.into_inner();
    if user.is_empty() || user.len() > MAX_KEY_BYTES || user.contains('\0') {
        return Err(ApiError::invalid(format!(
            "a user id is 1 to {MAX_KEY_BYTES} bytes without NUL"
        )));
    }
    let rooms = subs
        .list(&user, query.namespace.as_deref())
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    Ok(HttpResponse::Ok().json(json!({
        "user": user,
        "subscriptions": rooms,
        "max_rooms_per_user": subs.settings().max_rooms_per_user,
    })))
}
