//! The Broadcaster: resolves a target to sockets, encodes the event once and hands the
//! shared frames to each recipient's session (one mailbox hop), applies the namespace's
//! buffer policy and the user offline queue, drops duplicates within the dedupe window,
//! and keeps the offsets and preserved sockets of connection state recovery.
//!
//! Everything it keeps for later is bounded in size (per namespace: `max_buffer_bytes`,
//! `recovery_max_bytes`, `dedupe_max_ids`) and in time: a sweep every [`SWEEP_EVERY`]
//! expires buffered events, recovery log entries, dedupe ids and preserved sockets whether
//! or not their room, user or namespace is touched again, then publishes their sizes
//! (a [`RetentionView`]) for `/metrics`.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use serde_json::Value;
use siohub_protocol::SocketPacket;

use crate::hub_messages::{
    Broadcast, BroadcastOutcome, BroadcastWithAck, Deliver, DeliverWithAck, Preserve,
    PreservedSocket, Recover, Recovered,
};
use crate::ids::next_ack_id;
use crate::policy::{user_room, DeliveryPolicies, USER_ROOM_PREFIX};
use crate::retention::{NamespaceRetention, RetentionSnapshot, RetentionView};
use crate::room_buffers::EVENT_OVERHEAD;
use crate::room_table::{lock, Frames, RoomBuffering, SharedRoomTable, Target};
use crate::stats::{ActorStats, DropReason, HubCounters};
use crate::supervision::guarded;
use crate::wire_frame::socket_packet_frames;

/// The longest gathered deliveries wait while broadcasts keep arriving.
const FLUSH_AT_LATEST: Duration = Duration::from_millis(2);

/// Most events kept per namespace for connection state recovery, whatever the window.
pub const RECOVERY_LOG_MAX: usize = 10_000;

/// How often expired buffers, log entries, dedupe ids and preserved sockets are removed.
/// Each sweep costs what expired (everything is kept oldest first), so it can run often.
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);

struct LoggedPacket {
    offset: u64,
    at: Instant,
    frames: Frames,
    target: Target,
    /// What it is charged against `recovery_max_bytes`.
    cost: usize,
}

#[derive(Default)]
struct PacketLog {
    /// The newest offset handed out in this namespace.
    next: u64,
    entries: VecDeque<LoggedPacket>,
    bytes: usize,
}

impl PacketLog {
    fn pop_oldest(&mut self) {
        if let Some(p) = self.entries.pop_front() {
            self.bytes -= p.cost;
        }
    }
}

/// The ids one namespace saw within its dedupe window. Ids are kept as keyed 64-bit
/// hashes (the key is random per process, so nobody can aim for a collision): an id then
/// costs the same whatever its length, and `dedupe_max_ids` bounds the memory.
#[derive(Default)]
struct DedupeWindow {
    seen: HashMap<u64, Instant>,
    order: VecDeque<(Instant, u64)>,
}

impl DedupeWindow {
    /// Whether `id` was seen within `window`; records it otherwise, forgetting the oldest
    /// id when `max_ids` are remembered already. Returns (duplicate, ids forgotten early).
    fn check(&mut self, id: u64, window: Duration, max_ids: usize) -> (bool, u64) {
        let now = Instant::now();
        self.expire(now, window);
        if self.seen.contains_key(&id) {
            return (true, 0);
        }
        let mut evicted = 0;
        while self.seen.len() >= max_ids.max(1) {
            let Some((at, old)) = self.order.pop_front() else {
                break;
            };
            if self.seen.get(&old) == Some(&at) {
                self.seen.remove(&old);
                evicted += 1;
            }
        }
        self.seen.insert(id, now);
        self.order.push_back((now, id));
        (false, evicted)
    }

    /// Forgets the ids older than `window`.
    fn expire(&mut self, now: Instant, window: Duration) {
        while let Some((at, old)) = self.order.front() {
            if now.duration_since(*at) <= window {
                break;
            }
            if self.seen.get(old) == Some(at) {
                self.seen.remove(old);
            }
            self.order.pop_front();
        }
    }
}

