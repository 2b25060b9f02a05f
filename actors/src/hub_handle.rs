//! The `Hub` handle: the four supervised singleton actors (ConnectionManager,
//! RoomSupervisor, Broadcaster, Admin) on an arbiter of their own, with the views they publish,
//! behind one cheap handle that sessions, socket handles and the HTTP API use.
//!
//! Queries about membership read the RoomSupervisor's published view (no message); queries
//! about what the Broadcaster keeps read what it publishes, or ask it.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use serde::Serialize;

use crate::admin::feed::FeedCounters;
use crate::admin::{Admin, AdminFeed, AdminLinks};
use crate::asked::Asked;
use crate::attachments::Attachments;
use crate::broadcaster::{
    BroadcastSequence, Broadcaster, BroadcasterLinks, BufferSizes, BufferSizesView, CountBuffered,
    ReadHistory, Subscribe, TakePreserved, Unsubscribe,
};
use crate::cluster_outbox::{ClusterOutbox, RemoteBroadcast};
use crate::connection_manager::{
    ConnectionManager, ConnectionManagerLinks, ConnectionsPage, ListConnections, RegisterSession,
    RegistryWriter, SessionEnded, SessionMeta, SessionRegistry,
};
use crate::delivery::Replayed;
use crate::disconnect_reason::DisconnectReason;
use crate::history::{decode_entry, History};
use crate::hub_error::{JoinError, NotConnected, Unavailable};
use crate::hub_messages::{
    Broadcast, BroadcastOutcome, BroadcastWithAck, Preserve, PreservedSocket, Recovered,
};
use crate::messages::{CloseSession, SocketDisconnect, SocketJoin, SocketLeave};
use crate::policy::{DeliveryPolicies, DeliveryPolicy, RoomBuffering};
use crate::recovery_store::SharedRecoveryStore;
use crate::retention::{RetentionSnapshot, RetentionView};
use crate::room_supervisor::{
    AddSocket, EndedSocket, JoinRoom, LeaveRoom, MembershipView, MembershipWriter, Recipients,
    RemoveSocket, RoomMember, RoomSupervisor, RoomSupervisorLinks,
};
use crate::stats::{ActorStats, ActorStatsSnapshot, HubCounters};
use crate::subscription::Subscription;
use crate::target::Target;

struct HubInner {
    connections: Addr<ConnectionManager>,
    rooms: Addr<RoomSupervisor>,
    broadcaster: Addr<Broadcaster>,
    membership: MembershipView,
    buffer_sizes: BufferSizesView,
    subscriber_count: Arc<AtomicUsize>,
    policies: Arc<DeliveryPolicies>,
    counters: Arc<HubCounters>,
    registry: SessionRegistry,
    retention: RetentionView,
    stats: [Arc<ActorStats>; 4],
    admin: AdminFeed,
    sequence: BroadcastSequence,
    store: Option<SharedRecoveryStore>,
    attachments: Attachments,
    _arbiter: Arbiter,
    _admin_arbiter: Arbiter,
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
    /// Starts the singleton actors, each under a `Supervisor`, on a new arbiter, with an
    /// empty session registry.
    pub fn start(policies: DeliveryPolicies) -> Hub {
        Self::start_with(policies, None, None)
    }

    /// Starts the hub as [`Hub::start`] does, with the Broadcaster handing every broadcast
    /// the other nodes must deliver to `outbox` (the cluster adapter holds its receiver).
    pub fn start_clustered(policies: DeliveryPolicies, outbox: ClusterOutbox) -> Hub {
        Self::start_with(policies, Some(outbox), None)
    }

    /// Starts the hub as [`Hub::start_clustered`] does, keeping connection state recovery
    /// in `store` (shared by the nodes of the cluster) when one is given.
    pub fn start_clustered_with_store(
        policies: DeliveryPolicies,
        outbox: ClusterOutbox,
        store: Option<SharedRecoveryStore>,
    ) -> Hub {
        Self::start_with(policies, Some(outbox), store)
    }

