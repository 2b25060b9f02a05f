//! Limits on what clients may do: a token bucket per socket for its events (the namespace's
//! `rate_limit`), the events of one socket being handled at once (the namespace's
//! `max_tasks_per_socket`), and at the Engine.IO handshake a token bucket per client address
//! and the server's `max_connections`.
//!
//! Buckets live in sharded concurrent maps keyed by socket id or address. They need no
//! clean-up on disconnect: a bucket that has refilled to its burst is the same as no bucket,
//! so full buckets are swept out whenever the map has doubled since the last sweep.

use std::borrow::Borrow;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use dashmap::DashMap;

use crate::config::{LimitsSettings, RateLimit};

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    fn full(burst: f64, now: Instant) -> Self {
        TokenBucket {
            tokens: burst,
            at: now,
        }
    }

    fn refill(&mut self, rate: f64, burst: f64, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.at = now;
    }

    /// Takes one token if there is one.
    fn take(&mut self, rate: f64, burst: f64, now: Instant) -> bool {
        self.refill(rate, burst, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn is_full(&self, rate: f64, burst: f64, now: Instant) -> bool {
        let mut copy = *self;
        copy.refill(rate, burst, now);
        copy.tokens >= burst
    }
}

/// Token buckets by key, swept of full ones as the map grows.
#[derive(Debug)]
struct Buckets<K: Eq + Hash> {
    rate: f64,
    burst: f64,
    map: DashMap<K, TokenBucket>,
    sweep_at: AtomicUsize,
}

/// The map size that triggers the first sweep.
const FIRST_SWEEP: usize = 1024;

impl<K: Eq + Hash> Buckets<K> {
    fn new(per_s: u32, burst: u32) -> Self {
        Buckets {
            rate: f64::from(per_s),
            burst: f64::from(burst.max(1)),
            map: DashMap::new(),
            sweep_at: AtomicUsize::new(FIRST_SWEEP),
        }
    }

    /// Whether `key` may go on now (and takes its token if so).
    fn allow<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let now = Instant::now();
        if let Some(mut bucket) = self.map.get_mut(key) {
            return bucket.take(self.rate, self.burst, now);
        }
        let allowed = self
            .map
            .entry(key.to_owned())
            .or_insert_with(|| TokenBucket::full(self.burst, now))
            .take(self.rate, self.burst, now);
        self.maybe_sweep(now);
        allowed
    }

    fn maybe_sweep(&self, now: Instant) {
        let threshold = self.sweep_at.load(Ordering::Relaxed);
        if self.map.len() < threshold {
            return;
        }
        let (rate, burst) = (self.rate, self.burst);
        self.map.retain(|_, b| !b.is_full(rate, burst, now));
        let next = (self.map.len() * 2).max(FIRST_SWEEP);
        self.sweep_at.store(next, Ordering::Relaxed);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }
}

/// The event rate limit of one namespace policy, by socket id.
#[derive(Debug)]
pub struct EventRateLimiter {
    buckets: Option<Buckets<String>>,
    per_s: u32,
}

impl EventRateLimiter {
    /// A limiter for `limit`; `per_s = 0` lets everything through.
    pub fn new(limit: RateLimit) -> Self {
        EventRateLimiter {
            buckets: (limit.per_s > 0).then(|| Buckets::new(limit.per_s, limit.burst)),
            per_s: limit.per_s,
        }
    }

    /// Whether socket `socket_id` may send one more event now.
    pub fn allow(&self, socket_id: &str) -> bool {
        match &self.buckets {
            Some(buckets) => buckets.allow(socket_id),
            None => true,
        }
    }

    /// The steady rate, events per second (0 = no limit).
    pub fn per_s(&self) -> u32 {
        self.per_s
    }

    /// Sockets with a bucket that is not full.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.as_ref().map_or(0, Buckets::len)
    }
}

/// The events of each socket being handled at once (spawned tasks waiting for the hub or
/// the backend), bounded per socket id.
///
/// A socket's entry exists only while it has work in flight: the last [`TaskPermit`] to
/// end removes it, so nothing needs cleaning up when the socket leaves.
#[derive(Debug)]
pub struct TaskLimiter {
    max: usize,
    in_flight: DashMap<String, usize>,
}

/// One event's share of its socket's bound, held by the task handling it; dropping it
/// (however the task ends) gives the share back.
#[derive(Debug)]
pub struct TaskPermit {
    limiter: Option<Arc<TaskLimiter>>,
    socket_id: String,
}

impl TaskLimiter {
    /// At most `max` events per socket at once; 0 = no bound.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(TaskLimiter {
            max,
            in_flight: DashMap::new(),
        })
    }

    /// The bound (0 = none).
    pub fn max(&self) -> usize {
        self.max
    }

    /// A permit for one more event of socket `socket_id`, or `None` when `max` are in flight.
    pub fn try_start(self: &Arc<Self>, socket_id: &str) -> Option<TaskPermit> {
        if self.max == 0 {
            return Some(TaskPermit {
                limiter: None,
                socket_id: String::new(),
            });
        }
        let mut count = self.in_flight.entry(socket_id.to_owned()).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(TaskPermit {
            limiter: Some(self.clone()),
            socket_id: socket_id.to_owned(),
        })
    }

    /// Events of socket `socket_id` in flight now.
    #[cfg(test)]
    fn in_flight(&self, socket_id: &str) -> usize {
        self.in_flight.get(socket_id).map_or(0, |n| *n)
    }

    /// Sockets with events in flight now.
    #[cfg(test)]
    fn sockets(&self) -> usize {
        self.in_flight.len()
    }

    fn finish(&self, socket_id: &str) {
        if let Some(mut count) = self.in_flight.get_mut(socket_id) {
            *count = count.saturating_sub(1);
        }
        // A separate step: the shard lock of `get_mut` must be released first.
        self.in_flight.remove_if(socket_id, |_, count| *count == 0);
    }
}

