//! The Admin in a cluster: it is told once that the node has joined one ([`JoinCluster`]:
//! its adapter uid, how to emit into `/admin` on the other nodes, fetch their sockets and
//! act on them), from then on emits its `server_stats` to the other nodes' watchers every
//! 2 s, keeps the `server_stats` the other nodes emit (handed in by the adapter) for the
//! dashboard's cluster view, lists the other nodes' sockets to a new watcher and hands the
//! UI's join / leave / disconnect to the other nodes.
//!
//! The actors crate knows no Redis: the adapter lives in the server crate, so the ways out
//! are functions it hands in ([`ClusterPublish`], [`ClusterFetch`], [`ClusterAct`]).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use futures::future::BoxFuture;
use serde_json::Value;

use super::{Admin, AdminFeed};
use crate::supervision::guarded;
use crate::target::Target;

/// Emits an event (name, arguments) into `/admin` on every other node of the cluster.
/// It must not block: the adapter queues it (bounded) or drops and counts it.
pub type ClusterPublish = Arc<dyn Fn(&str, Vec<Value>) + Send + Sync>;

/// Fetches the other nodes' sockets of these namespaces (this node's, with sockets),
/// each as the official UI reads it ([`super::remote_socket_json`]): at most
/// [`super::MAX_ALL_SOCKETS`], within the adapter's request timeout.
pub type ClusterFetch = Arc<dyn Fn(Vec<String>) -> BoxFuture<'static, Vec<Value>> + Send + Sync>;

/// What an admin command asks of the other nodes' sockets (socket.io's `socketsJoin`,
/// `socketsLeave` and `disconnectSockets` through the adapter).
#[derive(Debug, Clone, PartialEq)]
pub enum RemoteAction {
    /// The sockets of `target` on the other nodes join `room`.
    Join {
        /// Which sockets.
        target: Target,
        /// The room.
        room: String,
    },
    /// The sockets of `target` on the other nodes leave `room`.
    Leave {
        /// Which sockets.
        target: Target,
        /// The room.
        room: String,
    },
    /// The sockets of `target` on the other nodes are disconnected (`close`: their whole
    /// connection).
    Disconnect {
        /// Which sockets.
        target: Target,
        /// Whether the whole connection closes.
        close: bool,
    },
}

/// Sends a [`RemoteAction`] to the other nodes (without waiting: the wire format has no
/// answer for it).
pub type ClusterAct = Arc<dyn Fn(RemoteAction) + Send + Sync>;

/// This node joined a cluster.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct JoinCluster {
    /// The adapter's uid of this node (shown in `server_stats` and the dashboard).
    pub uid: String,
    /// How the Admin's `/admin` emits reach the other nodes.
    pub publish: ClusterPublish,
    /// How a new watcher's `all_sockets` gets the other nodes' sockets.
    pub fetch_sockets: ClusterFetch,
    /// How the admin commands reach the other nodes' sockets.
    pub act: ClusterAct,
}

/// An admin command's part for the other nodes.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct ClusterCommand(pub RemoteAction);

impl Handler<ClusterCommand> for Admin {
    type Result = ();

    fn handle(&mut self, msg: ClusterCommand, ctx: &mut Context<Self>) {
        handle_guarded!(self, ctx, (), {
            if let Some(cluster) = &self.cluster {
                (cluster.act)(msg.0);
            }
        })
    }
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
            log::info!(
                "admin: emitting server_stats to the cluster as node {}",
                msg.uid
            );
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
            self.publish_node_count();
        })
    }
}

impl Admin {
    /// Publishes how many other nodes the Admin knows (for `/metrics`).
    pub(super) fn publish_node_count(&self) {
        let n = self.nodes.len() as u64;
        self.links.feed.cluster_nodes.store(n, Ordering::Relaxed);
    }

    /// This node's adapter uid, when it is in a cluster.
    pub(super) fn cluster_uid(&self) -> Option<&str> {
        self.cluster.as_ref().map(|c| c.uid.as_str())
    }

    /// In a cluster, a new watcher gets `all_sockets` a second time once the other nodes
    /// answered: this node's sockets and theirs (as socket.io's admin-ui lists every
    /// node's with `fetchSockets`). The fetch runs inside the Admin, which goes on meanwhile.
    pub(super) fn fetch_cluster_sockets(&mut self, socket_id: &str, ctx: &mut Context<Self>) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let namespaces: Vec<String> = self
            .links
            .membership
            .read()
            .namespace_counts()
            .into_iter()
            .map(|(name, _, _)| name)
            .collect();
        let socket_id = socket_id.to_owned();
        let fetch = (cluster.fetch_sockets)(namespaces);
        ctx.spawn(fetch.into_actor(self).map(move |remote, act, _| {
            act.send_cluster_sockets(&socket_id, remote);
        }));
    }

    /// `all_sockets` with this node's sockets and `remote`, at most
    /// [`super::MAX_ALL_SOCKETS`] in all.
    fn send_cluster_sockets(&mut self, socket_id: &str, remote: Vec<Value>) {
        let Some(socket) = self.watchers.socket(socket_id) else {
            return;
        };
        let (mut sockets, _) =
            super::listing::all_sockets(&self.links.registry, &self.links.membership);
        let room = super::MAX_ALL_SOCKETS.saturating_sub(sockets.len());
        if remote.len() > room {
            crate::limited!(
                info,
                "all_sockets: the cluster has more than {} sockets; the admin UI gets the first {}",
                super::MAX_ALL_SOCKETS,
                super::MAX_ALL_SOCKETS
            );
        }
        sockets.extend(remote.into_iter().take(room));
        socket.emit("all_sockets", serde_json::json!([sockets]));
    }
}

/// What the cluster adapter tells the Admin.
impl AdminFeed {
    /// This node joined a cluster: from now on the Admin emits its `server_stats` there and
    /// lists the other nodes' sockets to new watchers.
    pub fn join_cluster(&self, join: JoinCluster) {
        self.stats().enqueued();
        self.addr().do_send(join);
    }

    /// An admin command's part for the other nodes' sockets (nothing on a node alone).
    pub fn cluster_command(&self, action: RemoteAction) {
        self.stats().enqueued();
        self.addr().do_send(ClusterCommand(action));
    }

    /// Another node's `server_stats` (dropped and counted when the Admin's mailbox is
    /// full, like the other feed messages).
    pub fn remote_server_stats(&self, stats: Value) {
        self.send(RemoteServerStats { stats });
    }
}
