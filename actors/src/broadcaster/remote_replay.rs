//! What a socket recovered from the shared recovery store missed, each event once and
//! before anything live, under the cutoff discipline of a local replay.
//!
//! The store's events after the client's offset (`RemoteMissed::events`, read when this
//! node's broadcast number was `seen_upto`) are the truth, with two corrections from what
//! this node logged itself (its own events, and the events of other nodes it delivered, by
//! their origin's offset):
//! - an event in the store that this node numbered after the cutoff `upto` reached the
//!   socket live: not replayed;
//! - an event this node numbered up to the cutoff that the store did not have at the read
//!   (a node writes the store behind a queue; the read comes before the cutoff) is
//!   replayed after the store's events, in this node's order, when it is known to be newer
//!   than what the client saw: its origin's counter is above every counter of that origin
//!   in the store's answer (and the client's offset), or, for an origin absent from it, it
//!   was numbered after `seen_upto`.
//!
//! - an event in the store newer than every event of its origin logged here has not
//!   crossed the pub/sub link yet (its node writes the store and publishes independently):
//!   it reaches the socket live, after the cutoff, and is not replayed (else the socket
//!   gets it twice). An origin's events arrive here in its order, so one older than what
//!   this node logged of its origin and not logged here was lost on the way (counted by
//!   the adapter) or to a bound: replayed.
//!
//! Offsets are `<node>.<hex counter>`, counters increasing per node.

use std::collections::{HashMap, HashSet};

use super::recovery_log::{parse_offset, LoggedPacket, PacketLog};
use crate::recovery_store::RemoteMissed;
use crate::target::Target;
use crate::wire_frame::Frames;

/// The origin and counter of an offset.
pub(super) fn split_offset(text: &str) -> Option<(&str, u64)> {
    let (origin, counter) = text.rsplit_once('.')?;
    Some((origin, parse_offset(counter)?))
}

/// This node's logs of one namespace, as a recovery reads them.
pub(super) struct NodeLogs<'a> {
    /// This node's own events (offsets `<own>.<counter>`).
    pub(super) own: Option<&'a PacketLog>,
    /// This node's name in offsets.
    pub(super) own_origin: &'a str,
    /// The other nodes' events this node delivered (`LoggedPacket::origin` set).
    pub(super) remote: Option<&'a PacketLog>,
}

impl<'a> NodeLogs<'a> {
    /// Every logged event with its origin and counter.
    fn entries(&self) -> impl Iterator<Item = (&str, u64, &LoggedPacket)> + '_ {
        let own = self.own.into_iter().flat_map(|l| l.entries.iter());
        let own = own.map(|p| (self.own_origin, p.offset, p));
        let remote = self.remote.into_iter().flat_map(|l| l.entries.iter());
        let remote = remote.filter_map(|p| {
            let (origin, counter) = split_offset(p.origin.as_deref()?)?;
            Some((origin, counter, p))
        });
        own.chain(remote)
    }

    /// The newest counter logged here of each origin.
    fn newest(&self) -> HashMap<&str, u64> {
        let mut newest: HashMap<&str, u64> = HashMap::new();
        for (origin, counter, _) in self.entries() {
            let n = newest.entry(origin).or_insert(counter);
            *n = (*n).max(counter);
        }
        newest
    }

    /// The logged events numbered after `number` (each log is in number order: walked
    /// from its newest end, so this costs what it returns).
    fn numbered_after(&self, number: u64) -> impl Iterator<Item = (&str, u64)> + '_ {
        let newest = |log: Option<&'a PacketLog>| {
            let entries = log.into_iter().flat_map(|l| l.entries.iter().rev());
            entries.take_while(move |p| p.number > number)
        };
        let own = newest(self.own).map(|p| (self.own_origin, p.offset));
        let remote = newest(self.remote).filter_map(|p| split_offset(p.origin.as_deref()?));
        own.chain(remote)
    }
}

/// The events to replay, oldest first (see the module documentation), each as `shape` makes
/// it of its frames and target.
pub(super) fn replay<T>(
    logs: &NodeLogs<'_>,
    missed: &RemoteMissed,
    upto: u64,
    socket_id: &str,
    rooms: &HashSet<String>,
    shape: &dyn Fn(&Frames, &Target) -> T,
) -> Vec<T> {
    if let Some(frames) = replay_here(logs, missed, upto, socket_id, rooms, shape) {
        return frames;
    }
    // What reached the socket live: numbered after the cutoff.
    let live: HashSet<(&str, u64)> = logs.numbered_after(upto).collect();
    let offsets = std::iter::once(missed.after.as_str());
    let offsets = offsets.chain(missed.events.iter().map(|e| &*e.offset));
    let mut newest: HashMap<&str, u64> = HashMap::new();
    for (origin, counter) in offsets.filter_map(split_offset) {
        let n = newest.entry(origin).or_insert(counter);
        *n = (*n).max(counter);
    }
    let here = logs.newest();
    let mut frames = Vec::new();
    for event in &missed.events {
        let key = split_offset(&event.offset);
        let was_live = key.is_some_and(|key| live.contains(&key) || on_its_way(&here, key));
        if !was_live && event.target.includes(socket_id, rooms) {
            frames.push(shape(&event.frames, &event.target));
        }
    }
    let mut unseen: Vec<&LoggedPacket> = logs
        .entries()
        .filter(|(origin, counter, p)| {
            let newer = match newest.get(origin) {
                Some(known) => counter > known,
                None => p.number > missed.seen_upto,
            };
            newer && p.number <= upto && p.target.includes(socket_id, rooms)
        })
        .map(|(_, _, p)| p)
        .collect();
    unseen.sort_by_key(|p| p.number);
    frames.extend(unseen.into_iter().map(|p| shape(&p.frames, &p.target)));
    frames
}

