//! `POST /api/v1/disconnect`: disconnects sockets by id, user or room, as
//! `io.in(..).disconnectSockets(close)` does. Each socket leaves its namespace the way
//! `socket.disconnect()` makes it (the client gets a DISCONNECT packet: reason
//! `io server disconnect`); with `close: true` the whole connection is closed instead
//! (every namespace of it; the client may reconnect as after a network failure).

use std::collections::HashSet;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use siohub_actors::messages::{CloseSession, SocketDisconnect};
use siohub_actors::DisconnectReason;

use super::v1::{one_or_many, read_json, root_namespace, selected_sockets, ApiState};
use super::ApiError;
use crate::state::AppState;

/// The body of `POST /api/v1/disconnect`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DisconnectRequest {
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
    let sockets = selected_sockets(
        &engine,
        request.namespace,
        request.socket_ids,
        request.users,
        request.rooms,
    )
    .await?;
    // An address hashes by its channel, which never changes: safe as a key.
    #[allow(clippy::mutable_key_type)]
    let mut closed = HashSet::new();
    for (_, session) in &sockets {
        if request.close {
            // One close per connection, whichever of its sockets were selected.
            if closed.insert(session.clone()) {
                session.do_send(CloseSession {
                    reason: DisconnectReason::ForcedClose,
                });
            }
        } else {
            session.do_send(SocketDisconnect { nsp: nsp.clone() });
        }
    }
    Ok(HttpResponse::Ok().json(json!({ "disconnected": sockets.len() })))
}
