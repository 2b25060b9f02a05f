//! `[[namespaces]]`: the policy of each namespace (by name or pattern such as
//! `/tenant-{id}`): which built-in events clients may use, buffering, recovery, the offline
//! queue, dedupe and size limits, the per-socket event rate and work in flight, and the
//! events forwarded to the backend webhook.
//!
//! Who may write where ([`NamespacePolicy::publish_right`]): a client publishes to a room
//! only if `client_publish` allows it *and* the room is not one the policy keeps from
//! clients. User rooms (`user:<id>`) are written by the server (the HTTP API, server code)
//! unless a `client_publish` rule whose pattern starts with `user:` matches. A room
//! `client_join` protects (it is `false`, no rule matches the room, or only rules with
//! roles do) takes the right to join it, or a matching `client_publish` rule: `true` alone
//! never opens a protected room, so a room nobody may join cannot be written into either.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use siohub_actors::{BufferPolicy, DeliveryPolicy, PresencePolicy, USER_ROOM_PREFIX};

/// One namespace's policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a table of keys", deny_unknown_fields, default)]
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
    /// Events of one socket being handled at once (`join`, `leave`, `publish`, `request`
    /// and forwarded events, which wait for the hub or the backend); over it the event is
    /// refused with `RATE_LIMIT_EXCEEDED` and nothing is started. 0 = no bound.
    pub max_tasks_per_socket: usize,
    /// Distinct field sets (`join {"room", "fields"}`) one room may hold; a join or a
    /// `fields` naming another one is refused with `RATE_LIMIT_EXCEEDED`. 0 = no field
    /// filters in the namespace.
    pub max_field_sets_per_room: usize,
    /// Whether room members receive `presence` events when sockets join and leave.
    pub presence_events: bool,
    /// From this many members of a room (on this node) its joins and leaves are batched.
    pub presence_batch_above: usize,
    /// Milliseconds a batch of joins and leaves gathers before it is sent.
    pub presence_batch_ms: u64,
    /// Most joins (and most leaves) one batched `presence` event lists.
    pub presence_batch_max: usize,
}

/// The built-in client events of every hub namespace.
pub const BUILTIN_EVENTS: [&str; 8] = [
    "join", "leave", "publish", "ping", "request", "fields", "presence", "history",
];

/// A token bucket per socket: `per_s` events a second, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    expecting = "a table { per_s = .., burst = .. }",
    deny_unknown_fields,
    default
)]
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
            max_tasks_per_socket: 256,
            max_field_sets_per_room: 16,
            presence_events: false,
            presence_batch_above: 100,
            presence_batch_ms: 500,
            presence_batch_max: 100,
        }
    }
}

/// The buffer policy, as written in the configuration. Read from a string, so that a value
/// that is none of them is refused with the list of those allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum BufferName {
    /// Deliver and forget.
    Drop,
    /// Keep for the first socket to join an empty room.
    IfNoClients,
    /// Keep a history replayed to every joiner.
    Always,
}

impl BufferName {
    /// Every value, as written in the configuration.
    pub const ALL: [(&'static str, BufferName); 3] = [
        ("drop", BufferName::Drop),
        ("if_no_clients", BufferName::IfNoClients),
        ("always", BufferName::Always),
    ];
}

impl TryFrom<String> for BufferName {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        BufferName::ALL
            .iter()
            .find(|(name, _)| *name == value)
            .map(|(_, buffer)| *buffer)
            .ok_or_else(|| {
                let allowed: Vec<&str> = BufferName::ALL.iter().map(|(name, _)| *name).collect();
                format!(
                    "{value:?} is not allowed: expected one of {}",
                    allowed.join(", ")
                )
            })
    }
}

/// Which rooms a built-in event may touch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "the value is not allowed: expected true, false, or a list of room patterns (\"news-*\", or { pattern = \"..\", roles = [\"..\"] })"
)]
pub enum RoomAccess {
    /// Every room, or none.
    Allowed(bool),
    /// Rooms matching one of these rules.
    Rules(Vec<RoomRule>),
}

