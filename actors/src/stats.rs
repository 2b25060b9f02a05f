//! Counters every singleton actor keeps about itself (messages handled, mailbox depth,
//! restarts, uptime), readable from any thread without a message, and the hub-wide
//! counters of what was dropped or refused and why.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// One actor's own counters.
#[derive(Debug)]
pub struct ActorStats {
    name: &'static str,
    started: Instant,
    handled: AtomicU64,
    queued: AtomicI64,
    restarts: AtomicU64,
    /// Milliseconds since the epoch of the last restart; 0 = never.
    last_restart_ms: AtomicU64,
}

/// A snapshot of [`ActorStats`], as `/connections` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ActorStatsSnapshot {
    /// The actor's name.
    pub name: &'static str,
    /// Messages handled since start.
    pub messages_handled: u64,
    /// Messages sent to it and not handled yet.
    pub mailbox_depth: u64,
    /// Times it was restarted by its supervisor.
    pub restarts: u64,
    /// Seconds since it first started.
    pub uptime_s: u64,
    /// Milliseconds since the epoch of its last restart, if it ever restarted.
    pub last_restart_ms: Option<u64>,
}

impl ActorStats {
    /// Fresh counters for the actor called `name`.
    pub fn new(name: &'static str) -> Arc<Self> {
        Arc::new(ActorStats {
            name,
            started: Instant::now(),
            handled: AtomicU64::new(0),
            queued: AtomicI64::new(0),
            restarts: AtomicU64::new(0),
            last_restart_ms: AtomicU64::new(0),
        })
    }

    /// A message was sent to the actor.
    pub fn enqueued(&self) {
        self.queued.fetch_add(1, Ordering::Relaxed);
    }

    /// The actor handled a message.
    pub fn handled(&self) {
        self.handled.fetch_add(1, Ordering::Relaxed);
        self.queued.fetch_sub(1, Ordering::Relaxed);
    }

    /// Messages sent to the actor and not handled yet.
    pub fn mailbox_depth(&self) -> u64 {
        self.queued.load(Ordering::Relaxed).max(0) as u64
    }

    /// The actor was restarted.
    pub fn restarted(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
        self.last_restart_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// Milliseconds since the epoch of the last restart, if it ever restarted.
    pub fn last_restart_ms(&self) -> Option<u64> {
        match self.last_restart_ms.load(Ordering::Relaxed) {
            0 => None,
            at => Some(at),
        }
    }

    /// Restarts so far.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// The current values.
    pub fn snapshot(&self) -> ActorStatsSnapshot {
        ActorStatsSnapshot {
            name: self.name,
            messages_handled: self.handled.load(Ordering::Relaxed),
            mailbox_depth: self.queued.load(Ordering::Relaxed).max(0) as u64,
            restarts: self.restarts.load(Ordering::Relaxed),
            uptime_s: self.started.elapsed().as_secs(),
            last_restart_ms: self.last_restart_ms(),
        }
    }
}

/// Why an event did not reach a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// A volatile event met a full outgoing buffer.
    VolatileBufferFull,
    /// The offline queue of a user was full; its oldest event went.
    OfflineQueueFull,
    /// A room buffer was full; its oldest event went.
    RoomBufferFull,
    /// The event's `id` repeated within the dedupe window.
    Duplicate,
    /// The recipient's connection was closed as a slow consumer with this event queued.
    SlowConsumer,
    /// A namespace's buffers reached `max_buffer_bytes`: its oldest buffered event went
    /// (or the event alone was larger than the bound and was not buffered).
    NamespaceBufferFull,
    /// A namespace's recovery log reached its bound (`recovery_max_bytes`, or
    /// `RECOVERY_LOG_MAX` events): its oldest event went before its window ended.
    RecoveryLogFull,
}

impl DropReason {
    /// Every reason, for exporting all series.
    pub const ALL: [DropReason; 7] = [
        DropReason::VolatileBufferFull,
        DropReason::OfflineQueueFull,
        DropReason::RoomBufferFull,
        DropReason::Duplicate,
        DropReason::SlowConsumer,
        DropReason::NamespaceBufferFull,
        DropReason::RecoveryLogFull,
    ];

