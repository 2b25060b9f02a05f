//! Delivery policies: what the broadcaster does with events per namespace (buffering for
//! join replay, connection state recovery, the offline queue, dedupe) and what a session
//! does when its client reads too slowly.

use std::sync::Arc;
use std::time::Duration;

use crate::namespace_pattern::NamespacePattern;

/// What happens to an event published to a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BufferPolicy {
    /// Delivered to the members present, then forgotten.
    #[default]
    Drop,
    /// Kept when the room has no member, and handed to the first socket that joins (then
    /// forgotten): a mailbox for rooms nobody listens to yet.
    IfNoClients,
    /// Every event is kept (a bounded history) and replayed to each socket that joins.
    Always,
}

/// Delivery settings of one namespace (or namespace pattern).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Room buffering for join replay.
    pub buffer: BufferPolicy,
    /// Most events kept per room.
    pub buffer_size: usize,
    /// How long a kept event stays replayable.
    pub buffer_ttl: Duration,
    /// Connection state recovery window; zero turns recovery off.
    pub recovery: Duration,
    /// Whether events for an offline user are queued until one of their sockets connects.
    pub offline_queue: bool,
    /// Most events queued per offline user (the oldest go first, counted).
    pub offline_queue_size: usize,
    /// How long a queued event for an offline user stays deliverable.
    pub offline_queue_ttl: Duration,
    /// Events whose `id` was seen within this window are dropped; zero turns dedupe off.
    pub dedupe_window: Duration,
    /// Most bytes the room buffers and offline queues of one namespace hold together; over
    /// it the namespace's oldest buffered event is dropped (counted).
    pub max_buffer_bytes: usize,
    /// Most bytes of events the connection state recovery log of one namespace holds; over
    /// it the oldest logged event goes (counted), and a client that missed it cannot
    /// recover (it connects afresh).
    pub recovery_max_bytes: usize,
    /// Most event ids one namespace's dedupe window remembers; over it the oldest id is
    /// forgotten before its window ends (counted).
    pub dedupe_max_ids: usize,
    /// Whether room members are told of joins and leaves (`presence` events), and how they
    /// are coalesced in large rooms.
    pub presence: PresencePolicy,
}

/// The `presence` events of a namespace: off, or sent to a room's members on every join
/// and leave, coalesced into one event per interval once the room is large.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresencePolicy {
    /// Whether members receive `presence` events at all.
    pub events: bool,
    /// From this many members (on this node) joins and leaves are batched.
    pub batch_above: usize,
    /// How long a batch gathers joins and leaves before it goes out.
    pub batch_interval: Duration,
    /// Most joins (and most leaves) one batch lists; more are counted in `omitted`.
    pub batch_max: usize,
}

impl Default for PresencePolicy {
    fn default() -> Self {
        PresencePolicy {
            events: false,
            batch_above: 100,
            batch_interval: Duration::from_millis(500),
            batch_max: 100,
        }
    }
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            buffer: BufferPolicy::Drop,
            buffer_size: 1000,
            buffer_ttl: Duration::from_secs(300),
            recovery: Duration::ZERO,
            offline_queue: false,
            offline_queue_size: 1000,
            offline_queue_ttl: Duration::from_secs(86_400),
            dedupe_window: Duration::ZERO,
            max_buffer_bytes: 64 * 1024 * 1024,
            recovery_max_bytes: 64 * 1024 * 1024,
            dedupe_max_ids: 100_000,
            presence: PresencePolicy::default(),
        }
    }
}

/// The delivery policies of every namespace: the first matching rule wins, else the default.
#[derive(Debug, Clone, Default)]
pub struct DeliveryPolicies {
    rules: Vec<(NamespacePattern, Arc<DeliveryPolicy>)>,
    default: Arc<DeliveryPolicy>,
    /// The encoding of every packet the Broadcaster writes (the server's `parser`).
    parser: siohub_protocol::Parser,
}

