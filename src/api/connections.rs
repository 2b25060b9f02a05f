//! `GET /connections?offset=0&limit=100`: every connection with its metadata, oldest first,
//! paginated, with the hub actors' own stats and the hub-wide drop counters. For operators
//! only (an API key or the admin login, see [`super::operators`]): it shows every Engine.IO
//! sid, and a polling sid is a bearer credential for its session.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use siohub_actors::DropReason;

use super::ApiError;
use crate::state::AppState;

/// The most connections one page holds.
pub const MAX_LIMIT: usize = 1000;

/// The query of `/connections`.
#[derive(Debug, Deserialize)]
pub struct Page {
    /// Connections to skip.
    #[serde(default)]
    pub offset: usize,
    /// Connections to return (default 100, at most [`MAX_LIMIT`]).
    pub limit: Option<usize>,
}

/// Answers `/connections`.
pub async fn list(
    query: Result<web::Query<Page>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let page = query.map_err(|e| {
        ApiError::invalid(format!("offset and limit are non-negative integers ({e})"))
    })?;
    let limit = page.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_LIMIT}, not {limit}"
        )));
    }
    let hub = &state.hub;
    let result = hub
        .list_connections(page.offset, limit)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let counters = hub.counters();
    let drops: serde_json::Map<String, serde_json::Value> = DropReason::ALL
        .iter()
        .map(|r| (r.as_str().to_owned(), json!(counters.drops(*r))))
        .collect();
    let (broadcasts, deliveries) = counters.fanout();
    Ok(HttpResponse::Ok().json(json!({
        "total": result.total,
        "offset": page.offset,
        "limit": limit,
        "connections": result.connections,
        "actors": hub.actor_stats(),
        "counters": {
            "broadcasts": broadcasts,
            "deliveries": deliveries,
            "slow_consumer_disconnects": counters.slow_consumer_disconnects(),
            "drops": drops,
        },
    })))
}
