//! Waiting for what a server does on its own time: a condition polled until it holds, with
//! a deadline that fails the test (the deadline only bounds a hang; it never decides).

use std::time::{Duration, Instant};

/// Waits until `check` holds, or fails naming `what` after `timeout`.
#[track_caller]
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
