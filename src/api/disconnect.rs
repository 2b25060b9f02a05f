//! `POST /api/v1/disconnect`: disconnects sockets by id, user or room, as
//! `io.in(..).disconnectSockets(close)` does. Each socket leaves its namespace the way
//! `socket.disconnect()` makes it (the client gets a DISCONNECT packet: reason
//! `io server disconnect`); with `close: true` the whole connection is closed instead
//! (every namespace of it; the client may reconnect as after a network failure).
//!
//! In a cluster the other nodes' sockets of the selection are disconnected too
//! (`remote_disconnect`), counted by a `fetch_sockets` of the same selection first; the
//! answer says how many nodes answered (`"cluster"`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use siohub_actors::DisconnectReason;

use super::cluster_scope::{nodes_json, reaches_other_nodes, View};
use super::v1::{one_or_many, read_json, root_namespace, selected_sockets, ApiState};
use super::ApiError;
use crate::state::AppState;

/// The body of `POST /api/v1/disconnect`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DisconnectRequest {
    #[serde(default = "root_namespace")]
    namespace: String,
    #[serde(default, rename = "sids", deserialize_with = "one_or_many")]
    socket_ids: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    users: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    rooms: Vec<String>,
    #[serde(default)]
    close: bool,
}

/// Answers `POST /api/v1/disconnect` with the number of sockets disconnected.
pub async fn disconnect(
    req: HttpRequest,
    body: web::Payload,
    engine: web::Data<AppState>,
    api: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let request: DisconnectRequest = read_json(&req, body, api.settings.max_body_bytes).await?;
    let nsp = request.namespace.clone();
    let (target, sockets) = selected_sockets(
        &engine,
        request.namespace,
        request.socket_ids,
        request.users,
        request.rooms,
    )
    .await?;
    let mut remote = (0, None);
    let cluster = engine
        .cluster
        .as_ref()
        .filter(|_| reaches_other_nodes(&target, sockets.len()));
    if let Some(cluster) = cluster {
        let fetched = cluster.fetch_sockets(&target).await;
        engine.views.count(View::Disconnect, &fetched);
        cluster.remote_disconnect(&target, request.close);
        remote = (fetched.items.len(), Some(nodes_json(&fetched)));
    }
    for (socket_id, _) in &sockets {
        // A socket gone meanwhile is gone either way: nothing to report.
        let _ = if request.close {
            // A connection with several selected sockets is closed once (a second close
            // finds it closing).
            let reason = DisconnectReason::ForcedClose;
            engine.hub.close_connection_of(&nsp, socket_id, reason)
        } else {
            engine.hub.disconnect_socket(&nsp, socket_id)
        };
    }
    let mut body = json!({ "disconnected": sockets.len() + remote.0 });
    if let Some(cluster) = remote.1 {
        body["cluster"] = cluster;
    }
    Ok(HttpResponse::Ok().json(body))
}
