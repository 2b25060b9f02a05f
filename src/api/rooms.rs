//! The rooms of the HTTP API: list them, show one's members, and make sockets join or
//! leave one (as `io.in(..).socketsJoin(room)` does: the socket's session records the
//! room, so it stays across a RoomSupervisor restart and shows in `/connections`).
//!
//! Joining through the API is the backend's decision: the namespace's `client_join` policy,
//! which governs what clients may join themselves, does not apply.
//!
//! In a cluster (`[adapter] kind = "redis"`) every route covers every node: the list adds
//! the rooms the other nodes have (`all_rooms`: names only, so `members` counts this
//! node's members and `elsewhere` says the room has members on another node too), a
//! room's members are every node's (`fetch_sockets` of that room), and join / leave act
//! on the other nodes' sockets too (`remote_join` / `remote_leave`, counted from a
//! `fetch_sockets` of the same selection). Each answer says how many nodes it covers.

use actix_web::{web, HttpRequest, HttpResponse};
use futures::future::join_all;
use serde::Deserialize;
use serde_json::json;
use siohub_actors::{JoinError, Target};

use super::cluster_scope::{nodes_json, reaches_other_nodes, user_of, View};
use super::v1::{
    check_namespace, check_room, one_or_many, read_json, read_query, root_namespace,
    selected_sockets, ApiState,
};
use super::ApiError;
use crate::state::AppState;

/// The query of the GET routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NamespaceQuery {
    #[serde(default = "root_namespace")]
    namespace: String,
}

/// The body of `join` and `leave`: which sockets.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MembershipRequest {
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
    let local = engine.hub.rooms(&query.namespace);
    let Some(cluster) = &engine.cluster else {
        let rooms: Vec<_> = local
            .into_iter()
            .map(|(name, members)| json!({ "name": name, "members": members }))
            .collect();
        return Ok(HttpResponse::Ok().json(json!({ "namespace": query.namespace, "rooms": rooms })));
    };
    let remote = cluster.all_rooms(&query.namespace).await;
    engine.views.count(View::Rooms, &remote);
    let rooms = merge_rooms(local, &remote.items);
    Ok(HttpResponse::Ok().json(json!({
        "namespace": query.namespace,
        "rooms": rooms,
        "cluster": nodes_json(&remote),
    })))
}

/// This node's rooms with their sizes and the other nodes' room names, as one list sorted
/// by name: `{"name","members" (here),"elsewhere"}`. (A Node.js node names its sockets'
/// own-id rooms too: they cannot be told from others by name, so they are listed.)
fn merge_rooms(local: Vec<(String, usize)>, remote: &[String]) -> Vec<serde_json::Value> {
    let mut rooms: std::collections::BTreeMap<&str, (usize, bool)> = local
        .iter()
        .map(|(name, members)| (name.as_str(), (*members, false)))
        .collect();
    for name in remote {
        rooms.entry(name).or_insert((0, false)).1 = true;
    }
    rooms
        .into_iter()
        .map(|(name, (members, elsewhere))| {
            json!({ "name": name, "members": members, "elsewhere": elsewhere })
        })
        .collect()
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
    let mut members: Vec<serde_json::Value> = engine
        .hub
        .room_members(&query.namespace, &room)
        .into_iter()
        .map(|m| json!({ "sid": m.socket_id, "user": m.user }))
        .collect();
    let mut cluster = None;
    if let Some(handle) = &engine.cluster {
        let target = Target {
            rooms: vec![room.clone()],
            ..Target::namespace(&query.namespace)
        };
        let remote = handle.fetch_sockets(&target).await;
        engine.views.count(View::RoomMembers, &remote);
        let remote_members = remote
            .items
            .iter()
            .map(|socket| json!({ "sid": socket.id, "user": user_of(socket) }));
        members.extend(remote_members);
        members.sort_by(|a, b| a["sid"].as_str().cmp(&b["sid"].as_str()));
        cluster = Some(nodes_json(&remote));
    }
    if members.is_empty() {
        return Err(ApiError::not_found(format!(
            "room {room:?} has no members in namespace {}",
            query.namespace
        )));
    }
    let mut body = json!({
        "namespace": query.namespace,
        "room": room,
        "members": members,
    });
    if let Some(cluster) = cluster {
        body["cluster"] = cluster;
    }
    Ok(HttpResponse::Ok().json(body))
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
    let (target, sockets) = selected_sockets(
        &engine,
        request.namespace,
        request.socket_ids,
        request.users,
        request.rooms,
    )
    .await?;
    let remote = match reaches_other_nodes(&target, sockets.len()) {
        true => remote_membership(&engine, &target, &room, joining).await,
        false => (0, None),
    };
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
    let (mut affected, cluster) = remote;
    let mut refused = Vec::new();
    for changed in join_all(answers).await {
        match changed {
            Changed::Yes => affected += 1,
            Changed::No => {}
            Changed::Refused(socket) => refused.push(socket),
        }
    }
    if refused.is_empty() {
        let mut body = json!({ "affected": affected });
        if let Some(cluster) = cluster {
            body["cluster"] = cluster;
        }
        return Ok(HttpResponse::Ok().json(body));
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
    let mut body =
        json!({ "affected": affected, "refused": refused, "code": "RATE_LIMIT_EXCEEDED" });
    if let Some(cluster) = cluster {
        body["cluster"] = cluster;
    }
    Ok(HttpResponse::Ok().json(body))
}

/// In a cluster: has the other nodes' sockets of `target` join (leave) `room`, and
/// resolves to how many there are (counted by a `fetch_sockets` first: the remote join
/// itself has no answer) with the nodes that said so; `(0, None)` on a node alone.
async fn remote_membership(
    engine: &AppState,
    target: &Target,
    room: &str,
    joining: bool,
) -> (usize, Option<serde_json::Value>) {
    let Some(cluster) = &engine.cluster else {
        return (0, None);
    };
    let remote = cluster.fetch_sockets(target).await;
    engine.views.count(View::Membership, &remote);
    if joining {
        cluster.remote_join(target, vec![room.to_owned()]);
    } else {
        cluster.remote_leave(target, vec![room.to_owned()]);
    }
    (remote.items.len(), Some(nodes_json(&remote)))
}

/// What one socket's join or leave did.
enum Changed {
    Yes,
    No,
    /// The socket is in as many rooms as it may be: `{"sid","message"}`.
    Refused(serde_json::Value),
}