impl Drop for TaskPermit {
    fn drop(&mut self) {
        if let Some(limiter) = self.limiter.take() {
            limiter.finish(&self.socket_id);
        }
    }
}

/// Why a handshake is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeRefusal {
    /// `max_connections` sessions are open.
    MaxConnections(usize),
    /// The address opened too many sessions too fast.
    RateLimited,
    /// The address holds `max_connections_per_ip` sessions.
    IpConnections(usize),
}

/// The checks made at the Engine.IO handshake.
#[derive(Debug)]
pub struct ConnectionLimiter {
    max_connections: usize,
    max_per_ip: usize,
    per_ip: Option<Buckets<IpAddr>>,
}

impl ConnectionLimiter {
    /// The limiter of `[limits]`.
    pub fn new(settings: &LimitsSettings) -> Self {
        ConnectionLimiter {
            max_connections: settings.max_connections,
            max_per_ip: settings.max_connections_per_ip,
            per_ip: (settings.ip_connections_per_s > 0)
                .then(|| Buckets::new(settings.ip_connections_per_s, settings.ip_connection_burst)),
        }
    }

    /// Whether a new session from `ip` may open while `open` sessions are, `open_from_ip`
    /// of them from `ip`.
    pub fn check(
        &self,
        ip: Option<IpAddr>,
        open: usize,
        open_from_ip: usize,
    ) -> Result<(), HandshakeRefusal> {
        if self.max_connections > 0 && open >= self.max_connections {
            return Err(HandshakeRefusal::MaxConnections(self.max_connections));
        }
        if self.max_per_ip > 0 && open_from_ip >= self.max_per_ip {
            return Err(HandshakeRefusal::IpConnections(self.max_per_ip));
        }
        if let (Some(buckets), Some(ip)) = (&self.per_ip, ip) {
            if !buckets.allow(&ip) {
                return Err(HandshakeRefusal::RateLimited);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let limiter = EventRateLimiter::new(RateLimit {
            per_s: 20,
            burst: 3,
        });
        assert!((0..3).all(|_| limiter.allow("a")));
        assert!(!limiter.allow("a"));
        assert!(limiter.allow("b"), "each socket has its own bucket");
        std::thread::sleep(Duration::from_millis(120));
        assert!(limiter.allow("a"), "tokens come back at the rate");
    }

    #[test]
    fn no_rate_means_no_limit() {
        let limiter = EventRateLimiter::new(RateLimit { per_s: 0, burst: 1 });
        assert!((0..10_000).all(|_| limiter.allow("a")));
        assert_eq!(limiter.tracked(), 0);
    }

    #[test]
    fn full_buckets_are_swept() {
        let limiter = EventRateLimiter::new(RateLimit {
            per_s: 1_000_000,
            burst: 1,
        });
        for i in 0..(FIRST_SWEEP * 3) {
            assert!(limiter.allow(&format!("s{i}")));
            std::thread::sleep(Duration::from_micros(2));
        }
        assert!(limiter.tracked() < FIRST_SWEEP * 3, "{}", limiter.tracked());
    }

    #[test]
    fn tasks_are_bounded_per_socket_and_given_back() {
        let limiter = TaskLimiter::new(2);
        let first = limiter.try_start("a").expect("room for one");
        let second = limiter.try_start("a").expect("room for two");
        assert!(limiter.try_start("a").is_none(), "the bound");
        assert_eq!(limiter.in_flight("a"), 2);
        let other = limiter
            .try_start("b")
            .expect("each socket has its own bound");
        drop(first);
        assert_eq!(limiter.in_flight("a"), 1);
        let third = limiter.try_start("a").expect("a finished task makes room");
        drop((second, third, other));
        assert_eq!(limiter.sockets(), 0, "idle sockets leave no entry");
    }

    #[test]
    fn no_task_bound_means_no_limit() {
        let limiter = TaskLimiter::new(0);
        let permits: Vec<_> = (0..1000).filter_map(|_| limiter.try_start("a")).collect();
        assert_eq!(permits.len(), 1000);
        assert_eq!(limiter.sockets(), 0);
    }

    #[test]
    fn handshakes_are_bounded() {
        let limiter = ConnectionLimiter::new(&LimitsSettings {
            max_connections: 2,
            ip_connections_per_s: 1,
            ip_connection_burst: 2,
            ..LimitsSettings::default()
        });
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            limiter.check(Some(ip), 2, 0),
            Err(HandshakeRefusal::MaxConnections(2))
        );
        assert_eq!(limiter.check(Some(ip), 0, 0), Ok(()));
        assert_eq!(limiter.check(Some(ip), 0, 0), Ok(()));
        assert_eq!(
            limiter.check(Some(ip), 0, 0),
            Err(HandshakeRefusal::RateLimited)
        );
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(limiter.check(Some(other), 0, 0), Ok(()));
        let per_ip = ConnectionLimiter::new(&LimitsSettings {
            max_connections_per_ip: 3,
            ..LimitsSettings::default()
        });
        assert_eq!(per_ip.check(Some(ip), 10, 2), Ok(()));
        assert_eq!(
            per_ip.check(Some(ip), 10, 3),
            Err(HandshakeRefusal::IpConnections(3))
        );
    }
}