/// See the module documentation.
pub struct Broadcaster {
    table: SharedRoomTable,
    policies: Arc<DeliveryPolicies>,
    counters: Arc<HubCounters>,
    stats: Arc<ActorStats>,
    logs: HashMap<String, PacketLog>,
    preserved: HashMap<String, PreservedSocket>,
    dedupe: HashMap<String, DedupeWindow>,
    /// The key of the dedupe hashes (kept across restarts, like the windows).
    dedupe_key: RandomState,
    /// The last recovery offset handed out, in any namespace.
    next_offset: u64,
    /// Where the sizes of what is kept are published.
    view: RetentionView,
    /// Whether the last broadcast left a run pending in the room table.
    run_pending: bool,
    /// Whether a timer will hand out the pending run (in case the mailbox count is off).
    flush_scheduled: bool,
}

impl Broadcaster {
    /// A broadcaster over `table` with these policies, publishing the sizes of what it
    /// keeps to `view`.
    pub fn new(
        table: SharedRoomTable,
        policies: Arc<DeliveryPolicies>,
        counters: Arc<HubCounters>,
        stats: Arc<ActorStats>,
        view: RetentionView,
    ) -> Self {
        Broadcaster {
            table,
            policies,
            counters,
            stats,
            logs: HashMap::new(),
            preserved: HashMap::new(),
            dedupe: HashMap::new(),
            dedupe_key: RandomState::new(),
            next_offset: 0,
            view,
            run_pending: false,
            flush_scheduled: false,
        }
    }

    /// Makes sure a run left pending (more broadcasts were waiting) goes out soon even if
    /// the mailbox count is off.
    fn schedule_run_delivery(&mut self, ctx: &mut Context<Self>) {
        if !self.run_pending || self.flush_scheduled {
            return;
        }
        self.flush_scheduled = true;
        ctx.run_later(FLUSH_AT_LATEST, |act, _| {
            act.flush_scheduled = false;
            act.run_pending = false;
            lock(&act.table).deliver_run();
        });
    }

    fn broadcast(&mut self, msg: Broadcast) -> BroadcastOutcome {
        let nsp = msg.target.nsp.clone();
        let policy = self.policies.of(&nsp);
        if let Some(id) = msg
            .dedupe_id
            .as_deref()
            .filter(|_| !policy.dedupe_window.is_zero())
        {
            let key = self.dedupe_key.hash_one(id);
            let (duplicate, evicted) = self.dedupe.entry(nsp.clone()).or_default().check(
                key,
                policy.dedupe_window,
                policy.dedupe_max_ids,
            );
            if evicted > 0 {
                self.counters.dedupe_evicted(evicted);
                log::debug!(
                    "namespace {}: dedupe window full ({} ids); the oldest id forgotten",
                    crate::ClientText(&nsp),
                    policy.dedupe_max_ids
                );
            }
            if duplicate {
                self.counters.dropped(DropReason::Duplicate, 1);
                crate::limited!(
                    info,
                    "namespace {}: event id {} repeated within the dedupe window; dropped",
                    crate::ClientText(&nsp),
                    crate::ClientText(id)
                );
                return BroadcastOutcome {
                    recipients: 0,
                    duplicate: true,
                };
            }
        }
        let recovering = !policy.recovery.is_zero() && !msg.volatile;
        let mut payload = msg.payload;
        let offset = recovering.then(|| {
            // Offsets count across namespaces, so a log dropped by the sweep and made anew
            // never hands out an offset a client may still hold.
            self.next_offset += 1;
            let log = self.logs.entry(nsp.clone()).or_default();
            log.next = self.next_offset;
            log.next
        });
        if let Some(offset) = offset {
            payload.args.push(Value::String(format_offset(offset)));
        }
        let packet = SocketPacket::event_with_payload(&nsp, &msg.event, payload);
        let frames: Frames = socket_packet_frames(&packet).into();
        let shared_nsp: Arc<str> = nsp.as_str().into();

        let recipients = {
            let mut table = lock(&self.table);
            // With more broadcasts waiting, gather them into a run (see `fanout`).
            let recipients = if self.stats.mailbox_depth() > 0 || table.has_run() {
                table.gather(&msg.target, &shared_nsp, &frames, msg.volatile)
            } else {
                table.for_each_recipient(&msg.target, |_, session| {
                    session.do_send(Deliver {
                        nsp: shared_nsp.clone(),
                        frames: frames.clone(),
                        volatile: msg.volatile,
                    });
                })
            };
            if !msg.volatile {
                // A user room (named directly, or through `users`) buffers as the offline
                // queue; any other room as the namespace's buffer policy says.
                let user_rooms = msg.target.users.iter().map(|u| user_room(u));
                for room in msg.target.rooms.iter().cloned().chain(user_rooms) {
                    let buffering = if room.starts_with(USER_ROOM_PREFIX) {
                        RoomBuffering::for_user(&policy)
                    } else {
                        RoomBuffering::for_room(&policy)
                    };
                    let max_bytes = policy.max_buffer_bytes;
                    table.buffer(&nsp, &room, &frames, buffering, max_bytes, &self.counters);
                }
            }
            table.notify_subscribers(&msg.target, &packet, offset.is_some(), &self.counters);
            // No broadcast waits: hand out the run now, under the same lock.
            if self.stats.mailbox_depth() == 0 {
                table.deliver_run();
            }
            self.run_pending = table.has_run();
            recipients
        };
        let bytes: usize = frames.iter().map(|f| f.len()).sum();
        self.counters
            .sent(recipients * frames.len(), recipients * bytes);

        if let Some(offset) = offset {
            let log = self.logs.entry(nsp.clone()).or_default();
            let cost = bytes + target_bytes(&msg.target) + EVENT_OVERHEAD;
            log.entries.push_back(LoggedPacket {
                offset,
                at: Instant::now(),
                frames,
                target: msg.target,
                cost,
            });
            log.bytes += cost;
            expire_log(log, policy.recovery);
            let dropped = bound_log(log, policy.recovery_max_bytes);
            if dropped > 0 {
                self.counters.dropped(DropReason::RecoveryLogFull, dropped);
                log::debug!(
                    "namespace {}: recovery log full; {dropped} oldest events dropped",
                    crate::ClientText(&nsp)
                );
            }
        }
        self.counters.broadcast(recipients as u64);
        BroadcastOutcome {
            recipients,
            duplicate: false,
        }
    }

