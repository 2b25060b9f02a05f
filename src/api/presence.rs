//! `GET /api/v1/rooms/{room}/presence?namespace=/&cursor=&limit=`: a room's members,
//! `{"namespace","room","count","members":[{"sid","user"}],"next_cursor"?}`, paged as the
//! built-in `presence` is (see [`crate::builtins::presence`]): at most `limit` (1 to 1000,
//! default 1000) members sorted by sid, the next page asked with `cursor=<next_cursor>`.
//! With the Redis adapter every node's members, and `"cluster"` says how many nodes
//! answered. 404 when the room has no member.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::cluster_scope::{nodes_json, View};
use super::v1::{check_namespace, read_query, root_namespace};
use super::ApiError;
use crate::builtins::presence::{read, PresenceQuery};
use crate::state::AppState;

/// The query string.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Query {
    #[serde(default = "root_namespace")]
    namespace: String,
    cursor: Option<String>,
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
    let presence = PresenceQuery::new(room.into_inner(), query.cursor, query.limit)?;
    let nsp = &query.namespace;
    let page = read(&engine.hub, engine.cluster.as_ref(), nsp, &presence).await?;
    let mut body = page.to_json(&presence.room);
    body["namespace"] = json!(nsp);
    if let Some(cluster) = page.cluster {
        // Counted as the room view it is.
        engine.views.count(View::RoomMembers, &cluster);
        body["cluster"] = nodes_json(&cluster);
    }
    Ok(HttpResponse::Ok().json(body))
}
