//! The Broadcaster: resolves a target to sockets through the membership the RoomSupervisor
//! publishes, encodes the event once and hands the shared frames to each recipient's session
//! (one mailbox hop), and owns everything kept for later: the room buffers and offline
//! queues, the recovery logs, the dedupe windows, the sockets preserved for recovery, the
//! pending run of gathered deliveries and the SSE subscribers.
//!
//! Every broadcast gets a number (see `sequence`) while the membership's read lock is held
//! for its resolution; buffered and logged events keep it. A join or a recovery reaches the
//! Broadcaster as a [`Replay`] with the cutoff the RoomSupervisor took when it added the
//! member, and the Broadcaster answers the session with the events numbered up to it.
//!
//! Everything it keeps is bounded in size (per namespace: `max_buffer_bytes`,
//! `recovery_max_bytes`, `dedupe_max_ids`) and in time: a sweep every [`SWEEP_EVERY`]
//! expires buffered events, recovery log entries, dedupe ids and preserved sockets whether
//! or not their room, user or namespace is touched again, then publishes their sizes
//! (a [`RetentionView`]) for `/metrics`.

mod dedupe;
mod fanout;
mod history;
mod recovery_log;
mod remote_replay;
mod room_buffers;
mod sequence;
mod subscribers;

pub use subscribers::{TooManyFieldSets, MAX_SUBSCRIBER_FIELD_SETS};

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use serde_json::Value;
use siohub_protocol::{Parser, Payload, SocketPacket};

use crate::asked::Asked;
use crate::cluster_outbox::{ClusterOutbox, OutboundBroadcast, RemoteBroadcast};
use crate::delivery::{Deliver, DeliverWithAck, ReplayReply, Replayed};
use crate::fields::{filter_frames, frames_for, FieldSet, Reach};
use crate::history::HistoryStamp;
use crate::hub_messages::{
    Broadcast, BroadcastOutcome, BroadcastWithAck, Preserve, PreservedSocket, Recovered,
};
use crate::ids::next_ack_id;
use crate::policy::{user_room, DeliveryPolicies, DeliveryPolicy, RoomBuffering};
use crate::policy::{BufferPolicy, USER_ROOM_PREFIX};
use crate::recovery_store::{RemoteMissed, SharedRecoveryStore, StoredEvent};
use crate::retention::{NamespaceRetention, RetentionSnapshot, RetentionView};
use crate::room_history::{
    HistoryKey, HistoryLoadStart, HistoryLoaded, LoadCount, LoadOutcome, LoadSkip, OutboundHistory,
};
use crate::room_supervisor::{InitialRooms, Membership, MembershipView, RecoveryRequest};
use crate::session::Session;
use crate::stats::{ActorStats, DropReason, HubCounters};
use crate::subscription::{Subscriber, Subscription};
use crate::supervision::guarded;
use crate::target::Target;
use crate::wire_frame::{socket_packet_frames, Frames};

use dedupe::DedupeWindow;
use fanout::{send_each, Run};
use recovery_log::{
    bound_log, expire_log, format_offset, parse_offset, target_bytes, LoggedPacket, PacketLog,
};

pub use history::ReadHistory;
pub use recovery_log::RECOVERY_LOG_MAX;
pub use room_buffers::{BufferSizes, BufferSizesView, EVENT_OVERHEAD};
pub use sequence::BroadcastSequence;

/// The longest gathered deliveries wait while broadcasts keep arriving.
const FLUSH_AT_LATEST: Duration = Duration::from_millis(2);

/// How often expired buffers, log entries, dedupe ids and preserved sockets are removed.
/// Each sweep costs what expired (everything is kept oldest first), so it can run often.
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Where a replay's events come from: room buffers (per room, as its buffering says) and,
/// for a recovered socket, the recovery log.
#[derive(Debug, Clone, Default)]
pub struct ReplaySource {
    /// Rooms whose buffered events are replayed.
    pub rooms: InitialRooms,
    /// The recovery asked for, if any.
    pub recovery: Option<RecoveryRequest>,
}

/// Answers a socket just added to rooms (by the RoomSupervisor, which took `upto` under
/// its write lock) with the events numbered up to `upto` that it would otherwise miss.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Replay {
    /// The namespace.
    pub nsp: String,
    /// The socket id.
    pub socket_id: Arc<str>,
    /// What to replay.
    pub source: ReplaySource,
    /// The cutoff: the last broadcast resolved without the socket.
    pub upto: u64,
    /// Where the events go (the session waits on it).
    pub reply: ReplayReply,
}

/// Takes a preserved socket for a recovering client: answered when the socket is preserved
/// in this namespace, within the recovery window, and the client's offset is still in the
/// log (else events it missed may be gone and recovery would lie).
#[derive(Message)]
#[rtype(result = "Option<Recovered>")]
pub struct TakePreserved {
    /// The namespace.
    pub nsp: String,
    /// The private id the client sent.
    pub pid: String,
    /// The last offset the client saw.
    pub offset: String,
    /// The session the socket comes back on: while it is gone, the state is kept for
    /// another attempt.
    pub session: Addr<Session>,
}