    /// One frame set with one ack id for every recipient, as socket.io's `broadcastWithAck`
    /// does; each recipient's session waits for that id on its socket and reports.
    fn broadcast_with_ack(&mut self, msg: BroadcastWithAck) -> BroadcastOutcome {
        let Broadcast {
            target,
            event,
            payload,
            ..
        } = msg.broadcast;
        let ack_id = next_ack_id();
        let packet = SocketPacket::event_with_payload(&target.nsp, &event, payload).with_id(ack_id);
        let frames: Frames = socket_packet_frames(&packet).into();
        let shared_nsp: Arc<str> = target.nsp.as_str().into();
        let recipients = {
            let mut table = lock(&self.table);
            let recipients = table.resolve(&target);
            for (sid, session) in &recipients {
                session.do_send(DeliverWithAck {
                    nsp: shared_nsp.clone(),
                    sid: sid.clone(),
                    frames: frames.clone(),
                    ack_id,
                    timeout: msg.timeout,
                    reports: msg.reports.clone(),
                });
            }
            table.notify_subscribers(&target, &packet, false, &self.counters);
            recipients.len()
        };
        self.counters.broadcast(recipients as u64);
        BroadcastOutcome {
            recipients,
            duplicate: false,
        }
    }

    fn recover(&mut self, msg: Recover) -> Option<Recovered> {
        if !msg.session.connected() {
            // The new connection is gone already; keep the state for another attempt.
            return None;
        }
        let policy = self.policies.of(&msg.nsp);
        let socket = self.preserved.remove(&msg.pid)?;
        let age = socket.at.elapsed().unwrap_or_default();
        if socket.nsp != msg.nsp || age > policy.recovery {
            return None;
        }
        let offset = parse_offset(&msg.offset)?;
        let log = self.logs.get_mut(&msg.nsp)?;
        expire_log(log, policy.recovery);
        // The client's offset must still be in the log (or be the newest one handed out),
        // else events it missed may be gone and recovery would lie.
        let known = log.entries.iter().any(|p| p.offset == offset) || offset == log.next;
        if !known {
            return None;
        }
        let missed = log
            .entries
            .iter()
            .filter(|p| p.offset > offset && p.target.includes(&socket.sid, &socket.rooms))
            .map(|p| p.frames.clone())
            .collect();
        // Back in its rooms now, before any later broadcast is resolved: what was logged
        // until here is replayed, what comes after is delivered live (the session holds it
        // until the CONNECT reply and the replay are out).
        let mut table = lock(&self.table);
        let sid: Arc<str> = socket.sid.as_str().into();
        table.add_socket(&msg.nsp, sid.clone(), msg.session.clone());
        let quiet = RoomBuffering {
            policy: crate::policy::BufferPolicy::Drop,
            size: 0,
            ttl: Duration::ZERO,
        };
        for room in &socket.rooms {
            table.join(&msg.nsp, room, sid.clone(), msg.session.clone(), quiet);
        }
        Some(Recovered { socket, missed })
    }