impl DeliveryPolicies {
    /// Only the default policy.
    pub fn new(default: DeliveryPolicy) -> Self {
        DeliveryPolicies {
            rules: Vec::new(),
            default: Arc::new(default),
            parser: siohub_protocol::Parser::Json,
        }
    }

    /// Sets the parser broadcasts are encoded for (JSON by default).
    pub fn with_parser(mut self, parser: siohub_protocol::Parser) -> Self {
        self.parser = parser;
        self
    }

    /// The parser broadcasts are encoded for.
    pub fn parser(&self) -> siohub_protocol::Parser {
        self.parser
    }

    /// Adds a rule for a namespace name or pattern (`/tenant-{id}`).
    pub fn with_rule(mut self, pattern: &str, policy: DeliveryPolicy) -> Self {
        self.rules
            .push((NamespacePattern::parse(pattern), Arc::new(policy)));
        self
    }

    /// Whether the default or any rule's policy is as `f` says.
    pub fn any(&self, f: impl Fn(&DeliveryPolicy) -> bool) -> bool {
        f(&self.default) || self.rules.iter().any(|(_, p)| f(p))
    }

    /// The policy of namespace `nsp`.
    pub fn of(&self, nsp: &str) -> Arc<DeliveryPolicy> {
        self.rules
            .iter()
            .find(|(pattern, _)| pattern.matches(nsp).is_some())
            .map(|(_, policy)| policy.clone())
            .unwrap_or_else(|| self.default.clone())
    }
}

/// What a session does when its outgoing backlog is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlowConsumerAction {
    /// Close the connection (reason "slow consumer"), counted and logged.
    #[default]
    Disconnect,
    /// Drop volatile packets (queued ones first) to make room; a connection whose backlog
    /// is still full of non-volatile packets is closed as with `Disconnect`.
    DropVolatile,
}

/// The prefix of user rooms.
pub const USER_ROOM_PREFIX: &str = "user:";

/// The room every socket of user `id` joins.
pub fn user_room(id: &str) -> String {
    format!("{USER_ROOM_PREFIX}{id}")
}

/// How a room keeps events for sockets that join later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomBuffering {
    /// The policy.
    pub policy: BufferPolicy,
    /// Most events kept.
    pub size: usize,
    /// How long an event stays replayable.
    pub ttl: Duration,
}

impl RoomBuffering {
    /// The buffering of an ordinary room under `policy`.
    pub fn for_room(policy: &DeliveryPolicy) -> Self {
        RoomBuffering {
            policy: policy.buffer,
            size: policy.buffer_size,
            ttl: policy.buffer_ttl,
        }
    }

    /// No buffering: joining replays nothing (a recovered socket's rooms, a rebuild).
    pub fn quiet() -> Self {
        RoomBuffering {
            policy: BufferPolicy::Drop,
            size: 0,
            ttl: Duration::ZERO,
        }
    }

    /// The buffering of a user room: the offline queue when the policy has one.
    pub fn for_user(policy: &DeliveryPolicy) -> Self {
        if policy.offline_queue {
            RoomBuffering {
                policy: BufferPolicy::IfNoClients,
                size: policy.offline_queue_size,
                ttl: policy.offline_queue_ttl,
            }
        } else {
            Self::for_room(policy)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_rule_wins() {
        let chat = DeliveryPolicy {
            buffer: BufferPolicy::Always,
            ..DeliveryPolicy::default()
        };
        let tenants = DeliveryPolicy {
            recovery: Duration::from_secs(60),
            ..DeliveryPolicy::default()
        };
        let policies = DeliveryPolicies::new(DeliveryPolicy::default())
            .with_rule("/chat", chat.clone())
            .with_rule("/tenant-{id}", tenants.clone());
        assert_eq!(*policies.of("/chat"), chat);
        assert_eq!(*policies.of("/tenant-9"), tenants);
        assert_eq!(*policies.of("/"), DeliveryPolicy::default());
        assert_eq!(user_room("42"), "user:42");
    }
}
