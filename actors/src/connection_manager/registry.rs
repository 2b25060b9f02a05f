//! The registry of live sessions: sid → session address, read by every HTTP request that
//! carries a sid. A concurrent map, because that lookup is on the hot path of polling. It
//! also counts the live sessions of each client address, for `max_connections_per_ip`.

use std::net::IpAddr;
use std::sync::Arc;

use actix::Addr;
use dashmap::DashMap;

use super::SessionMeta;
use crate::ids::SidHasher;
use crate::session::Session;

/// A live session: its address and its metadata.
pub type SessionEntry = (Addr<Session>, Arc<SessionMeta>);

/// The live sessions of one server, shared by every worker.
#[derive(Clone, Default)]
pub struct SessionRegistry {
    sessions: Arc<DashMap<Arc<str>, SessionEntry, SidHasher>>,
    /// Live sessions per client address (an address with none has no entry).
    per_ip: Arc<DashMap<IpAddr, usize>>,
}

impl std::fmt::Debug for SessionRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRegistry")
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

impl SessionRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The session with this sid, if it is alive.
    pub fn get(&self, sid: &str) -> Option<Addr<Session>> {
        self.sessions.get(sid).map(|entry| entry.value().0.clone())
    }

    /// The session with this sid and its metadata (what the transport checks a request
    /// against before handing it over), if it is alive.
    pub fn entry(&self, sid: &str) -> Option<SessionEntry> {
        self.sessions.get(sid).map(|entry| entry.value().clone())
    }

    /// How many sessions are alive.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is alive.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Every live session.
    pub fn all(&self) -> Vec<Addr<Session>> {
        self.sessions.iter().map(|e| e.value().0.clone()).collect()
    }

    /// Every live session with its metadata.
    pub fn entries(&self) -> Vec<SessionEntry> {
        self.sessions.iter().map(|e| e.value().clone()).collect()
    }

    /// How many sessions opened from `ip` are alive.
    pub fn open_from(&self, ip: IpAddr) -> usize {
        self.per_ip.get(&ip.to_canonical()).map_or(0, |n| *n)
    }

    pub(crate) fn insert(&self, sid: Arc<str>, addr: Addr<Session>, meta: Arc<SessionMeta>) {
        if let Some(ip) = meta.peer_ip() {
            *self.per_ip.entry(ip).or_insert(0) += 1;
        }
        if let Some((_, old)) = self.sessions.insert(sid, (addr, meta)) {
            self.forget_address(&old);
        }
    }

    pub(crate) fn remove(&self, sid: &str) {
        if let Some((_, (_, meta))) = self.sessions.remove(sid) {
            self.forget_address(&meta);
        }
    }

    fn forget_address(&self, meta: &SessionMeta) {
        let Some(ip) = meta.peer_ip() else { return };
        if let dashmap::mapref::entry::Entry::Occupied(mut count) = self.per_ip.entry(ip) {
            *count.get_mut() -= 1;
            if *count.get() == 0 {
                count.remove();
            }
        }
    }
}
