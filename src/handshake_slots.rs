//! Handshakes admitted and not yet registered. A new session is counted by the session
//! registry only once the ConnectionManager has registered it, a message away from the
//! admission check; a burst of handshakes from one address would all pass the check in
//! that window. So admission reserves a slot: the check and the reservation happen under
//! one lock, with every reserved slot counted as open, and the slot is given back once the
//! session is registered (it then counts in the registry) or failed to start.
//!
//! Between registration and the release a session counts twice: the bound errs towards
//! refusing, never towards letting one more in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
struct Pending {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// The slots of handshakes between admission and registration, shared by every worker.
#[derive(Debug, Default, Clone)]
pub struct HandshakeSlots {
    pending: Arc<Mutex<Pending>>,
}

/// What is open besides the reserved slots: every session (and connection still
/// lingering), and those from the client's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenCounts {
    /// Open sessions and connections.
    pub total: usize,
    /// Open sessions from the client's address.
    pub from_ip: usize,
}

impl HandshakeSlots {
    /// Reserves a slot for a handshake from `ip` if `admit` allows it, given the open
    /// counts `open` reads plus the slots reserved already; `admit`'s refusal otherwise.
    /// Both run under the lock, so two handshakes never both take the last place.
    pub fn reserve<E>(
        &self,
        ip: Option<IpAddr>,
        open: impl FnOnce() -> OpenCounts,
        admit: impl FnOnce(OpenCounts) -> Result<(), E>,
    ) -> Result<HandshakeSlot, E> {
        let ip = ip.map(|ip| ip.to_canonical());
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let open = open();
        let reserved_from_ip = ip.and_then(|ip| pending.per_ip.get(&ip).copied());
        admit(OpenCounts {
            total: open.total + pending.total,
            from_ip: open.from_ip + reserved_from_ip.unwrap_or(0),
        })?;
        pending.total += 1;
        if let Some(ip) = ip {
            *pending.per_ip.entry(ip).or_insert(0) += 1;
        }
        Ok(HandshakeSlot {
            slots: self.clone(),
            ip,
        })
    }

    /// Handshakes admitted and not yet registered.
    pub fn reserved(&self) -> usize {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    fn release(&self, ip: Option<IpAddr>) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.total -= 1;
        if let Some(ip) = ip {
            if let Some(count) = pending.per_ip.get_mut(&ip) {
                *count -= 1;
                if *count == 0 {
                    pending.per_ip.remove(&ip);
                }
            }
        }
    }
}

/// A reserved place for one handshake; given back when dropped (hold it until the session
/// is registered).
#[derive(Debug)]
#[must_use = "the place is given back when this is dropped"]
pub struct HandshakeSlot {
    slots: HandshakeSlots,
    ip: Option<IpAddr>,
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        self.slots.release(self.ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_most(max: usize) -> impl Fn(OpenCounts) -> Result<(), ()> {
        move |open| if open.from_ip < max { Ok(()) } else { Err(()) }
    }

    #[test]
    fn reserved_slots_count_until_given_back() {
        let slots = HandshakeSlots::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let none_open = || OpenCounts {
            total: 0,
            from_ip: 0,
        };
        let first = slots.reserve(Some(ip), none_open, at_most(2)).unwrap();
        let second = slots.reserve(Some(ip), none_open, at_most(2)).unwrap();
        assert!(slots.reserve(Some(ip), none_open, at_most(2)).is_err());
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        drop(slots.reserve(Some(other), none_open, at_most(2)).unwrap());
        assert_eq!(slots.reserved(), 2);
        drop(first);
        let third = slots.reserve(Some(ip), none_open, at_most(2)).unwrap();
        drop((second, third));
        assert_eq!(slots.reserved(), 0);
        assert!(slots.pending.lock().unwrap().per_ip.is_empty());
    }
}
