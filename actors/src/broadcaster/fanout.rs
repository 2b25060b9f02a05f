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
use crate::fields::FieldSet;
use crate::room_supervisor::{Membership, Recipients};
use crate::session::SessionAddr;
use crate::target::Target;
use crate::wire_frame::Frames;

/// What a run's recipients are, grouped by the field set they get events with (one group,
/// with no set, when nobody in the target filters).
pub(super) type Groups = Vec<(Option<FieldSet>, Recipients)>;

/// Events to one target, not yet handed out.
pub(super) struct Run {
    target: Target,
    nsp: Arc<str>,
    /// The membership version its recipients were resolved at.
    version: u64,
    groups: Vec<Group>,
}

/// The recipients of a run that get events with one field set, and those events.
struct Group {
    fields: Option<FieldSet>,
    recipients: Recipients,
    events: Vec<(Frames, bool)>,
}

impl Run {
    /// A run starting with one event, encoded by `encode` once per group's field set.
    pub(super) fn new(
        target: Target,
        nsp: Arc<str>,
        version: u64,
        groups: Groups,
        mut encode: impl FnMut(Option<&FieldSet>) -> Frames,
        volatile: bool,
    ) -> Self {
        let groups = groups
            .into_iter()
            .map(|(fields, recipients)| Group {
                events: vec![(encode(fields.as_ref()), volatile)],
                fields,
                recipients,
            })
            .collect();
        Run {
            target,
            nsp,
            version,
            groups,
        }
    }

    /// Adds an event if it goes to the same target and the membership is still the one the
    /// run was resolved at (so are the field sets); returns whether it did.
    pub(super) fn extend(
        &mut self,
        target: &Target,
        version: u64,
        mut encode: impl FnMut(Option<&FieldSet>) -> Frames,
        volatile: bool,
    ) -> bool {
        if self.version != version || self.target != *target {
            return false;
        }
        for group in &mut self.groups {
            group.events.push((encode(group.fields.as_ref()), volatile));
        }
        true
    }

    /// How many sockets the run goes to.
    pub(super) fn recipients(&self) -> usize {
        self.groups.iter().map(|g| g.recipients.len()).sum()
    }

    /// Hands every recipient the whole run (one shared list per group).
    pub(super) fn deliver(self) {
        for group in self.groups {
            let events: Arc<[(Frames, bool)]> = group.events.into();
            for (socket_id, session) in group.recipients {
                session.do_send(DeliverBatch {
                    nsp: self.nsp.clone(),
                    socket_id,
                    events: events.clone(),
                });
            }
        }
    }
}

/// Hands an event to a target's recipients now: encoded by `encode` once per distinct field
/// set (grouped only when a recipient filters), and given to `send` for each recipient with
/// its frames. Returns how many recipients there were.
pub(super) fn send_each(
    members: &Membership,
    target: &Target,
    mut encode: impl FnMut(Option<&FieldSet>) -> Frames,
    mut send: impl FnMut(&Arc<str>, &SessionAddr, &Frames),
) -> usize {
    if !members.has_filtered(target) {
        let frames = encode(None);
        return members.for_each_recipient(target, |socket_id, session| {
            send(socket_id, session, &frames)
        });
    }
    let grouped = members.resolve_grouped(target);
    for (fields, recipients) in &grouped.groups {
        let frames = encode(fields.as_ref());
        for (socket_id, session) in recipients {
            send(socket_id, session, &frames);
        }
    }
    grouped.len()
}
