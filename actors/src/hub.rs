//! The hub: the three supervised singleton actors (ConnectionManager, RoomSupervisor,
//! Broadcaster) on an arbiter of their own, with the state they share, behind one cheap
//! handle that sessions, socket handles and the HTTP API use.

use std::sync::{Arc, Mutex};

use actix::prelude::*;
use serde::Serialize;

use crate::broadcaster::Broadcaster;
use crate::connection_manager::{ConnectionManager, ConnectionsPage};
use crate::hub_messages::{
    Broadcast, BroadcastOutcome, BroadcastWithAck, DescribeRoom, JoinRoom, LeaveRoom,
    ListConnections, ListRooms, Preserve, PreservedSocket, Recover, Recovered, RemoveSocket,
    ResolveTarget, Subscribe, Unsubscribe,
};
use crate::policy::{DeliveryPolicies, DeliveryPolicy};
use crate::registry::SessionRegistry;
use crate::retention::{RetentionSnapshot, RetentionView};
use crate::room_supervisor::RoomSupervisor;
use crate::room_table::RoomBuffering;
use crate::room_table::{Recipients, RoomMember, RoomTable, SharedRoomTable, Target};
use crate::session::Session;
use crate::stats::{ActorStats, ActorStatsSnapshot, HubCounters};
use crate::subscription::Subscription;

/// Why the hub could not do something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    /// An actor's mailbox is closed (it is stopping); try again.
    #[error("the {0} actor is not available")]
    Unavailable(&'static str),
    /// The socket is not connected (any more).
    #[error("the socket is not connected")]
    NotConnected,
    /// The socket is in as many rooms as `max_rooms_per_socket` allows; it must leave one
    /// before it joins another.
    #[error("the socket is in {max} rooms, the most max_rooms_per_socket allows; leave one first")]
    TooManyRooms {
        /// The bound.
        max: usize,
    },
}

struct HubInner {
    connections: Addr<ConnectionManager>,
    rooms: Addr<RoomSupervisor>,
    broadcaster: Addr<Broadcaster>,
    table: SharedRoomTable,
    policies: Arc<DeliveryPolicies>,
    counters: Arc<HubCounters>,
    registry: SessionRegistry,
    retention: RetentionView,
    stats: [Arc<ActorStats>; 3],
    _arbiter: Arbiter,
}

/// A handle on the hub. Cheap to clone; usable from any thread.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

impl Hub {
    /// Starts the singleton actors, each under a `Supervisor`, on a new arbiter.
    pub fn start(registry: SessionRegistry, policies: DeliveryPolicies) -> Hub {
        let arbiter = Arbiter::new();
        let handle = arbiter.handle();
        let table: SharedRoomTable = Arc::new(Mutex::new(RoomTable::default()));
        let policies = Arc::new(policies);
        let counters = Arc::new(HubCounters::default());
        let stats = [
            ActorStats::new("ConnectionManager"),
            ActorStats::new("RoomSupervisor"),
            ActorStats::new("Broadcaster"),
        ];
        let connections = {
            let (registry, stats) = (registry.clone(), stats[0].clone());
            Supervisor::start_in_arbiter(&handle, move |_| ConnectionManager::new(registry, stats))
        };
        let rooms = {
            let (table, registry, stats) = (table.clone(), registry.clone(), stats[1].clone());
            Supervisor::start_in_arbiter(&handle, move |_| {
                RoomSupervisor::new(table, registry, stats)
            })
        };
        let retention = RetentionView::default();
        let broadcaster = {
            let (table, policies, counters, stats, view) = (
                table.clone(),
                policies.clone(),
                counters.clone(),
                stats[2].clone(),
                retention.clone(),
            );
            Supervisor::start_in_arbiter(&handle, move |_| {
                Broadcaster::new(table, policies, counters, stats, view)
            })
        };
        Hub {
            inner: Arc::new(HubInner {
                connections,
                rooms,
                broadcaster,
                table,
                policies,
                counters,
                registry,
                retention,
                stats,
                _arbiter: arbiter,
            }),
        }
    }

    /// A hub with the default delivery policy everywhere (tests, conformance servers).
    pub fn with_defaults(registry: SessionRegistry) -> Hub {
        Self::start(registry, DeliveryPolicies::new(DeliveryPolicy::default()))
    }

    /// The ConnectionManager.
    pub fn connections(&self) -> &Addr<ConnectionManager> {
        &self.inner.connections
    }

    /// The RoomSupervisor.
    pub fn rooms(&self) -> &Addr<RoomSupervisor> {
        &self.inner.rooms
    }

    /// The Broadcaster.
    pub fn broadcaster(&self) -> &Addr<Broadcaster> {
        &self.inner.broadcaster
    }

    /// The room table (read it under its lock, briefly).
    pub fn table(&self) -> &SharedRoomTable {
        &self.inner.table
    }

    /// The delivery policies.
    pub fn policies(&self) -> &Arc<DeliveryPolicies> {
        &self.inner.policies
    }

