//! siohub's actors: the Session actor that owns one Engine.IO connection and its Socket.IO
//! sockets, the hub's four supervised singletons (ConnectionManager, RoomSupervisor,
//! Broadcaster, and the Admin that operators watch through) behind the [`Hub`] handle, the namespace and handler API, and the typed
//! messages between them.
//!
//! # Who owns what
//!
//! Each piece of state has one owner, and only the owner writes it; others read through a
//! message or a read-only view the owner publishes.
//!
//! | State | Owner (writer) | Read by others through |
//! |---|---|---|
//! | Room membership: sockets per namespace (with session, incarnation, rooms), room → members, socket → user | RoomSupervisor (`room_supervisor/membership.rs`; its `MembershipWriter` opens only there) | [`MembershipView`]: an `RwLock` plus a version bumped on every write; the Broadcaster resolves targets with it, the `Hub` queries and `/connections` read it |
//! | Room buffers and offline queues, recovery logs, dedupe windows, preserved sockets, SSE subscribers, the pending run of gathered deliveries | Broadcaster (`broadcaster/`) | buffer sizes published on every change, retention sizes on every sweep, the subscriber count as an atomic; `Hub::buffered` asks it |
//! | The broadcast sequence | Broadcaster (`broadcaster::sequence`) | the RoomSupervisor reads it for cutoffs |
//! | The session registry (sid → session, sessions per address) | ConnectionManager (`connection_manager/registry.rs`: it holds the one `RegistryWriter`, whose writes are visible there only) | [`SessionRegistry`]: a concurrent map the polling hot path and admission's counts read; a session is registered by `RegisterSession` (a polling handshake is answered only once that is done: [`Started::registered`]; a websocket-first one needs no lookup by sid and starts at once) and unregistered by `SessionEnded` once it has stopped |
//! | Per-connection metadata ([`SessionMeta`]) | its Session (atomics and a small lock it updates as it goes) | the registry entry; the ConnectionManager reads it for `/connections` |
//! | A connection's sockets, acks, outgoing queue, holds | its Session | [`Socket`] handles send it messages |
//! | Broadcasts for the other nodes, queued | the cluster adapter holds the receiver; the Broadcaster offers into the bounded [`ClusterOutbox`] (full = dropped, counted in [`OutboxCounters`]) | the adapter (`src/cluster`) publishes them to Redis; what comes back from other nodes enters as a [`RemoteBroadcast`] through [`Hub::remote_broadcast`] |
//! | A history load in flight and the joins of always-rooms waiting for it | Broadcaster (`broadcaster/mod.rs`, merged by `room_buffers::merge`) | the adapter starts and feeds it through [`Hub::history_load_start`] and [`Hub::history_loaded`] (see [`room_history`]); counted in [`room_history::HistoryCounters`], which the [`ClusterOutbox`] carries |
//! | Admin watchers, the per-second history, recent sampled events, `aggregatedEvents` | Admin (`admin/`) | requests through [`AdminFeed`] (answered with JSON); what it is fed is sent only while [`AdminFeed::watched`] |
//!
//! Membership was kept three times; two copies remain besides the membership, each for a
//! reason: the session's own set of rooms per socket (`SocketState.rooms`) bounds
//! `max_rooms_per_socket` without a round trip, is what a restarted RoomSupervisor is
//! rebuilt from (sessions are the source of truth), and what a socket preserved for
//! recovery takes with it. `SessionMeta` no longer keeps rooms: `/connections` reads them
//! from the view.
//!
//! # Joins, recoveries and live delivery, ordered by a cutoff
//!
//! The Broadcaster numbers every broadcast while it holds the membership's read lock to
//! resolve the recipients; buffered and logged events keep their number. The RoomSupervisor
//! reads the last number S while it holds the write lock to add a member, so every
//! broadcast numbered up to S was resolved without the member and every later one with it.
//! A join then goes session → RoomSupervisor (`JoinRoom`) → Broadcaster (`Replay`, upto S)
//! → session (one answer with the replayed frames); when the room buffers nothing the
//! RoomSupervisor answers the session itself. Meanwhile the session holds the socket's live
//! deliveries (bounded like its outgoing queue), writes the replay first, then releases
//! them: no event is both replayed and delivered live, none is missed, and the client sees
//! the replay first. A connect is the same step with the socket's first rooms (its user
//! room, a recovered socket's rooms): the CONNECT reply waits for the RoomSupervisor, so a
//! broadcast to the user right after the reply reaches the socket. A recovery takes the
//! preserved socket from the Broadcaster, checks the identity in the session, has the
//! RoomSupervisor put the socket back (cutoff S), and the Broadcaster answers with the
//! logged events after the client's offset up to S that targeted it.
//!
//! A run of gathered deliveries remembers the membership version it was resolved at and
//! takes no event once it changed, so membership writers never flush it. The hot path is
//! what it was: one encoding per broadcast, one mailbox hop Broadcaster → session, no
//! allocation per recipient (`do_send` under the read lock never blocks; only the
//! RoomSupervisor's writes wait for it, for one broadcast's resolution at most).
//!
//! # The races of the first room design, gone by construction
//!
//! - A recovered socket's rooms removed by the old socket's queued removal: membership
//!   entries carry the socket's incarnation, and a removal removes only its own.
//! - A user-room emit in the instant after the CONNECT reply: the reply waits for the
//!   RoomSupervisor (above).
//! - Deliveries addressed by namespace reaching a new socket after a leave and rejoin:
//!   deliveries and socket commands name the socket id, and the session drops what names a
//!   socket it no longer has.
//!
//! `tests/hub/races.rs` forces each; `tests/hub/join_replay.rs` joins under concurrent
//! broadcasts.
//!
//! # Messages between the actors
//!
//! A message that carries an actor's address lives in the module of the actor that handles
//! it (`AddSocket`, `TakePreserved`…); plain data messages ([`delivery`], [`hub_messages`],
//! [`messages`]) live below the actors. A session that starts asks the ConnectionManager
//! to register it (`RegisterSession`: a polling handshake is answered once the session is
//! in the registry; a websocket-first session does not wait, and the manager gives its
//! admitted place back then). The
//! RoomSupervisor and the ConnectionManager exchange typed messages: a session that closes
//! tells the ConnectionManager (`SessionEnded`), which has the RoomSupervisor take its
//! sockets out of every room (`RemoveSessionSockets`), and, once the session has stopped,
//! unregisters it (a closed polling session may wait, registered, for its last poll; a
//! request that finds a stopped session's sid before that is answered as an unknown sid); a user's sockets ([`Hub::user_sockets`]) and per-namespace
//! counts ([`Hub::namespace_counts`], for the coming Admin actor) come from the membership.
//! No actor messages itself to finish its own work: the session drives joins, leaves and
//! connects with `ctx.spawn(fut.into_actor(self))`, and what a handler asks of its own
//! session (emits, acks, joins, leaves, and tasks handed over with
//! [`Socket::run_in_session`]) is applied by the session directly, not sent to it
//! (`session/handler_requests.rs`).
//!
//! # Layering
//!
//! Only the actors (`session`, `connection_manager`, `room_supervisor`, `broadcaster`,
//! `admin`), the handles that are their addresses (`hub_handle`, `socket`) and the handler API
//! (`namespace`, whose handlers take the `Socket` handle the session runs them with) import
//! each other in a circle; messages, the membership's plain data, policies, config, stats,
//! the websocket outbox, wire frames, subscriptions, ids and logs are layered below them
//! (`python3 scripts/module_cycles.py actors/src`).
//!
//! # Splitting the rooms across several RoomSupervisor/Broadcaster pairs
//!
//! Not split yet: with many small rooms every broadcast passes one Broadcaster thread. The
//! design allows N pairs, each owning the rooms whose hash of (namespace, room) falls in
//! its share, each with its own membership, sequence, buffers and run. What a split takes:
//! a socket's namespace-wide entry (for namespace-wide targets and `socket_ids`) kept in
//! every shard or in a socket shard of its own; a target naming rooms of several shards
//! resolved by each shard with a dedupe across shards (a socket in rooms of two shards must
//! get one copy: resolve in one designated shard that reads the other shards' views, or
//! send the event to each shard with the socket ids already served); `except_rooms` in
//! another shard read through that shard's view; the recovery log and dedupe windows per
//! namespace stay in one place (a namespace shard), since offsets are per namespace; and a
//! socket's join or connect touching rooms of several shards takes one cutoff per shard.
#![warn(missing_docs)]

