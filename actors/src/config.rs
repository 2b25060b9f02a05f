//! The engine settings every session reads: heartbeat timings, limits, buffer bounds.

use std::time::Duration;

use crate::policy::SlowConsumerAction;
use crate::ws::InflightLimit;

/// Settings of the Engine.IO and Socket.IO layers, shared by all sessions.
///
/// `Default` is the reference server's defaults (and siohub's `config/default.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Time between two server pings.
    pub ping_interval: Duration,
    /// How long the server waits for a pong before closing the session.
    pub ping_timeout: Duration,
    /// How long an upgrade to websocket may take from the probe to the `5` packet.
    pub upgrade_timeout: Duration,
    /// The largest polling body and websocket frame the server accepts, in bytes.
    pub max_payload: usize,
    /// How long a new connection may stay without joining any namespace.
    pub connect_timeout: Duration,
    /// The most packets the outgoing queue of one session holds.
    pub max_buffer_packets: usize,
    /// The most bytes the outgoing queue of one session holds.
    pub max_buffer_bytes: usize,
    /// What a session does when its outgoing buffer is full.
    pub slow_consumer: SlowConsumerAction,
    /// How long a websocket write may make no progress before the connection is cut.
    pub write_timeout: Duration,
    /// What a websocket may have read that its session has not handled yet.
    pub inflight: InflightLimit,
    /// The most binary attachments one Socket.IO packet may announce.
    pub max_attachments: usize,
    /// The most bytes the attachments of one binary packet may add up to.
    pub max_attachment_bytes: usize,
    /// How long a binary packet may wait for its attachments.
    pub attachment_timeout: Duration,
    /// The most rooms one socket may be in (its user room included).
    pub max_rooms_per_socket: usize,
    /// The most namespaces one connection may join, or be joining, at once.
    pub max_namespaces_per_connection: usize,
    /// The longest namespace name a CONNECT may carry, in bytes.
    pub max_namespace_name_bytes: usize,
    /// Whether clients may use HTTP long-polling.
    pub allow_polling: bool,
    /// Whether clients may use websocket (directly or by upgrade).
    pub allow_websocket: bool,
    /// Whether a request naming a session must come from the handshake's peer IP address
    /// (off for deployments whose proxies spread one client over several addresses).
    pub bind_session_to_ip: bool,
    /// The Socket.IO parser clients speak (`[server] parser`): JSON text packets, or one
    /// msgpack binary message per packet.
    pub parser: siohub_protocol::Parser,
    /// Whether Engine.IO v3 clients (`socket.io-client` 2.x, `EIO=3` or no `EIO`) may open
    /// a session; off, they get "Unsupported protocol version" as in the reference server.
    pub allow_eio3: bool,
    /// Whether a polling handshake offers the upgrade to websocket (`upgrades`); off, it
    /// offers none, as the reference server's `allowUpgrades: false`.
    pub allow_upgrades: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_payload: 1_000_000,
            connect_timeout: Duration::from_millis(45_000),
            max_buffer_packets: 4096,
            max_buffer_bytes: 4 * 1024 * 1024,
            slow_consumer: SlowConsumerAction::Disconnect,
            write_timeout: Duration::from_millis(10_000),
            inflight: InflightLimit::default(),
            max_attachments: siohub_protocol::DEFAULT_MAX_ATTACHMENTS,
            max_attachment_bytes: siohub_protocol::DEFAULT_MAX_ATTACHMENT_BYTES,
            attachment_timeout: Duration::from_millis(30_000),
            max_rooms_per_socket: 1000,
            max_namespaces_per_connection: 32,
            max_namespace_name_bytes: 256,
            allow_polling: true,
            allow_websocket: true,
            bind_session_to_ip: true,
            parser: siohub_protocol::Parser::Json,
            allow_eio3: false,
            allow_upgrades: true,
        }
    }
}
