//! The ConnectionManager: the registry of sessions with their metadata (namespaces, user,
//! rooms, transport, peer, counters), users → sockets, counts, and the pages `/connections`
//! shows. Sessions update their own [`SessionMeta`] (atomics and a small lock) as they go;
//! the manager reads them. After a restart it rebuilds its map from the session registry.

mod registry;
mod session_meta;

use std::sync::Arc;

use actix::prelude::*;

use crate::stats::ActorStats;
use crate::supervision::guarded;

pub use registry::{SessionEntry, SessionRegistry};
pub use session_meta::{ConnectionInfo, ConnectionsPage, SessionMeta, SocketMeta};

/// One page of the connection list.
#[derive(Message)]
#[rtype(result = "ConnectionsPage")]
pub struct ListConnections {
    /// Connections to skip.
    pub offset: usize,
    /// Most connections to return.
    pub limit: usize,
}

/// See the module documentation.
pub struct ConnectionManager {
    registry: SessionRegistry,
    stats: Arc<ActorStats>,
}

impl ConnectionManager {
    /// A manager over the sessions of `registry`.
    pub fn new(registry: SessionRegistry, stats: Arc<ActorStats>) -> Self {
        ConnectionManager { registry, stats }
    }

    /// Every live session, oldest first (ties by sid), read from the registry the sessions
    /// keep themselves (so connecting costs no message to this actor, and a restart has
    /// nothing to rebuild).
    fn sessions(&self) -> Vec<SessionEntry> {
        let mut sessions = self.registry.entries();
        sessions.sort_by(|(_, a), (_, b)| (a.connected_at, &a.sid).cmp(&(b.connected_at, &b.sid)));
        sessions
    }
}

impl Actor for ConnectionManager {
    type Context = Context<Self>;
}

impl Supervised for ConnectionManager {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        self.stats.restarted();
        log::warn!(
            "ConnectionManager restarted; {} sessions in the registry",
            self.registry.len()
        );
    }
}

impl Handler<ListConnections> for ConnectionManager {
    type Result = MessageResult<ListConnections>;

    fn handle(&mut self, msg: ListConnections, ctx: &mut Context<Self>) -> Self::Result {
        let stats = self.stats.clone();
        MessageResult(guarded(&stats, ctx, ConnectionsPage::default(), |_| {
            let sessions = self.sessions();
            ConnectionsPage {
                total: sessions.len(),
                connections: sessions
                    .iter()
                    .skip(msg.offset)
                    .take(msg.limit)
                    .map(|(_, meta)| meta.snapshot())
                    .collect(),
            }
        }))
    }
}

#[cfg(feature = "fault-injection")]
impl Handler<crate::supervision::Crash> for ConnectionManager {
    type Result = ();

    fn handle(&mut self, _msg: crate::supervision::Crash, ctx: &mut Context<Self>) {
        let stats = self.stats.clone();
        guarded(&stats, ctx, (), |_| {
            panic!("fault injected into ConnectionManager")
        })
    }
}
