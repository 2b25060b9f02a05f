//! What each client address may still try of the admin password login, so one source
//! cannot fill the bcrypt checker's queue (`[admin] max_pending_logins`) and lock the
//! operators out of their first login.
//!
//! Per address: at most [`MAX_PENDING_PER_ADDRESS`] logins wait for their bcrypt check at
//! once, and at most [`MAX_FAILURES_PER_ADDRESS`] fail (waiting ones counted as failing)
//! within [`FAILURE_WINDOW`] of the first; more are refused at once, without a check. A
//! login that passes forgets the address's failures. At most [`MAX_ADDRESSES`] addresses
//! are kept: when full, the entries whose window ended go first, then the oldest idle one.
//! An address is its source: an IPv4-mapped IPv6 address is its IPv4 address, and an IPv6
//! address counts for its whole /64 (what one host is usually given), so a client cannot
//! renew its budget by changing the low bits.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Logins of one address waiting for their bcrypt check at once, at most.
pub const MAX_PENDING_PER_ADDRESS: usize = 2;
/// Failed logins of one address within [`FAILURE_WINDOW`], at most.
pub const MAX_FAILURES_PER_ADDRESS: usize = 5;
/// How long an address's failures count.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Addresses kept at most.
pub const MAX_ADDRESSES: usize = 1024;

/// Why an address may not try now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    /// [`MAX_PENDING_PER_ADDRESS`] of its logins wait for their check.
    Pending,
    /// [`MAX_FAILURES_PER_ADDRESS`] of its logins failed; it may try again after this.
    Failures(Duration),
}

#[derive(Debug)]
struct Entry {
    /// When the first failure of this window was (or the first login, while pending).
    since: Instant,
    failures: usize,
    pending: usize,
}

/// The budgets, by address.
#[derive(Debug, Default)]
pub struct LoginBudget {
    by_address: Mutex<HashMap<IpAddr, Entry>>,
}

impl LoginBudget {
    /// Takes one login attempt of `address` (to be ended with [`LoginBudget::end`]), or
    /// says why it may not try now.
    pub fn start(&self, address: IpAddr) -> Result<(), Spent> {
        self.start_at(address, Instant::now())
    }

    fn start_at(&self, address: IpAddr, now: Instant) -> Result<(), Spent> {
        let address = source(address);
        let mut by_address = self.by_address.lock().unwrap_or_else(|e| e.into_inner());
        if !by_address.contains_key(&address) && by_address.len() >= MAX_ADDRESSES {
            make_room(&mut by_address, now);
        }
        let entry = by_address.entry(address).or_insert(Entry {
            since: now,
            failures: 0,
            pending: 0,
        });
        if entry.pending == 0 && now.duration_since(entry.since) >= FAILURE_WINDOW {
            entry.failures = 0;
            entry.since = now;
        }
        if entry.pending >= MAX_PENDING_PER_ADDRESS {
            return Err(Spent::Pending);
        }
        if entry.failures + entry.pending >= MAX_FAILURES_PER_ADDRESS {
            let left = FAILURE_WINDOW.saturating_sub(now.duration_since(entry.since));
            return Err(Spent::Failures(left.max(Duration::from_secs(1))));
        }
        entry.pending += 1;
        Ok(())
    }

    /// Ends an attempt [`LoginBudget::start`] took: a failure is counted, a success
    /// forgets the address's failures.
    pub fn end(&self, address: IpAddr, passed: bool) {
        let address = source(address);
        let mut by_address = self.by_address.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = by_address.get_mut(&address) else {
            return;
        };
        entry.pending = entry.pending.saturating_sub(1);
        if passed {
            entry.failures = 0;
        } else {
            if entry.failures == 0 {
                entry.since = Instant::now();
            }
            entry.failures += 1;
        }
        if entry.failures == 0 && entry.pending == 0 {
            by_address.remove(&address);
        }
    }

    /// Addresses kept now.
    pub fn len(&self) -> usize {
        self.by_address
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Forgets the entries whose window ended; if none did, the oldest one not waiting.
/// Whose budget a login from `address` spends (see the module documentation).
fn source(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

fn make_room(by_address: &mut HashMap<IpAddr, Entry>, now: Instant) {
    by_address.retain(|_, e| e.pending > 0 || now.duration_since(e.since) < FAILURE_WINDOW);
    if by_address.len() < MAX_ADDRESSES {
        return;
    }
    let oldest = by_address
        .iter()
        .filter(|(_, e)| e.pending == 0)
        .min_by_key(|(_, e)| e.since)
        .map(|(a, _)| *a);
    if let Some(oldest) = oldest {
        by_address.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn admin_login_budget_bounds_pending_and_failed_logins_per_address() {
        let budget = LoginBudget::default();
        let t0 = Instant::now();
        // Two may wait at once; a third is refused until one ends.
        assert_eq!(budget.start_at(A, t0), Ok(()));
        assert_eq!(budget.start_at(A, t0), Ok(()));
        assert_eq!(budget.start_at(A, t0), Err(Spent::Pending));
        // Another address is not affected.
        assert_eq!(budget.start_at(B, t0), Ok(()));
        budget.end(B, true);
        budget.end(A, false);
        budget.end(A, false);
        for _ in 0..3 {
            assert_eq!(budget.start_at(A, t0), Ok(()));
            budget.end(A, false);
        }
        // Five failed: refused until the window ends.
        assert!(matches!(budget.start_at(A, t0), Err(Spent::Failures(_))));
        assert!(matches!(
            budget.start_at(A, t0 + FAILURE_WINDOW / 2),
            Err(Spent::Failures(_))
        ));
        assert_eq!(budget.start_at(A, Instant::now() + FAILURE_WINDOW), Ok(()));
        // A login that passes forgets the failures (and the address).
        budget.end(A, true);
        assert!(budget.is_empty());
    }

    #[test]
    fn admin_login_budget_counts_a_source_once_whatever_its_spelling() {
        let budget = LoginBudget::default();
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        let same_64: [IpAddr; 2] = [
            "2001:db8::1".parse().unwrap(),
            "2001:db8::ffff:2".parse().unwrap(),
        ];
        assert_eq!(budget.start(A), Ok(()));
        assert_eq!(budget.start(mapped), Ok(()));
        assert_eq!(
            budget.start(A),
            Err(Spent::Pending),
            "10.0.0.1 and its mapped form are one source"
        );
        assert_eq!(budget.start(same_64[0]), Ok(()));
        assert_eq!(budget.start(same_64[1]), Ok(()));
        assert_eq!(
            budget.start(same_64[0]),
            Err(Spent::Pending),
            "one /64 is one source"
        );
        assert_eq!(budget.start("2001:db8:0:1::1".parse().unwrap()), Ok(()));
    }

    #[test]
    fn admin_login_budget_keeps_a_bounded_number_of_addresses() {
        let budget = LoginBudget::default();
        let now = Instant::now();
        for i in 0..(MAX_ADDRESSES as u32 + 10) {
            let address = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            assert_eq!(budget.start_at(address, now), Ok(()));
            budget.end(address, false);
        }
        assert_eq!(budget.len(), MAX_ADDRESSES);
    }
}
