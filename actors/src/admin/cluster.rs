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

    /// Another node's `server_stats` (dropped and counted when the Admin's mailbox is
    /// full, like the other feed messages).
    pub fn remote_server_stats(&self, stats: Value) {
        self.send(RemoteServerStats { stats });
    }
}