    /// The reason's label.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::VolatileBufferFull => "volatile_buffer_full",
            DropReason::OfflineQueueFull => "offline_queue_full",
            DropReason::RoomBufferFull => "room_buffer_full",
            DropReason::Duplicate => "duplicate",
            DropReason::SlowConsumer => "slow_consumer",
            DropReason::NamespaceBufferFull => "namespace_buffer_full",
            DropReason::RecoveryLogFull => "recovery_log_full",
        }
    }
}

/// Why the hub refused something a client asked for (counted, never silent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// An event over the socket's rate limit (`RATE_LIMIT_EXCEEDED`).
    EventRateLimited,
    /// An event over `max_event_bytes` (`PAYLOAD_TOO_LARGE`).
    EventTooLarge,
    /// A backend request over the webhook's concurrency bound (`BACKEND_UNAVAILABLE`).
    WebhookBusy,
    /// A handshake over the per-address connection rate.
    HandshakeRateLimited,
    /// A handshake while `max_connections` sessions were open.
    HandshakeMaxConnections,
    /// A handshake while the server was draining for shutdown.
    HandshakeDraining,
    /// A handshake from an address holding `max_connections_per_ip` sessions.
    HandshakeIpConnections,
    /// A `join` or `publish` to a room the namespace policy keeps from the socket
    /// (`PERMISSION_DENIED`), such as a forged publish into a user room.
    RoomDenied,
    /// An event while `max_tasks_per_socket` events of its socket were still being handled
    /// (`RATE_LIMIT_EXCEEDED`).
    SocketTasksFull,
    /// A CONNECT with an invalid token, or none where the namespace requires one
    /// (`AUTH_REQUIRED`).
    TokenInvalid,
    /// A token naming a key id the JWKS does not hold, while the last fetch of the JWKS is
    /// younger than `auth.jwks_refresh_min_s` (so it was not fetched again).
    JwksRefreshThrottled,
    /// An Engine.IO request (handshake, poll or websocket upgrade) whose `Origin` is outside
    /// `[cors] origins` (cross-site websocket hijacking).
    ForeignOrigin,
    /// A request naming a live session that it is not bound to (another peer address or
    /// User-Agent than the handshake's, or an upgrade of a session on websocket already).
    SessionMismatch,
    /// An admin login refused because `[admin] max_pending_logins` logins already waited
    /// for their bcrypt check.
    AdminLoginsBusy,
    /// A binary packet whose attachments added up to more than `max_attachment_bytes`
    /// (the connection is closed).
    AttachmentBytes,
    /// A binary packet whose attachments did not all arrive within `attachment_timeout_ms`
    /// (the connection is closed).
    AttachmentTimeout,
    /// A join while the socket was in `max_rooms_per_socket` rooms (`RATE_LIMIT_EXCEEDED`).
    RoomsPerSocket,
    /// A CONNECT while the connection had `max_namespaces_per_connection` namespaces
    /// (CONNECT_ERROR).
    NamespacesPerConnection,
    /// A CONNECT naming a namespace longer than `max_namespace_name_bytes` (the connection
    /// is closed).
    NamespaceNameTooLong,
    /// A CONNECT to `/admin` while its 32 sockets were connected (CONNECT_ERROR, or a
    /// disconnect at once for one that passed the check at the same time as others).
    AdminWatchersFull,
    /// A command or request of `/admin` while its socket's (or all of `/admin`'s) bound
    /// of them were being handled (`RATE_LIMIT_EXCEEDED`).
    AdminTasksFull,
    /// An admin password login from an address that used up its failed logins for now
    /// (refused without a bcrypt check).
    AdminLoginFailures,
    /// A msgpack packet nesting deeper than the decoder's bound (the connection is closed).
    MsgpackTooDeep,
    /// A permessage-deflate message that inflated to more than `max_payload` (a zip bomb;
    /// the connection is closed with 1009).
    InflatedTooLarge,
    /// A `join` or `fields` naming a field set a room had no room for: it held
    /// `max_field_sets_per_room` distinct sets already (`RATE_LIMIT_EXCEEDED`).
    FieldSetsPerRoom,
    /// An SSE subscription naming a field set the hub had no room for: its subscribers
    /// used `MAX_SUBSCRIBER_FIELD_SETS` distinct sets already (503).
    SubscriberFieldSets,
}