    /// The periodic sweep: removes whatever outlived its window (buffered events, log
    /// entries, dedupe ids, preserved sockets), then publishes the sizes of what is left.
    fn expire(&mut self) {
        let policies = self.policies.clone();
        self.preserved
            .retain(|_, s| s.at.elapsed().unwrap_or_default() <= policies.of(&s.nsp).recovery);
        let mut table = lock(&self.table);
        let preserved: std::collections::HashSet<&str> =
            self.preserved.values().map(|s| s.nsp.as_str()).collect();
        // An empty log goes once no socket of its namespace is connected or preserved: no
        // client can hold one of its offsets then (and a namespace no socket uses leaves
        // nothing behind).
        self.logs.retain(|nsp, log| {
            expire_log(log, policies.of(nsp).recovery);
            !log.entries.is_empty()
                || table.socket_count(nsp) > 0
                || preserved.contains(nsp.as_str())
        });
        let now = Instant::now();
        self.dedupe.retain(|nsp, window| {
            window.expire(now, policies.of(nsp).dedupe_window);
            !window.seen.is_empty()
        });
        let expired = table.sweep_buffers();
        drop(table);
        if expired > 0 {
            log::debug!("{expired} buffered events expired");
        }
        self.view.publish(self.retention());
    }

    /// The sizes of what the broadcaster keeps.
    fn retention(&self) -> RetentionSnapshot {
        // A namespace may have a recovery log, a dedupe window or both.
        let mut namespaces: HashMap<&str, NamespaceRetention> = HashMap::new();
        for (nsp, log) in &self.logs {
            let entry = namespaces.entry(nsp).or_default();
            entry.recovery_events = log.entries.len();
            entry.recovery_bytes = log.bytes;
        }
        for (nsp, window) in &self.dedupe {
            namespaces.entry(nsp).or_default().dedupe_ids = window.seen.len();
        }
        let mut namespaces: Vec<NamespaceRetention> = namespaces
            .into_iter()
            .map(|(nsp, sizes)| NamespaceRetention {
                nsp: nsp.to_owned(),
                ..sizes
            })
            .collect();
        namespaces.sort_by(|a, b| a.nsp.cmp(&b.nsp));
        RetentionSnapshot {
            namespaces,
            preserved_sockets: self.preserved.len(),
        }
    }
}

fn expire_log(log: &mut PacketLog, window: Duration) {
    let now = Instant::now();
    while log
        .entries
        .front()
        .is_some_and(|p| now.duration_since(p.at) > window)
    {
        log.pop_oldest();
    }
}

/// Drops the oldest entries while the log is over `max_bytes` or [`RECOVERY_LOG_MAX`]
/// events; returns how many went.
fn bound_log(log: &mut PacketLog, max_bytes: usize) -> u64 {
    let mut dropped = 0;
    while !log.entries.is_empty() && (log.bytes > max_bytes || log.entries.len() > RECOVERY_LOG_MAX)
    {
        log.pop_oldest();
        dropped += 1;
    }
    dropped
}

/// What a logged target holds besides its frames.
fn target_bytes(target: &Target) -> usize {
    let lists = [
        &target.rooms,
        &target.users,
        &target.sids,
        &target.except_rooms,
        &target.except_sids,
    ];
    target.nsp.len()
        + lists
            .iter()
            .flat_map(|l| l.iter())
            .map(|s| s.len() + std::mem::size_of::<String>())
            .sum::<usize>()
}

fn format_offset(offset: u64) -> String {
    format!("{offset:x}")
}

fn parse_offset(text: &str) -> Option<u64> {
    u64::from_str_radix(text, 16).ok()
}

impl Actor for Broadcaster {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(SWEEP_EVERY, |act, _| act.expire());
    }
}