    fn start_with(
        policies: DeliveryPolicies,
        cluster: Option<ClusterOutbox>,
        store: Option<SharedRecoveryStore>,
    ) -> Hub {
        let arbiter = Arbiter::new();
        arbiter.spawn_fn(crate::hub_thread::schedule_as_batch);
        let handle = arbiter.handle();
        let policies = Arc::new(policies);
        let counters = Arc::new(HubCounters::default());
        let stats = [
            ActorStats::new("ConnectionManager"),
            ActorStats::new("RoomSupervisor"),
            ActorStats::new("Broadcaster"),
            ActorStats::new("Admin"),
        ];
        let (writer, membership) = MembershipWriter::new();
        let (registry_writer, registry) = RegistryWriter::new();
        // The Admin runs on an arbiter of its own: what it reads for its watchers (the
        // registry, the membership) never delays the Broadcaster's thread.
        let admin_arbiter = Arbiter::new();
        let admin = start_admin(
            &admin_arbiter.handle(),
            &counters,
            &registry,
            &membership,
            &stats,
        );
        let sequence = BroadcastSequence::default();
        let retention = RetentionView::default();
        let subscriber_count = Arc::new(AtomicUsize::new(0));
        let broadcaster = Broadcaster::new(BroadcasterLinks {
            membership: membership.clone(),
            sequence: sequence.clone(),
            policies: policies.clone(),
            counters: counters.clone(),
            stats: stats[2].clone(),
            retention: retention.clone(),
            subscriber_count: subscriber_count.clone(),
            cluster,
            store: store.clone(),
        });
        let buffer_sizes = broadcaster.buffer_sizes();
        let broadcaster = Supervisor::start_in_arbiter(&handle, move |_| broadcaster);
        let supervisor = RoomSupervisor::new(
            writer,
            RoomSupervisorLinks {
                sequence: sequence.clone(),
                broadcaster: broadcaster.clone(),
                broadcaster_stats: stats[2].clone(),
                registry: registry.clone(),
                stats: stats[1].clone(),
                policies: policies.clone(),
                counters: counters.clone(),
            },
        );
        let rooms = Supervisor::start_in_arbiter(&handle, move |_| supervisor);
        let manager = ConnectionManager::new(
            (registry_writer, registry.clone()),
            ConnectionManagerLinks {
                membership: membership.clone(),
                rooms: rooms.clone(),
                rooms_stats: stats[1].clone(),
                stats: stats[0].clone(),
            },
        );
        let connections = Supervisor::start_in_arbiter(&handle, move |_| manager);
        Hub {
            inner: Arc::new(HubInner {
                connections,
                rooms,
                broadcaster,
                membership,
                buffer_sizes,
                subscriber_count,
                policies,
                counters,
                registry,
                retention,
                stats,
                admin,
                sequence,
                store,
                attachments: Attachments::default(),
                _arbiter: arbiter,
                _admin_arbiter: admin_arbiter,
            }),
        }
    }

    /// A hub with the default delivery policy everywhere (tests, conformance servers).
    pub fn with_defaults() -> Hub {
        Self::start(DeliveryPolicies::new(DeliveryPolicy::default()))
    }

    /// Attaches a value of the server's to the hub (one per type), for code that reaches
    /// the hub through a socket (the server attaches its cluster handle).
    pub fn attach<T: std::any::Any + Send + Sync>(&self, value: T) {
        self.inner.attachments.attach(value);
    }

