//! The Broadcaster: resolves a target to sockets, encodes the event once and hands the
//! shared frames to each recipient's session (one mailbox hop), applies the namespace's
//! buffer policy and the user offline queue, drops duplicates within the dedupe window,
//! and keeps the offsets and preserved sockets of connection state recovery.

use std::collections::{HashMap, VecDeque};
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
use crate::room_table::{lock, Frames, RoomBuffering, SharedRoomTable, Target};
use crate::stats::{ActorStats, DropReason, HubCounters};
use crate::supervision::guarded;
use crate::wire_frame::socket_packet_frames;

/// The longest gathered deliveries wait while broadcasts keep arriving.
const FLUSH_AT_LATEST: Duration = Duration::from_millis(2);

/// Most events kept per namespace for connection state recovery, whatever the window.
pub const RECOVERY_LOG_MAX: usize = 10_000;

struct LoggedPacket {
    offset: u64,
    at: Instant,
    frames: Frames,
    target: Target,
}

#[derive(Default)]
struct PacketLog {
    next: u64,
    entries: VecDeque<LoggedPacket>,
}

#[derive(Default)]
struct DedupeWindow {
    seen: HashMap<String, Instant>,
    order: VecDeque<(Instant, String)>,
}

impl DedupeWindow {
    /// Whether `id` was seen within `window`; records it otherwise.
    fn is_duplicate(&mut self, id: &str, window: Duration) -> bool {
        let now = Instant::now();
        while let Some((at, old)) = self.order.front() {
            if now.duration_since(*at) <= window {
                break;
            }
            if self.seen.get(old) == Some(at) {
                self.seen.remove(old);
            }
            self.order.pop_front();
        }
        if self.seen.contains_key(id) {
            return true;
        }
        self.seen.insert(id.to_owned(), now);
        self.order.push_back((now, id.to_owned()));
        false
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
    /// Whether the last broadcast left a run pending in the room table.
    run_pending: bool,
    /// Whether a timer will hand out the pending run (in case the mailbox count is off).
    flush_scheduled: bool,
}

impl Broadcaster {
    /// A broadcaster over `table` with these policies.
    pub fn new(
        table: SharedRoomTable,
        policies: Arc<DeliveryPolicies>,
        counters: Arc<HubCounters>,
        stats: Arc<ActorStats>,
    ) -> Self {
        Broadcaster {
            table,
            policies,
            counters,
            stats,
            logs: HashMap::new(),
            preserved: HashMap::new(),
            dedupe: HashMap::new(),
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
        if let Some(id) = &msg.dedupe_id {
            if !policy.dedupe_window.is_zero()
                && self
                    .dedupe
                    .entry(nsp.clone())
                    .or_default()
                    .is_duplicate(id, policy.dedupe_window)
            {
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
            let log = self.logs.entry(nsp.clone()).or_default();
            log.next += 1;
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
                    let offline = room.starts_with(USER_ROOM_PREFIX);
                    let buffering = if offline {
                        RoomBuffering::for_user(&policy)
                    } else {
                        RoomBuffering::for_room(&policy)
                    };
                    table.buffer(&nsp, &room, &frames, buffering, &self.counters, offline);
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
            let log = self.logs.entry(nsp).or_default();
            log.entries.push_back(LoggedPacket {
                offset,
                at: Instant::now(),
                frames,
                target: msg.target,
            });
            expire_log(log, policy.recovery);
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

    fn expire(&mut self) {
        let policies = self.policies.clone();
        self.preserved
            .retain(|_, s| s.at.elapsed().unwrap_or_default() <= policies.of(&s.nsp).recovery);
        for (nsp, log) in &mut self.logs {
            expire_log(log, policies.of(nsp).recovery);
        }
    }
}

fn expire_log(log: &mut PacketLog, window: Duration) {
    let now = Instant::now();
    while log
        .entries
        .front()
        .is_some_and(|p| now.duration_since(p.at) > window)
        || log.entries.len() > RECOVERY_LOG_MAX
    {
        log.entries.pop_front();
    }
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
        ctx.run_interval(Duration::from_secs(5), |act, _| act.expire());
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
        assert!(!window.is_duplicate("a", w));
        assert!(window.is_duplicate("a", w));
        assert!(!window.is_duplicate("b", w));
        std::thread::sleep(Duration::from_millis(80));
        assert!(!window.is_duplicate("a", w));
    }

    #[test]
    fn offsets_round_trip() {
        assert_eq!(parse_offset(&format_offset(0xabc)), Some(0xabc));
        assert_eq!(parse_offset("zz"), None);
    }
}
