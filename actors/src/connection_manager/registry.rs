//! The registry of live sessions: sid → session address and metadata, read by every HTTP
//! request that carries a sid. A concurrent map, because that lookup is on the hot path of
//! polling. It also counts the live sessions of each client address, for
//! `max_connections_per_ip`.
//!
//! The ConnectionManager is its only writer: the [`RegistryWriter`] it holds is the one way
//! to insert or remove, and its methods are visible in `connection_manager` only. Everyone
//! else holds a [`SessionRegistry`], which has read methods only.

use std::net::IpAddr;
use std::sync::Arc;

use actix::Addr;
use dashmap::DashMap;

use super::SessionMeta;
use crate::ids::SidHasher;
use crate::session::{Session, SessionAddr};

/// A live session: its address and its metadata.
pub type SessionEntry = (SessionAddr, Arc<SessionMeta>);

#[derive(Default)]
struct Shared {
    sessions: DashMap<Arc<str>, SessionEntry, SidHasher>,
    /// Live sessions per client address (an address with none has no entry).
    per_ip: DashMap<IpAddr, usize>,
}

/// The live sessions of one server, shared by every worker; read-only (the
/// ConnectionManager writes it).
#[derive(Clone)]
pub struct SessionRegistry {
    shared: Arc<Shared>,
}

/// The write half of the registry. Not `Clone`: the ConnectionManager holds the one there
/// is.
pub(crate) struct RegistryWriter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SessionRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRegistry")
            .field("sessions", &self.shared.sessions.len())
            .finish()
    }
}

impl SessionRegistry {
    /// The session with this sid, if it is registered.
    pub fn get(&self, sid: &str) -> Option<Addr<Session>> {
        self.shared
            .sessions
            .get(sid)
            .map(|entry| Addr::clone(&entry.value().0))
    }

    /// The session with this sid and its metadata (what the transport checks a request
    /// against before handing it over), if it is registered.
    pub fn entry(&self, sid: &str) -> Option<SessionEntry> {
        self.shared
            .sessions
            .get(sid)
            .map(|entry| entry.value().clone())
    }

    /// How many sessions are registered.
    pub fn len(&self) -> usize {
        self.shared.sessions.len()
    }

    /// Whether no session is registered.
    pub fn is_empty(&self) -> bool {
        self.shared.sessions.is_empty()
    }

    /// Every registered session.
    pub fn all(&self) -> Vec<Addr<Session>> {
        self.shared
            .sessions
            .iter()
            .map(|e| Addr::clone(&e.value().0))
            .collect()
    }

    /// Every registered session with its metadata.
    pub fn entries(&self) -> Vec<SessionEntry> {
        self.shared
            .sessions
            .iter()
            .map(|e| e.value().clone())
            .collect()
    }

    /// How many registered sessions were opened from `ip`.
    pub fn open_from(&self, ip: IpAddr) -> usize {
        self.shared.per_ip.get(&ip.to_canonical()).map_or(0, |n| *n)
    }
}

impl RegistryWriter {
    /// An empty registry: its writer and a read-only view on it.
    pub(crate) fn new() -> (RegistryWriter, SessionRegistry) {
        let shared = Arc::new(Shared::default());
        let view = SessionRegistry {
            shared: shared.clone(),
        };
        (RegistryWriter { shared }, view)
    }

    /// Registers a session (replacing one registered under the same sid, which random sids
    /// make a bug).
    pub(super) fn insert(&mut self, sid: Arc<str>, addr: SessionAddr, meta: Arc<SessionMeta>) {
        if let Some(ip) = meta.peer_ip() {
            *self.shared.per_ip.entry(ip).or_insert(0) += 1;
        }
        if let Some((_, old)) = self.shared.sessions.insert(sid, (addr, meta)) {
            self.forget_address(&old);
        }
    }

    /// Unregisters a session (nothing if it is not registered).
    pub(super) fn remove(&mut self, sid: &str) {
        if let Some((_, (_, meta))) = self.shared.sessions.remove(sid) {
            self.forget_address(&meta);
        }
    }

    fn forget_address(&self, meta: &SessionMeta) {
        let Some(ip) = meta.peer_ip() else { return };
        if let dashmap::mapref::entry::Entry::Occupied(mut count) = self.shared.per_ip.entry(ip) {
            *count.get_mut() -= 1;
            if *count.get() == 0 {
                count.remove();
            }
        }
    }
}
