//! `GET /health` (whether the server and its dependencies are well) and `GET /ready`
//! (whether it takes connections: what load balancers act on).

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::api::ApiError;
use crate::clock::now_ms;
use crate::state::AppState;

/// How long after a failure (a webhook call, an actor restart) `/health` says `degraded`.
pub const RECENT_MS: u64 = 30_000;

/// `GET /health`: `healthy`, or `degraded` (with the reasons) when a dependency is: the
/// adapter is not connected, the subscriptions store (PostgreSQL) is not, the webhook
/// failed recently, or an actor restarted recently.
/// Always 200 while the process serves; `/ready` is the one load balancers act on.
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let ops = &state.ops;
    let hub = &state.hub;
    let counters = hub.counters();
    let now = now_ms();
    let mut reasons = Vec::new();
    let adapter_connected = ops.is_adapter_connected();
    if !adapter_connected {
        let why = ops.adapter_down_reason().unwrap_or_default();
        reasons.push(format!(
            "the {} adapter is not connected: {why}",
            ops.adapter_kind()
        ));
    }
    let mut adapter = json!({ "kind": ops.adapter_kind(), "connected": adapter_connected });
    if let Some(cluster) = &state.cluster {
        adapter["nodes"] = json!(cluster.node_count());
        adapter["uid"] = json!(cluster.uid());
    }
    let subscriptions = state.subscriptions.as_ref().map(|subs| {
        let status = subs.status();
        if let Some(why) = status.down_reason() {
            reasons.push(format!(
                "the subscriptions store (PostgreSQL) is not connected: {why}"
            ));
        }
        json!({
            "store": "postgres",
            "connected": status.is_connected(),
            "queued": status.queued(),
        })
    });
    let webhook_failing = ops.is_webhook_configured() && counters.webhook_failing(RECENT_MS);
    if webhook_failing {
        reasons.push("the backend webhook failed recently".to_owned());
    }
    let actors = hub.actor_stats();
    for actor in &actors {
        if actor
            .last_restart_ms
            .is_some_and(|at| now.saturating_sub(at) < RECENT_MS)
        {
            reasons.push(format!("actor {} restarted recently", actor.name));
        }
    }
    let status = if reasons.is_empty() {
        "healthy"
    } else {
        "degraded"
    };
    HttpResponse::Ok().json(json!({
        "status": status,
        "reasons": reasons,
        "uptime": ops.uptime_s(),
        "connections": hub.registry().len(),
        "draining": ops.is_draining(),
        "adapter": adapter,
        "webhook": {
            "configured": ops.is_webhook_configured(),
            "failing": webhook_failing,
            "in_flight": counters.webhook_in_flight(),
        },
        "actors": actors,
        "subscriptions": subscriptions.unwrap_or_else(|| json!({ "store": "none" })),
    }))
}

/// `GET /ready`: 200 while the server takes connections, 503 while it drains.
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.ops.is_draining() {
        return Err(ApiError {
            status: 503,
            code: "DRAINING",
            message: "the server is shutting down; connect to another node".into(),
        });
    }
    Ok(HttpResponse::Ok().json(json!({ "ready": true })))
}
