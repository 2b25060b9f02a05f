//! Identifiers: random ids for sessions, sockets and recovery, and the process-wide
//! counter every server → client ack id comes from.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;

static NEXT_ACK_ID: AtomicU64 = AtomicU64::new(0);

/// The next server → client ack id. One counter for the whole process, shared by a
/// socket's own `emit_with_ack` and by broadcasts with acks (which put ONE id on a frame
/// every recipient shares), so an id never means two waiters on the same socket.
pub fn next_ack_id() -> u64 {
    NEXT_ACK_ID.fetch_add(1, Ordering::Relaxed)
}

/// A random 20-character base64url id, as the reference server's `base64id` makes.
pub fn random_id() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..15])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_twenty_url_safe_chars_and_differ() {
        let a = random_id();
        let b = random_id();
        assert_eq!(a.len(), 20);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(a, b);
    }
}