    /// The hub-wide counters.
    pub fn counters(&self) -> &Arc<HubCounters> {
        &self.inner.counters
    }

    /// The live sessions.
    pub fn registry(&self) -> &SessionRegistry {
        &self.inner.registry
    }

    /// The sizes of the dedupe windows, recovery logs and preserved sockets, as of the
    /// Broadcaster's last sweep (the room buffers' sizes are in the room table).
    pub fn retention(&self) -> RetentionSnapshot {
        self.inner.retention.snapshot()
    }

    /// Counts a message about to be sent to the actor whose stats are at `index`.
    pub(crate) fn count_send(&self, actor: HubActor) {
        self.inner.stats[actor as usize].enqueued();
    }

    /// Each singleton's own stats.
    pub fn actor_stats(&self) -> Vec<ActorStatsSnapshot> {
        self.inner.stats.iter().map(|s| s.snapshot()).collect()
    }

    /// Sends a message to the Broadcaster (counted in its mailbox depth) and waits for the
    /// answer.
    fn ask_broadcaster<M>(
        &self,
        msg: M,
    ) -> impl std::future::Future<Output = Result<M::Result, HubError>> + 'static
    where
        M: Message + Send + 'static,
        M::Result: Send,
        Broadcaster: Handler<M>,
    {
        self.count_send(HubActor::Broadcaster);
        let sent = self.inner.broadcaster.send(msg);
        async move { sent.await.map_err(|_| HubError::Unavailable("Broadcaster")) }
    }