/// A room pattern (`*` matches any run of characters), optionally only for some roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "the value is not allowed: expected a room pattern (\"news-*\") or { pattern = \"..\", roles = [\"..\"] }"
)]
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

impl RoomRule {
    /// The room pattern.
    pub fn pattern(&self) -> &str {
        match self {
            RoomRule::Pattern(pattern) | RoomRule::WithRoles { pattern, .. } => pattern,
        }
    }

    /// Whether this rule lets a socket with `roles` use `room`.
    pub fn admits(&self, room: &str, roles: &[String]) -> bool {
        match self {
            RoomRule::Pattern(pattern) => glob_matches(pattern, room),
            RoomRule::WithRoles {
                pattern,
                roles: allowed,
            } => glob_matches(pattern, room) && allowed.iter().any(|r| roles.contains(r)),
        }
    }
}

impl RoomAccess {
    /// Whether a socket with `roles` may use `room`.
    pub fn allows(&self, room: &str, roles: &[String]) -> bool {
        match self {
            RoomAccess::Allowed(allowed) => *allowed,
            RoomAccess::Rules(rules) => rules.iter().any(|rule| rule.admits(room, roles)),
        }
    }

    /// Whether a rule of the list (never `true` alone) lets a socket with `roles` use
    /// `room`, and `names` accepts that rule's pattern.
    fn explicitly_allows(
        &self,
        room: &str,
        roles: &[String],
        names: impl Fn(&str) -> bool,
    ) -> bool {
        match self {
            RoomAccess::Allowed(_) => false,
            RoomAccess::Rules(rules) => rules
                .iter()
                .any(|rule| names(rule.pattern()) && rule.admits(room, roles)),
        }
    }
}

/// Why a client may not publish to a room (see [`NamespacePolicy::publish_right`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishRefusal {
    /// `client_publish` does not allow the room (for these roles).
    NotAllowed,
    /// A user room, and no `client_publish` rule naming `user:` matches it.
    UserRoom,
    /// `client_join` protects the room, the socket may not join it, and no `client_publish`
    /// rule matches it.
    JoinProtected,
}

