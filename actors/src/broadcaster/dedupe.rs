//! The dedupe windows: the event ids one namespace saw recently, so that an event published
//! twice with the same id (a retrying publisher) goes out once.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The ids one namespace saw within its dedupe window. Ids are kept as keyed 64-bit
/// hashes (the key is random per process, so nobody can aim for a collision): an id then
/// costs the same whatever its length, and `dedupe_max_ids` bounds the memory.
#[derive(Default)]
pub(super) struct DedupeWindow {
    pub(super) seen: HashMap<u64, Instant>,
    order: VecDeque<(Instant, u64)>,
}

impl DedupeWindow {
    /// Whether `id` was seen within `window`; records it otherwise, forgetting the oldest
    /// id when `max_ids` are remembered already. Returns (duplicate, ids forgotten early).
    pub(super) fn check(&mut self, id: u64, window: Duration, max_ids: usize) -> (bool, u64) {
        let now = Instant::now();
        self.expire(now, window);
        if self.seen.contains_key(&id) {
            return (true, 0);
        }
        let mut evicted = 0;
        while self.seen.len() >= max_ids.max(1) {
            let Some((at, old)) = self.order.pop_front() else {
                break;
            };
            if self.seen.get(&old) == Some(&at) {
                self.seen.remove(&old);
                evicted += 1;
            }
        }
        self.seen.insert(id, now);
        self.order.push_back((now, id));
        (false, evicted)
    }

    /// Forgets the ids older than `window`.
    pub(super) fn expire(&mut self, now: Instant, window: Duration) {
        while let Some((at, old)) = self.order.front() {
            if now.duration_since(*at) <= window {
                break;
            }
            if self.seen.get(old) == Some(at) {
                self.seen.remove(old);
            }
            self.order.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_forgets_ids_after_the_window() {
        let mut window = DedupeWindow::default();
        let w = Duration::from_millis(50);
        assert_eq!(window.check(1, w, 10), (false, 0));
        assert_eq!(window.check(1, w, 10), (true, 0));
        assert_eq!(window.check(2, w, 10), (false, 0));
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(window.check(1, w, 10), (false, 0));
        // The sweep forgets ids without any new check.
        std::thread::sleep(Duration::from_millis(80));
        window.expire(Instant::now(), w);
        assert!(window.seen.is_empty() && window.order.is_empty());
    }

    #[test]
    fn a_full_dedupe_window_forgets_its_oldest_ids() {
        let mut window = DedupeWindow::default();
        let w = Duration::from_secs(600);
        for id in 0..100 {
            let evicted = u64::from(id >= 10);
            assert_eq!(window.check(id, w, 10), (false, evicted));
        }
        assert_eq!(window.seen.len(), 10);
        assert_eq!(window.order.len(), 10);
        assert_eq!(
            window.check(99, w, 10),
            (true, 0),
            "the newest are remembered"
        );
        assert_eq!(
            window.check(0, w, 10),
            (false, 1),
            "the oldest are forgotten"
        );
    }
}
