//! The `/admin` namespace in a cluster: what the Admin actor is handed when the node joins
//! one (how its `server_stats` reach the other nodes' watchers, and how a new watcher's
//! `all_sockets` gets the other nodes' sockets, and how the official UI's join, leave and
//! disconnect commands reach the other nodes' sockets). The other nodes' `server_stats` reach
//! this node's watchers as any broadcast, and the Admin too (`Hub::remote_broadcast`
//! hands them over, for the dashboard's cluster view).
//!
//! In Node every server emits its own `server_stats` into `/admin` and the adapter carries
//! it to the admin clients of every node; siohub does the same, so the official UI (and
//! siohub's dashboard) on any node sees one `server_stats` per node. Per-socket events
//! (`socket_connected`, `event_received`, ...) stay with the node's own watchers: sending
//! each to Redis would cost every node a publish per client event while anyone watches.

use std::sync::Arc;

use futures::future::{join_all, BoxFuture, FutureExt};
use serde_json::Value;
use siohub_actors::admin::{
    ClusterAct, ClusterFetch, ClusterPublish, JoinCluster, RemoteAction, MAX_ALL_SOCKETS,
};
use siohub_actors::{
    admin::remote_socket_json, Hub, NamespacePattern, OutboundBroadcast, Payload, Target, ADMIN_NSP,
};

use crate::cluster::ClusterHandle;
use crate::config::Settings;

/// Tells the Admin of `hub` that the node is in the cluster `cluster`.
pub fn join(hub: &Hub, cluster: &ClusterHandle, settings: &Settings) {
    let publisher = cluster.clone();
    let publish: ClusterPublish = Arc::new(move |event: &str, args: Vec<Value>| {
        publisher.publish(OutboundBroadcast {
            target: Target::namespace(ADMIN_NSP),
            event: event.to_owned(),
            payload: Payload::new(args),
            // Stats are replaced every 2 s: one lost on the way needs no retry.
            volatile: true,
            history: None,
        });
    });
    let fetcher = cluster.clone();
    let configured = static_namespaces(settings);
    let fetch_sockets: ClusterFetch = Arc::new(move |local: Vec<String>| {
        fetch_all_sockets(fetcher.clone(), namespaces_to_list(local, &configured))
    });
    let actor = cluster.clone();
    let act: ClusterAct = Arc::new(move |action: RemoteAction| match action {
        RemoteAction::Join { target, room } => actor.remote_join(&target, vec![room]),
        RemoteAction::Leave { target, room } => actor.remote_leave(&target, vec![room]),
        RemoteAction::Disconnect { target, close } => actor.remote_disconnect(&target, close),
    });
    hub.admin().join_cluster(JoinCluster {
        uid: cluster.uid().to_owned(),
        publish,
        fetch_sockets,
        act,
    });
}

/// The namespaces `[[namespaces]]` names outright (not the patterns), and `/admin`.
fn static_namespaces(settings: &Settings) -> Vec<String> {
    let mut names: Vec<String> = settings
        .namespaces
        .iter()
        .filter(|ns| NamespacePattern::parse(&ns.name).is_static())
        .map(|ns| ns.name.clone())
        .collect();
    names.push(ADMIN_NSP.to_owned());
    names
}

/// The namespaces whose sockets a new watcher gets: those with sockets here and those
/// configured by name (another node may have sockets there when this one has none), each
/// once, sorted.
fn namespaces_to_list(mut local: Vec<String>, configured: &[String]) -> Vec<String> {
    local.extend(configured.iter().cloned());
    local.sort();
    local.dedup();
    local
}

/// The other nodes' sockets of `namespaces`, as the official UI reads them, at most
/// [`MAX_ALL_SOCKETS`].
fn fetch_all_sockets(
    cluster: ClusterHandle,
    namespaces: Vec<String>,
) -> BoxFuture<'static, Vec<Value>> {
    async move {
        let asked = namespaces.iter().map(|nsp| {
            let cluster = cluster.clone();
            let target = Target::namespace(nsp);
            async move { (nsp.clone(), cluster.fetch_sockets(&target).await) }
        });
        let mut sockets = Vec::new();
        for (nsp, reply) in join_all(asked).await {
            for socket in reply.items {
                let raw = serde_json::to_value(&socket).unwrap_or(Value::Null);
                sockets.push(remote_socket_json(&nsp, &raw));
            }
        }
        sockets.truncate(MAX_ALL_SOCKETS);
        sockets
    }
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_watcher_lists_local_and_configured_namespaces_once() {
        let listed = namespaces_to_list(
            vec!["/chat".into(), "/".into(), "/tenant-1".into()],
            &["/".into(), "/admin".into()],
        );
        assert_eq!(listed, ["/", "/admin", "/chat", "/tenant-1"]);
    }
}
