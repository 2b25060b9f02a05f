//! The per-second history of the hub's traffic: the lock-free [`HubCounters`] sampled
//! once a second, the difference from the previous sample kept for the last
//! [`HISTORY_LEN`] seconds (a fixed ring: 300 small entries, whatever the load).

use std::collections::VecDeque;

use serde::Serialize;

use crate::stats::HubCounters;

/// Seconds of history kept.
pub const HISTORY_LEN: usize = 300;

/// The hub's totals at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) events_in: u64,
    pub(crate) events_out: u64,
    pub(crate) packets_in: u64,
    pub(crate) packets_out: u64,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
}

impl Totals {
    /// Reads the counters now.
    pub(crate) fn read(counters: &HubCounters) -> Self {
        let traffic = counters.traffic();
        let (_, deliveries) = counters.fanout();
        Totals {
            events_in: traffic.events_in,
            events_out: deliveries,
            packets_in: traffic.packets_in,
            packets_out: traffic.packets_out,
            bytes_in: traffic.bytes_in,
            bytes_out: traffic.bytes_out,
        }
    }
}

/// One second of traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// The end of the second, in milliseconds since the epoch.
    pub t: u64,
    /// Events received from clients.
    pub events_in: u64,
    /// Events delivered to clients.
    pub events_out: u64,
    /// Engine.IO packets received.
    #[serde(skip)]
    pub packets_in: u64,
    /// Engine.IO packets sent.
    #[serde(skip)]
    pub packets_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Connections open at the end of the second.
    pub connections: u64,
}

/// The last [`HISTORY_LEN`] seconds.
#[derive(Debug, Default)]
pub(crate) struct History {
    samples: VecDeque<Sample>,
    last: Option<Totals>,
}

impl History {
    /// Sets the totals the next sample is counted from (at start, and after a restart).
    pub(crate) fn baseline(&mut self, now: Totals) {
        self.last = Some(now);
    }

    /// Records the second ending at `t` (ms), given the totals now and the open
    /// connections. The first call only sets the baseline.
    pub(crate) fn record(&mut self, t: u64, now: Totals, connections: u64) -> Option<Sample> {
        let before = self.last.replace(now)?;
        let sample = Sample {
            t,
            events_in: now.events_in.saturating_sub(before.events_in),
            events_out: now.events_out.saturating_sub(before.events_out),
            packets_in: now.packets_in.saturating_sub(before.packets_in),
            packets_out: now.packets_out.saturating_sub(before.packets_out),
            bytes_in: now.bytes_in.saturating_sub(before.bytes_in),
            bytes_out: now.bytes_out.saturating_sub(before.bytes_out),
            connections,
        };
        if self.samples.len() == HISTORY_LEN {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
        Some(sample)
    }

    /// The newest sample.
    pub(crate) fn latest(&self) -> Sample {
        self.samples.back().copied().unwrap_or_default()
    }

    /// The newest `n` samples, oldest first.
    pub(crate) fn last_n(&self, n: usize) -> impl Iterator<Item = &Sample> {
        self.samples
            .iter()
            .skip(self.samples.len().saturating_sub(n))
    }

    /// Every sample, oldest first.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Sample> {
        self.samples.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_differences_and_the_ring_is_bounded() {
        let mut history = History::default();
        let mut totals = Totals::default();
        assert!(history.record(0, totals, 0).is_none());
        for second in 1..=(HISTORY_LEN as u64 + 10) {
            totals.events_in += second;
            totals.bytes_out += 2;
            let sample = history.record(second * 1000, totals, 7).unwrap();
            assert_eq!((sample.events_in, sample.bytes_out), (second, 2));
        }
        assert_eq!(history.all().count(), HISTORY_LEN);
        assert_eq!(history.latest().t, (HISTORY_LEN as u64 + 10) * 1000);
        assert_eq!(history.last_n(2).count(), 2);
        assert_eq!(history.all().next().unwrap().t, 11_000);
    }
}
