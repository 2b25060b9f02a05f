//! `GET /api/v1/rooms/{room}/history?namespace=/&since=&limit=`: what a buffered room
//! keeps, `{"namespace","room","events":[{"offset","event","data","args"?}],"complete",
//! "more"}`, as the built-in `history` answers it (see [`crate::builtins::history`]);
//! binary data as base64 strings. 404 for a room that keeps no history (a namespace with
//! `buffer = "drop"`, a user room), 400 for a bad `since` or `limit`. Read from this node's
//! buffer (with the Redis adapter an `always` room's history is on every node).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::v1::{check_namespace, read_query, root_namespace, unavailable};
use super::ApiError;
use crate::builtins::history::{check_buffered, history_body, Binary, HistoryQuery};
use crate::state::AppState;

/// The query string.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Query {
    #[serde(default = "root_namespace")]
    namespace: String,
    since: Option<String>,
    limit: Option<u64>,
}

/// The route.
pub async fn show(
    req: HttpRequest,
    room: web::Path<String>,
    engine: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query: Query = read_query(&req)?;
    check_namespace(&engine, &query.namespace)?;
    let nsp = query.namespace;
    let since = query.since.filter(|s| !s.is_empty());
    let history = HistoryQuery::new(room.into_inner(), since, query.limit)?;
    let policy = engine.hub.policies().of(&nsp);
    check_buffered(&policy, &nsp, &history.room)?;
    let read = engine
        .hub
        .history(&nsp, &history.room, history.since.clone(), history.limit);
    let page = read.await.map_err(unavailable)?;
    let (mut body, _) = history_body(&history.room, &page, Binary::Base64);
    body["namespace"] = json!(nsp);
    Ok(HttpResponse::Ok().json(body))
}