impl RefusalReason {
    /// Every reason, for exporting all series.
    pub const ALL: [RefusalReason; 26] = [
        RefusalReason::EventRateLimited,
        RefusalReason::EventTooLarge,
        RefusalReason::WebhookBusy,
        RefusalReason::HandshakeRateLimited,
        RefusalReason::HandshakeMaxConnections,
        RefusalReason::HandshakeDraining,
        RefusalReason::HandshakeIpConnections,
        RefusalReason::RoomDenied,
        RefusalReason::SocketTasksFull,
        RefusalReason::TokenInvalid,
        RefusalReason::JwksRefreshThrottled,
        RefusalReason::ForeignOrigin,
        RefusalReason::SessionMismatch,
        RefusalReason::AdminLoginsBusy,
        RefusalReason::AttachmentBytes,
        RefusalReason::AttachmentTimeout,
        RefusalReason::RoomsPerSocket,
        RefusalReason::NamespacesPerConnection,
        RefusalReason::NamespaceNameTooLong,
        RefusalReason::AdminWatchersFull,
        RefusalReason::AdminTasksFull,
        RefusalReason::AdminLoginFailures,
        RefusalReason::MsgpackTooDeep,
        RefusalReason::InflatedTooLarge,
        RefusalReason::FieldSetsPerRoom,
        RefusalReason::SubscriberFieldSets,
    ];

    /// The reason's label.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::EventRateLimited => "event_rate_limited",
            RefusalReason::EventTooLarge => "event_too_large",
            RefusalReason::WebhookBusy => "webhook_busy",
            RefusalReason::HandshakeRateLimited => "handshake_rate_limited",
            RefusalReason::HandshakeMaxConnections => "handshake_max_connections",
            RefusalReason::HandshakeDraining => "handshake_draining",
            RefusalReason::HandshakeIpConnections => "handshake_ip_connections",
            RefusalReason::RoomDenied => "room_denied",
            RefusalReason::SocketTasksFull => "socket_tasks_full",
            RefusalReason::TokenInvalid => "token_invalid",
            RefusalReason::JwksRefreshThrottled => "jwks_refresh_throttled",
            RefusalReason::ForeignOrigin => "foreign_origin",
            RefusalReason::SessionMismatch => "session_mismatch",
            RefusalReason::AdminLoginsBusy => "admin_logins_busy",
            RefusalReason::AttachmentBytes => "attachment_bytes",
            RefusalReason::AttachmentTimeout => "attachment_timeout",
            RefusalReason::RoomsPerSocket => "rooms_per_socket",
            RefusalReason::NamespacesPerConnection => "namespaces_per_connection",
            RefusalReason::NamespaceNameTooLong => "namespace_name_too_long",
            RefusalReason::AdminWatchersFull => "admin_watchers_full",
            RefusalReason::AdminTasksFull => "admin_tasks_full",
            RefusalReason::AdminLoginFailures => "admin_login_failures",
            RefusalReason::MsgpackTooDeep => "msgpack_too_deep",
            RefusalReason::InflatedTooLarge => "inflated_too_large",
            RefusalReason::FieldSetsPerRoom => "field_sets_per_room",
            RefusalReason::SubscriberFieldSets => "subscriber_field_sets",
        }
    }
}

/// How one call to the backend webhook ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookOutcome {
    /// The backend answered (2xx, or an error of its own the client sees).
    Ok,
    /// The backend answered with a 4xx status.
    Rejected,
    /// No answer within the timeout.
    Timeout,
    /// Unreachable, 5xx, or an unreadable answer.
    Unavailable,
}

