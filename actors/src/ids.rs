//! Identifiers: random ids for sessions, sockets and recovery, and the process-wide
//! counter every server → client ack id comes from.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;

/// The hasher of maps keyed by socket or session id. Ids are random and made by the
/// server, so a fast hasher is safe there (maps keyed by client-chosen names, such as
/// rooms, keep the standard one).
pub type SidHasher = foldhash::fast::RandomState;

/// A map keyed by socket or session id.
pub type SidMap<V> = std::collections::HashMap<std::sync::Arc<str>, V, SidHasher>;

static NEXT_ACK_ID: AtomicU64 = AtomicU64::new(0);

/// The next server → client ack id. One counter for the whole process, shared by a
/// socket's own `emit_with_ack` and by broadcasts with acks (which put ONE id on a frame
/// every recipient shares), so an id never means two waiters on the same socket.
pub fn next_ack_id() -> u64 {
    NEXT_ACK_ID.fetch_add(1, Ordering::Relaxed)
}

/// A random 20-character base64url id, as the reference server's `base64id` makes: 15
/// bytes (120 bits), every one of them from a CSPRNG.
///
/// An Engine.IO sid is a bearer credential for its polling session, so it must not be
/// guessable from other ids: the bytes come from the thread's ChaCha12 generator, seeded
/// from the operating system (no syscall per id, which matters on a connection burst).
/// A UUID would do worse here: 6 of its bits are fixed.
pub fn random_id() -> String {
    let mut rng = rand::rng();
    assert_crypto_rng(&rng);
    let mut bytes = [0u8; 15];
    rand::Rng::fill_bytes(&mut rng, &mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Fails to compile if the generator above stops being a cryptographic one.
fn assert_crypto_rng<R: rand::CryptoRng>(_: &R) {}

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

    #[test]
    fn every_bit_of_an_id_varies() {
        // 15 random bytes: over many ids every bit position is seen both set and clear
        // (a UUID-based id kept its version and variant bits fixed).
        let mut ones = [0u8; 15];
        let mut zeros = [0u8; 15];
        for _ in 0..256 {
            let id = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(random_id())
                .unwrap();
            assert_eq!(id.len(), 15);
            for (i, byte) in id.iter().enumerate() {
                ones[i] |= byte;
                zeros[i] |= !byte;
            }
        }
        assert_eq!(ones, [0xff; 15]);
        assert_eq!(zeros, [0xff; 15]);
    }
}