pub mod admin;
mod asked;
mod attachments;
mod broadcaster;
pub mod client_log;
pub mod cluster_outbox;
mod config;
mod connection_manager;
pub mod delivery;
mod disconnect_reason;
mod error;
pub mod fields;
mod history;
mod hub_error;
mod hub_handle;
pub mod hub_messages;
mod hub_thread;
mod ids;
pub mod messages;
mod namespace;
mod namespace_pattern;
mod policy;
pub mod recovery_store;
mod retention;
pub mod room_history;
mod room_set;
mod room_supervisor;
mod session;
mod socket;
mod stats;
mod subscription;
mod supervision;
mod target;
pub mod wire_frame;
pub mod ws;
pub mod ws_connection;

pub use admin::{AdminFeed, PageQuery, ADMIN_NSP};
pub use broadcaster::{
    BufferSizes, TooManyFieldSets, EVENT_OVERHEAD, MAX_SUBSCRIBER_FIELD_SETS, RECOVERY_LOG_MAX,
};
pub use client_log::{ClientBytes, ClientText, LogLimiter, Suppressed};
pub use cluster_outbox::{
    ClusterOutbox, OutboundBroadcast, OutboxCounters, OutboxReceiver, RemoteBroadcast,
};
pub use config::EngineConfig;
pub use connection_manager::{
    ConnectionInfo, ConnectionsPage, SessionEntry, SessionMeta, SessionRegistry, SocketMeta,
};
pub use delivery::AckReport;
pub use disconnect_reason::DisconnectReason;
pub use error::{AckError, EngineError};
pub use history::{History, HistoryEvent};
pub use hub_error::{JoinError, NotConnected, Unavailable};
pub use hub_handle::{Hub, HubActor};
pub use hub_messages::{Broadcast, BroadcastOutcome, BroadcastWithAck};
pub use ids::{next_ack_id, random_id};
pub use namespace::{
    AnyHandler, ConnectHandler, ConnectRefusal, DisconnectHandler, EventHandler, Middleware,
    Namespace, Namespaces,
};
pub use namespace_pattern::NamespacePattern;
pub use policy::{
    user_room, BufferPolicy, DeliveryPolicies, DeliveryPolicy, PresencePolicy, RoomBuffering,
    SlowConsumerAction, USER_ROOM_PREFIX,
};
pub use retention::{NamespaceRetention, RetentionSnapshot, RetentionView};
pub use room_supervisor::{MembershipRead, MembershipView, Recipients, RoomMember, PRESENCE_EVENT};
pub use session::{
    is_eio3, next_transport_id, AdmissionHold, Application, Opened, Registered, Session,
    SessionAddr, SessionParams, Started,
};
pub use siohub_protocol::Payload;
pub use socket::{AckSender, ConnectRequest, HandshakeInfo, HeaderList, Socket, SocketData};
pub use stats::{
    ActorStats, ActorStatsSnapshot, DropReason, HubCounters, RefusalReason, Traffic,
    WebhookOutcome, FANOUT_BUCKETS,
};
pub use subscription::{with_base64, Subscription};
pub use target::Target;
pub use wire_frame::Frames;
