//! What is known about one session (transport, peer, counters, backlog, its sockets and
//! their rooms), kept up to date by the session itself with atomics and a small lock, and
//! the snapshots `/connections` shows.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::socket::HandshakeInfo;

/// One socket of a session, as `/connections` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SocketMeta {
    /// The namespace (shared with the socket, not copied).
    #[serde(serialize_with = "shared_str")]
    pub nsp: Arc<str>,
    /// The socket id (shared with the socket, not copied).
    #[serde(serialize_with = "shared_str")]
    pub id: Arc<str>,
    /// The authenticated user, if any.
    pub user: Option<String>,
    /// Its rooms, sorted (filled in from the membership when listed).
    pub rooms: BTreeSet<String>,
}

/// Serializes a shared string as a string.
fn shared_str<S: serde::Serializer>(value: &Arc<str>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(value)
}

/// What is known about one session; updated by the session itself.
#[derive(Debug)]
pub struct SessionMeta {
    /// The Engine.IO session id.
    pub sid: Arc<str>,
    /// When the session opened.
    pub connected_at: SystemTime,
    transport: Mutex<&'static str>,
    packets_in: AtomicU64,
    packets_out: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    last_activity_ms: AtomicU64,
    backlog: [AtomicU64; 2],
    backlog_high_water: [AtomicU64; 2],
    sockets: Mutex<Vec<SocketMeta>>,
    /// The handshake (shared with the session): the peer address and User-Agent are read
    /// from it, and the admin UI's socket details.
    handshake: Arc<HandshakeInfo>,
}

/// A snapshot of one session for `/connections`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The Engine.IO session id.
    pub sid: String,
    /// `polling` or `websocket`.
    pub transport: String,
    /// The peer address.
    pub remote_address: String,
    /// The client's User-Agent.
    pub user_agent: String,
    /// Milliseconds since the epoch when it opened.
    pub connected_at: u64,
    /// Milliseconds since the epoch of the last packet from the client.
    pub last_activity: u64,
    /// Engine.IO packets received.
    pub packets_in: u64,
    /// Engine.IO packets sent.
    pub packets_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Packets waiting to be written to the client, at the last write.
    pub outgoing_packets: u64,
    /// Bytes waiting to be written to the client, at the last write.
    pub outgoing_bytes: u64,
    /// The most packets ever waiting at once (never above the configured bound).
    pub outgoing_high_water_packets: u64,
    /// The most bytes ever waiting at once (never above the configured bound).
    pub outgoing_high_water_bytes: u64,
    /// Its namespaces.
    pub namespaces: Vec<String>,
    /// The user of its sockets, if any.
    pub user: Option<String>,
    /// Its sockets with their rooms.
    pub sockets: Vec<SocketMeta>,
}

/// One page of connections.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct ConnectionsPage {
    /// Sessions in all.
    pub total: usize,
    /// This page, oldest first.
    pub connections: Vec<ConnectionInfo>,
}

fn millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl SessionMeta {
    /// Metadata of a session opening now with this handshake.
    pub fn new(sid: Arc<str>, handshake: Arc<HandshakeInfo>, transport: &'static str) -> Self {
        let now = SystemTime::now();
        SessionMeta {
            sid,
            connected_at: now,
            transport: Mutex::new(transport),
            packets_in: AtomicU64::new(0),
            packets_out: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            last_activity_ms: AtomicU64::new(millis(now)),
            backlog: Default::default(),
            backlog_high_water: Default::default(),
            sockets: Mutex::new(Vec::new()),
            handshake,
        }
    }

    /// The session's handshake.
    pub fn handshake(&self) -> &Arc<HandshakeInfo> {
        &self.handshake
    }

    /// The peer address (`ip:port`), or an empty string when unknown.
    pub fn remote_address(&self) -> &str {
        &self.handshake.address
    }

    /// The client's User-Agent (empty when it sent none).
    pub fn user_agent(&self) -> &str {
        self.handshake.header("user-agent").unwrap_or_default()
    }

    /// The client's IP address (canonical: an IPv4-mapped IPv6 address as IPv4), when the
    /// peer address is known.
    pub fn peer_ip(&self) -> Option<std::net::IpAddr> {
        let addr = self.remote_address().parse::<std::net::SocketAddr>().ok()?;
        Some(addr.ip().to_canonical())
    }

    fn touch(&self) {
        self.last_activity_ms
            .store(millis(SystemTime::now()), Ordering::Relaxed);
    }

    /// Counts packets received, `bytes` long in all (one websocket message, or the packets
    /// of one polling POST body).
    pub fn received(&self, packets: usize, bytes: usize) {
        self.packets_in.fetch_add(packets as u64, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
        self.touch();
    }

    /// Counts packets sent (last activity is the client's, so it is not touched).
    pub fn sent(&self, packets: usize, bytes: usize) {
        self.packets_out
            .fetch_add(packets as u64, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Records what waits to be written to the client.
    pub fn set_backlog(&self, packets: usize, bytes: usize) {
        for (i, value) in [packets as u64, bytes as u64].into_iter().enumerate() {
            self.backlog[i].store(value, Ordering::Relaxed);
            self.backlog_high_water[i].fetch_max(value, Ordering::Relaxed);
        }
    }

    /// The transport in use: `polling` or `websocket`.
    pub fn transport(&self) -> &'static str {
        *self.transport.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the transport in use.
    pub fn set_transport(&self, transport: &'static str) {
        *self.transport.lock().unwrap_or_else(|e| e.into_inner()) = transport;
    }

    /// Replaces the list of sockets (when a socket joins or leaves a namespace).
    pub fn set_sockets(&self, sockets: Vec<SocketMeta>) {
        *self.sockets.lock().unwrap_or_else(|e| e.into_inner()) = sockets;
    }

    /// The current values.
    pub fn snapshot(&self) -> ConnectionInfo {
        let sockets = self
            .sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        ConnectionInfo {
            sid: self.sid.to_string(),
            transport: self
                .transport
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .to_string(),
            remote_address: self.remote_address().to_owned(),
            user_agent: self.user_agent().to_owned(),
            connected_at: millis(self.connected_at),
            last_activity: self.last_activity_ms.load(Ordering::Relaxed),
            packets_in: self.packets_in.load(Ordering::Relaxed),
            packets_out: self.packets_out.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            outgoing_packets: self.backlog[0].load(Ordering::Relaxed),
            outgoing_bytes: self.backlog[1].load(Ordering::Relaxed),
            outgoing_high_water_packets: self.backlog_high_water[0].load(Ordering::Relaxed),
            outgoing_high_water_bytes: self.backlog_high_water[1].load(Ordering::Relaxed),
            namespaces: sockets.iter().map(|s| s.nsp.to_string()).collect(),
            user: sockets.iter().find_map(|s| s.user.clone()),
            sockets,
        }
    }
}
