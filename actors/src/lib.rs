//! siohub's actors: the Session actor that owns one Engine.IO connection and its Socket.IO
//! sockets, its websocket transport, the registry of live sessions, the namespace and
//! handler API, and the typed messages between them.
#![warn(missing_docs)]

mod broadcaster;
pub mod client_log;
mod config;
mod connection_manager;
pub mod delivery;
mod disconnect_reason;
mod error;
mod hub_error;
mod hub_handle;
pub mod hub_messages;
mod ids;
pub mod messages;
mod namespace;
mod namespace_pattern;
mod policy;
mod retention;
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

pub use broadcaster::{BroadcastSequence, Broadcaster, BufferSizes, RECOVERY_LOG_MAX};
pub use client_log::{ClientBytes, ClientText, LogLimiter, Suppressed};
pub use config::EngineConfig;
pub use connection_manager::{
    ConnectionInfo, ConnectionManager, ConnectionsPage, SessionEntry, SessionMeta, SessionRegistry,
    SocketMeta,
};
pub use delivery::{AckReport, Replayed};
pub use disconnect_reason::DisconnectReason;
pub use error::{AckError, EngineError};
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
    user_room, BufferPolicy, DeliveryPolicies, DeliveryPolicy, RoomBuffering, SlowConsumerAction,
    USER_ROOM_PREFIX,
};
pub use retention::{NamespaceRetention, RetentionSnapshot, RetentionView};
pub use room_supervisor::{MembershipRead, MembershipView, Recipients, RoomMember, RoomSupervisor};
pub use session::{next_transport_id, Application, Session, SessionParams};
pub use siohub_protocol::Payload;
pub use socket::{AckSender, ConnectRequest, HandshakeInfo, HeaderList, Socket, SocketData};
pub use stats::{
    ActorStats, ActorStatsSnapshot, DropReason, HubCounters, RefusalReason, Traffic,
    WebhookOutcome, FANOUT_BUCKETS,
};
pub use subscription::{with_base64, Subscription};
pub use target::Target;
pub use wire_frame::Frames;