/// Subscribes to the events of a namespace (optionally only those sent to `rooms`).
#[derive(Message)]
#[rtype(result = "Result<Subscription, TooManyFieldSets>")]
pub struct Subscribe {
    /// The namespace.
    pub nsp: String,
    /// The rooms; empty = every event of the namespace.
    pub rooms: Vec<String>,
    /// The fields it gets of events whose data is one object (`None`: everything).
    pub fields: Option<FieldSet>,
    /// Events queued for the consumer at most; one more cuts it off.
    pub capacity: usize,
}

/// Ends a subscription.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    /// The namespace.
    pub nsp: String,
    /// The subscription id.
    pub id: u64,
}

/// Events buffered in a room that are younger than `ttl`.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CountBuffered {
    /// The namespace.
    pub nsp: String,
    /// The room.
    pub room: String,
    /// The age limit.
    pub ttl: Duration,
}

/// What the Broadcaster reads and publishes, shared with the hub.
pub struct BroadcasterLinks {
    /// The membership it resolves targets with.
    pub membership: MembershipView,
    /// The broadcast numbering it advances.
    pub sequence: BroadcastSequence,
    /// The policies.
    pub policies: Arc<DeliveryPolicies>,
    /// The hub-wide counters.
    pub counters: Arc<HubCounters>,
    /// Its own stats.
    pub stats: Arc<ActorStats>,
    /// Where the sizes of what it keeps are published.
    pub retention: RetentionView,
    /// Where the number of subscribers is published.
    pub subscriber_count: Arc<AtomicUsize>,
    /// The recovery store shared by the cluster's nodes, if any: logged events are
    /// appended to it, and its offset prefix makes this node's offsets unique.
    pub store: Option<SharedRecoveryStore>,
    /// Where broadcasts for the other nodes go (`None`: this node is alone).
    pub cluster: Option<ClusterOutbox>,
}

/// See the module documentation.
pub struct Broadcaster {
    membership: MembershipView,
    sequence: BroadcastSequence,
    policies: Arc<DeliveryPolicies>,
    counters: Arc<HubCounters>,
    stats: Arc<ActorStats>,
    logs: HashMap<String, PacketLog>,
    /// The other nodes' logged events delivered here, per namespace (with a shared
    /// recovery store only): what a recovery needs to replay each event once.
    remote_logs: HashMap<String, PacketLog>,
    preserved: HashMap<String, PreservedSocket>,
    dedupe: HashMap<String, DedupeWindow>,
    /// The key of the dedupe hashes (kept across restarts, like the windows).
    dedupe_key: RandomState,
    /// The last recovery offset handed out, in any namespace.
    next_offset: u64,
    /// Where the sizes of what is kept are published.
    view: RetentionView,
    buffers: room_buffers::RoomBuffers,
    subscribers: subscribers::Subscribers,
    /// Broadcast events gathered for one target and not handed out yet (see `fanout`).
    run: Option<Run>,
    /// Whether a timer will hand out the pending run (in case the mailbox count is off).
    flush_scheduled: bool,
    /// A hash of the previous broadcast's target: a run starts only when a target comes
    /// again (see `worth_a_run`).
    last_target: u64,
    /// See [`BroadcasterLinks::store`].
    store: Option<SharedRecoveryStore>,
    /// Where broadcasts for the other nodes go, when clustered.
    cluster: Option<ClusterOutbox>,
    /// The number of the last broadcast offered to the other nodes (see `room_history`).
    history_seq: u64,
    /// The load of the room histories from Redis in flight, if any.
    load: Option<PendingLoad>,
}

/// Joins of always-rooms wait at most this many at once for a history load; more are
/// answered at once (with what is held).
pub const MAX_HELD_REPLAYS: usize = 10_000;

/// A load of the room histories in flight (see `room_history`).
struct PendingLoad {
    id: u64,
    /// When it started: events received live since go after the loaded ones.
    started: Instant,
    /// When the joins held stop waiting: a load started while another was in flight keeps
    /// the earlier one's, so a link that keeps resubscribing cannot hold a join for ever.
    deadline: Instant,
    /// The replays of joins that wait for it.
    held: Vec<Replay>,
}

/// One event to deliver to this node's sockets, from here or from another node.
struct LocalDelivery {
    target: Target,
    event: String,
    payload: Payload,
    volatile: bool,
    /// The recovery offset appended here (the event goes to the recovery log).
    offset: Option<u64>,
    /// Whether the last argument is a recovery offset (here or at the origin).
    skip_last: bool,
    /// What goes to the other nodes (a local broadcast, when clustered), completed with
    /// the frames once they are made.
    outbound: Option<OutboundBroadcast>,
    /// Its name in the cluster.
    key: Option<HistoryKey>,
}

impl Broadcaster {
    /// A broadcaster reading and publishing through `links`.
    pub fn new(links: BroadcasterLinks) -> Self {
        Broadcaster {
            membership: links.membership,
            sequence: links.sequence,
            policies: links.policies,
            counters: links.counters,
            stats: links.stats,
            logs: HashMap::new(),
            remote_logs: HashMap::new(),
            preserved: HashMap::new(),
            dedupe: HashMap::new(),
            dedupe_key: RandomState::new(),
            next_offset: 0,
            view: links.retention,
            buffers: room_buffers::RoomBuffers::default(),
            subscribers: subscribers::Subscribers::new(links.subscriber_count),
            run: None,
            flush_scheduled: false,
            last_target: 0,
            store: links.store,
            cluster: links.cluster,
            history_seq: 0,
            load: None,
        }
    }

