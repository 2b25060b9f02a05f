//! The event subscribers of every namespace (the HTTP API's SSE streams), held by the
//! Broadcaster. Kept apart from room membership, so the socket fan-out stays a loop over
//! session addresses and costs nothing more when nobody subscribes. Their number is
//! published as an atomic for `/metrics` and tests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use siohub_protocol::SocketPacket;

use crate::fields::{filter_packet, FieldSet};
use crate::stats::{DropReason, HubCounters};
use crate::subscription::{sse_chunk, Offer, Subscriber};
use crate::target::Target;

/// Every namespace's subscribers.
#[derive(Default)]
pub(super) struct Subscribers {
    nsps: HashMap<String, Vec<Subscriber>>,
    /// How many there are, published.
    count: Arc<AtomicUsize>,
}

impl Subscribers {
    /// Subscribers whose count is published to `count`.
    pub(super) fn new(count: Arc<AtomicUsize>) -> Self {
        Subscribers {
            nsps: HashMap::new(),
            count,
        }
    }

    fn publish(&self) {
        let n = self.nsps.values().map(Vec::len).sum();
        self.count.store(n, Ordering::Relaxed);
    }

    /// Adds a subscriber to a namespace (dropping subscribers whose consumer left).
    pub(super) fn subscribe(&mut self, nsp: &str, subscriber: Subscriber) {
        let list = self.nsps.entry(nsp.to_owned()).or_default();
        list.retain(|s| !s.is_gone());
        list.push(subscriber);
        self.publish();
    }

    /// Removes a subscriber.
    pub(super) fn unsubscribe(&mut self, nsp: &str, id: u64) {
        if let Some(list) = self.nsps.get_mut(nsp) {
            list.retain(|s| s.id != id);
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
        let mut chunks: Vec<(Option<FieldSet>, Bytes)> = Vec::new();
        list.retain_mut(|sub| {
            if !sub.wants(target) {
                return !sub.is_gone();
            }
            let at = chunks.iter().position(|(f, _)| *f == sub.fields);
            let at = at.unwrap_or_else(|| {
                let filtered = sub
                    .fields
                    .as_ref()
                    .and_then(|f| filter_packet(packet, f, skip_last));
                let chunk = sse_chunk(filtered.as_ref().unwrap_or(packet), skip_last);
                chunks.push((sub.fields.clone(), chunk));
                chunks.len() - 1
            });
            match sub.offer(&chunks[at].1) {
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
            }
        });
        if list.len() != before {
            if list.is_empty() {
                self.nsps.remove(&target.nsp);
            }
            self.publish();
        }
    }
}
