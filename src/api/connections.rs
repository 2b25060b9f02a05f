//! `GET /connections?offset=0&limit=100`: every connection with its metadata, oldest first,
//! paginated, with the hub actors' own stats and the hub-wide drop counters. For operators
//! only (an API key or the admin login, see [`super::operators`]): it shows every Engine.IO
//! sid, and a polling sid is a bearer credential for its session.
//!
//! `?scope=cluster&namespace=/` lists the sockets of one namespace on every node instead:
//! this node's (from its registry) and the other nodes' (`fetch_sockets`), this node's
//! first, each `{id, here, user, rooms, address, user_agent}` (no sids of other nodes,
//! no credentials), paged by the same `offset`/`limit` bounds, with how many nodes
//! answered. `scope=node` (the default) is the listing above.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use siohub_actors::{DropReason, Target};

use super::v1::check_namespace;
use super::{cluster_scope, ApiError};
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
    /// `node` (the default): this node's connections; `cluster`: one namespace's sockets
    /// on every node.
    #[serde(default)]
    pub scope: Scope,
    /// The namespace of `scope=cluster` (default `/`).
    pub namespace: Option<String>,
}

/// What `/connections` lists.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// This node's connections.
    #[default]
    Node,
    /// One namespace's sockets on every node of the cluster.
    Cluster,
}

/// Answers `/connections`.
pub async fn list(
    query: Result<web::Query<Page>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let page = query.map_err(|e| {
        ApiError::invalid(format!(
            "offset and limit are non-negative integers, scope is node or cluster ({e})"
        ))
    })?;
    let limit = page.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_LIMIT}, not {limit}"
        )));
    }
    if page.scope == Scope::Cluster {
        let nsp = page.namespace.clone().unwrap_or_else(|| "/".into());
        return cluster_sockets(&state, nsp, page.offset, limit).await;
    }
    if page.namespace.is_some() {
        return Err(ApiError::invalid("namespace goes with scope=cluster only"));
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

/// `scope=cluster`: one page of namespace `nsp`'s sockets on every node.
async fn cluster_sockets(
    state: &AppState,
    nsp: String,
    offset: usize,
    limit: usize,
) -> Result<HttpResponse, ApiError> {
    check_namespace(state, &nsp)?;
    let mut sockets = local_sockets(state, &nsp);
    let cluster = match &state.cluster {
        Some(handle) => {
            let remote = handle.fetch_sockets(&Target::namespace(&nsp)).await;
            state.views.count(cluster_scope::View::Connections, &remote);
            let mut others: Vec<_> = remote
                .items
                .iter()
                .map(cluster_scope::socket_json)
                .collect();
            others.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
            sockets.extend(others);
            cluster_scope::nodes_json(&remote)
        }
        None => cluster_scope::alone_json(),
    };
    let total = sockets.len();
    let page: Vec<_> = sockets.into_iter().skip(offset).take(limit).collect();
    Ok(HttpResponse::Ok().json(json!({
        "scope": "cluster",
        "namespace": nsp,
        "total": total,
        "offset": offset,
        "limit": limit,
        "sockets": page,
        "cluster": cluster,
    })))
}

/// This node's sockets of namespace `nsp`, oldest connection first, as `scope=cluster`
/// lists them.
fn local_sockets(state: &AppState, nsp: &str) -> Vec<serde_json::Value> {
    let mut sessions: Vec<_> = state
        .hub
        .registry()
        .entries()
        .into_iter()
        .map(|(_, meta)| meta.snapshot())
        .collect();
    sessions.sort_by_key(|info| info.connected_at);
    sessions
        .iter()
        .flat_map(|info| {
            info.sockets
                .iter()
                .filter(|s| &*s.nsp == nsp)
                .map(move |socket| {
                    json!({
                        "id": &*socket.id,
                        "here": true,
                        "user": socket.user,
                        "rooms": socket.rooms,
                        "address": info.remote_address,
                        "user_agent": info.user_agent,
                    })
                })
        })
        .collect()
}
