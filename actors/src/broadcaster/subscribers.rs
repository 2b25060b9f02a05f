//! The event subscribers of every namespace (the HTTP API's SSE streams), held by the
//! Broadcaster. Kept apart from room membership, so the socket fan-out stays a loop over
//! session addresses and costs nothing more when nobody subscribes. Their number is
//! published as an atomic for `/metrics` and tests.
//!
//! The subscribers' field sets are interned: subscribers asking for equal sets share one,
//! an event is encoded once per distinct set, and matching a subscriber to its encoding is
//! a pointer comparison. At most [`MAX_SUBSCRIBER_FIELD_SETS`] distinct sets are in use at
//! once (a subscription naming one more is refused and counted), so one event costs at most
//! that many encodings whatever the subscribers ask for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use siohub_protocol::SocketPacket;

use crate::fields::{filter_packet, FieldSet};
use crate::stats::{DropReason, HubCounters};
use crate::subscription::{sse_chunk, Offer, Subscriber};
use crate::target::Target;

/// Most distinct field sets the subscribers of all namespaces use at once.
pub const MAX_SUBSCRIBER_FIELD_SETS: usize = 32;

/// A subscription refused: its field set would be one too many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "event subscribers use {max} distinct field sets already, the most the hub serves; \
     subscribe with one of them or without fields"
)]
pub struct TooManyFieldSets {
    /// The bound.
    pub max: usize,
}

/// Every namespace's subscribers.
#[derive(Default)]
pub(super) struct Subscribers {
    nsps: HashMap<String, Vec<Subscriber>>,
    /// The distinct field sets in use, with how many subscribers use each.
    sets: Vec<(FieldSet, usize)>,
    /// How many there are, published.
    count: Arc<AtomicUsize>,
}

impl Subscribers {
    /// Subscribers whose count is published to `count`.
    pub(super) fn new(count: Arc<AtomicUsize>) -> Self {
        Subscribers {
            nsps: HashMap::new(),
            sets: Vec::new(),
            count,
        }
    }

    /// The shared copy of `fields` (counted once more), or the refusal of one set too many.
    fn intern(&mut self, fields: FieldSet) -> Result<FieldSet, TooManyFieldSets> {
        if let Some((set, users)) = self.sets.iter_mut().find(|(set, _)| *set == fields) {
            *users += 1;
            return Ok(set.clone());
        }
        if self.sets.len() >= MAX_SUBSCRIBER_FIELD_SETS {
            return Err(TooManyFieldSets {
                max: MAX_SUBSCRIBER_FIELD_SETS,
            });
        }
        self.sets.push((fields.clone(), 1));
        Ok(fields)
    }

    /// One subscriber less uses `fields` (dropped with the last one).
    fn release(sets: &mut Vec<(FieldSet, usize)>, fields: Option<&FieldSet>) {
        let Some(fields) = fields else {
            return;
        };
        if let Some(at) = sets.iter().position(|(set, _)| set.same(fields)) {
            sets[at].1 -= 1;
            if sets[at].1 == 0 {
                sets.swap_remove(at);
            }
        }
    }

    /// How many distinct field sets are in use.
    #[cfg(test)]
    pub(super) fn field_sets(&self) -> usize {
        self.sets.len()
    }

    fn publish(&self) {
        let n = self.nsps.values().map(Vec::len).sum();
        self.count.store(n, Ordering::Relaxed);
    }

    /// Adds a subscriber to a namespace (dropping subscribers whose consumer left), its
    /// field set interned; refused when that set would be one too many.
    pub(super) fn subscribe(
        &mut self,
        nsp: &str,
        mut subscriber: Subscriber,
    ) -> Result<(), TooManyFieldSets> {
        let sets = &mut self.sets;
        for list in self.nsps.values_mut() {
            list.retain(|s| {
                let keep = !s.is_gone();
                if !keep {
                    Self::release(sets, s.fields.as_ref());
                }
                keep
            });
        }
        self.nsps.retain(|_, list| !list.is_empty());
        if let Some(fields) = subscriber.fields.take() {
            subscriber.fields = Some(self.intern(fields)?);
        }
        self.nsps
            .entry(nsp.to_owned())
            .or_default()
            .push(subscriber);
        self.publish();
        Ok(())
    }

    /// Removes a subscriber.
    pub(super) fn unsubscribe(&mut self, nsp: &str, id: u64) {
        if let Some(list) = self.nsps.get_mut(nsp) {
            let sets = &mut self.sets;
            list.retain(|s| {
                let keep = s.id != id;
                if !keep {
                    Self::release(sets, s.fields.as_ref());
                }
                keep
            });
            if list.is_empty() {
                self.nsps.remove(nsp);
            }
        }
        self.publish();
    }

