//! Giving freed memory back to the system. Every handshake briefly holds the HTTP
//! dispatcher's buffers (16 KiB); after a burst of connections glibc keeps those pages,
//! so the resident size stays at the burst's peak although the long-lived sessions need
//! far less. A periodic `malloc_trim` returns them.

use std::time::Duration;

/// How often freed memory is handed back.
pub const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Returns free heap pages to the system (glibc only; elsewhere it does nothing).
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it has no
    // preconditions and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Trims every [`TRIM_EVERY`] on the current actix system, for the life of the process.
pub fn spawn_trimmer() {
    actix_rt::spawn(async {
        let mut interval = actix_rt::time::interval(TRIM_EVERY);
        loop {
            interval.tick().await;
            trim();
        }
    });
}
