//! Helpers for the crate's own actor tests: a hub, and sessions driven through the
//! messages the HTTP transport sends them.

use std::sync::Arc;
use std::time::SystemTime;

use crate::config::EngineConfig;
use crate::hub_handle::Hub;
use crate::namespace::Namespaces;
use crate::session::{Application, Session, SessionParams};
use crate::socket::{HandshakeInfo, HeaderList};

/// A hub with default policies.
pub(crate) fn hub() -> Hub {
    Hub::with_defaults()
}

/// The parameters of a polling Socket.IO session on `hub` with namespace `/`.
pub(crate) fn params(hub: &Hub) -> SessionParams {
    SessionParams {
        config: Arc::new(EngineConfig::default()),
        hub: hub.clone(),
        app: Application::SocketIo(Arc::new(Namespaces::new().add("/", |n| n))),
        handshake: Arc::new(HandshakeInfo {
            headers: HeaderList::default(),
            address: String::new(),
            url: "/socket.io/".into(),
            issued: SystemTime::now(),
            secure: false,
        }),
    }
}

/// A registered session that does nothing (its address is what a test needs).
pub(crate) async fn idle_session() -> super::SessionAddr {
    let started = Session::start_polling(params(&hub()));
    started.registered.await.expect("registered");
    std::sync::Arc::new(started.session)
}

/// Whether session `sid` is unregistered once the ConnectionManager has handled what the
/// session sent it: the session's stop runs on this thread, so each round lets it run, then
/// waits for the manager to answer a message sent after.
pub(crate) async fn unregistered(hub: &Hub, sid: &str) -> bool {
    for _ in 0..100 {
        if hub.registry().get(sid).is_none() {
            return true;
        }
        actix_rt::task::yield_now().await;
        hub.list_connections(0, 0)
            .await
            .expect("the manager answers");
    }
    false
}