    /// The value of type `T` attached with [`Hub::attach`], if any.
    pub fn attached<T: std::any::Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.inner.attachments.get::<T>()
    }

    /// The delivery policies.
    pub fn policies(&self) -> &Arc<DeliveryPolicies> {
        &self.inner.policies
    }

    /// The hub-wide counters.
    pub fn counters(&self) -> &Arc<HubCounters> {
        &self.inner.counters
    }

    /// The registered sessions, read-only (the ConnectionManager writes them).
    pub fn registry(&self) -> &SessionRegistry {
        &self.inner.registry
    }

    /// The room membership, read-only.
    pub fn membership(&self) -> &MembershipView {
        &self.inner.membership
    }

    /// The sizes of the dedupe windows, recovery logs and preserved sockets, as of the
    /// Broadcaster's last sweep.
    pub fn retention(&self) -> RetentionSnapshot {
        self.inner.retention.snapshot()
    }

    /// Every namespace that buffers something, with the sizes of its room buffers and of
    /// its offline queues, sorted by name (exact: published on every change).
    pub fn buffer_sizes(&self) -> Vec<(String, BufferSizes, BufferSizes)> {
        self.inner.buffer_sizes.sizes()
    }

    /// Event subscribers (SSE streams) of every namespace.
    pub fn subscriber_count(&self) -> usize {
        self.inner.subscriber_count.load(Ordering::Relaxed)
    }

    /// The rooms of a namespace that have members, with their sizes, sorted by name.
    pub fn rooms(&self, nsp: &str) -> Vec<(String, usize)> {
        self.inner.membership.read().rooms(nsp)
    }

    /// The socket ids in a room, sorted.
    pub fn members(&self, nsp: &str, room: &str) -> Vec<String> {
        self.inner.membership.read().members(nsp, room)
    }

    /// The members of a room with their users, sorted by socket id (empty when it has
    /// none).
    pub fn room_members(&self, nsp: &str, room: &str) -> Vec<RoomMember> {
        self.inner.membership.read().member_users(nsp, room)
    }

    /// A page of a room's members: its size, and the first `limit` members (by socket id)
    /// after `after` (see `Membership::member_page`).
    pub fn room_member_page(
        &self,
        nsp: &str,
        room: &str,
        after: Option<&str>,
        limit: usize,
    ) -> (usize, Vec<RoomMember>) {
        self.inner
            .membership
            .read()
            .member_page(nsp, room, after, limit)
    }

    /// A user's connected sockets in every namespace, as (namespace, socket id), sorted.
    pub fn user_sockets(&self, user: &str) -> Vec<(String, String)> {
        self.inner.membership.read().user_sockets(user)
    }

    /// Connected sockets of a namespace.
    pub fn socket_count(&self, nsp: &str) -> usize {
        self.inner.membership.read().socket_count(nsp)
    }

    /// Namespaces with a connected socket.
    pub fn namespace_count(&self) -> usize {
        self.inner.membership.read().namespace_count()
    }

    /// Every namespace with its connected sockets and its rooms that have members, sorted
    /// by name.
    pub fn namespace_counts(&self) -> Vec<(String, usize, usize)> {
        self.inner.membership.read().namespace_counts()
    }

    /// Filtered memberships (a socket in a room with a field set) and distinct field sets
    /// summed over the rooms (see [`crate::fields`]).
    pub fn field_filter_counts(&self) -> (usize, usize) {
        self.inner.membership.read().field_filter_counts()
    }

    /// The sockets a target resolves to, with their sessions.
    pub fn resolve(&self, target: &Target) -> Recipients {
        self.inner.membership.read().resolve(target)
    }

    /// The sockets `target` resolves to (at most `max`), serialized as socket.io's
    /// `fetchSockets` answers another node: `{id, handshake, rooms, data, ...}`.
    pub fn serialized_sockets(&self, target: &Target, max: usize) -> Vec<serde_json::Value> {
        crate::admin::listing::sockets_of(&self.inner.registry, &self.inner.membership, target, max)
    }

    /// Events buffered in a room that are younger than `ttl`.
    pub fn buffered(
        &self,
        nsp: &str,
        room: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<usize, Unavailable>> + 'static {
        self.ask_broadcaster(CountBuffered {
            nsp: nsp.to_owned(),
            room: room.to_owned(),
            ttl,
        })
    }

    /// A page of `room`'s history (see [`History`]): with `since`, the first `limit` kept
    /// events after the one with that offset; without, the newest `limit`. Read from this
    /// node's room buffer (the namespace's `buffer_ttl` applies), decoded off the
    /// Broadcaster's thread.
    pub fn history(
        &self,
        nsp: &str,
        room: &str,
        since: Option<String>,
        limit: usize,
    ) -> impl Future<Output = Result<History, Unavailable>> + 'static {
        let policies = self.inner.policies.clone();
        let ttl = policies.of(nsp).buffer_ttl;
        let page = self.ask_broadcaster(ReadHistory {
            nsp: nsp.to_owned(),
            room: room.to_owned(),
            ttl,
            since,
            limit,
        });
        async move {
            let page = page.await?;
            let parser = policies.parser();
            let events = page
                .events
                .iter()
                .filter_map(|entry| decode_entry(entry, parser))
                .collect();
            Ok(History {
                events,
                complete: page.complete,
                more: page.more,
            })
        }
    }

    /// The Admin actor's handle: the feed the other actors check (`watched`) and what
    /// the `/admin` namespace asks of it.
    pub fn admin(&self) -> &AdminFeed {
        &self.inner.admin
    }

    /// Counts a message about to be sent to the actor whose stats are at `index`.
    pub(crate) fn count_send(&self, actor: HubActor) {
        self.inner.stats[actor as usize].enqueued();
    }

    /// Messages waiting in the Broadcaster's mailbox now (what the cluster adapter checks
    /// before it hands the Broadcaster another node's broadcast).
    pub fn broadcaster_backlog(&self) -> u64 {
        self.inner.stats[HubActor::Broadcaster as usize].mailbox_depth()
    }

    /// Each singleton's own stats.
    pub fn actor_stats(&self) -> Vec<ActorStatsSnapshot> {
        self.inner.stats.iter().map(|s| s.snapshot()).collect()
    }

    /// Sends a message to the Broadcaster (counted in its mailbox depth) and waits for the
    /// answer.
    fn ask_broadcaster<M>(&self, msg: M) -> impl Future<Output = Result<M::Result, Unavailable>>
    where
        M: Message + Send + 'static,
        M::Result: Send,
        Broadcaster: Handler<M> + Handler<Asked<M>>,
    {
        self.count_send(HubActor::Broadcaster);
        // Handled even if the caller stops waiting: see `asked`.
        let (asked, answer) = Asked::new(msg);
        self.inner.broadcaster.do_send(asked);
        async move { answer.await.map_err(|_| Unavailable("Broadcaster")) }
    }

    /// Emits an event to a target; resolves once it is handed to every recipient.
    pub fn broadcast(
        &self,
        msg: Broadcast,
    ) -> impl Future<Output = Result<BroadcastOutcome, Unavailable>> + 'static {
        let (nsp, event) = (&msg.target.nsp, &msg.event);
        self.inner
            .admin
            .event(false, nsp, None, event, &msg.payload);
        self.ask_broadcaster(msg)
    }

    /// Delivers a broadcast that came from another node to this node's sockets (never sent
    /// back to the cluster); resolves to what it did here.
    pub fn remote_broadcast(
        &self,
        msg: RemoteBroadcast,
    ) -> impl Future<Output = Result<BroadcastOutcome, Unavailable>> + 'static {
        let (nsp, event) = (&msg.target.nsp, &msg.event);
        self.inner
            .admin
            .event(false, nsp, None, event, &msg.payload);
        // Another node's stats: its watchers here get them as any broadcast, and the
        // Admin keeps them for the dashboard's node list.
        if nsp == crate::ADMIN_NSP && event == "server_stats" {
            if let Some(stats) = msg.payload.args.first() {
                self.inner.admin.remote_server_stats(stats.clone());
            }
        }
        self.ask_broadcaster(msg)
    }

    /// Tells the Broadcaster a load of the room histories from Redis starts (see
    /// `room_history`): joins of always-rooms wait for it, at most its timeout.
    pub fn history_load_start(&self, msg: crate::room_history::HistoryLoadStart) {
        self.count_send(HubActor::Broadcaster);
        self.inner.broadcaster.do_send(msg);
    }

    /// Hands the Broadcaster the room histories a load read.
    pub fn history_loaded(&self, msg: crate::room_history::HistoryLoaded) {
        self.count_send(HubActor::Broadcaster);
        self.inner.broadcaster.do_send(msg);
    }

    /// Emits an event that asks every recipient for an ack; resolves to the number of
    /// recipients once it is handed to each (their reports follow on `msg.reports`).
    pub fn broadcast_with_ack(
        &self,
        msg: BroadcastWithAck,
    ) -> impl Future<Output = Result<BroadcastOutcome, Unavailable>> + 'static {
        self.ask_broadcaster(msg)
    }

    /// Subscribes to the events of a namespace sent to `rooms` (empty = all of them), with
    /// a queue of `capacity` events.
    pub fn subscribe(
        &self,
        nsp: &str,
        rooms: Vec<String>,
        capacity: usize,
    ) -> impl Future<Output = Result<Subscription, Unavailable>> + 'static {
        let subscribed = self.subscribe_fields(nsp, rooms, None, capacity);
        // A subscription without fields is never refused.
        async move { subscribed.await?.map_err(|_| Unavailable("Broadcaster")) }
    }

    /// Subscribes as [`Hub::subscribe`] does, getting only `fields` of events whose data is
    /// one JSON object (see [`crate::fields`]); refused when the subscribers use
    /// [`crate::MAX_SUBSCRIBER_FIELD_SETS`] other sets already (counted).
    pub fn subscribe_fields(
        &self,
        nsp: &str,
        rooms: Vec<String>,
        fields: Option<crate::fields::FieldSet>,
        capacity: usize,
    ) -> impl Future<Output = Result<Result<Subscription, crate::TooManyFieldSets>, Unavailable>> + 'static
    {
        self.ask_broadcaster(Subscribe {
            nsp: nsp.to_owned(),
            rooms,
            fields,
            capacity,
        })
    }

    /// Ends a subscription.
    pub fn unsubscribe(&self, nsp: &str, id: u64) {
        self.count_send(HubActor::Broadcaster);
        self.inner.broadcaster.do_send(Unsubscribe {
            nsp: nsp.to_owned(),
            id,
        });
    }

    /// The recovery store shared by the cluster's nodes, if any.
    pub fn recovery_store(&self) -> Option<&SharedRecoveryStore> {
        self.inner.store.as_ref()
    }

    /// The last broadcast number handed out (see `BroadcastSequence`).
    pub(crate) fn broadcast_number(&self) -> u64 {
        self.inner.sequence.current()
    }

    /// Keeps a disconnected socket's state for recovery under its private id: in the
    /// shared store when there is one (the record a recovery on any node takes), else in
    /// the Broadcaster.
    pub(crate) fn preserve(&self, pid: String, socket: PreservedSocket) {
        if let Some(store) = &self.inner.store {
            let window = self.inner.policies.of(&socket.nsp).recovery;
            store.finalise(&pid, socket, window);
            return;
        }
        self.count_send(HubActor::Broadcaster);
        self.inner.broadcaster.do_send(Preserve { pid, socket });
    }

    /// Takes a preserved socket for a recovering client (see [`TakePreserved`]).
    pub(crate) fn take_preserved(
        &self,
        msg: TakePreserved,
    ) -> impl Future<Output = Option<Recovered>> + 'static {
        let asked = self.ask_broadcaster(msg);
        async move { asked.await.ok().flatten() }
    }

    /// Adds a socket with its first rooms; resolves to what it missed once it is in
    /// (`None` when the RoomSupervisor dropped the request: it restarted meanwhile).
    pub(crate) fn add_socket(
        &self,
        mut msg: AddSocket,
    ) -> impl Future<Output = Option<Replayed>> + 'static {
        let (tx, rx) = futures::channel::oneshot::channel();
        msg.reply = Some(tx);
        self.count_send(HubActor::RoomSupervisor);
        self.inner.rooms.do_send(msg);
        async move { rx.await.ok() }
    }

    /// Adds a socket with its rooms again, replaying nothing (a rebuild).
    pub(crate) fn announce_socket(&self, msg: AddSocket) {
        self.count_send(HubActor::RoomSupervisor);
        self.inner.rooms.do_send(msg);
    }

    /// A session announced all its sockets again (behind their [`AddSocket`]s).
    pub(crate) fn announced(&self, msg: crate::room_supervisor::MembershipAnnounced) {
        self.count_send(HubActor::RoomSupervisor);
        self.inner.rooms.do_send(msg);
    }

    /// A session started: the ConnectionManager registers it, then ends `then` (answers
    /// the handshake waiting, or gives back the admitted place).
    pub(crate) fn register_session(
        &self,
        sid: Arc<str>,
        session: crate::SessionAddr,
        meta: Arc<SessionMeta>,
        then: crate::session::OnRegistered,
    ) {
        self.count_send(HubActor::ConnectionManager);
        self.inner.connections.do_send(RegisterSession {
            sid,
            session,
            meta,
            then,
        });
    }

    /// A session closed: the ConnectionManager has the RoomSupervisor take its sockets out
    /// of every room, and unregisters the session once it has `stopped`.
    pub(crate) fn session_ended(&self, sid: Arc<str>, sockets: Vec<EndedSocket>, stopped: bool) {
        self.count_send(HubActor::ConnectionManager);
        self.inner.connections.do_send(SessionEnded {
            sid,
            sockets,
            stopped,
        });
    }

    /// Forgets a socket and its rooms (if it is still that incarnation).
    pub(crate) fn remove_socket(&self, nsp: &str, socket_id: Arc<str>, incarnation: u64) {
        self.count_send(HubActor::RoomSupervisor);
        self.inner.rooms.do_send(RemoveSocket {
            nsp: nsp.to_owned(),
            socket_id,
            incarnation,
        });
    }

    /// Adds a socket to a room; resolves to the events replayed to it once the membership
    /// is in place, or to `NotConnected` when the socket is not (any more).
    pub(crate) fn join_room(
        &self,
        nsp: &str,
        room: &str,
        socket: (Arc<str>, u64),
        buffering: RoomBuffering,
        fields: Option<crate::fields::FieldsUpdate>,
    ) -> impl Future<Output = Result<Replayed, NotConnected>> + 'static {
        let (reply, answer) = futures::channel::oneshot::channel();
        let (socket_id, incarnation) = socket;
        self.count_send(HubActor::RoomSupervisor);
        // Queued now, in order with the socket's other membership changes.
        self.inner.rooms.do_send(JoinRoom {
            nsp: nsp.to_owned(),
            room: room.to_owned(),
            socket_id,
            incarnation,
            buffering,
            fields,
            reply,
        });
        async move { answer.await.map_err(|_| NotConnected) }
    }

    /// Changes a socket's field set in one of its rooms; resolves once the membership has
    /// it (or why not).
    pub(crate) fn set_room_fields(
        &self,
        nsp: &str,
        room: &str,
        socket: (Arc<str>, u64),
        update: crate::fields::FieldsUpdate,
    ) -> impl Future<Output = Result<(), crate::fields::FieldsError>> + 'static {
        let (reply, answer) = futures::channel::oneshot::channel();
        let (socket_id, incarnation) = socket;
        self.count_send(HubActor::RoomSupervisor);
        self.inner
            .rooms
            .do_send(crate::room_supervisor::SetRoomFields {
                nsp: nsp.to_owned(),
                room: room.to_owned(),
                socket_id,
                incarnation,
                update,
                reply,
            });
        async move {
            answer
                .await
                .unwrap_or(Err(crate::fields::FieldsError::NotConnected))
        }
    }

    /// Removes a socket from a room; resolves once the membership no longer has it there.
    pub(crate) fn leave_room(
        &self,
        nsp: &str,
        room: &str,
        socket: (Arc<str>, u64),
    ) -> impl Future<Output = ()> + 'static {
        let (reply, answer) = futures::channel::oneshot::channel();
        let (socket_id, incarnation) = socket;
        self.count_send(HubActor::RoomSupervisor);
        self.inner.rooms.do_send(LeaveRoom {
            nsp: nsp.to_owned(),
            room: room.to_owned(),
            socket_id,
            incarnation,
            reply,
        });
        async move {
            let _ = answer.await;
        }
    }

    /// Adds socket `socket_id` of namespace `nsp` to a room, as its own
    /// [`Socket::join`](crate::Socket::join) does; resolves to the number of buffered
    /// events replayed to it.
    pub fn join_socket(
        &self,
        nsp: &str,
        socket_id: &str,
        room: &str,
    ) -> impl Future<Output = Result<usize, JoinError>> + 'static {
        let (reply, answer) = futures::channel::oneshot::channel();
        if let Some(session) = self.session_of(nsp, socket_id) {
            session.do_send(SocketJoin {
                nsp: nsp.to_owned(),
                socket_id: socket_id.into(),
                room: room.to_owned(),
                fields: None,
                reply,
            });
        }
        async move { answer.await.unwrap_or(Err(JoinError::NotConnected)) }
    }

    /// Removes socket `socket_id` of namespace `nsp` from a room.
    pub fn leave_socket(
        &self,
        nsp: &str,
        socket_id: &str,
        room: &str,
    ) -> impl Future<Output = Result<(), NotConnected>> + 'static {
        let (reply, answer) = futures::channel::oneshot::channel();
        if let Some(session) = self.session_of(nsp, socket_id) {
            session.do_send(SocketLeave {
                nsp: nsp.to_owned(),
                socket_id: socket_id.into(),
                room: room.to_owned(),
                reply,
            });
        }
        async move { answer.await.unwrap_or(Err(NotConnected)) }
    }

    /// Disconnects socket `socket_id` from namespace `nsp` (its connection stays open for
    /// its other namespaces).
    pub fn disconnect_socket(&self, nsp: &str, socket_id: &str) -> Result<(), NotConnected> {
        let session = self.session_of(nsp, socket_id).ok_or(NotConnected)?;
        session.do_send(SocketDisconnect {
            nsp: nsp.to_owned(),
            socket_id: socket_id.into(),
        });
        Ok(())
    }

    /// Closes the connection that socket `socket_id` of namespace `nsp` belongs to (every
    /// namespace of it).
    pub fn close_connection_of(
        &self,
        nsp: &str,
        socket_id: &str,
        reason: DisconnectReason,
    ) -> Result<(), NotConnected> {
        let session = self.session_of(nsp, socket_id).ok_or(NotConnected)?;
        session.do_send(CloseSession { reason });
        Ok(())
    }

    /// Closes the Engine.IO session `sid` (every namespace of it).
    pub fn close_session(&self, sid: &str, reason: DisconnectReason) -> Result<(), NotConnected> {
        let session = self.inner.registry.get(sid).ok_or(NotConnected)?;
        session.do_send(CloseSession { reason });
        Ok(())
    }

    /// Closes every session (the drain); returns how many were asked to close.
    pub fn close_all_sessions(&self, reason: DisconnectReason) -> usize {
        let sessions = self.inner.registry.all();
        for session in &sessions {
            session.do_send(CloseSession { reason });
        }
        sessions.len()
    }

    /// The session that holds socket `socket_id` of namespace `nsp`.
    fn session_of(&self, nsp: &str, socket_id: &str) -> Option<crate::SessionAddr> {
        self.inner.membership.read().session_of(nsp, socket_id)
    }

    /// One page of the connection list.
    pub fn list_connections(
        &self,
        offset: usize,
        limit: usize,
    ) -> impl Future<Output = Result<ConnectionsPage, Unavailable>> + 'static {
        self.count_send(HubActor::ConnectionManager);
        let (asked, answer) = Asked::new(ListConnections { offset, limit });
        self.inner.connections.do_send(asked);
        async move { answer.await.map_err(|_| Unavailable("ConnectionManager")) }
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
            HubActor::Admin => self.inner.admin.crash(),
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
    /// What operators watch (`/admin`).
    Admin = 3,
}

impl HubActor {
    /// All four.
    pub const ALL: [HubActor; 4] = [
        HubActor::ConnectionManager,
        HubActor::RoomSupervisor,
        HubActor::Broadcaster,
        HubActor::Admin,
    ];
}

/// Starts the Admin under a `Supervisor` on `handle`'s arbiter; returns its feed.
fn start_admin(
    handle: &ArbiterHandle,
    counters: &Arc<HubCounters>,
    registry: &SessionRegistry,
    membership: &MembershipView,
    stats: &[Arc<ActorStats>; 4],
) -> AdminFeed {
    let feed_counters = Arc::new(FeedCounters::default());
    let admin = Admin::new(AdminLinks {
        counters: counters.clone(),
        registry: registry.clone(),
        membership: membership.clone(),
        actor_stats: stats.to_vec(),
        stats: stats[3].clone(),
        feed: feed_counters.clone(),
    });
    let addr = Supervisor::start_in_arbiter(handle, move |_| admin);
    AdminFeed::new(addr, stats[3].clone(), feed_counters)
}