impl WebhookOutcome {
    /// Every outcome, for exporting all series.
    pub const ALL: [WebhookOutcome; 4] = [
        WebhookOutcome::Ok,
        WebhookOutcome::Rejected,
        WebhookOutcome::Timeout,
        WebhookOutcome::Unavailable,
    ];

    /// The outcome's label.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookOutcome::Ok => "ok",
            WebhookOutcome::Rejected => "rejected",
            WebhookOutcome::Timeout => "timeout",
            WebhookOutcome::Unavailable => "unavailable",
        }
    }
}

/// Upper bounds of the fan-out histogram (recipients per broadcast); a last `+Inf` bucket
/// is implied.
pub const FANOUT_BUCKETS: [u64; 7] = [0, 1, 10, 100, 1_000, 10_000, 100_000];

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Hub-wide counters. Every update is one relaxed atomic operation: nothing here takes a
/// lock, so the broadcast and session paths may count freely.
#[derive(Debug, Default)]
pub struct HubCounters {
    drops: [AtomicU64; DropReason::ALL.len()],
    /// Dedupe ids forgotten before their window ended because the window was full.
    dedupe_evictions: AtomicU64,
    /// `presence` events sent: one per join or leave, and batches.
    presence_single: AtomicU64,
    presence_batches: AtomicU64,
    /// Joins and leaves a batch counted in `omitted` instead of listing them.
    presence_omitted: AtomicU64,
    /// Rooms with a presence batch gathering now.
    presence_pending: AtomicU64,
    slow_consumer_disconnects: AtomicU64,
    broadcasts: AtomicU64,
    deliveries: AtomicU64,
    /// Broadcasts per fan-out bucket (the last is `+Inf`), not cumulative.
    fanout_buckets: [AtomicU64; FANOUT_BUCKETS.len() + 1],
    refusals: [AtomicU64; RefusalReason::ALL.len()],
    /// Engine.IO packets and bytes received and sent.
    packets_in: AtomicU64,
    packets_out: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    /// Socket.IO events received from clients.
    events_in: AtomicU64,
    webhook: [AtomicU64; 4],
    webhook_in_flight: AtomicI64,
    webhook_last_failure_ms: AtomicU64,
    /// Whether the last webhook call failed.
    webhook_failed_last: AtomicBool,
    /// Cluster adapter messages published / received, and its errors.
    adapter_out: AtomicU64,
    adapter_in: AtomicU64,
    adapter_errors: AtomicU64,
    /// Fetches of the JWKS (`[auth] jwks_url`) that succeeded / failed.
    jwks_fetches: [AtomicU64; 2],
    /// Websocket connections whose session is done and whose socket is still open.
    lingering: AtomicI64,
    /// Polling sessions closed and waiting for the poll that takes their last packet.
    closed_polling: AtomicI64,
    /// Polling GETs held open because nothing was queued for them.
    polls_held: AtomicU64,
    /// Polling POSTs whose body a session began to take.
    posts_begun: AtomicU64,
    /// Websocket connections closed because a write made no progress in time.
    write_timeouts: AtomicU64,
    /// Times a websocket reader stopped reading: its session had too much unhandled.
    read_pauses: AtomicU64,
    /// The most messages any websocket had read and its session not handled yet.
    inflight_high_water: AtomicU64,
    /// Websocket connections cut at the end of a drain with frames still unwritten.
    drain_unflushed: AtomicU64,
}

/// Traffic counters, as exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Traffic {
    /// Engine.IO packets received.
    pub packets_in: u64,
    /// Engine.IO packets sent.
    pub packets_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Socket.IO events received from clients.
    pub events_in: u64,
}

impl HubCounters {
    /// Counts `n` events dropped for `reason`.
    pub fn dropped(&self, reason: DropReason, n: u64) {
        let index = DropReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.drops[index].fetch_add(n, Ordering::Relaxed);
    }

