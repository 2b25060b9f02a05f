//! The ConnectionManager: the registry of sessions with their metadata (namespaces, user,
//! transport, peer, counters) and the pages `/connections` shows, each socket with its
//! rooms read from the RoomSupervisor's membership view (the rooms are kept there, not
//! copied here). Sessions update their own [`SessionMeta`] (atomics and a small lock) as
//! they go; the manager reads them.
//!
//! The manager is the registry's only writer. A session is registered by
//! [`RegisterSession`] as it starts (its handshake is answered once the manager says so,
//! so the client's next request finds its sid) and unregistered by [`SessionEnded`] once
//! it has stopped (a request that finds the sid meanwhile reaches a stopped actor and is
//! answered as an unknown sid). The writer is a field of the actor, which its `Supervisor`
//! keeps across a restart along with the mailbox: a restart has nothing to rebuild and
//! loses no registration.

mod registry;
mod session_meta;

use std::sync::Arc;

use actix::prelude::*;

use crate::asked::Asked;
use crate::room_supervisor::{EndedSocket, MembershipView, RemoveSessionSockets, RoomSupervisor};
use crate::session::{OnRegistered, SessionAddr};
use crate::stats::ActorStats;
use crate::supervision::guarded;

pub(crate) use registry::RegistryWriter;
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

/// A session started: register it, then end `then` (a polling handshake waits for that; a
/// websocket-first session's admitted place is given back).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct RegisterSession {
    /// The Engine.IO session id.
    pub sid: Arc<str>,
    /// The session's address.
    pub session: SessionAddr,
    /// Its metadata.
    pub meta: Arc<SessionMeta>,
    /// Ended once it is registered.
    pub then: OnRegistered,
}

/// A session closed: its sockets leave every room; and once it has stopped, it leaves the
/// registry. (A closed polling session may wait for its last poll, registered, before it
/// stops: see `Session::await_last_poll`.)
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionEnded {
    /// The Engine.IO session id.
    pub sid: Arc<str>,
    /// Its sockets (joined, or handed to the RoomSupervisor while connecting).
    pub sockets: Vec<EndedSocket>,
    /// Whether the session has stopped (it is unregistered).
    pub stopped: bool,
}

/// What the ConnectionManager reads and whom it tells.
pub struct ConnectionManagerLinks {
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
    writer: RegistryWriter,
    registry: SessionRegistry,
    membership: MembershipView,
    rooms: Addr<RoomSupervisor>,
    rooms_stats: Arc<ActorStats>,
    stats: Arc<ActorStats>,
}

impl ConnectionManager {
    /// The manager writing the registry `writer` opens (`registry` is its view).
    pub(crate) fn new(
        (writer, registry): (RegistryWriter, SessionRegistry),
        links: ConnectionManagerLinks,
    ) -> Self {
        ConnectionManager {
            writer,
            registry,
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

/// A listing asked through the hub, handled even when its asker stopped waiting (see
/// `asked`): its handler counts it off the mailbox depth.
impl Handler<Asked<ListConnections>> for ConnectionManager {
    type Result = ();

    fn handle(&mut self, asked: Asked<ListConnections>, ctx: &mut Context<Self>) {
        asked.handle_by(self, ctx);
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

impl Handler<RegisterSession> for ConnectionManager {
    type Result = ();

    fn handle(&mut self, msg: RegisterSession, ctx: &mut Context<Self>) {
        let stats = self.stats.clone();
        guarded(&stats, ctx, (), |_| {
            self.writer.insert(msg.sid, msg.session, msg.meta);
            msg.then.done();
        })
    }
}

impl Handler<SessionEnded> for ConnectionManager {
    type Result = ();

    fn handle(&mut self, msg: SessionEnded, ctx: &mut Context<Self>) {
        let stats = self.stats.clone();
        guarded(&stats, ctx, (), |_| {
            log::trace!(
                "session {}: ended with {} sockets (stopped: {})",
                msg.sid,
                msg.sockets.len(),
                msg.stopped
            );
            if msg.stopped {
                self.writer.remove(&msg.sid);
            }
            if msg.sockets.is_empty() {
                return;
            }
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