    /// Where the sizes of the room buffers are published.
    pub fn buffer_sizes(&self) -> BufferSizesView {
        self.buffers.view()
    }

    /// Hands out the pending run, if any.
    fn deliver_run(&mut self) {
        if let Some(run) = self.run.take() {
            run.deliver();
        }
    }

    /// Makes sure a run left pending (more broadcasts were waiting) goes out soon even if
    /// the mailbox count is off.
    fn schedule_run_delivery(&mut self, ctx: &mut Context<Self>) {
        if self.run.is_none() || self.flush_scheduled {
            return;
        }
        self.flush_scheduled = true;
        ctx.run_later(FLUSH_AT_LATEST, |act, _| {
            act.flush_scheduled = false;
            act.deliver_run();
        });
    }

    /// Whether a broadcast to `target` is worth gathering into a run: only when the
    /// previous broadcast went to the same target (so an open run always goes to the
    /// target last seen). A run resolves its recipients into a list (a clone of each
    /// session's address), which pays off only when more events to the same target join
    /// it; broadcasts that take turns between targets (many rooms) are handed out at once,
    /// with nothing cloned per recipient.
    fn worth_a_run(&mut self, target: &Target) -> bool {
        let hash = self.dedupe_key.hash_one(target);
        std::mem::replace(&mut self.last_target, hash) == hash
    }

    /// Whether the event with `id` was seen within the namespace's dedupe window.
    fn is_duplicate(&mut self, nsp: &str, id: &str, policy: &DeliveryPolicy) -> bool {
        let key = self.dedupe_key.hash_one(id);
        let (duplicate, evicted) = self.dedupe.entry(nsp.to_owned()).or_default().check(
            key,
            policy.dedupe_window,
            policy.dedupe_max_ids,
        );
        if evicted > 0 {
            self.counters.dedupe_evicted(evicted);
            log::debug!(
                "namespace {}: dedupe window full ({} ids); the oldest id forgotten",
                crate::ClientText(nsp),
                policy.dedupe_max_ids
            );
        }
        if duplicate {
            self.counters.dropped(DropReason::Duplicate, 1);
            crate::limited!(
                info,
                "namespace {}: event id {} repeated within the dedupe window; dropped",
                crate::ClientText(nsp),
                crate::ClientText(id)
            );
        }
        duplicate
    }