impl Supervised for Broadcaster {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        self.stats.restarted();
        // Buffers live in the room table and survive; the dedupe windows and recovery logs
        // are kept as they were, only checked for expiry.
        self.expire();
        log::warn!("Broadcaster restarted");
    }
}

impl Handler<Broadcast> for Broadcaster {
    type Result = MessageResult<Broadcast>;

    fn handle(&mut self, msg: Broadcast, ctx: &mut Context<Self>) -> Self::Result {
        let stats = self.stats.clone();
        let outcome = guarded(&stats, ctx, BroadcastOutcome::default(), |_| {
            self.broadcast(msg)
        });
        self.schedule_run_delivery(ctx);
        MessageResult(outcome)
    }
}

impl Handler<BroadcastWithAck> for Broadcaster {
    type Result = MessageResult<BroadcastWithAck>;

    fn handle(&mut self, msg: BroadcastWithAck, ctx: &mut Context<Self>) -> Self::Result {
        // Gathered events go first, so every recipient sees broadcasts in order.
        lock(&self.table).deliver_run();
        let stats = self.stats.clone();
        MessageResult(guarded(&stats, ctx, BroadcastOutcome::default(), |_| {
            self.broadcast_with_ack(msg)
        }))
    }
}

impl Handler<Preserve> for Broadcaster {
    type Result = ();

    fn handle(&mut self, msg: Preserve, ctx: &mut Context<Self>) {
        let stats = self.stats.clone();
        guarded(&stats, ctx, (), |_| {
            self.preserved.insert(msg.pid, msg.socket);
        })
    }
}

impl Handler<Recover> for Broadcaster {
    type Result = MessageResult<Recover>;

    fn handle(&mut self, msg: Recover, ctx: &mut Context<Self>) -> Self::Result {
        lock(&self.table).deliver_run();
        let stats = self.stats.clone();
        MessageResult(guarded(&stats, ctx, None, |_| self.recover(msg)))
    }
}

#[cfg(feature = "fault-injection")]
impl Handler<crate::supervision::Crash> for Broadcaster {
    type Result = ();

    fn handle(&mut self, _msg: crate::supervision::Crash, ctx: &mut Context<Self>) {
        let stats = self.stats.clone();
        guarded(&stats, ctx, (), |_| {
            panic!("fault injected into Broadcaster")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_forgets_ids_after_the_window() {
        let mut window = DedupeWindow::default();
        let w = Duration::from_millis(50);
        assert_eq!(window.check(1, w, 10), (false, 0));
        assert_eq!(window.check(1, w, 10), (true, 0));
        assert_eq!(window.check(2, w, 10), (false, 0));
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(window.check(1, w, 10), (false, 0));
        // The sweep forgets ids without any new check.
        std::thread::sleep(Duration::from_millis(80));
        window.expire(Instant::now(), w);
        assert!(window.seen.is_empty() && window.order.is_empty());
    }

    #[test]
    fn a_full_dedupe_window_forgets_its_oldest_ids() {
        let mut window = DedupeWindow::default();
        let w = Duration::from_secs(600);
        for id in 0..100 {
            let evicted = u64::from(id >= 10);
            assert_eq!(window.check(id, w, 10), (false, evicted));
        }
        assert_eq!(window.seen.len(), 10);
        assert_eq!(window.order.len(), 10);
        assert_eq!(
            window.check(99, w, 10),
            (true, 0),
            "the newest are remembered"
        );
        assert_eq!(
            window.check(0, w, 10),
            (false, 1),
            "the oldest are forgotten"
        );
    }

    #[test]
    fn the_recovery_log_is_bounded_in_bytes() {
        let mut log = PacketLog::default();
        for offset in 0..100 {
            log.entries.push_back(LoggedPacket {
                offset,
                at: Instant::now(),
                frames: Vec::new().into(),
                target: Target::namespace("/"),
                cost: 100,
            });
            log.bytes += 100;
        }
        assert_eq!(bound_log(&mut log, 1000), 90);
        assert_eq!((log.entries.len(), log.bytes), (10, 1000));
        assert_eq!(log.entries.front().map(|p| p.offset), Some(90));
        assert_eq!(bound_log(&mut log, 1000), 0);
    }

    #[test]
    fn offsets_round_trip() {
        assert_eq!(parse_offset(&format_offset(0xabc)), Some(0xabc));
        assert_eq!(parse_offset("zz"), None);
    }
}