/// The replay of a socket that went from this node, when this node still logs the
/// client's offset: this node's numbering is the order the socket got its events in, so
/// what was numbered up to the offset's event it had, and what was numbered after it (up
/// to the cutoff) it missed. The store's order is not that order: a node's own event is
/// delivered here at once but reaches the store behind its write queue, after events of
/// other nodes that were delivered later, so "after the offset in the store" would give
/// such an event twice, or leave out one of ours that the store has before the offset.
/// `None` when that does not apply (the store's order is all there is to go by).
fn replay_here<T>(
    logs: &NodeLogs<'_>,
    missed: &RemoteMissed,
    upto: u64,
    socket_id: &str,
    rooms: &HashSet<String>,
    shape: &dyn Fn(&Frames, &Target) -> T,
) -> Option<Vec<T>> {
    if !missed.here {
        return None;
    }
    let after = split_offset(&missed.after)?;
    let seen_at = logs
        .entries()
        .find(|(origin, counter, _)| (*origin, *counter) == after)
        .map(|(_, _, p)| p.number)?;
    // Everything logged here numbered after the offset's event and up to the cutoff.
    let mut unseen: Vec<(&str, u64, &LoggedPacket)> = logs
        .entries()
        .filter(|(_, _, p)| p.number > seen_at && p.number <= upto)
        .collect();
    unseen.sort_by_key(|(_, _, p)| p.number);
    let logged: HashSet<(&str, u64)> = logs.entries().map(|(o, c, _)| (o, c)).collect();
    let mut frames: Vec<T> = unseen
        .iter()
        .filter(|(_, _, p)| p.target.includes(socket_id, rooms))
        .map(|(_, _, p)| shape(&p.frames, &p.target))
        .collect();
    // What the store has and this node never logged (its log lost it to a bound, say):
    // the store's order is all there is for it. What is newer than everything of its
    // origin logged here has not arrived yet: it comes live.
    let newest = logs.newest();
    let lost_here = |key: (&str, u64)| !logged.contains(&key) && !on_its_way(&newest, key);
    frames.extend(
        missed
            .events
            .iter()
            .filter(|e| split_offset(&e.offset).is_some_and(lost_here))
            .filter(|e| e.target.includes(socket_id, rooms))
            .map(|e| shape(&e.frames, &e.target)),
    );
    Some(frames)
}

