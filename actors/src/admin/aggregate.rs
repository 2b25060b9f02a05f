//! `aggregatedEvents` of `server_stats`: counts per second and type (rawConnection,
//! rawDisconnection by reason, packetsIn, packetsOut, bytesIn, bytesOut), gathered between
//! two `server_stats` and handed over once. At most [`MAX_BUCKETS`] are kept (a bucket
//! past it is dropped and counted).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::{json, Value};

use super::feed::FeedCounters;
use super::history::Sample;

/// The most buckets kept between two `server_stats`.
pub const MAX_BUCKETS: usize = 512;

/// The buckets, by (second in ms, type, subType).
#[derive(Debug)]
pub(crate) struct Aggregated {
    buckets: BTreeMap<(u64, &'static str, Option<&'static str>), u64>,
    /// Where buckets dropped because `MAX_BUCKETS` were kept are counted.
    counters: Arc<FeedCounters>,
}

impl Aggregated {
    /// Buckets counting their drops into `counters`.
    pub(crate) fn new(counters: Arc<FeedCounters>) -> Self {
        Aggregated {
            buckets: BTreeMap::new(),
            counters,
        }
    }

    /// Adds `count` of `kind` (with `sub`) in the second of `t_ms`.
    pub(crate) fn add(
        &mut self,
        t_ms: u64,
        kind: &'static str,
        sub: Option<&'static str>,
        count: u64,
    ) {
        if count == 0 {
            return;
        }
        let key = (t_ms / 1000 * 1000, kind, sub);
        if let Some(n) = self.buckets.get_mut(&key) {
            *n += count;
        } else if self.buckets.len() < MAX_BUCKETS {
            self.buckets.insert(key, count);
        } else {
            self.counters.aggregate_full.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Adds one second of traffic.
    pub(crate) fn add_sample(&mut self, s: &Sample) {
        let t = s.t.saturating_sub(1000);
        self.add(t, "packetsIn", None, s.packets_in);
        self.add(t, "packetsOut", None, s.packets_out);
        self.add(t, "bytesIn", None, s.bytes_in);
        self.add(t, "bytesOut", None, s.bytes_out);
    }

    /// Every bucket as the UI reads it, emptying the set.
    pub(crate) fn take(&mut self) -> Value {
        let events: Vec<Value> = std::mem::take(&mut self.buckets)
            .into_iter()
            .map(|((timestamp, kind, sub), count)| match sub {
                Some(sub) => {
                    json!({"timestamp": timestamp, "type": kind, "subType": sub, "count": count})
                }
                None => json!({"timestamp": timestamp, "type": kind, "count": count}),
            })
            .collect();
        Value::Array(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_per_second_and_type_and_are_taken_once() {
        let counters = Arc::new(FeedCounters::default());
        let mut agg = Aggregated::new(counters.clone());
        agg.add(1_500, "rawConnection", None, 1);
        agg.add(1_900, "rawConnection", None, 2);
        agg.add(2_100, "rawDisconnection", Some("transport close"), 1);
        agg.add(2_100, "bytesIn", None, 0);
        let taken = agg.take();
        assert_eq!(
            taken,
            json!([
                {"timestamp": 1000, "type": "rawConnection", "count": 3},
                {"timestamp": 2000, "type": "rawDisconnection", "subType": "transport close", "count": 1},
            ])
        );
        assert_eq!(agg.take(), json!([]));
        for i in 0..(MAX_BUCKETS as u64 + 3) {
            agg.add(i * 1000, "packetsIn", None, 1);
        }
        assert_eq!(counters.aggregate_full.load(Ordering::Relaxed), 3);
    }
}
