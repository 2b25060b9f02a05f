//! The Admin in a cluster: it is told once that the node has joined one (its adapter uid
//! and how to emit into `/admin` on the other nodes), from then on emits its
//! `server_stats` to the other nodes' watchers every 2 s, and keeps the `server_stats`
//! the other nodes emit (handed in by the adapter) for the dashboard's cluster view.
//!
//! The actors crate knows no Redis: the adapter lives in the server crate, so the way out
//! is a function it hands in ([`ClusterPublish`]).

use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use serde_json::Value;

use super::{Admin, AdminFeed};
use crate::supervision::guarded;

/// Emits an event (name, arguments) into `/admin` on every other node of the cluster.
/// It must not block: the adapter queues it (bounded) or drops and counts it.
pub type ClusterPublish = Arc<dyn Fn(&str, Vec<Value>) + Send + Sync>;

/// This node joined a cluster.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct JoinCluster {
    /// The adapter's uid of this node (shown in `server_stats` and the dashboard).
    pub uid: String,
    /// How the Admin's `/admin` emits reach the other nodes.
    pub publish: ClusterPublish,
}

impl std::fmt::Debug for JoinCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinCluster")
            .field("uid", &self.uid)
            .finish_non_exhaustive()
    }
}

/// The `server_stats` another node emitted into `/admin`.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct RemoteServerStats {
    /// Its argument, as the node sent it.
    pub stats: Value,
}

impl Handler<JoinCluster> for Admin {
    type Result = ();

    fn handle(&mut self, msg: JoinCluster, ctx: &mut Context<Self>) {
        handle_guarded!(self, ctx, (), {
            log::info!("admin: emitting server_stats to the cluster as node {}", msg.uid);
            self.cluster = Some(msg);
        })
    }
}

impl Handler<RemoteServerStats> for Admin {
    type Result = ();

    fn handle(&mut self, msg: RemoteServerStats, ctx: &mut Context<Self>) {
        handle_guarded!(self, ctx, (), {
            // Our own stats never come back (the adapter drops its own uid's messages),
            // but a peer reusing our server id must not show as us either.
            if msg.stats["serverId"].as_str() == Some(self.node_id.as_str()) {
                return;
            }
            if !self.nodes.record(&msg.stats, Instant::now()) {
                crate::limited!(
                    debug,
                    "admin: a server_stats from another node without a serverId was ignored"
                );
            }
        })
    }
}

/// The sockets of the other nodes (each already as the official UI reads it, see
/// [`super::remote_socket_json`]) for a new watcher: it gets `all_sockets` again, this
/// node's and these, at most [`super::MAX_ALL_SOCKETS`] in all.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct ClusterSockets {
    /// The watcher's socket id.
    pub socket_id: String,
    /// The other nodes' sockets.
    pub remote: Vec<Value>,
}

impl Handler<ClusterSockets> for Admin {
    type Result = ();

    fn handle(&mut self, msg: ClusterSockets, ctx: &mut Context<Self>) {
        handle_guarded!(self, ctx, (), {
            let Some(socket) = self.watchers.socket(&msg.socket_id) else {
                return;
            };
            let (mut sockets, _) =
                super::listing::all_sockets(&self.links.registry, &self.links.membership);
            let room = super::MAX_ALL_SOCKETS.saturating_sub(sockets.len());
            if msg.remote.len() > room {
                crate::limited!(
                    info,
                    "all_sockets: the cluster has more than {} sockets; the admin UI gets the first {}",
                    super::MAX_ALL_SOCKETS,
                    super::MAX_ALL_SOCKETS
                );
            }
            sockets.extend(msg.remote.into_iter().take(room));
            socket.emit("all_sockets", serde_json::json!([sockets]));
        })
    }
}

impl Admin {
    /// This node's adapter uid, when it is in a cluster.
    pub(super) fn cluster_uid(&self) -> Option<&str> {
        self.cluster.as_ref().map(|c| c.uid.as_str())
    }
}

/// What the cluster adapter tells the Admin.
impl AdminFeed {
    /// This node joined a cluster: from now on the Admin emits its `server_stats` there.
    pub fn join_cluster(&self, uid: String, publish: ClusterPublish) {
        self.stats().enqueued();
        self.addr().do_send(JoinCluster { uid, publish });
    }

    /// The other nodes' sockets for the new watcher `socket_id` (see [`ClusterSockets`]).
    pub fn cluster_sockets(&self, socket_id: &str, remote: Vec<Value>) {
        self.stats().enqueued();
        self.addr().do_send(ClusterSockets {
            socket_id: socket_id.to_owned(),
            remote,
        });
    }

    /// Another node's `server_stats` (dropped and counted when the Admin's mailbox is
    /// full, like the other feed messages).
    pub fn remote_server_stats(&self, stats: Value) {
        self.send(RemoteServerStats { stats });
    }
}
