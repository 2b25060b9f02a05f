//! The session ids `/admin` hands out after a password login (the `session` event), so a
//! UI reconnects with `auth: {sessionId}` without the password and without a bcrypt check.
//! Bounded: at most [`MAX_SESSIONS`] are kept (the oldest goes first), each for
//! [`SESSION_TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most session ids kept.
pub const MAX_SESSIONS: usize = 256;
/// How long a session id is good for.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// The session ids handed out, with when each was.
#[derive(Debug, Default)]
pub struct AdminSessions {
    issued: Mutex<HashMap<String, Instant>>,
}

impl AdminSessions {
    /// A new session id (120 random bits), kept.
    pub fn issue(&self) -> String {
        let id = siohub_actors::random_id();
        let mut issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        issued.retain(|_, at| now.duration_since(*at) < SESSION_TTL);
        if issued.len() >= MAX_SESSIONS {
            if let Some(oldest) = issued
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(k, _)| k.clone())
            {
                issued.remove(&oldest);
            }
        }
        issued.insert(id.clone(), now);
        id
    }

    /// Whether `id` was handed out and has not expired.
    pub fn valid(&self, id: &str) -> bool {
        let issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        issued.get(id).is_some_and(|at| at.elapsed() < SESSION_TTL)
    }

    /// Session ids kept now.
    pub fn len(&self) -> usize {
        self.issued.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_known_until_evicted_and_the_store_is_bounded() {
        let sessions = AdminSessions::default();
        let first = sessions.issue();
        assert!(sessions.valid(&first));
        assert!(!sessions.valid("made-up"));
        for _ in 0..MAX_SESSIONS {
            sessions.issue();
        }
        assert_eq!(sessions.len(), MAX_SESSIONS);
        assert!(!sessions.valid(&first), "the oldest went first");
    }
}