    /// Hands an event sent to `target` to the subscribers that want it, encoded once per
    /// distinct field set of theirs (only if one wants it). `skip_last` leaves out the recovery offset the packet carries last. A
    /// subscriber whose queue is full is cut off and counted as a slow consumer.
    pub(super) fn notify(
        &mut self,
        target: &Target,
        packet: &SocketPacket,
        skip_last: bool,
        counters: &HubCounters,
    ) {
        let Some(list) = self.nsps.get_mut(&target.nsp) else {
            return;
        };
        let before = list.len();
        let sets = &mut self.sets;
        let mut chunks: Vec<(Option<FieldSet>, Bytes)> = Vec::new();
        list.retain_mut(|sub| {
            if !sub.wants(target) {
                let keep = !sub.is_gone();
                if !keep {
                    Self::release(sets, sub.fields.as_ref());
                }
                return keep;
            }
            // Interned: equal sets are one allocation.
            let at = chunks.iter().position(|(f, _)| match (f, &sub.fields) {
                (None, None) => true,
                (Some(a), Some(b)) => a.same(b),
                _ => false,
            });
            let at = at.unwrap_or_else(|| {
                let filtered = sub
                    .fields
                    .as_ref()
                    .and_then(|f| filter_packet(packet, f, skip_last));
                let chunk = sse_chunk(filtered.as_ref().unwrap_or(packet), skip_last);
                chunks.push((sub.fields.clone(), chunk));
                chunks.len() - 1
            });
            let kept = match sub.offer(&chunks[at].1) {
                Offer::Kept => true,
                Offer::Gone => false,
                Offer::CutOff => {
                    counters.slow_consumer_disconnect();
                    counters.dropped(DropReason::SlowConsumer, 1);
                    log::warn!(
                        "namespace {}: event subscriber {} reads too slowly (queue full); cut off",
                        crate::ClientText(&target.nsp),
                        sub.id
                    );
                    false
                }
            };
            if !kept {
                Self::release(sets, sub.fields.as_ref());
            }
            kept
        });
        if list.len() != before {
            if list.is_empty() {
                self.nsps.remove(&target.nsp);
            }
            self.publish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(fields: Option<&[&str]>) -> (Subscriber, crate::subscription::Subscription) {
        let fields = fields.map(|names| FieldSet::new(names.iter().copied()).unwrap());
        Subscriber::new("/", Vec::new(), fields, 4)
    }

    #[test]
    fn field_sets_are_interned_bounded_and_released() {
        let mut subs = Subscribers::new(Arc::default());
        let (a, _a) = sub(Some(&["x", "y"]));
        let (b, _b) = sub(Some(&["y", "x"]));
        let (a_id, b_id) = (a.id, b.id);
        subs.subscribe("/", a).unwrap();
        subs.subscribe("/", b).unwrap();
        assert_eq!(subs.field_sets(), 1, "equal sets are one");
        let list = &subs.nsps["/"];
        let (fa, fb) = (list[0].fields.as_ref(), list[1].fields.as_ref());
        assert!(fa.unwrap().same(fb.unwrap()), "shared");
        let mut held = Vec::new();
        for n in 1..MAX_SUBSCRIBER_FIELD_SETS {
            let (s, consumer) = sub(Some(&[&format!("f{n}")]));
            subs.subscribe("/", s).unwrap();
            held.push(consumer);
        }
        let (one_more, _) = sub(Some(&["over"]));
        let refused = subs.subscribe("/", one_more).unwrap_err();
        assert_eq!(refused.max, MAX_SUBSCRIBER_FIELD_SETS);
        let (unfiltered, _u) = sub(None);
        subs.subscribe("/", unfiltered)
            .expect("no set: never refused");
        let (same, _s) = sub(Some(&["x", "y"]));
        subs.subscribe("/", same)
            .expect("a set in use: not one more");
        // The set is held until its last subscriber goes.
        subs.unsubscribe("/", a_id);
        subs.unsubscribe("/", b_id);
        assert_eq!(subs.field_sets(), MAX_SUBSCRIBER_FIELD_SETS);
        // A consumer that went away frees its set at the next subscription.
        drop(held.pop());
        let (next, _n) = sub(Some(&["over"]));
        subs.subscribe("/", next).expect("a place came free");
        assert_eq!(subs.field_sets(), MAX_SUBSCRIBER_FIELD_SETS);
    }
}
