//! Coalescing deliveries: while more broadcasts wait in the Broadcaster's mailbox, the
//! events for each recipient are gathered and handed over in one message, so a backlog of
//! broadcasts costs one mailbox hop, one wake-up and one socket write per recipient instead
//! of one per event. With nothing waiting, an event goes out at once.

use std::collections::HashMap;
use std::sync::Arc;

use actix::Addr;

use crate::hub_messages::{Deliver, DeliverBatch};
use crate::room_table::Frames;
use crate::session::Session;

struct Pending {
    session: Addr<Session>,
    nsp: Arc<str>,
    events: Vec<(Frames, bool)>,
}

/// Events gathered per recipient socket, in broadcast order.
#[derive(Default)]
pub(crate) struct Fanout {
    pending: HashMap<Arc<str>, Pending>,
}

impl Fanout {
    /// Whether nothing is gathered.
    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Gathers one event for socket `sid`.
    pub(crate) fn add(
        &mut self,
        sid: &Arc<str>,
        session: &Addr<Session>,
        nsp: &Arc<str>,
        frames: &Frames,
        volatile: bool,
    ) {
        match self.pending.get_mut(sid) {
            Some(pending) => pending.events.push((frames.clone(), volatile)),
            None => {
                self.pending.insert(
                    sid.clone(),
                    Pending {
                        session: session.clone(),
                        nsp: nsp.clone(),
                        events: vec![(frames.clone(), volatile)],
                    },
                );
            }
        }
    }

    /// Hands every recipient what was gathered for it.
    pub(crate) fn flush(&mut self) {
        for (_, pending) in self.pending.drain() {
            let Pending {
                session,
                nsp,
                mut events,
            } = pending;
            if events.len() == 1 {
                let (frames, volatile) = events.pop().expect("one event");
                session.do_send(Deliver {
                    nsp,
                    frames,
                    volatile,
                });
            } else {
                session.do_send(DeliverBatch { nsp, events });
            }
        }
    }
}
