//! Coalescing deliveries: while more broadcasts wait in the Broadcaster's mailbox,
//! consecutive events to the same target form a *run*. The run's recipients are resolved
//! once, and each gets the whole run in one message when it closes: a backlog of broadcasts
//! costs one mailbox hop, one wake-up and one socket write per recipient instead of one per
//! event.
//!
//! A run belongs to the Broadcaster and remembers the membership version it was resolved
//! at: an event joins it only while that version is unchanged (so its recipients are the
//! members at the time of each of its events), and membership writers never have to flush
//! it.

use std::sync::Arc;

use crate::delivery::DeliverBatch;
use crate::room_supervisor::Recipients;
use crate::target::Target;
use crate::wire_frame::Frames;

/// Events to one target, not yet handed out.
pub(super) struct Run {
    target: Target,
    nsp: Arc<str>,
    /// The membership version its recipients were resolved at.
    version: u64,
    recipients: Recipients,
    events: Vec<(Frames, bool)>,
}

impl Run {
    /// A run starting with one event.
    pub(super) fn new(
        target: Target,
        nsp: Arc<str>,
        version: u64,
        recipients: Recipients,
        frames: Frames,
        volatile: bool,
    ) -> Self {
        Run {
            target,
            nsp,
            version,
            recipients,
            events: vec![(frames, volatile)],
        }
    }

    /// Adds an event if it goes to the same target and the membership is still the one the
    /// run was resolved at; returns whether it did.
    pub(super) fn extend(
        &mut self,
        target: &Target,
        version: u64,
        frames: &Frames,
        volatile: bool,
    ) -> bool {
        if self.version != version || self.target != *target {
            return false;
        }
        self.events.push((frames.clone(), volatile));
        true
    }

    /// How many sockets the run goes to.
    pub(super) fn recipients(&self) -> usize {
        self.recipients.len()
    }

    /// Hands every recipient the whole run (one shared list).
    pub(super) fn deliver(self) {
        let events: Arc<[(Frames, bool)]> = self.events.into();
        for (socket_id, session) in self.recipients {
            session.do_send(DeliverBatch {
                nsp: self.nsp.clone(),
                socket_id,
                events: events.clone(),
            });
        }
    }
}