    /// Events dropped for `reason` so far.
    pub fn drops(&self, reason: DropReason) -> u64 {
        let index = DropReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.drops[index].load(Ordering::Relaxed)
    }

    /// Counts `n` dedupe ids forgotten early (the window held `dedupe_max_ids`).
    pub fn dedupe_evicted(&self, n: u64) {
        self.dedupe_evictions.fetch_add(n, Ordering::Relaxed);
    }

    /// Dedupe ids forgotten early, so far.
    pub fn dedupe_evictions(&self) -> u64 {
        self.dedupe_evictions.load(Ordering::Relaxed)
    }

    /// Counts a `presence` event sent: a batch (with `omitted` changes it did not list) or
    /// one for a single join or leave.
    pub fn presence_sent(&self, batch: bool, omitted: u64) {
        let counter = match batch {
            true => &self.presence_batches,
            false => &self.presence_single,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.presence_omitted.fetch_add(omitted, Ordering::Relaxed);
    }

    /// Sets the number of rooms with a presence batch gathering.
    pub fn set_presence_pending(&self, rooms: usize) {
        self.presence_pending.store(rooms as u64, Ordering::Relaxed);
    }

    /// `presence` events sent so far: (single, batches, changes omitted from batches), and
    /// the rooms with a batch gathering now.
    pub fn presence(&self) -> (u64, u64, u64, u64) {
        (
            self.presence_single.load(Ordering::Relaxed),
            self.presence_batches.load(Ordering::Relaxed),
            self.presence_omitted.load(Ordering::Relaxed),
            self.presence_pending.load(Ordering::Relaxed),
        )
    }

    /// Counts a connection closed for reading too slowly.
    pub fn slow_consumer_disconnect(&self) {
        self.slow_consumer_disconnects
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Connections closed for reading too slowly, so far.
    pub fn slow_consumer_disconnects(&self) -> u64 {
        self.slow_consumer_disconnects.load(Ordering::Relaxed)
    }

    /// A websocket's session closed its outbox while the connection still runs.
    pub fn lingering_started(&self) {
        self.lingering.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection counted by [`HubCounters::lingering_started`] ended.
    pub fn lingering_ended(&self) {
        self.lingering.fetch_sub(1, Ordering::Relaxed);
    }

    /// Websocket connections whose session is gone and whose socket is still open (it is
    /// writing out what was queued, within the write timeout). They count against
    /// `max_connections` and the drain waits for them.
    pub fn lingering_connections(&self) -> usize {
        self.lingering.load(Ordering::Relaxed).max(0) as usize
    }

    /// A polling session closed with no poll pending and waits for the next one.
    pub fn closed_polling_started(&self) {
        self.closed_polling.fetch_add(1, Ordering::Relaxed);
    }

    /// A session counted by [`HubCounters::closed_polling_started`] stopped.
    pub fn closed_polling_ended(&self) {
        self.closed_polling.fetch_sub(1, Ordering::Relaxed);
    }

    /// Polling sessions that are closed and wait, at most a ping timeout, for the poll
    /// that takes their last packet (`6` after the client's close, `1` after the
    /// server's): a poll may be on its way on another connection. They are still in the
    /// session registry, so they count against `max_connections` and the drain waits for
    /// them.
    pub fn closed_polling_sessions(&self) -> usize {
        self.closed_polling.load(Ordering::Relaxed).max(0) as usize
    }

    /// Counts a polling GET held open by its session until there is something to send.
    pub fn poll_held(&self) {
        self.polls_held.fetch_add(1, Ordering::Relaxed);
    }

    /// Polling GETs held open so far (each waited for packets, a ping or the session's
    /// end). A GET is counted once its session holds it, so a client that sees the count
    /// move knows its GET waits.
    pub fn polls_held(&self) -> u64 {
        self.polls_held.load(Ordering::Relaxed)
    }

    /// Counts a polling POST whose session began to take its body.
    pub fn post_begun(&self) {
        self.posts_begun.fetch_add(1, Ordering::Relaxed);
    }

    /// Polling POSTs whose body a session began to take so far (refused ones, an overlap
    /// or a closed session, are not counted). A POST is counted once its session marked
    /// it, so a client that sees the count move knows its body is expected.
    pub fn posts_begun(&self) -> u64 {
        self.posts_begun.load(Ordering::Relaxed)
    }

    /// Counts a websocket closed because a write made no progress within the timeout.
    pub fn write_timeout(&self) {
        self.write_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// Websocket connections closed by the write timeout, so far.
    pub fn write_timeouts(&self) -> u64 {
        self.write_timeouts.load(Ordering::Relaxed)
    }

    /// Counts a websocket reader pausing because its session has too much unhandled.
    pub fn read_paused(&self) {
        self.read_pauses.fetch_add(1, Ordering::Relaxed);
    }

    /// Times websocket readers paused for their sessions, so far.
    pub fn read_pauses(&self) -> u64 {
        self.read_pauses.load(Ordering::Relaxed)
    }

    /// Notes that a websocket has `messages` read and not yet handled by its session.
    pub fn inflight_seen(&self, messages: usize) {
        self.inflight_high_water
            .fetch_max(messages as u64, Ordering::Relaxed);
    }

    /// The most messages any websocket had in flight to its session (at most
    /// `incoming.max_messages`).
    pub fn inflight_high_water(&self) -> u64 {
        self.inflight_high_water.load(Ordering::Relaxed)
    }

    /// Counts `n` websocket connections cut by the end of a drain before they were flushed.
    pub fn drain_unflushed(&self, n: u64) {
        self.drain_unflushed.fetch_add(n, Ordering::Relaxed);
    }

    /// Connections cut unflushed by drains, so far.
    pub fn drain_unflushed_connections(&self) -> u64 {
        self.drain_unflushed.load(Ordering::Relaxed)
    }

    /// Counts a broadcast and the sockets it was handed to.
    pub fn broadcast(&self, recipients: u64) {
        self.broadcasts.fetch_add(1, Ordering::Relaxed);
        self.deliveries.fetch_add(recipients, Ordering::Relaxed);
        let bucket = FANOUT_BUCKETS
            .iter()
            .position(|le| recipients <= *le)
            .unwrap_or(FANOUT_BUCKETS.len());
        self.fanout_buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// Broadcasts and deliveries so far.
    pub fn fanout(&self) -> (u64, u64) {
        (
            self.broadcasts.load(Ordering::Relaxed),
            self.deliveries.load(Ordering::Relaxed),
        )
    }

    /// Broadcasts per bucket of [`FANOUT_BUCKETS`] (and a last `+Inf` one), cumulative as
    /// a Prometheus histogram counts them.
    pub fn fanout_histogram(&self) -> Vec<u64> {
        let mut total = 0;
        self.fanout_buckets
            .iter()
            .map(|b| {
                total += b.load(Ordering::Relaxed);
                total
            })
            .collect()
    }

    /// Counts something refused for `reason`.
    pub fn refused(&self, reason: RefusalReason) {
        let index = RefusalReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.refusals[index].fetch_add(1, Ordering::Relaxed);
    }

    /// Refusals for `reason` so far.
    pub fn refusals(&self, reason: RefusalReason) -> u64 {
        let index = RefusalReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.refusals[index].load(Ordering::Relaxed)
    }

    /// Counts Engine.IO packets received (`bytes` in all).
    pub fn received(&self, packets: usize, bytes: usize) {
        self.packets_in.fetch_add(packets as u64, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts Engine.IO packets sent (`bytes` in all).
    pub fn sent(&self, packets: usize, bytes: usize) {
        self.packets_out
            .fetch_add(packets as u64, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts a Socket.IO event received from a client.
    pub fn event_received(&self) {
        self.events_in.fetch_add(1, Ordering::Relaxed);
    }

    /// Traffic so far.
    pub fn traffic(&self) -> Traffic {
        Traffic {
            packets_in: self.packets_in.load(Ordering::Relaxed),
            packets_out: self.packets_out.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            events_in: self.events_in.load(Ordering::Relaxed),
        }
    }

    /// A webhook call started; pair with [`HubCounters::webhook_finished`].
    pub fn webhook_started(&self) {
        self.webhook_in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// A webhook call ended with `outcome`.
    pub fn webhook_finished(&self, outcome: WebhookOutcome) {
        self.webhook_in_flight.fetch_sub(1, Ordering::Relaxed);
        let index = WebhookOutcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or(0);
        self.webhook[index].fetch_add(1, Ordering::Relaxed);
        let failed = matches!(
            outcome,
            WebhookOutcome::Timeout | WebhookOutcome::Unavailable
        );
        if failed {
            self.webhook_last_failure_ms
                .store(now_ms(), Ordering::Relaxed);
        }
        self.webhook_failed_last.store(failed, Ordering::Relaxed);
    }

    /// Webhook calls that ended with `outcome` so far.
    pub fn webhook_calls(&self, outcome: WebhookOutcome) -> u64 {
        let index = WebhookOutcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or(0);
        self.webhook[index].load(Ordering::Relaxed)
    }

    /// Counts a fetch of the JWKS, `ok` or failed.
    pub fn jwks_fetched(&self, ok: bool) {
        self.jwks_fetches[usize::from(!ok)].fetch_add(1, Ordering::Relaxed);
    }

    /// Fetches of the JWKS so far that succeeded (`ok`) or failed.
    pub fn jwks_fetches(&self, ok: bool) -> u64 {
        self.jwks_fetches[usize::from(!ok)].load(Ordering::Relaxed)
    }

    /// Webhook calls waiting for the backend now.
    pub fn webhook_in_flight(&self) -> u64 {
        self.webhook_in_flight.load(Ordering::Relaxed).max(0) as u64
    }

    /// Whether the last webhook call failed (timeout, unreachable, 5xx) less than
    /// `within_ms` ago and no call succeeded since.
    pub fn webhook_failing(&self, within_ms: u64) -> bool {
        let failure = self.webhook_last_failure_ms.load(Ordering::Relaxed);
        self.webhook_failed_last.load(Ordering::Relaxed)
            && now_ms().saturating_sub(failure) < within_ms
    }

    /// Counts cluster adapter messages published (`out`) or received.
    pub fn adapter_message(&self, out: bool) {
        let counter = if out {
            &self.adapter_out
        } else {
            &self.adapter_in
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a cluster adapter error.
    pub fn adapter_error(&self) {
        self.adapter_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Adapter messages (out, in) and errors so far.
    pub fn adapter(&self) -> (u64, u64, u64) {
        (
            self.adapter_out.load(Ordering::Relaxed),
            self.adapter_in.load(Ordering::Relaxed),
            self.adapter_errors.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fanout_histogram_is_cumulative() {
        let counters = HubCounters::default();
        for recipients in [0, 1, 5, 5, 2_000, 1_000_000] {
            counters.broadcast(recipients);
        }
        assert_eq!(counters.fanout_histogram(), vec![1, 2, 4, 4, 4, 5, 5, 6]);
        assert_eq!(counters.fanout(), (6, 1_002_011));
    }

    #[test]
    fn webhook_health_follows_the_last_outcome() {
        let counters = HubCounters::default();
        assert!(!counters.webhook_failing(30_000));
        counters.webhook_started();
        assert_eq!(counters.webhook_in_flight(), 1);
        counters.webhook_finished(WebhookOutcome::Unavailable);
        assert!(counters.webhook_failing(30_000));
        counters.webhook_started();
        counters.webhook_finished(WebhookOutcome::Ok);
        assert!(!counters.webhook_failing(30_000));
        assert_eq!(counters.webhook_in_flight(), 0);
        assert_eq!(counters.webhook_calls(WebhookOutcome::Unavailable), 1);
    }
}
