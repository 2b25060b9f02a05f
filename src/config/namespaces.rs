//! `[[namespaces]]`: the policy of each namespace (by name or pattern such as
//! `/tenant-{id}`): which built-in events clients may use, buffering, recovery, the offline
//! queue, dedupe and size limits, the per-socket event rate and the events forwarded to
//! the backend webhook.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use siohub_actors::{BufferPolicy, DeliveryPolicy};

/// One namespace's policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NamespacePolicy {
    /// The namespace name, or a pattern with `{param}` segments.
    pub name: String,
    /// Whether clients may `join` rooms: `true`, `false`, or the allowed room patterns.
    pub client_join: RoomAccess,
    /// Whether clients may `publish` to rooms: `true`, `false`, or the allowed room patterns.
    pub client_publish: RoomAccess,
    /// Whether a CONNECT without a valid token is refused with `AUTH_REQUIRED`.
    pub require_auth: bool,
    /// `drop` | `if_no_clients` | `always`.
    pub buffer: BufferName,
    /// Most events kept per room.
    pub buffer_size: usize,
    /// Seconds a kept event stays replayable.
    pub buffer_ttl_s: u64,
    /// Connection state recovery window in seconds; 0 = off.
    pub recovery_s: u64,
    /// Whether events for offline users are queued (at most 1000 each) until they connect.
    pub offline_queue: bool,
    /// Seconds within which an event `id` that repeats is dropped; 0 = off.
    pub dedupe_window_s: u64,
    /// Most ids the dedupe window remembers; over it the oldest is forgotten early.
    pub dedupe_max_ids: usize,
    /// Most bytes the room buffers and offline queues of the namespace hold together; over
    /// it the namespace's oldest buffered event is dropped.
    pub max_buffer_bytes: usize,
    /// Most bytes of events the recovery log holds; over it the oldest event is dropped.
    pub recovery_max_bytes: usize,
    /// Largest event a client may publish, in bytes of JSON.
    pub max_event_bytes: usize,
    /// Events one socket may send per second (built-in and forwarded ones); over it the
    /// event is not processed and its ack says `RATE_LIMIT_EXCEEDED`.
    pub rate_limit: RateLimit,
    /// Client events POSTed to the backend webhook (the reply comes back in the ack).
    pub forward: Vec<String>,
}

/// The built-in client events of every hub namespace.
pub const BUILTIN_EVENTS: [&str; 5] = ["join", "leave", "publish", "ping", "request"];

/// A token bucket per socket: `per_s` events a second, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimit {
    /// Events per second; 0 = no limit.
    pub per_s: u32,
    /// Events allowed at once above the steady rate (the bucket's size).
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_s: 0,
            burst: 20,
        }
    }
}

impl Default for NamespacePolicy {
    fn default() -> Self {
        NamespacePolicy {
            name: "/".into(),
            client_join: RoomAccess::Allowed(true),
            client_publish: RoomAccess::Allowed(true),
            require_auth: false,
            buffer: BufferName::Drop,
            buffer_size: 1000,
            buffer_ttl_s: 300,
            recovery_s: 0,
            offline_queue: false,
            dedupe_window_s: 0,
            dedupe_max_ids: 100_000,
            max_buffer_bytes: 67_108_864,
            recovery_max_bytes: 67_108_864,
            max_event_bytes: 65_536,
            rate_limit: RateLimit::default(),
            forward: Vec::new(),
        }
    }
}

/// The buffer policy, as written in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BufferName {
    /// Deliver and forget.
    Drop,
    /// Keep for the first socket to join an empty room.
    IfNoClients,
    /// Keep a history replayed to every joiner.
    Always,
}

/// Which rooms a built-in event may touch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RoomAccess {
    /// Every room, or none.
    Allowed(bool),
    /// Rooms matching one of these rules.
    Rules(Vec<RoomRule>),
}

/// A room pattern (`*` matches any run of characters), optionally only for some roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RoomRule {
    /// Anyone may use rooms matching this pattern.
    Pattern(String),
    /// Only sockets with one of `roles` may use rooms matching `pattern`.
    WithRoles {
        /// The room pattern.
        pattern: String,
        /// The roles allowed.
        roles: Vec<String>,
    },
}

impl RoomAccess {
    /// Whether a socket with `roles` may use `room`.
    pub fn allows(&self, room: &str, roles: &[String]) -> bool {
        match self {
            RoomAccess::Allowed(allowed) => *allowed,
            RoomAccess::Rules(rules) => rules.iter().any(|rule| match rule {
                RoomRule::Pattern(pattern) => glob_matches(pattern, room),
                RoomRule::WithRoles {
                    pattern,
                    roles: allowed,
                } => glob_matches(pattern, room) && allowed.iter().any(|r| roles.contains(r)),
            }),
        }
    }
}

/// `*` matches any run of characters (including none); everything else matches itself.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

impl NamespacePolicy {
    /// The delivery part, for the broadcaster.
    pub fn delivery(&self) -> DeliveryPolicy {
        DeliveryPolicy {
            buffer: match self.buffer {
                BufferName::Drop => BufferPolicy::Drop,
                BufferName::IfNoClients => BufferPolicy::IfNoClients,
                BufferName::Always => BufferPolicy::Always,
            },
            buffer_size: self.buffer_size,
            buffer_ttl: Duration::from_secs(self.buffer_ttl_s),
            recovery: Duration::from_secs(self.recovery_s),
            offline_queue: self.offline_queue,
            dedupe_window: Duration::from_secs(self.dedupe_window_s),
            dedupe_max_ids: self.dedupe_max_ids,
            max_buffer_bytes: self.max_buffer_bytes,
            recovery_max_bytes: self.recovery_max_bytes,
            ..DeliveryPolicy::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_matches("chat:*", "chat:general"));
        assert!(glob_matches("chat:*", "chat:"));
        assert!(!glob_matches("chat:*", "news:x"));
        assert!(glob_matches("*", "anything"));
        assert!(glob_matches("a*b*c", "a-x-b-y-c"));
        assert!(!glob_matches("a*b*c", "a-x-c"));
        assert!(glob_matches("exact", "exact"));
        assert!(!glob_matches("exact", "exact2"));
    }

    #[test]
    fn access_rules_with_roles() {
        let access = RoomAccess::Rules(vec![
            RoomRule::Pattern("public:*".into()),
            RoomRule::WithRoles {
                pattern: "admin:*".into(),
                roles: vec!["admin".into()],
            },
        ]);
        assert!(access.allows("public:x", &[]));
        assert!(!access.allows("admin:x", &[]));
        assert!(access.allows("admin:x", &["admin".into()]));
        assert!(!access.allows("other", &["admin".into()]));
        assert!(RoomAccess::Allowed(true).allows("x", &[]));
        assert!(!RoomAccess::Allowed(false).allows("x", &[]));
    }
}
