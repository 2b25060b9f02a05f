//! The ConnectionManager: the registry of sessions with their metadata (namespaces, user,
//! transport, peer, counters) and the pages `/connections` shows, each socket with its
//! rooms read from the RoomSupervisor's membership view (the rooms are kept there, not
//! copied here). Sessions update their own [`SessionMeta`] (atomics and a small lock) as
//! they go; the manager reads them. The registry is a concurrent map the polling hot path
//! reads, so a session enters it as it starts (a handshake is answered only once its
//! session is findable) and leaves it as it ends; a restart has nothing to rebuild.

mod registry;
mod session_meta;

use std::sync::Arc;

use actix::prelude::*;

use crate::room_supervisor::{EndedSocket, MembershipView, RemoveSessionSockets, RoomSupervisor};
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

/// A session ended: its sockets leave every room.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionEnded {
    /// The Engine.IO session id.
    pub sid: Arc<str>,
    /// Its sockets (joined, or handed to the RoomSupervisor while connecting).
    pub sockets: Vec<EndedSocket>,
}

/// What the ConnectionManager reads and whom it tells.
pub struct ConnectionManagerLinks {
    /// The live sessions.
    pub registry: SessionRegistry,
    /// Where the rooms of each socket are read (the RoomSupervisor's view).
    pub membership: MembershipView,
    /// The RoomSupervisor, told when a session ends.
    pub rooms: Addr<RoomSupervisor>,
    /// The RoomSupervisor's stats, to count what is sent to it.
    pub rooms_stats: Arc<ActorStats>,
    /// Its own stats.
    pub stats: Arc<ActorStats>,
}

/// See the module documentation.
pub struct ConnectionManager {
    registry: SessionRegistry,
    membership: MembershipView,
    rooms: Addr<RoomSupervisor>,
    rooms_stats: Arc<ActorStats>,
    stats: Arc<ActorStats>,
}

impl ConnectionManager {
    /// A manager over the sessions of `links.registry`.
    pub fn new(links: ConnectionManagerLinks) -> Self {
        ConnectionManager {
            registry: links.registry,
            membership: links.membership,
            rooms: links.rooms,
            rooms_stats: links.rooms_stats,
            stats: links.stats,
        }
    }

    /// One page of the connection list, each socket with its rooms as the membership has
    /// them now.
    fn page(&self, offset: usize, limit: usize) -> ConnectionsPage {
        let sessions = self.sessions();
        let mut connections: Vec<ConnectionInfo> = sessions
            .iter()
            .skip(offset)
            .take(limit)
            .map(|(_, meta)| meta.snapshot())
            .collect();
        let members = self.membership.read();
        for socket in connections.iter_mut().flat_map(|c| c.sockets.iter_mut()) {
            socket.rooms = members
                .socket_rooms(&socket.nsp, &socket.id)
                .into_iter()
                .collect();
        }
        ConnectionsPage {
            total: sessions.len(),
            connections,
        }
    }

    /// Every live session, oldest first (ties by sid).
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
            self.page(msg.offset, msg.limit)
        }))
    }
}

impl Handler<SessionEnded> for ConnectionManager {
    type Result = ();

    fn handle(&mut self, msg: SessionEnded, ctx: &mut Context<Self>) {
        let stats = self.stats.clone();
        guarded(&stats, ctx, (), |_| {
            log::trace!(
                "session {}: ended with {} sockets",
                msg.sid,
                msg.sockets.len()
            );
            self.rooms_stats.enqueued();
            self.rooms.do_send(RemoveSessionSockets {
                sockets: msg.sockets,
            });
        })
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
