//! The numbering of broadcasts, which orders a join's replay against live delivery.
//!
//! The Broadcaster numbers every broadcast while it holds the membership's read lock to
//! resolve its recipients; the RoomSupervisor reads the last number, S, while it holds the
//! write lock to add a member. The two locks exclude each other, so every broadcast numbered
//! up to S was resolved without the new member and every later one with it: replaying the
//! buffered events numbered up to S, and nothing after, hands the member each event once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The last broadcast number handed out. Cheap to clone; only the Broadcaster advances it.
#[derive(Debug, Clone, Default)]
pub struct BroadcastSequence(Arc<AtomicU64>);

impl BroadcastSequence {
    /// The last number handed out: the cutoff of a membership change made now.
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Hands out the next number; called under the membership's read lock.
    pub(super) fn advance(&self) -> u64 {
        self.0.fetch_add(1, Ordering::AcqRel) + 1
    }
}
