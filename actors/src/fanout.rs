//! Coalescing deliveries: while more broadcasts wait in the Broadcaster's mailbox,
//! consecutive events to the same target form a *run*. The run's recipients are resolved
//! once, and each gets the whole run in one message when it closes: a backlog of broadcasts
//! costs one mailbox hop, one wake-up and one socket write per recipient instead of one per
//! event. The run lives in the room table and is closed before any membership change, so
//! its recipients are always the members at the time of each of its events.

use std::sync::Arc;

use crate::hub_messages::DeliverBatch;
use crate::room_table::{Frames, Recipients, Target};

/// Events to one target, not yet handed out.
pub(crate) struct Run {
    target: Target,
    nsp: Arc<str>,
    recipients: Recipients,
    events: Vec<(Frames, bool)>,
}

impl Run {
    /// A run starting with one event.
    pub(crate) fn new(
        target: Target,
        nsp: Arc<str>,
        recipients: Recipients,
        frames: Frames,
        volatile: bool,
    ) -> Self {
        Run {
            target,
            nsp,
            recipients,
            events: vec![(frames, volatile)],
        }
    }

    /// Adds an event if it goes to the same target; returns whether it did.
    pub(crate) fn extend(&mut self, target: &Target, frames: &Frames, volatile: bool) -> bool {
        if self.target != *target {
            return false;
        }
        self.events.push((frames.clone(), volatile));
        true
    }

    /// How many sockets the run goes to.
    pub(crate) fn recipients(&self) -> usize {
        self.recipients.len()
    }

    /// Hands every recipient the whole run (one shared list).
    pub(crate) fn deliver(self) {
        let events: Arc<[(Frames, bool)]> = self.events.into();
        for (_, session) in self.recipients {
            session.do_send(DeliverBatch {
                nsp: self.nsp.clone(),
                events: events.clone(),
            });
        }
    }
}
