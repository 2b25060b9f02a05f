//! Helpers for the crate's own actor tests: a hub, and sessions driven through the
//! messages the HTTP transport sends them.

use std::sync::Arc;
use std::time::SystemTime;

use actix::Addr;

use crate::config::EngineConfig;
use crate::connection_manager::SessionRegistry;
use crate::hub_handle::Hub;
use crate::namespace::Namespaces;
use crate::session::{Application, Session, SessionParams};
use crate::socket::{HandshakeInfo, HeaderList};

/// A hub with default policies.
pub(crate) fn hub() -> Hub {
    Hub::with_defaults(SessionRegistry::new())
}

/// The parameters of a polling Socket.IO session on `hub` with namespace `/`.
pub(crate) fn params(hub: &Hub) -> SessionParams {
    SessionParams {
        config: Arc::new(EngineConfig::default()),
        hub: hub.clone(),
        app: Application::SocketIo(Arc::new(Namespaces::new().add("/", |n| n))),
        handshake: Arc::new(HandshakeInfo {
            headers: HeaderList::default(),
            query: String::new(),
            address: String::new(),
            url: "/socket.io/".into(),
            issued: SystemTime::now(),
            secure: false,
        }),
    }
}

/// A session that does nothing (its address is what a test needs).
pub(crate) async fn idle_session() -> Addr<Session> {
    Session::start_polling(params(&hub())).1
}