/// Whether another node's event is still on its way here: this node logged events of its
/// origin, all older (an origin's events arrive in its order). It will be delivered live.
fn on_its_way(newest: &HashMap<&str, u64>, (origin, counter): (&str, u64)) -> bool {
    newest.get(origin).is_some_and(|n| counter > *n)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;
    use crate::recovery_store::StoredEvent;
    use crate::target::Target;
    use crate::wire_frame::WireFrame;

    fn frames(label: &str) -> Frames {
        vec![WireFrame::text(label.to_owned())].into()
    }

    fn logged(offset: u64, number: u64, origin: Option<&str>, label: &str) -> LoggedPacket {
        LoggedPacket {
            offset,
            number,
            at: Instant::now(),
            frames: frames(label),
            target: Target::namespace("/"),
            cost: 0,
            origin: origin.map(Arc::from),
        }
    }

    fn stored(offset: &str) -> StoredEvent {
        StoredEvent {
            offset: offset.into(),
            target: Target::namespace("/"),
            frames: frames(offset),
        }
    }

    fn labels(frames: &[Frames]) -> Vec<String> {
        let text = |f: &Frames| String::from_utf8_lossy(f[0].payload()).into_owned();
        frames.iter().map(text).collect()
    }

    #[test]
    fn the_store_events_then_what_it_did_not_have_yet_each_once() {
        // This node "c": its own c.1 (in the store), c.2 (numbered after the read, not in
        // the store yet). Node "a"'s a.5 reached the socket live (numbered after the
        // cutoff 20); a.6 was numbered before the cutoff but had not reached the store.
        let mut own = PacketLog::default();
        own.push(logged(1, 10, None, "c.1"));
        own.push(logged(2, 16, None, "c.2"));
        let mut remote = PacketLog::default();
        remote.push(logged(4, 9, Some("a.4"), "a.4"));
        remote.push(logged(6, 17, Some("a.6"), "a.6"));
        remote.push(logged(5, 21, Some("a.5"), "a.5"));
        let missed = RemoteMissed {
            after: "b.7".into(),
            events: vec![stored("a.4"), stored("c.1"), stored("a.5"), stored("b.8")],
            seen_upto: 15,
            here: false,
        };
        let logs = NodeLogs {
            own: Some(&own),
            own_origin: "c",
            remote: Some(&remote),
        };
        let replayed = replay(&logs, &missed, 20, "s", &HashSet::new(), &|f, _| f.clone());
        assert_eq!(labels(&replayed), ["a.4", "c.1", "b.8", "c.2", "a.6"]);
    }

    #[test]
    fn an_origin_absent_from_the_store_counts_from_the_read() {
        // "d.3" was numbered before the read and the store does not have it: the client
        // may have seen it before its offset; "d.4", numbered after the read, it cannot.
        let mut remote = PacketLog::default();
        remote.push(logged(3, 5, Some("d.3"), "d.3"));
        remote.push(logged(4, 12, Some("d.4"), "d.4"));
        let missed = RemoteMissed {
            after: "b.1".into(),
            events: vec![],
            seen_upto: 10,
            here: false,
        };
        let logs = NodeLogs {
            own: None,
            own_origin: "c",
            remote: Some(&remote),
        };
        assert_eq!(
            labels(&replay(
                &logs,
                &missed,
                20,
                "s",
                &HashSet::new(),
                &|f, _| f.clone()
            )),
            ["d.4"]
        );
        assert!(split_offset("no-counter").is_none());
        assert_eq!(split_offset("x.y.1f"), Some(("x.y", 0x1f)));
    }

    #[test]
    fn a_socket_that_went_from_here_gets_what_came_after_its_offset_here_each_once() {
        // Node "b" delivered its own b.7 at once (number 10), then a.5 (number 11); the
        // store got a.5 first and b.7 behind b's write queue. The client holds a.5: b.7
        // it had (numbered before a.5 here), though the store has it after a.5. b.8 was
        // numbered after a.5 here and is in the store before a.5: the client missed it.
        let mut own = PacketLog::default();
        own.push(logged(7, 10, None, "b.7"));
        own.push(logged(8, 12, None, "b.8"));
        own.push(logged(9, 14, None, "b.9"));
        let mut remote = PacketLog::default();
        remote.push(logged(5, 11, Some("a.5"), "a.5"));
        remote.push(logged(6, 13, Some("a.6"), "a.6"));
        let missed = RemoteMissed {
            after: "a.5".into(),
            events: vec![stored("b.7"), stored("a.6"), stored("c.2")],
            seen_upto: 14,
            here: true,
        };
        let logs = NodeLogs {
            own: Some(&own),
            own_origin: "b",
            remote: Some(&remote),
        };
        // b.9 (number 14) reached the socket live: the cutoff is 13.
        let replayed = replay(&logs, &missed, 13, "s", &HashSet::new(), &|f, _| f.clone());
        assert_eq!(labels(&replayed), ["b.8", "a.6", "c.2"]);
        // The same answer from the store, for a socket that was on another node: this
        // node's order says nothing of what it got there, so the store's order goes.
        let elsewhere = RemoteMissed {
            here: false,
            ..missed
        };
        let replayed = replay(&logs, &elsewhere, 13, "s", &HashSet::new(), &|f, _| {
            f.clone()
        });
        assert_eq!(labels(&replayed), ["b.7", "a.6", "c.2", "b.8"]);
    }

    #[test]
    fn an_event_the_store_has_before_it_reached_this_node_is_not_replayed() {
        // The socket went from this node "a", holding a.3. Node "b" published b.8 and b.9;
        // b.8 reached this node (number 12), b.9 is in the store but still on the pub/sub
        // link: it will be numbered after the cutoff and reach the socket live. b.7 this
        // node never had (dropped on the way, older than b.8): only the store has it.
        let mut own = PacketLog::default();
        own.push(logged(3, 10, None, "a.3"));
        own.push(logged(4, 11, None, "a.4"));
        let mut remote = PacketLog::default();
        remote.push(logged(8, 12, Some("b.8"), "b.8"));
        let missed = RemoteMissed {
            after: "a.3".into(),
            events: vec![stored("a.4"), stored("b.7"), stored("b.8"), stored("b.9")],
            seen_upto: 12,
            here: true,
        };
        let logs = NodeLogs {
            own: Some(&own),
            own_origin: "a",
            remote: Some(&remote),
        };
        let replayed = replay(&logs, &missed, 12, "s", &HashSet::new(), &|f, _| f.clone());
        assert_eq!(labels(&replayed), ["a.4", "b.8", "b.7"]);
        // Recovered here from another node: the same holds in the store's order.
        let elsewhere = RemoteMissed {
            after: "c.1".into(),
            here: false,
            ..missed
        };
        let replayed = replay(&logs, &elsewhere, 12, "s", &HashSet::new(), &|f, _| {
            f.clone()
        });
        assert_eq!(labels(&replayed), ["a.4", "b.7", "b.8"]);
    }
}