impl PublishRefusal {
    /// What the client is told.
    pub fn explain(self) -> &'static str {
        match self {
            PublishRefusal::NotAllowed => "client_publish does not allow this room",
            PublishRefusal::UserRoom => {
                "user rooms are written by the server only (a client_publish rule naming user: would allow it)"
            }
            PublishRefusal::JoinProtected => {
                "client_join protects this room and this socket may not join it (an explicit client_publish rule would allow it)"
            }
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
    /// Whether a socket with `roles` may `join` `room`: `client_join` allows it, and it is
    /// not a user room (which only the server joins sockets to).
    pub fn may_join(&self, room: &str, roles: &[String]) -> bool {
        !room.starts_with(USER_ROOM_PREFIX) && self.client_join.allows(room, roles)
    }

    /// Whether a socket with `roles` may `publish` to `room` (the module doc has the rules).
    pub fn publish_right(&self, room: &str, roles: &[String]) -> Result<(), PublishRefusal> {
        if !self.client_publish.allows(room, roles) {
            return Err(PublishRefusal::NotAllowed);
        }
        if room.starts_with(USER_ROOM_PREFIX) {
            let names_user_rooms = |pattern: &str| pattern.starts_with(USER_ROOM_PREFIX);
            let opened = self
                .client_publish
                .explicitly_allows(room, roles, names_user_rooms);
            return if opened {
                Ok(())
            } else {
                Err(PublishRefusal::UserRoom)
            };
        }
        if self.client_join.allows(room, roles)
            || self.client_publish.explicitly_allows(room, roles, |_| true)
        {
            Ok(())
        } else {
            Err(PublishRefusal::JoinProtected)
        }
    }

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
            presence: PresencePolicy {
                events: self.presence_events,
                batch_above: self.presence_batch_above,
                batch_interval: Duration::from_millis(self.presence_batch_ms),
                batch_max: self.presence_batch_max,
            },
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

    fn rules(rules: &[RoomRule]) -> RoomAccess {
        RoomAccess::Rules(rules.to_vec())
    }

    fn pattern(p: &str) -> RoomRule {
        RoomRule::Pattern(p.into())
    }

    fn with_roles(p: &str, role: &str) -> RoomRule {
        RoomRule::WithRoles {
            pattern: p.into(),
            roles: vec![role.into()],
        }
    }

    #[test]
    fn user_rooms_need_a_rule_naming_them() {
        let none: &[String] = &[];
        let open = NamespacePolicy::default();
        assert_eq!(open.publish_right("chat", none), Ok(()));
        assert_eq!(
            open.publish_right("user:bob", none),
            Err(PublishRefusal::UserRoom),
            "client_publish = true is not explicit"
        );
        let star = NamespacePolicy {
            client_publish: rules(&[pattern("*")]),
            ..NamespacePolicy::default()
        };
        assert_eq!(
            star.publish_right("user:bob", none),
            Err(PublishRefusal::UserRoom)
        );
        assert_eq!(star.publish_right("chat", none), Ok(()));
        let named = NamespacePolicy {
            client_publish: rules(&[pattern("user:*"), with_roles("user:vip-*", "support")]),
            ..NamespacePolicy::default()
        };
        assert_eq!(named.publish_right("user:bob", none), Ok(()));
        let by_role = NamespacePolicy {
            client_publish: rules(&[pattern("chat"), with_roles("user:*", "support")]),
            ..NamespacePolicy::default()
        };
        assert_eq!(
            by_role.publish_right("user:bob", none),
            Err(PublishRefusal::NotAllowed)
        );
        assert_eq!(
            by_role.publish_right("user:bob", &["support".into()]),
            Ok(())
        );
        assert!(!open.may_join("user:bob", none));
        assert!(open.may_join("chat", none));
    }

    #[test]
    fn rooms_protected_for_join_are_protected_for_publish() {
        let none: &[String] = &[];
        let admin = ["admin".to_string()];
        let protected = NamespacePolicy {
            client_join: rules(&[pattern("public:*"), with_roles("staff:*", "admin")]),
            client_publish: RoomAccess::Allowed(true),
            ..NamespacePolicy::default()
        };
        assert_eq!(protected.publish_right("public:x", none), Ok(()));
        assert_eq!(
            protected.publish_right("staff:x", none),
            Err(PublishRefusal::JoinProtected),
            "a room only a role may join"
        );
        assert_eq!(protected.publish_right("staff:x", &admin), Ok(()));
        assert_eq!(
            protected.publish_right("secret", &admin),
            Err(PublishRefusal::JoinProtected),
            "a room nobody may join"
        );
        let closed = NamespacePolicy {
            client_join: RoomAccess::Allowed(false),
            ..NamespacePolicy::default()
        };
        assert_eq!(
            closed.publish_right("any", none),
            Err(PublishRefusal::JoinProtected)
        );
        let explicit = NamespacePolicy {
            client_join: RoomAccess::Allowed(false),
            client_publish: rules(&[pattern("inbox:*"), with_roles("staff:*", "admin")]),
            ..NamespacePolicy::default()
        };
        assert_eq!(explicit.publish_right("inbox:1", none), Ok(()));
        assert_eq!(explicit.publish_right("staff:1", &admin), Ok(()));
        assert_eq!(
            explicit.publish_right("staff:1", none),
            Err(PublishRefusal::NotAllowed)
        );
        assert_eq!(
            explicit.publish_right("other", none),
            Err(PublishRefusal::NotAllowed)
        );
        let no_publish = NamespacePolicy {
            client_publish: RoomAccess::Allowed(false),
            ..NamespacePolicy::default()
        };
        assert_eq!(
            no_publish.publish_right("chat", none),
            Err(PublishRefusal::NotAllowed)
        );
    }
}
