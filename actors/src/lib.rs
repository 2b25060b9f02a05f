//! siohub's actors: the Session actor that owns one Engine.IO connection and its Socket.IO
//! sockets, its websocket transport, the registry of live sessions, the namespace and
//! handler API, and the typed messages between them.
#![warn(missing_docs)]

mod config;
mod error;
mod ids;
pub mod messages;
mod namespace;
mod registry;
mod session;
mod socket;
mod ws_transport;

pub use config::EngineConfig;
pub use error::{AckError, EngineError};
pub use ids::random_id;
pub use namespace::{
    AnyHandler, ConnectHandler, ConnectRefusal, DisconnectHandler, EventHandler, Middleware,
    Namespace, NamespacePattern, Namespaces,
};
pub use registry::SessionRegistry;
pub use session::{Application, Session, SessionParams};
pub use siohub_protocol::Payload;
pub use socket::{AckSender, ConnectRequest, DisconnectReason, HandshakeInfo, Socket, SocketData};
pub use ws_transport::WsTransport;
