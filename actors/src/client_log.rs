//! What a log line may say of what a client sent, and how often a client can make the hub
//! log at all.
//!
//! Anything a client chose (event and room names, namespace names, user agents, token
//! errors, webhook replies, parse errors) goes into a log line through [`ClientText`] (or
//! [`ClientBytes`]): quoted, cut to [`max_text`] bytes (with the number of bytes left out),
//! and with every control character, line or paragraph separator and bidirectional
//! override escaped, so no client can end a line and write one of its own, or hide text.
//!
//! A line one client can make the hub write over and over goes through [`limited!`](crate::limited): each
//! call site writes at most one line per [`interval`], counts the ones it holds back, and
//! says how many with its next line. The limit is per call site, not per client, because
//! what it protects is the log itself (its volume, and the operator's attention) from a
//! flood, however many connections the flood comes from.
//!
//! Both bounds are set once at start-up from `[logging]` ([`configure`]); until then they
//! are [`DEFAULT_MAX_TEXT`] and [`DEFAULT_INTERVAL`].

use std::fmt::{self, Display, Write as _};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Bytes of one piece of client text a log line shows unless configured otherwise.
pub const DEFAULT_MAX_TEXT: usize = 128;

/// The shortest time between two lines of one rate-limited call site unless configured
/// otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

static MAX_TEXT: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_TEXT);
static INTERVAL_MS: AtomicU64 = AtomicU64::new(DEFAULT_INTERVAL.as_millis() as u64);

/// Sets the bounds (`[logging] client_text_max_bytes` and `warn_interval_ms`).
pub fn configure(max_text: usize, interval: Duration) {
    MAX_TEXT.store(max_text, Ordering::Relaxed);
    INTERVAL_MS.store(interval.as_millis() as u64, Ordering::Relaxed);
}

/// The most bytes of one piece of client text a log line shows.
pub fn max_text() -> usize {
    MAX_TEXT.load(Ordering::Relaxed)
}

/// The shortest time between two lines of one rate-limited call site.
pub fn interval() -> Duration {
    Duration::from_millis(INTERVAL_MS.load(Ordering::Relaxed))
}

/// Client text as a log line may show it: `"quoted"`, escaped, at most [`max_text`] bytes
/// of it, then `…(+N bytes)` when there was more.
#[derive(Debug, Clone, Copy)]
pub struct ClientText<'a>(pub &'a str);

/// Client bytes as a log line may show them: as [`ClientText`], with bytes that are not
/// UTF-8 shown as U+FFFD. Only the shown prefix is ever decoded.
#[derive(Debug, Clone, Copy)]
pub struct ClientBytes<'a>(pub &'a [u8]);

/// Whether `c` must not reach a log as itself: it could end a line, move the cursor, or
/// reorder what an operator reads.
fn must_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn write_escaped(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if must_escape(c) => write!(f, "\\u{{{:x}}}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    Ok(())
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn write_cut(f: &mut fmt::Formatter<'_>, shown: &str, total: usize) -> fmt::Result {
    f.write_char('"')?;
    write_escaped(f, shown)?;
    f.write_char('"')?;
    if total > shown.len() {
        write!(f, "…(+{} bytes)", total - shown.len())?;
    }
    Ok(())
}

impl Display for ClientText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_cut(f, prefix(self.0, max_text()), self.0.len())
    }
}

impl Display for ClientBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let max = max_text();
        let head = &self.0[..self.0.len().min(max)];
        let decoded = String::from_utf8_lossy(head);
        // A character cut at the end of the head decodes as U+FFFD; keep within `max`.
        let shown = prefix(&decoded, max);
        let hidden = self.0.len() - head.len();
        f.write_char('"')?;
        write_escaped(f, shown)?;
        f.write_char('"')?;
        if hidden > 0 {
            write!(f, "…(+{hidden} bytes)")?;
        }
        Ok(())
    }
}

/// Milliseconds since the first call (a monotonic clock), plus one so that 0 means "never".
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// One rate-limited call site: at most one line per [`interval`], the rest counted.
#[derive(Debug)]
pub struct LogLimiter {
    /// When the next line may be written (see [`now_ms`]); 0 = at once.
    next_ms: AtomicU64,
    /// Lines held back since the last one written.
    suppressed: AtomicU64,
}