    /// Emits an event to a target; resolves once it is handed to every recipient.
    pub fn broadcast(
        &self,
        msg: Broadcast,
    ) -> impl std::future::Future<Output = Result<BroadcastOutcome, HubError>> + 'static {
        self.ask_broadcaster(msg)
    }

    /// Emits an event that asks every recipient for an ack; resolves to the number of
    /// recipients once it is handed to each (their reports follow on `msg.reports`).
    pub fn broadcast_with_ack(
        &self,
        msg: BroadcastWithAck,
    ) -> impl std::future::Future<Output = Result<BroadcastOutcome, HubError>> + 'static {
        self.ask_broadcaster(msg)
    }

    /// The sockets a target resolves to, with their sessions.
    pub fn resolve(
        &self,
        target: Target,
    ) -> impl std::future::Future<Output = Result<Recipients, HubError>> + 'static {
        self.count_send(HubActor::RoomSupervisor);
        let sent = self.inner.rooms.send(ResolveTarget { target });
        async move {
            sent.await
                .map_err(|_| HubError::Unavailable("RoomSupervisor"))
        }
    }

    /// The rooms of a namespace that have members, with their sizes, sorted by name.
    pub fn list_rooms(
        &self,
        nsp: &str,
    ) -> impl std::future::Future<Output = Result<Vec<(String, usize)>, HubError>> + 'static {
        self.count_send(HubActor::RoomSupervisor);
        let sent = self.inner.rooms.send(ListRooms {
            nsp: nsp.to_owned(),
        });
        async move {
            sent.await
                .map_err(|_| HubError::Unavailable("RoomSupervisor"))
        }
    }

    /// The members of a room with their users (empty when it has none).
    pub fn describe_room(
        &self,
        nsp: &str,
        room: &str,
    ) -> impl std::future::Future<Output = Result<Vec<RoomMember>, HubError>> + 'static {
        self.count_send(HubActor::RoomSupervisor);
        let sent = self.inner.rooms.send(DescribeRoom {
            nsp: nsp.to_owned(),
            room: room.to_owned(),
        });
        async move {
            sent.await
                .map_err(|_| HubError::Unavailable("RoomSupervisor"))
        }
    }

    /// Subscribes to the events of a namespace sent to `rooms` (empty = all of them), with
    /// a queue of `capacity` events.
    pub fn subscribe(
        &self,
        nsp: &str,
        rooms: Vec<String>,
        capacity: usize,
    ) -> impl std::future::Future<Output = Result<Subscription, HubError>> + 'static {
        self.count_send(HubActor::RoomSupervisor);
        let sent = self.inner.rooms.send(Subscribe {
            nsp: nsp.to_owned(),
            rooms,
            capacity,
        });
        async move {
            sent.await
                .map_err(|_| HubError::Unavailable("RoomSupervisor"))
        }
    }

    /// Ends a subscription.
    pub fn unsubscribe(&self, nsp: &str, id: u64) {
        self.count_send(HubActor::RoomSupervisor);
        self.inner.rooms.do_send(Unsubscribe {
            nsp: nsp.to_owned(),
            id,
        });
    }

    /// Keeps a disconnected socket's state for recovery under its private id.
    pub fn preserve(&self, pid: String, socket: PreservedSocket) {
        self.count_send(HubActor::Broadcaster);
        self.inner.broadcaster.do_send(Preserve { pid, socket });
    }

    /// Registers a socket that joined namespace `nsp`.
    ///
    /// Written into the room table directly (a lock held for one insert) rather than through
    /// the RoomSupervisor's mailbox: every connection does this, and a cross-thread message
    /// per connection was a measurable share of the connection rate. Nothing about the socket
    /// can be queued at the RoomSupervisor before it exists, so order is kept.
    pub fn add_socket(&self, nsp: &str, sid: Arc<str>, session: Addr<Session>) {
        crate::room_table::lock(&self.inner.table).add_socket(nsp, sid, session);
    }

    /// Forgets a socket and its rooms.
    pub fn remove_socket(&self, nsp: &str, sid: Arc<str>, rooms: Vec<String>) {
        self.count_send(HubActor::RoomSupervisor);
        self.inner.rooms.do_send(RemoveSocket {
            nsp: nsp.to_owned(),
            sid,
            rooms,
        });
    }

    fn join_message(
        nsp: &str,
        room: &str,
        sid: Arc<str>,
        session: Addr<Session>,
        buffering: RoomBuffering,
    ) -> JoinRoom {
        JoinRoom {
            nsp: nsp.to_owned(),
            room: room.to_owned(),
            sid,
            session,
            buffering,
            replayed: None,
        }
    }

    /// Adds a socket to a room, replaying buffered events per `buffering`.
    pub fn join_room(
        &self,
        nsp: &str,
        room: &str,
        sid: Arc<str>,
        session: Addr<Session>,
        buffering: RoomBuffering,
    ) {
        self.count_send(HubActor::RoomSupervisor);
        let msg = Self::join_message(nsp, room, sid, session, buffering);
        self.inner.rooms.do_send(msg);
    }

    /// Adds a socket to a room without replaying anything (a rebuild, a recovery).
    pub fn join_room_quietly(&self, nsp: &str, room: &str, sid: Arc<str>, session: Addr<Session>) {
        let quiet = RoomBuffering {
            policy: crate::policy::BufferPolicy::Drop,
            size: 0,
            ttl: std::time::Duration::ZERO,
        };
        self.join_room(nsp, room, sid, session, quiet);
    }

    /// Adds a socket to a room; resolves to the number of events replayed to it once the
    /// membership is in place.
    pub fn join_room_async(
        &self,
        nsp: &str,
        room: &str,
        sid: Arc<str>,
        session: Addr<Session>,
        buffering: RoomBuffering,
    ) -> impl std::future::Future<Output = Result<usize, HubError>> + 'static {
        self.count_send(HubActor::RoomSupervisor);
        let (tx, rx) = futures::channel::oneshot::channel();
        let mut msg = Self::join_message(nsp, room, sid, session, buffering);
        msg.replayed = Some(tx);
        // Queued now, in order with the socket's other membership changes.
        self.inner.rooms.do_send(msg);
        async move {
            rx.await
                .map_err(|_| HubError::Unavailable("RoomSupervisor"))
        }
    }

    /// Removes a socket from a room.
    pub fn leave_room(&self, nsp: &str, room: &str, sid: Arc<str>) {
        self.count_send(HubActor::RoomSupervisor);
        self.inner.rooms.do_send(LeaveRoom {
            nsp: nsp.to_owned(),
            room: room.to_owned(),
            sid,
        });
    }

    /// Asks for a preserved socket and what it missed.
    pub fn recover(
        &self,
        msg: Recover,
    ) -> impl std::future::Future<Output = Option<Recovered>> + 'static {
        self.count_send(HubActor::Broadcaster);
        let sent = self.inner.broadcaster.send(msg);
        async move { sent.await.ok().flatten() }
    }

    /// One page of the connection list.
    pub fn list_connections(
        &self,
        offset: usize,
        limit: usize,
    ) -> impl std::future::Future<Output = Result<ConnectionsPage, HubError>> + 'static {
        self.count_send(HubActor::ConnectionManager);
        let sent = self
            .inner
            .connections
            .send(ListConnections { offset, limit });
        async move {
            sent.await
                .map_err(|_| HubError::Unavailable("ConnectionManager"))
        }
    }

    /// Crashes one singleton on purpose (tests only).
    #[cfg(feature = "fault-injection")]
    pub fn crash(&self, actor: HubActor) {
        self.count_send(actor);
        let crash = crate::supervision::Crash;
        match actor {
            HubActor::ConnectionManager => self.inner.connections.do_send(crash),
            HubActor::RoomSupervisor => self.inner.rooms.do_send(crash),
            HubActor::Broadcaster => self.inner.broadcaster.do_send(crash),
        }
    }
}

/// The singleton actors, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HubActor {
    /// The registry of sessions.
    ConnectionManager = 0,
    /// Room membership.
    RoomSupervisor = 1,
    /// Fan-out, buffers, recovery.
    Broadcaster = 2,
}

impl HubActor {
    /// All three.
    pub const ALL: [HubActor; 3] = [
        HubActor::ConnectionManager,
        HubActor::RoomSupervisor,
        HubActor::Broadcaster,
    ];
}
