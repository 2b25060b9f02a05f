//! The rooms of the HTTP API: list them, show one's members, and make sockets join or
//! leave one (as `io.in(..).socketsJoin(room)` does: the socket's session records the
//! room, so it stays across a RoomSupervisor restart and shows in `/connections`).
//!
//! Joining through the API is the backend's decision: the namespace's `client_join` policy,
//! which governs what clients may join themselves, does not apply.

use actix_web::{web, HttpRequest, HttpResponse};
use futures::future::join_all;
use serde::Deserialize;
use serde_json::json;
use siohub_actors::JoinError;

use super::v1::{
    check_namespace, check_room, one_or_many, read_json, read_query, root_namespace,
    selected_sockets, ApiState,
};
use super::ApiError;
use crate::state::AppState;

/// The query of the GET routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NamespaceQuery {
    #[serde(default = "root_namespace")]
    namespace: String,
}

/// The body of `join` and `leave`: which sockets.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MembershipRequest {
    #[serde(default = "root_namespace")]
    namespace: String,
    #[serde(default, rename = "sids", deserialize_with = "one_or_many")]
    socket_ids: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    users: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    rooms: Vec<String>,
}

/// `GET /api/v1/rooms?namespace=/`: the rooms that have members, with their sizes.
pub async fn list(req: HttpRequest, engine: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let query: NamespaceQuery = read_query(&req)?;
    check_namespace(&engine, &query.namespace)?;
    let rooms = engine.hub.rooms(&query.namespace);
    let rooms: Vec<_> = rooms
        .into_iter()
        .map(|(name, members)| json!({ "name": name, "members": members }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "namespace": query.namespace, "rooms": rooms })))
}

/// `GET /api/v1/rooms/{room}?namespace=/`: the members with their users; 404 when the room
/// has none.
pub async fn show(
    req: HttpRequest,
    room: web::Path<String>,
    engine: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query: NamespaceQuery = read_query(&req)?;
    check_namespace(&engine, &query.namespace)?;
    let room = room.into_inner();
    check_room(&room)?;
    let members = engine.hub.room_members(&query.namespace, &room);
    if members.is_empty() {
        return Err(ApiError::not_found(format!(
            "room {room:?} has no members in namespace {}",
            query.namespace
        )));
    }
    Ok(HttpResponse::Ok().json(json!({
        "namespace": query.namespace,
        "room": room,
        "members": members,
    })))
}

/// `POST /api/v1/rooms/{room}/join`.
pub async fn join(
    req: HttpRequest,
    room: web::Path<String>,
    body: web::Payload,
    engine: web::Data<AppState>,
    api: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    change_membership(req, room.into_inner(), body, engine, api, true).await
}

/// `POST /api/v1/rooms/{room}/leave`.
pub async fn leave(
    req: HttpRequest,
    room: web::Path<String>,
    body: web::Payload,
    engine: web::Data<AppState>,
    api: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    change_membership(req, room.into_inner(), body, engine, api, false).await
}

/// Sends each selected socket's session a join (or leave) and counts the sockets that did.
async fn change_membership(
    req: HttpRequest,
    room: String,
    body: web::Payload,
    engine: web::Data<AppState>,
    api: web::Data<ApiState>,
    joining: bool,
) -> Result<HttpResponse, ApiError> {
    let request: MembershipRequest = read_json(&req, body, api.settings.max_body_bytes).await?;
    check_room(&room)?;
    let nsp = request.namespace.clone();
    let sockets = selected_sockets(
        &engine,
        request.namespace,
        request.socket_ids,
        request.users,
        request.rooms,
    )
    .await?;
    let hub = &engine.hub;
    let answers = sockets.into_iter().map(|(socket_id, _)| {
        let joined = joining.then(|| hub.join_socket(&nsp, &socket_id, &room));
        let left = (!joining).then(|| hub.leave_socket(&nsp, &socket_id, &room));
        async move {
            if let Some(joined) = joined {
                match joined.await {
                    Ok(_) => Changed::Yes,
                    Err(e @ JoinError::TooManyRooms { .. }) => {
                        Changed::Refused(json!({ "sid": &*socket_id, "message": e.to_string() }))
                    }
                    Err(_) => Changed::No,
                }
            } else if let Some(left) = left {
                match left.await {
                    Ok(()) => Changed::Yes,
                    Err(_) => Changed::No,
                }
            } else {
                Changed::No
            }
        }
    });
    let mut affected = 0;
    let mut refused = Vec::new();
    for changed in join_all(answers).await {
        match changed {
            Changed::Yes => affected += 1,
            Changed::No => {}
            Changed::Refused(socket) => refused.push(socket),
        }
    }
    if refused.is_empty() {
        return Ok(HttpResponse::Ok().json(json!({ "affected": affected })));
    }
    if affected == 0 {
        return Err(ApiError {
            status: 429,
            code: "RATE_LIMIT_EXCEEDED",
            message: format!(
                "no socket joined {room:?}: {} are in max_rooms_per_socket rooms already",
                refused.len()
            ),
        });
    }
    // Some joined, some are full: say which were refused.
    let body = json!({ "affected": affected, "refused": refused, "code": "RATE_LIMIT_EXCEEDED" });
    Ok(HttpResponse::Ok().json(body))
}

/// What one socket's join or leave did.
enum Changed {
    Yes,
    No,
    /// The socket is in as many rooms as it may be: `{"sid","message"}`.
    Refused(serde_json::Value),
}