impl LogLimiter {
    /// A call site that has not logged yet.
    pub const fn new() -> Self {
        LogLimiter {
            next_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Whether this call site may write a line now: `Some(n)` with the `n` lines held back
    /// since its last one, or `None` (counted) when it wrote one less than an interval ago.
    pub fn admit(&self) -> Option<Suppressed> {
        let now = now_ms();
        let next = self.next_ms.load(Ordering::Relaxed);
        let until = now.saturating_add(INTERVAL_MS.load(Ordering::Relaxed));
        if now >= next
            && self
                .next_ms
                .compare_exchange(next, until, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(Suppressed(self.suppressed.swap(0, Ordering::Relaxed)));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }
}

impl Default for LogLimiter {
    fn default() -> Self {
        LogLimiter::new()
    }
}

/// How many lines a call site held back, shown at the end of its next line (nothing when
/// none were).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suppressed(pub u64);

impl Display for Suppressed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => Ok(()),
            n => write!(f, " ({n} more like this suppressed since the last one)"),
        }
    }
}

/// Logs at `$level` (`warn`, `info`, ...) through a [`LogLimiter`] of this call site: at
/// most one line per [`interval`], the next one saying how many were held back.
///
/// ```
/// use siohub_actors::{limited, ClientText};
/// let event = "any\nthing";
/// limited!(warn, "refused event {}", ClientText(event));
/// ```
#[macro_export]
macro_rules! limited {
    ($level:ident, $($arg:tt)+) => {{
        static LIMITER: $crate::client_log::LogLimiter = $crate::client_log::LogLimiter::new();
        if let Some(suppressed) = LIMITER.admit() {
            $crate::client_log::log::$level!("{}{}", format_args!($($arg)+), suppressed);
        }
    }};
}

#[doc(hidden)]
pub use log;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_text_is_quoted_escaped_and_cut() {
        assert_eq!(ClientText("chat").to_string(), "\"chat\"");
        let forged = "r\n[2026-12-01T00:00:00Z WARN  siohub] forged\r\t\u{1b}[31m\"\\";
        let shown = ClientText(forged).to_string();
        assert_eq!(
            shown,
            "\"r\\n[2026-12-01T00:00:00Z WARN  siohub] forged\\r\\t\\u{1b}[31m\\\"\\\\\""
        );
        assert!(!shown.contains(['\n', '\r', '\u{1b}']));
        for sneaky in [
            '\u{2028}', '\u{2029}', '\u{202e}', '\u{2066}', '\u{85}', '\u{7f}',
        ] {
            let shown = ClientText(&format!("a{sneaky}b")).to_string();
            assert!(!shown.contains(sneaky), "{shown}");
            assert!(shown.contains("\\u{"), "{shown}");
        }
        let huge = "x".repeat(10_000);
        let shown = ClientText(&huge).to_string();
        assert_eq!(
            shown,
            format!(
                "\"{}\"…(+{} bytes)",
                "x".repeat(DEFAULT_MAX_TEXT),
                10_000 - DEFAULT_MAX_TEXT
            )
        );
        // Cut on a character boundary.
        let wide = "é".repeat(DEFAULT_MAX_TEXT);
        let shown = ClientText(&wide).to_string();
        assert!(shown.starts_with(&format!("\"{}\"", "é".repeat(DEFAULT_MAX_TEXT / 2))));
        assert!(shown.ends_with(&format!("(+{} bytes)", wide.len() - DEFAULT_MAX_TEXT)));
    }

    #[test]
    fn client_bytes_decode_only_what_is_shown() {
        assert_eq!(ClientBytes(b"ok\n").to_string(), "\"ok\\n\"");
        assert_eq!(ClientBytes(b"\xff<").to_string(), "\"\u{fffd}<\"");
        let huge = vec![b'y'; 5000];
        let shown = ClientBytes(&huge).to_string();
        assert!(shown.ends_with(&format!("…(+{} bytes)", 5000 - DEFAULT_MAX_TEXT)));
        assert!(shown.len() < DEFAULT_MAX_TEXT + 40, "{shown}");
    }

    #[test]
    fn a_call_site_writes_one_line_per_interval_then_a_count() {
        let limiter = LogLimiter::new();
        assert_eq!(limiter.admit(), Some(Suppressed(0)));
        for _ in 0..99 {
            assert_eq!(limiter.admit(), None);
        }
        // Let the interval pass without waiting for it.
        limiter.next_ms.store(1, Ordering::Relaxed);
        let next = limiter.admit().expect("a line after the interval");
        assert_eq!(next, Suppressed(99));
        assert_eq!(
            next.to_string(),
            " (99 more like this suppressed since the last one)"
        );
        assert_eq!(Suppressed(0).to_string(), "");
        assert_eq!(limiter.admit(), None, "a new interval began");
    }
}
