//! What the generator measures besides counts: a shared clock, latency histograms sharded so
//! that busy subscribers rarely contend, and the server process's RSS and CPU time read from
//! `/proc/<pid>/status` and `/proc/<pid>/stat`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

static BASE: OnceLock<Instant> = OnceLock::new();

/// Microseconds since the generator started: the timestamps publishers put in `data`
/// (publishers and subscribers share this process, so one monotonic clock serves both).
pub fn now_us() -> u64 {
    BASE.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// Latencies in microseconds, 1 µs to 10 minutes, 3 significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds")
}

/// A latency histogram split in shards; a task records into shard `i % shards`.
pub struct Latencies {
    shards: Vec<Mutex<Histogram<u64>>>,
}

impl Latencies {
    pub fn new(shards: usize) -> Latencies {
        Latencies {
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(histogram()))
                .collect(),
        }
    }

    pub fn shard(&self, i: usize) -> MutexGuard<'_, Histogram<u64>> {
        self.shards[i % self.shards.len()]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Every shard merged.
    pub fn merged(&self) -> Histogram<u64> {
        let mut all = histogram();
        for s in &self.shards {
            let h = s.lock().unwrap_or_else(|e| e.into_inner());
            all.add(&*h).expect("same bounds");
        }
        all
    }
}

/// Records one latency, clamped into the histogram's range.
pub fn record(h: &mut Histogram<u64>, us: u64) {
    h.saturating_record(us.max(1));
}

/// Percentiles in milliseconds (and the count) as JSON.
pub fn summary_ms(h: &Histogram<u64>) -> Value {
    let ms = |us: u64| (us as f64 / 1000.0 * 1000.0).round() / 1000.0;
    if h.is_empty() {
        return json!({"count": 0});
    }
    json!({
        "count": h.len(),
        "p50": ms(h.value_at_quantile(0.50)),
        "p90": ms(h.value_at_quantile(0.90)),
        "p99": ms(h.value_at_quantile(0.99)),
        "p999": ms(h.value_at_quantile(0.999)),
        "max": ms(h.max()),
        "mean": (h.mean() / 1000.0 * 1000.0).round() / 1000.0,
    })
}

/// First and last time (µs) anything was delivered, to rate deliveries over the time they took.
#[derive(Default)]
pub struct Window {
    first: AtomicU64,
    last: AtomicU64,
}

impl Window {
    pub fn mark(&self, now: u64) {
        let _ = self
            .first
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        self.last.fetch_max(now, Ordering::Relaxed);
    }

    /// Seconds between the first and the last delivery.
    pub fn seconds(&self) -> f64 {
        let (f, l) = (
            self.first.load(Ordering::Relaxed),
            self.last.load(Ordering::Relaxed),
        );
        if f == 0 || l <= f {
            0.0
        } else {
            (l - f) as f64 / 1e6
        }
    }
}

/// One reading of a process's memory and CPU time.
#[derive(Clone, Copy, Default)]
pub struct ProcSample {
    pub rss_kb: u64,
    pub hwm_kb: u64,
    pub cpu_s: f64,
}

/// Reads `/proc/<pid>` (or `/proc/self` for `None`). `None` if the process is gone.
pub fn proc_sample(pid: Option<u32>) -> Option<ProcSample> {
    let dir = pid.map_or("/proc/self".to_owned(), |p| format!("/proc/{p}"));
    let status = std::fs::read_to_string(format!("{dir}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
    // Fields after the `(comm)`, which may itself hold spaces: state is field 3, so
    // utime (14) and stime (15) are at 11 and 12 counting from state.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // USER_HZ is 100 on every Linux this runs on.
    let cpu_s = (ticks(11) + ticks(12)) as f64 / 100.0;
    Some(ProcSample {
        rss_kb: field("VmRSS:"),
        hwm_kb: field("VmHWM:"),
        cpu_s,
    })
}

/// The sum of [`proc_sample`] over `pids` (a server's nodes): RSS and CPU time added up,
/// the peak as the sum of each process's own peak. `None` if there are no pids or one of
/// them is gone.
pub fn procs_sample(pids: &[u32]) -> Option<ProcSample> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().try_fold(ProcSample::default(), |sum, &pid| {
        let s = proc_sample(Some(pid))?;
        Some(ProcSample {
            rss_kb: sum.rss_kb + s.rss_kb,
            hwm_kb: sum.hwm_kb + s.hwm_kb,
            cpu_s: sum.cpu_s + s.cpu_s,
        })
    })
}

/// Rounds to 3 decimals for the JSON report.
pub fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