    fn broadcast(&mut self, msg: Broadcast) -> BroadcastOutcome {
        let nsp = msg.target.nsp.clone();
        let policy = self.policies.of(&nsp);
        if let Some(id) = msg.dedupe_id.as_deref() {
            if !policy.dedupe_window.is_zero() && self.is_duplicate(&nsp, id, &policy) {
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
            payload.args.push(Value::String(self.offset_text(offset)));
        }
        // The other nodes get exactly what local recipients get, offset included.
        let mut key = None;
        let mut outbound = None;
        if self.cluster.is_some() && !self.only_local_sockets(&msg.target) {
            self.history_seq += 1;
            let seq = self.history_seq;
            let at_us = epoch_us();
            key = Some(HistoryKey {
                origin: None,
                seq,
                at_us,
            });
            outbound = Some(OutboundBroadcast {
                target: msg.target.clone(),
                event: msg.event.clone(),
                payload: payload.clone(),
                volatile: msg.volatile,
                history: Some(OutboundHistory {
                    seq,
                    rooms: history_rooms(&msg.target, &policy, msg.volatile),
                    size: policy.buffer_size,
                    ttl: policy.buffer_ttl,
                    at_us,
                    frames: Vec::new().into(),
                }),
            });
        }
        self.deliver_locally(LocalDelivery {
            target: msg.target,
            event: msg.event,
            payload,
            volatile: msg.volatile,
            offset,
            skip_last: offset.is_some(),
            outbound,
            key,
        })
    }

    /// Whether a target names only sockets of this node (no room, user or whole
    /// namespace, which may have members elsewhere): such a broadcast skips the cluster.
    fn only_local_sockets(&self, target: &Target) -> bool {
        if !target.rooms.is_empty() || !target.users.is_empty() || target.socket_ids.is_empty() {
            return false;
        }
        let members = self.membership.read();
        target
            .socket_ids
            .iter()
            .all(|id| members.session_of(&target.nsp, id).is_some())
    }

    /// A broadcast from another node: delivered, buffered and shown to subscribers like a
    /// local one, never sent back to the cluster and never given an offset here.
    fn remote_broadcast(&mut self, msg: RemoteBroadcast) -> BroadcastOutcome {
        self.deliver_locally(LocalDelivery {
            target: msg.target,
            event: msg.event,
            payload: msg.payload,
            volatile: msg.volatile,
            offset: None,
            skip_last: msg.origin_offset,
            outbound: None,
            key: msg.key,
        })
    }

    /// Encodes an event once and hands it to this node's recipients (or the pending run),
    /// keeps it in the rooms that buffer it, shows it to subscribers and, with an offset,
    /// logs it for recovery.
    fn deliver_locally(&mut self, msg: LocalDelivery) -> BroadcastOutcome {
        let nsp = msg.target.nsp.clone();
        let policy = self.policies.of(&nsp);
        let offset = msg.offset;
        let origin = self.origin_offset(&msg, &policy);
        // The offset another node appended, which rooms that keep the event list it with
        // in their history (only looked at where rooms may keep it).
        let may_keep = policy.buffer != BufferPolicy::Drop || policy.offline_queue;
        let carried = match (offset, msg.skip_last && may_keep) {
            (None, true) => msg
                .payload
                .args
                .last()
                .and_then(Value::as_str)
                .map(Arc::from),
            _ => None,
        };
        let packet = SocketPacket::event_with_payload(&nsp, &msg.event, msg.payload);
        let parser = self.policies.parser();
        let frames: Frames = socket_packet_frames(&packet, parser).into();
        if let (Some(mut outbound), Some(outbox)) = (msg.outbound, &self.cluster) {
            if let Some(history) = outbound.history.as_mut().filter(|h| !h.rooms.is_empty()) {
                history.frames = frames.clone();
            }
            outbox.offer(outbound);
        }
        let shared_nsp: Arc<str> = nsp.as_str().into();
        let worth_a_run = self.worth_a_run(&msg.target);
        let gathering = (self.stats.mailbox_depth() > 0 || self.run.is_some()) && worth_a_run;
        // Encoded once per distinct field set of the recipients (see `crate::fields`).
        let (packet_ref, full, skip_last) = (&packet, &frames, msg.skip_last);
        let encode =
            |fields: Option<&FieldSet>| frames_for(packet_ref, fields, skip_last, parser, full);

        if !gathering {
            // A run to another target was broadcast before this event: it goes first.
            self.deliver_run();
        }
        let mut closed_run = None;
        let (recipients, number, keeps) = {
            let members = self.membership.read();
            let number = self.sequence.advance();
            let recipients = if gathering {
                let version = self.membership.version();
                let (target, volatile) = (&msg.target, msg.volatile);
                let run = &mut self.run;
                let (count, closed) = gather(
                    run,
                    &members,
                    version,
                    target,
                    &shared_nsp,
                    encode,
                    volatile,
                );
                closed_run = closed;
                count
            } else {
                // Sent under the read lock: `do_send` never blocks, and only the
                // RoomSupervisor's writes wait for it.
                send_each(
                    &members,
                    &msg.target,
                    encode,
                    |socket_id, session, frames| {
                        session.do_send(Deliver {
                            nsp: shared_nsp.clone(),
                            socket_id: socket_id.clone(),
                            frames: frames.clone(),
                            volatile: msg.volatile,
                        });
                    },
                )
            };
            // `if_no_clients` asks whether a room has members at this broadcast's number.
            let keeps = match msg.volatile {
                true => Vec::new(),
                false => rooms_that_keep(&members, &msg.target, &policy),
            };
            (recipients, number, keeps)
        };
        // A run this event could not join goes out now, outside the lock.
        if let Some(run) = closed_run {
            run.deliver();
        }
        // A socket the event may reach through another of its rooms (or a user, or its id)
        // must not get it again when it joins a room that kept it: the target goes with it.
        let other_paths = msg.target.rooms.len() + msg.target.users.len() > 1
            || !msg.target.socket_ids.is_empty();
        let reach = (!keeps.is_empty() && other_paths).then(|| Arc::new(msg.target.clone()));
        // The offset as clients see it, formatted once for the room histories and the store.
        let offset_text: Option<Arc<str>> = offset
            .filter(|_| !keeps.is_empty() || self.store.is_some())
            .map(|o| self.offset_text(o).into());
        let stamp =
            (!keeps.is_empty()).then(|| self.history_stamp(offset_text.clone().or(carried)));
        for (room, buffering) in keeps {
            let max = policy.max_buffer_bytes;
            let counters = &self.counters;
            let kept = room_buffers::Keep {
                number,
                frames: &frames,
                reach: reach.as_ref(),
                key: msg.key.clone(),
                stamp: stamp.clone(),
            };
            self.buffers
                .keep_named(&nsp, &room, kept, buffering, max, counters);
        }
        self.subscribers
            .notify(&msg.target, &packet, msg.skip_last, &self.counters);
        // No broadcast waits: hand out the run now.
        if self.stats.mailbox_depth() == 0 {
            self.deliver_run();
        }
        let bytes: usize = frames.iter().map(|f| f.len()).sum();
        self.counters
            .sent(recipients * frames.len(), recipients * bytes);
        if let Some(offset) = offset {
            if let Some(text) = offset_text {
                self.share(&nsp, &policy, text, &msg.target, &frames);
            }
            self.log(&nsp, &policy, offset, number, frames, msg.target, bytes);
        } else if let Some(origin) = origin {
            let logged = LoggedPacket {
                offset: 0,
                number,
                at: Instant::now(),
                cost: bytes + target_bytes(&msg.target) + EVENT_OVERHEAD,
                frames,
                target: msg.target,
                origin: None,
            };
            self.log_remote(&nsp, &policy, origin, logged);
        }
        self.counters.broadcast(recipients as u64);
        BroadcastOutcome {
            recipients,
            duplicate: false,
        }
    }

    /// The offset another node appended to an event it logged, when this node keeps such
    /// events (a shared store, a recovery namespace).
    fn origin_offset(&self, msg: &LocalDelivery, policy: &DeliveryPolicy) -> Option<Arc<str>> {
        let wanted = self.store.is_some() && msg.offset.is_none() && msg.skip_last;
        if !wanted || msg.volatile || policy.recovery.is_zero() {
            return None;
        }
        msg.payload.args.last()?.as_str().map(Arc::from)
    }

    /// Keeps another node's event (see `remote_replay`), bounded as the own log is.
    fn log_remote(
        &mut self,
        nsp: &str,
        policy: &DeliveryPolicy,
        origin: Arc<str>,
        mut packet: LoggedPacket,
    ) {
        let Some((_, counter)) = remote_replay::split_offset(&origin) else {
            return;
        };
        packet.offset = counter;
        packet.origin = Some(origin);
        let log = self.remote_logs.entry(nsp.to_owned()).or_default();
        log.push(packet);
        expire_log(log, policy.recovery);
        let dropped = bound_log(log, policy.recovery_max_bytes);
        if dropped > 0 {
            self.counters.dropped(DropReason::RecoveryLogFull, dropped);
        }
    }

    /// The offset a kept event is listed with in `history`: the recovery offset it carries
    /// (appended here, or by the node that published it), else a new one from the same
    /// counter, in the same form, that only the history shows.
    fn history_stamp(&mut self, in_frames: Option<Arc<str>>) -> HistoryStamp {
        if let Some(offset) = in_frames {
            return HistoryStamp {
                offset,
                in_frames: true,
            };
        }
        self.next_offset += 1;
        HistoryStamp {
            offset: self.offset_text(self.next_offset).into(),
            in_frames: false,
        }
    }

    /// An offset as this node's clients get it: unique in the cluster when a store is
    /// shared (its prefix names this node).
    fn offset_text(&self, offset: u64) -> String {
        let prefix = self.store.as_ref().map_or("", |s| s.offset_prefix());
        format!("{prefix}{}", format_offset(offset))
    }

    /// Hands a logged event to the shared recovery store, if there is one (it queues it:
    /// nothing here waits on the store).
    fn share(
        &self,
        nsp: &str,
        policy: &DeliveryPolicy,
        offset: Arc<str>,
        target: &Target,
        frames: &Frames,
    ) {
        if let Some(store) = &self.store {
            let event = StoredEvent {
                offset,
                target: target.clone(),
                frames: frames.clone(),
            };
            store.append(nsp, event, policy.recovery);
        }
    }

    /// Keeps an event in its namespace's recovery log.
    #[allow(clippy::too_many_arguments)]
    fn log(
        &mut self,
        nsp: &str,
        policy: &DeliveryPolicy,
        offset: u64,
        number: u64,
        frames: Frames,
        target: Target,
        bytes: usize,
    ) {
        let log = self.logs.entry(nsp.to_owned()).or_default();
        let cost = bytes + target_bytes(&target) + EVENT_OVERHEAD;
        log.push(LoggedPacket {
            offset,
            number,
            at: Instant::now(),
            frames,
            target,
            cost,
            origin: None,
        });
        expire_log(log, policy.recovery);
        let dropped = bound_log(log, policy.recovery_max_bytes);
        if dropped > 0 {
            self.counters.dropped(DropReason::RecoveryLogFull, dropped);
            log::debug!(
                "namespace {}: recovery log full; {dropped} oldest events dropped",
                crate::ClientText(nsp)
            );
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
        let parser = self.policies.parser();
        let frames: Frames = socket_packet_frames(&packet, parser).into();
        let shared_nsp: Arc<str> = target.nsp.as_str().into();
        let recipients = {
            let members = self.membership.read();
            self.sequence.advance();
            let encode =
                |fields: Option<&FieldSet>| frames_for(&packet, fields, false, parser, &frames);
            send_each(&members, &target, encode, |socket_id, session, frames| {
                session.do_send(DeliverWithAck {
                    nsp: shared_nsp.clone(),
                    socket_id: socket_id.clone(),
                    frames: frames.clone(),
                    ack_id,
                    timeout: msg.timeout,
                    reports: msg.reports.clone(),
                });
            })
        };
        self.subscribers
            .notify(&target, &packet, false, &self.counters);
        self.counters.broadcast(recipients as u64);
        BroadcastOutcome {
            recipients,
            duplicate: false,
        }
    }

    fn take_preserved(&mut self, msg: TakePreserved) -> Option<Recovered> {
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
        log.knows(offset).then_some(Recovered {
            socket,
            offset,
            remote: None,
        })
    }

    /// The events a socket added to rooms with cutoff `upto` would otherwise miss: what
    /// the recovery log holds for it after its offset, then the rooms' buffered events.
    /// Picked under the membership's read lock with what the socket gets of each; shaped
    /// to its field sets after the lock is released.
    fn replay(&mut self, msg: &Replay) -> Replayed {
        // Gathered events were resolved before the cutoff: they go out first.
        self.deliver_run();
        let mut picked: Vec<(Frames, Reach)> = Vec::new();
        if let Some(recovery) = &msg.source.recovery {
            if let Some(remote) = &recovery.remote {
                picked.extend(self.replay_remote(msg, remote, &recovery.rooms));
            }
        }
        {
            let members = self.membership.read();
            // A recovery from the shared store was picked above.
            let local = msg.source.recovery.as_ref().filter(|r| r.remote.is_none());
            if let (Some(recovery), Some(log)) = (local, self.logs.get(&msg.nsp)) {
                let rooms = &recovery.rooms;
                let missed = log.missed(recovery.offset, msg.upto, &msg.socket_id, rooms);
                picked.extend(missed.map(|(kept, target)| {
                    let reach = members.reach_of(&msg.nsp, &msg.socket_id, target);
                    (kept.clone(), reach)
                }));
            }
            for (room, buffering) in &msg.source.rooms {
                let had = |number: u64, target: &Target| {
                    members.reached_otherwise(&msg.nsp, &msg.socket_id, room, number, target)
                };
                let kept = self
                    .buffers
                    .replay(&msg.nsp, room, *buffering, msg.upto, had);
                let reach = Reach::of(members.fields_of(&msg.nsp, room, &msg.socket_id).as_ref());
                picked.extend(kept.into_iter().map(|f| (f, reach.clone())));
            }
        }
        let parser = self.policies.parser();
        let recovering = !self.policies.of(&msg.nsp).recovery.is_zero();
        let frames = shape_replay(picked, parser, recovering);
        Replayed {
            frames,
            refused: None,
        }
    }

    /// What a socket recovered from the shared store missed (see `remote_replay`), each
    /// with what the socket gets of it.
    fn replay_remote(
        &self,
        msg: &Replay,
        remote: &RemoteMissed,
        rooms: &HashSet<String>,
    ) -> Vec<(Frames, Reach)> {
        let prefix = self.store.as_ref().map_or("", |s| s.offset_prefix());
        let logs = remote_replay::NodeLogs {
            own: self.logs.get(&msg.nsp),
            own_origin: prefix.strip_suffix('.').unwrap_or(prefix),
            remote: self.remote_logs.get(&msg.nsp),
        };
        let members = self.membership.read();
        let pick = |kept: &Frames, target: &Target| {
            let reach = members.reach_of(&msg.nsp, &msg.socket_id, target);
            (kept.clone(), reach)
        };
        remote_replay::replay(&logs, remote, msg.upto, &msg.socket_id, rooms, &pick)
    }

    /// A load of the room histories starts: joins of always-rooms wait for it, at most
    /// `timeout` (a load already in flight is replaced, its waiting joins carried over).
    fn start_load(&mut self, msg: HistoryLoadStart, ctx: &mut Context<Self>) {
        let now = Instant::now();
        let (held, deadline) = match self.load.take() {
            Some(l) => (l.held, l.deadline),
            None => (Vec::new(), now + msg.timeout),
        };
        self.load = Some(PendingLoad {
            id: msg.id,
            started: now,
            deadline,
            held,
        });
        let id = msg.id;
        ctx.run_later(deadline.saturating_duration_since(now), move |act, _| {
            if act.load.as_ref().is_some_and(|l| l.id == id) {
                if let Some(outbox) = &act.cluster {
                    outbox.history_counters().load(LoadCount::TimedOut);
                }
                crate::limited!(
                    warn,
                    "room history: the load from Redis took longer than {} ms; joins of always-rooms answered without it (it is merged when it comes)",
                    msg.timeout.as_millis()
                );
                act.end_load();
            }
        });
    }

    /// Merges what a load read into the room buffers and, when it is the load in flight,
    /// answers the joins that waited for it.
    fn finish_load(&mut self, msg: HistoryLoaded) {
        let current = self.load.as_ref().filter(|l| l.id == msg.id);
        let started = current.map_or_else(Instant::now, |l| l.started);
        let counters = self.cluster.as_ref().map(|o| o.history_counters().clone());
        for (nsp, events) in msg.namespaces {
            let policy = self.policies.of(&nsp);
            if policy.buffer != BufferPolicy::Always || events.is_empty() {
                continue;
            }
            let buffering = RoomBuffering::for_room(&policy);
            let max = policy.max_buffer_bytes;
            let merged = self.buffers.merge(&nsp, events, started, buffering, max);
            if let Some(counters) = &counters {
                counters.loaded(merged.added);
                for why in [LoadSkip::Duplicate, LoadSkip::Expired, LoadSkip::OverBound] {
                    counters.skipped(why, merged.skipped(why));
                }
            }
            log::info!(
                "room history: namespace {}: {} events loaded from Redis ({} held already, {} expired, {} over the bounds)",
                crate::ClientText(&nsp),
                merged.added,
                merged.duplicate,
                merged.expired,
                merged.over_bound
            );
        }
        if self.load.as_ref().is_some_and(|l| l.id == msg.id) {
            if let Some(counters) = &counters {
                counters.load(match msg.outcome {
                    LoadOutcome::Complete => LoadCount::Complete,
                    LoadOutcome::Failed => LoadCount::Failed,
                });
            }
            self.end_load();
        }
    }

    /// Ends the load in flight: the joins that waited get their replay now.
    fn end_load(&mut self) {
        let Some(load) = self.load.take() else {
            return;
        };
        for msg in load.held {
            let replayed = self.replay(&msg);
            let _ = msg.reply.send(replayed);
        }
    }

    /// The periodic sweep: removes whatever outlived its window (buffered events, log
    /// entries, dedupe ids, preserved sockets), then publishes the sizes of what is left.
    fn expire(&mut self) {
        let policies = self.policies.clone();
        self.preserved
            .retain(|_, s| s.at.elapsed().unwrap_or_default() <= policies.of(&s.nsp).recovery);
        let preserved: HashSet<&str> = self.preserved.values().map(|s| s.nsp.as_str()).collect();
        // An empty log goes once no socket of its namespace is connected or preserved: no
        // client can hold one of its offsets then (and a namespace no socket uses leaves
        // nothing behind).
        {
            let members = self.membership.read();
            self.logs.retain(|nsp, log| {
                expire_log(log, policies.of(nsp).recovery);
                !log.entries.is_empty()
                    || members.socket_count(nsp) > 0
                    || preserved.contains(nsp.as_str())
            });
        }
        self.remote_logs.retain(|nsp, log| {
            expire_log(log, policies.of(nsp).recovery);
            !log.entries.is_empty()
        });
        let now = Instant::now();
        self.dedupe.retain(|nsp, window| {
            window.expire(now, policies.of(nsp).dedupe_window);
            !window.seen.is_empty()
        });
        let expired = self.buffers.sweep();
        if expired > 0 {
            log::debug!("{expired} buffered events expired");
        }
        self.view.publish(self.retention());
    }

    /// The sizes of what the broadcaster keeps.
    fn retention(&self) -> RetentionSnapshot {
        // A namespace may have a recovery log, a dedupe window or both.
        let mut namespaces: HashMap<&str, NamespaceRetention> = HashMap::new();
        for (nsp, log) in self.logs.iter().chain(&self.remote_logs) {
            let entry = namespaces.entry(nsp).or_default();
            entry.recovery_events += log.entries.len();
            entry.recovery_bytes += log.bytes;
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

/// Adds a broadcast event to the pending run (starting a new run when the target or the
/// membership differs); returns how many sockets it goes to, and the previous run if this
/// one replaced it (for the caller to hand out once the lock is released).
fn gather(
    run: &mut Option<Run>,
    members: &Membership,
    version: u64,
    target: &Target,
    nsp: &Arc<str>,
    mut encode: impl FnMut(Option<&FieldSet>) -> Frames,
    volatile: bool,
) -> (usize, Option<Run>) {
    if let Some(pending) = run {
        if pending.extend(target, version, &mut encode, volatile) {
            return (pending.recipients(), None);
        }
    }
    let previous = run.take();
    let groups = match members.has_filtered(target) {
        true => members.resolve_grouped(target).groups,
        false => vec![(None, members.resolve(target))],
    };
    let (target, nsp) = (target.clone(), nsp.clone());
    let pending = Run::new(target, nsp, version, groups, encode, volatile);
    let count = pending.recipients();
    *run = Some(pending);
    (count, previous)
}

/// Replayed events as one socket gets them: each filtered to its field set, if it has one
/// (decoded, filtered and encoded again; replays are rare next to live events).
fn shape_replay(picked: Vec<(Frames, Reach)>, parser: Parser, recovering: bool) -> Vec<Frames> {
    let shape = |(kept, reach): (Frames, Reach)| match reach {
        Reach::Everything => kept,
        Reach::Fields(fields) => filter_frames(&kept, &fields, parser, recovering),
    };
    picked.into_iter().map(shape).collect()
}

/// The rooms of a target whose history Redis keeps for the other nodes: with
/// `buffer = "always"`, every room it names but user rooms (offline queues stay on their
/// node), unless the event is volatile.
fn history_rooms(target: &Target, policy: &DeliveryPolicy, volatile: bool) -> Vec<String> {
    if volatile || policy.buffer != BufferPolicy::Always || policy.buffer_size == 0 {
        return Vec::new();
    }
    target
        .rooms
        .iter()
        .filter(|r| !r.starts_with(USER_ROOM_PREFIX))
        .cloned()
        .collect()
}

/// Microseconds since the epoch, now.
pub(crate) fn epoch_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64
}

/// Whether a replay hands out the buffer of a room with `buffer = "always"` (whose history
/// a load may add to).
fn replays_history(source: &ReplaySource) -> bool {
    source
        .rooms
        .iter()
        .any(|(_, b)| b.policy == BufferPolicy::Always)
}

/// The rooms of a target that keep an event, with their buffering: a user room (named
/// directly, or through `users`) as the offline queue, any other room as the namespace's
/// buffer policy says (`if_no_clients`: only while it has no member).
fn rooms_that_keep(
    members: &Membership,
    target: &Target,
    policy: &DeliveryPolicy,
) -> Vec<(String, RoomBuffering)> {
    let nothing_kept = policy.buffer == BufferPolicy::Drop && !policy.offline_queue;
    if nothing_kept {
        return Vec::new();
    }
    let user_rooms = target.users.iter().map(|u| user_room(u));
    target
        .rooms
        .iter()
        .cloned()
        .chain(user_rooms)
        .filter_map(|room| {
            let buffering = if room.starts_with(USER_ROOM_PREFIX) {
                RoomBuffering::for_user(policy)
            } else {
                RoomBuffering::for_room(policy)
            };
            let keep = match buffering.policy {
                BufferPolicy::Drop => false,
                BufferPolicy::IfNoClients => !members.has_members(&target.nsp, &room),
                BufferPolicy::Always => true,
            };
            (keep && buffering.size > 0).then_some((room, buffering))
        })
        .collect()
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
        // Buffers, dedupe windows and recovery logs are kept as they were, only checked for
        // expiry; a run left pending goes out. The restart dropped the flush timer, if one
        // was set: the next run left pending sets a new one.
        self.flush_scheduled = false;
        self.deliver_run();
        // The load's timer went with the restart: the joins waiting for it go now.
        self.end_load();
        self.expire();
        log::warn!("Broadcaster restarted");
    }
}

/// Any request of the hub to the Broadcaster, handled even when its asker stopped waiting
/// (see `asked`): its handler counts it off the mailbox depth.
impl<M> Handler<Asked<M>> for Broadcaster
where
    M: Message + Send + 'static,
    M::Result: Send,
    Broadcaster: Handler<M>,
{
    type Result = ();

    fn handle(&mut self, asked: Asked<M>, ctx: &mut Context<Self>) {
        asked.handle_by(self, ctx);
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

impl Handler<RemoteBroadcast> for Broadcaster {
    type Result = MessageResult<RemoteBroadcast>;

    fn handle(&mut self, msg: RemoteBroadcast, ctx: &mut Context<Self>) -> Self::Result {
        let stats = self.stats.clone();
        let outcome = guarded(&stats, ctx, BroadcastOutcome::default(), |_| {
            self.remote_broadcast(msg)
        });
        self.schedule_run_delivery(ctx);
        MessageResult(outcome)
    }
}

impl Handler<BroadcastWithAck> for Broadcaster {
    type Result = MessageResult<BroadcastWithAck>;

    fn handle(&mut self, msg: BroadcastWithAck, ctx: &mut Context<Self>) -> Self::Result {
        // Gathered events go first, so every recipient sees broadcasts in order.
        self.deliver_run();
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

impl Handler<TakePreserved> for Broadcaster {
    type Result = MessageResult<TakePreserved>;

    fn handle(&mut self, msg: TakePreserved, ctx: &mut Context<Self>) -> Self::Result {
        let stats = self.stats.clone();
        MessageResult(guarded(&stats, ctx, None, |_| self.take_preserved(msg)))
    }
}

impl Handler<Replay> for Broadcaster {
    type Result = ();

    fn handle(&mut self, msg: Replay, ctx: &mut Context<Self>) {
        if let Some(load) = &mut self.load {
            if load.held.len() < MAX_HELD_REPLAYS && replays_history(&msg.source) {
                self.stats.handled();
                if let Some(outbox) = &self.cluster {
                    outbox.history_counters().held();
                }
                load.held.push(msg);
                return;
            }
        }
        let stats = self.stats.clone();
        let replayed = guarded(&stats, ctx, Replayed::default(), |_| self.replay(&msg));
        let _ = msg.reply.send(replayed);
    }
}

impl Handler<HistoryLoadStart> for Broadcaster {
    type Result = ();

    fn handle(&mut self, msg: HistoryLoadStart, ctx: &mut Context<Self>) {
        let stats = self.stats.clone();
        guarded(&stats, ctx, (), |ctx| self.start_load(msg, ctx))
    }
}

impl Handler<HistoryLoaded> for Broadcaster {
    type Result = ();

    fn handle(&mut self, msg: HistoryLoaded, ctx: &mut Context<Self>) {
        let stats = self.stats.clone();
        guarded(&stats, ctx, (), |_| self.finish_load(msg))
    }
}

impl Handler<Subscribe> for Broadcaster {
    type Result = MessageResult<Subscribe>;

    fn handle(&mut self, msg: Subscribe, _ctx: &mut Context<Self>) -> Self::Result {
        // Not `guarded`: nothing here can panic, and a subscription has no fallback value.
        self.stats.handled();
        let (subscriber, subscription) =
            Subscriber::new(&msg.nsp, msg.rooms, msg.fields, msg.capacity);
        if let Err(e) = self.subscribers.subscribe(&msg.nsp, subscriber) {
            self.counters
                .refused(crate::stats::RefusalReason::SubscriberFieldSets);
            return MessageResult(Err(e));
        }
        MessageResult(Ok(subscription))
    }
}

impl Handler<Unsubscribe> for Broadcaster {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, ctx: &mut Context<Self>) {
        let stats = self.stats.clone();
        guarded(&stats, ctx, (), |_| {
            self.subscribers.unsubscribe(&msg.nsp, msg.id)
        })
    }
}

impl Handler<CountBuffered> for Broadcaster {
    type Result = usize;

    fn handle(&mut self, msg: CountBuffered, ctx: &mut Context<Self>) -> usize {
        let stats = self.stats.clone();
        guarded(&stats, ctx, 0, |_| {
            self.buffers.buffered(&msg.nsp, &msg.room, msg.ttl)
        })
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
