//! The RoomSupervisor: the only writer of room membership (see `membership`). Sessions ask
//! it to add their sockets (with their first rooms), to join and leave rooms and to remove
//! their sockets; it publishes the membership read-mostly to the Broadcaster and the `Hub`.
//!
//! A change that may owe the socket a replay takes its cutoff (the last broadcast number)
//! under the write lock and goes on to the Broadcaster, which answers the session with the
//! events resolved without the socket; when nothing can be owed (the rooms buffer nothing
//! and no recovery is asked) the RoomSupervisor answers the session itself.
//!
//! After a restart it asks every live session to announce its sockets and rooms again: the
//! sessions are the source of truth. The published membership outlives the actor instance,
//! so readers go on resolving broadcasts against it while it is reconciled: each announced
//! socket replaces its own entry (under one write lock, so no reader sees it missing), and
//! once a session said it announced everything ([`MembershipAnnounced`]), its sockets that
//! it no longer has (a change the crash cut short) leave. Sockets of sessions that ended
//! leave at once. A member that was in a room before and after the restart is never
//! missing from it in between.

mod membership;
mod presence;

use std::collections::HashSet;
use std::sync::Arc;

use actix::prelude::*;

use crate::broadcaster::{BroadcastSequence, Broadcaster, Replay, ReplaySource};
use crate::connection_manager::SessionRegistry;
use crate::delivery::{ReplayReply, Replayed};
use crate::fields::{FieldSet, FieldsError, FieldsUpdate};
use crate::messages::AnnounceMembership;
use crate::policy::{BufferPolicy, DeliveryPolicies, RoomBuffering};
use crate::session::SessionAddr;
use crate::stats::ActorStats;
use crate::supervision::guarded;

pub(crate) use membership::MembershipWriter;
pub use membership::{
    Membership, MembershipRead, MembershipView, Recipients, RoomMember, SocketLife,
};
pub use presence::PRESENCE_EVENT;
use presence::{Change, Outcome, Presence, RoomKey};

/// A socket's first rooms, each with what joining it replays.
pub type InitialRooms = Vec<(String, RoomBuffering)>;

/// Connection state recovery asked for by a socket being added: the events logged after
/// `offset` that targeted it (with these rooms) are replayed.
#[derive(Debug, Clone)]
pub struct RecoveryRequest {
    /// The last offset the client saw.
    pub offset: u64,
    /// The rooms the socket had when it disconnected.
    pub rooms: HashSet<String>,
    /// What the shared recovery store says it missed, when it was recovered from there.
    pub remote: Option<Arc<crate::recovery_store::RemoteMissed>>,
}

/// A session's socket joined a namespace: add it with its first rooms (a recovered
/// socket's rooms, the user room), and answer with what it missed once it is in.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AddSocket {
    /// The namespace.
    pub nsp: String,
    /// The socket id.
    pub socket_id: Arc<str>,
    /// Which life of the socket id this is (see [`next_incarnation`]).
    pub incarnation: u64,
    /// Its session.
    pub session: SessionAddr,
    /// Its first rooms.
    pub rooms: InitialRooms,
    /// The recovery it asks for, if any.
    pub recovery: Option<RecoveryRequest>,
    /// The field sets it has in some of its rooms (a recovered or re-announced socket).
    pub fields: Vec<(String, FieldSet)>,
    /// Where the replay goes; `None` for a quiet re-announcement (after a restart).
    pub reply: Option<ReplayReply>,
}

/// A socket joins a room. Answered on `reply` with the events replayed to it; the reply is
/// dropped unanswered when the socket (this incarnation) is not connected.
///
/// Sent with `do_send` and answered on its own channel rather than through `send`'s reply:
/// `send` queues nothing while the mailbox is full (only once its future is polled), so a
/// `LeaveRoom` sent right after could overtake the join and leave a stale member.
#[derive(Message)]
#[rtype(result = "()")]
pub struct JoinRoom {
    /// The namespace.
    pub nsp: String,
    /// The room.
    pub room: String,
    /// The socket id.
    pub socket_id: Arc<str>,
    /// Its incarnation.
    pub incarnation: u64,
    /// The room's buffering (what to replay).
    pub buffering: RoomBuffering,
    /// The field set to take in the room, if the join names one (checked before the
    /// socket is added: a refusal leaves it out, answered in [`Replayed::refused`]).
    pub fields: Option<FieldsUpdate>,
    /// Where the replay goes.
    pub reply: ReplayReply,
}

/// A socket changes its field set in one of its rooms.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetRoomFields {
    /// The namespace.
    pub nsp: String,
    /// The room.
    pub room: String,
    /// The socket id.
    pub socket_id: Arc<str>,
    /// Its incarnation.
    pub incarnation: u64,
    /// The change.
    pub update: FieldsUpdate,
    /// Told once the membership has the new set, or why not.
    pub reply: futures::channel::oneshot::Sender<Result<(), FieldsError>>,
}

/// A socket leaves a room.
#[derive(Message)]
#[rtype(result = "()")]
pub struct LeaveRoom {
    /// The namespace.
    pub nsp: String,
    /// The room.
    pub room: String,
    /// The socket id.
    pub socket_id: Arc<str>,
    /// Its incarnation.
    pub incarnation: u64,
    /// Told once the membership no longer has the socket in the room.
    pub reply: futures::channel::oneshot::Sender<()>,
}

/// A socket left its namespace: forget it and its rooms, if it is still this incarnation.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoveSocket {
    /// The namespace.
    pub nsp: String,
    /// The socket id.
    pub socket_id: Arc<str>,
    /// Its incarnation.
    pub incarnation: u64,
}

/// One socket of a session that ended.
#[derive(Debug, Clone)]
pub struct EndedSocket {
    /// The namespace.
    pub nsp: String,
    /// The socket id.
    pub socket_id: Arc<str>,
    /// Its incarnation: a removal only removes this life of the socket.
    pub incarnation: u64,
}

/// The sockets of a session that ended leave every room (sent by the ConnectionManager).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoveSessionSockets {
    /// The sockets.
    pub sockets: Vec<EndedSocket>,
}

/// A session announced every socket it has (after [`AnnounceMembership`], behind its
/// [`AddSocket`] announcements): the supervisor forgets this session's sockets that it
/// held before its restart and that the session does not list.
#[derive(Message)]
#[rtype(result = "()")]
pub struct MembershipAnnounced {
    /// The session.
    pub session: SessionAddr,
    /// Its sockets (connected, or being added), each with its incarnation.
    pub sockets: Vec<SocketLife>,
}

/// How long after a restart the supervisor waits for the sessions' announcements before it
/// forgets the sockets of the sessions that ended without one.
const RECONCILE_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// A fresh incarnation number: one per socket a session adds. A recovered socket keeps its
/// id but gets a new incarnation, so a removal still queued for its old life removes
/// nothing.
pub fn next_incarnation() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// See the module documentation.
pub struct RoomSupervisor {
    writer: MembershipWriter,
    sequence: BroadcastSequence,
    broadcaster: Addr<Broadcaster>,
    /// The Broadcaster's stats, to count what is forwarded to it.
    broadcaster_stats: Arc<ActorStats>,
    registry: SessionRegistry,
    stats: Arc<ActorStats>,
    /// The namespaces' policies (which of them have presence events).
    policies: Arc<DeliveryPolicies>,
    /// The presence batches gathering now.
    presence: Presence,
    /// The hub-wide counters (presence events sent, batches gathering).
    counters: Arc<crate::stats::HubCounters>,
    /// After a restart: the sockets it held, by session, until each session's
    /// [`MembershipAnnounced`] (bounded by the sessions alive at the restart).
    reconciling: std::collections::HashMap<SessionAddr, Vec<SocketLife>>,
}

/// What the RoomSupervisor works with besides the membership it writes.
pub struct RoomSupervisorLinks {
    /// The broadcast numbering (for cutoffs).
    pub sequence: BroadcastSequence,
    /// Where replays are resolved.
    pub broadcaster: Addr<Broadcaster>,
    /// The Broadcaster's stats.
    pub broadcaster_stats: Arc<ActorStats>,
    /// The sessions, for a rebuild.
    pub registry: SessionRegistry,
    /// Its own stats.
    pub stats: Arc<ActorStats>,
    /// The namespaces' policies.
    pub policies: Arc<DeliveryPolicies>,
    /// The hub-wide counters.
    pub counters: Arc<crate::stats::HubCounters>,
}

impl RoomSupervisor {
    /// The supervisor writing the membership `writer` opens.
    pub(crate) fn new(writer: MembershipWriter, links: RoomSupervisorLinks) -> Self {
        RoomSupervisor {
            writer,
            sequence: links.sequence,
            broadcaster: links.broadcaster,
            broadcaster_stats: links.broadcaster_stats,
            registry: links.registry,
            stats: links.stats,
            policies: links.policies,
            presence: Presence::default(),
            counters: links.counters,
            reconciling: std::collections::HashMap::new(),
        }
    }

    /// Removes sockets (these lives of them) from the membership, with their presence
    /// changes.
    fn prune(&mut self, sockets: Vec<SocketLife>, ctx: &mut Context<Self>) {
        if sockets.is_empty() {
            return;
        }
        let policies = self.policies.clone();
        let mut changes = Vec::new();
        {
            let mut members = self.writer.write();
            for s in sockets {
                let (nsp, id) = (&s.nsp, &s.socket_id);
                let before = policies
                    .of(nsp)
                    .presence
                    .events
                    .then(|| members.socket_entry(nsp, id, Some(s.incarnation)))
                    .flatten();
                members.remove_socket(nsp, id, Some(s.incarnation));
                changes.extend(removed(&members, nsp, id, before));
            }
        }
        self.announce(changes, ctx);
    }

    /// The grace after a restart is over: the sockets of sessions that ended without
    /// announcing leave; a live session's announcement is still on its way (a `do_send` to
    /// a live session is always queued) and needs nothing more.
    fn end_reconcile(&mut self, ctx: &mut Context<Self>) {
        let left: Vec<SocketLife> = std::mem::take(&mut self.reconciling)
            .into_iter()
            .filter(|(session, _)| !session.connected())
            .flat_map(|(_, sockets)| sockets)
            .collect();
        self.prune(left, ctx);
    }

    /// Whether namespace `nsp` has presence events.
    fn presence_on(&self, nsp: &str) -> bool {
        self.policies.of(nsp).presence.events
    }

    /// Tells the rooms' members about membership changes (see `presence`).
    fn announce(&mut self, changes: Vec<Change>, ctx: &mut Context<Self>) {
        for change in changes {
            let policy = self.policies.of(&change.nsp).presence;
            let key: RoomKey = (change.nsp.clone(), change.room.clone());
            match self.presence.change(&policy, change) {
                Outcome::Nothing | Outcome::Batched(None) => {}
                Outcome::Send(event) => {
                    self.counters.presence_sent(false, 0);
                    self.send_presence(*event);
                }
                Outcome::Batched(Some(due)) => {
                    let pending = self.presence.pending_count();
                    self.counters.set_presence_pending(pending);
                    ctx.run_later(due, move |act, _| act.flush_presence(&key));
                }
            }
        }
    }

    /// Sends a room's gathered presence changes.
    fn flush_presence(&mut self, key: &RoomKey) {
        if let Some((event, omitted)) = self.presence.flush(key) {
            self.counters.presence_sent(true, omitted as u64);
            self.send_presence(event);
        }
        let pending = self.presence.pending_count();
        self.counters.set_presence_pending(pending);
    }

    fn send_presence(&self, event: crate::hub_messages::Broadcast) {
        self.broadcaster_stats.enqueued();
        self.broadcaster.do_send(event);
    }

    /// Hands the replay on: to the Broadcaster when something may be owed, else an empty
    /// answer straight to the session.
    fn route_replay(
        &self,
        nsp: String,
        socket_id: Arc<str>,
        rooms: InitialRooms,
        recovery: Option<RecoveryRequest>,
        upto: u64,
        reply: ReplayReply,
    ) {
        let rooms: InitialRooms = rooms
            .into_iter()
            .filter(|(_, b)| b.policy != BufferPolicy::Drop && b.size > 0)
            .collect();
        if rooms.is_empty() && recovery.is_none() {
            let _ = reply.send(Replayed::default());
            return;
        }
        self.broadcaster_stats.enqueued();
        self.broadcaster.do_send(Replay {
            nsp,
            socket_id,
            source: ReplaySource { rooms, recovery },
            upto,
            reply,
        });
    }
}

impl Actor for RoomSupervisor {
    type Context = Context<Self>;
}

impl Supervised for RoomSupervisor {
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        self.stats.restarted();
        // The batches' timers went with the old context: what they gathered goes now.
        for key in self.presence.pending() {
            self.flush_presence(&key);
        }
        // The membership stays published as it is; what the sessions announce corrects it
        // (see the module documentation).
        let (live, ended): (Vec<_>, Vec<_>) = self
            .writer
            .write()
            .sockets_by_session()
            .into_iter()
            .partition(|(session, _)| session.connected());
        self.reconciling = live.into_iter().collect();
        self.prune(ended.into_iter().flat_map(|(_, s)| s).collect(), ctx);
        let sessions = self.registry.all();
        log::warn!(
            "RoomSupervisor restarted; reconciling membership with {} sessions",
            sessions.len()
        );
        for session in sessions {
            session.do_send(AnnounceMembership);
        }
        ctx.run_later(RECONCILE_GRACE, |act, ctx| act.end_reconcile(ctx));
    }
}

impl Handler<AddSocket> for RoomSupervisor {
    type Result = ();

    fn handle(&mut self, msg: AddSocket, ctx: &mut Context<Self>) {
        let stats = self.stats.clone();
        // A quiet re-announcement (after a restart) changes nobody's presence.
        let presence = msg.reply.is_some() && self.presence_on(&msg.nsp);
        let changes = guarded(&stats, ctx, Vec::new(), |_| {
            let (upto, changes) = {
                let mut members = self.writer.write();
                // Read under the write lock: see `broadcaster::sequence`.
                let upto = self.sequence.current();
                let before = presence
                    .then(|| members.socket_entry(&msg.nsp, &msg.socket_id, None))
                    .flatten();
                let names = msg.rooms.iter().map(|(room, _)| room.clone());
                members.add_socket(
                    &msg.nsp,
                    msg.socket_id.clone(),
                    msg.session,
                    msg.incarnation,
                    names,
                    upto,
                );
                // Restored as they were: the bound held when they were taken.
                for (room, fields) in msg.fields {
                    let (nsp, id, fields) = (&msg.nsp, &msg.socket_id, Some(fields));
                    let _ = members.set_fields(nsp, &room, id, msg.incarnation, fields, usize::MAX);
                }
                let changes = match presence {
                    true => replaced(&members, &msg.nsp, &msg.socket_id, before),
                    false => Vec::new(),
                };
                (upto, changes)
            };
            if let Some(reply) = msg.reply {
                let (nsp, id) = (msg.nsp, msg.socket_id);
                self.route_replay(nsp, id, msg.rooms, msg.recovery, upto, reply);
            }
            changes
        });
        self.announce(changes, ctx);
    }
}

impl Handler<JoinRoom> for RoomSupervisor {
    type Result = ();

    fn handle(&mut self, msg: JoinRoom, ctx: &mut Context<Self>) {
        let stats = self.stats.clone();
        let presence = self.presence_on(&msg.nsp);
        let changes = guarded(&stats, ctx, Vec::new(), |_| {
            let (joined, changes) = {
                let mut members = self.writer.write();
                let upto = self.sequence.current();
                let (nsp, room, id) = (&msg.nsp, &msg.room, &msg.socket_id);
                if let Some(update) = &msg.fields {
                    let fields = update.fields.as_ref();
                    if let Err(refused) = members.check_fields(nsp, room, id, fields, update.max) {
                        drop(members);
                        let refused = Some(refused);
                        let _ = msg.reply.send(Replayed {
                            refused,
                            ..Replayed::default()
                        });
                        return Vec::new();
                    }
                }
                let joined = members.join(nsp, room, id, msg.incarnation, upto);
                if let (Ok(_), Some(update)) = (&joined, msg.fields) {
                    let (fields, max) = (update.fields, update.max);
                    let _ = members.set_fields(nsp, room, id, msg.incarnation, fields, max);
                }
                let changes = match (presence, &joined) {
                    (true, Ok(true)) => vec![one_change(&members, nsp, room, id, true)],
                    _ => Vec::new(),
                };
                (joined.map(|new| new.then_some(upto)), changes)
            };
            match joined {
                Ok(Some(upto)) => {
                    let rooms = vec![(msg.room, msg.buffering)];
                    self.route_replay(msg.nsp, msg.socket_id, rooms, None, upto, msg.reply);
                }
                // In the room already: everything the room kept since reached it live.
                Ok(None) => {
                    let _ = msg.reply.send(Replayed::default());
                }
                // Not connected: the reply is dropped, which tells the session.
                Err(_) => {}
            }
            changes
        });
        self.announce(changes, ctx);
    }
}

impl Handler<SetRoomFields> for RoomSupervisor {
    type Result = ();

    fn handle(&mut self, msg: SetRoomFields, ctx: &mut Context<Self>) {
        let stats = self.stats.clone();
        let result = guarded(&stats, ctx, Err(FieldsError::NotConnected), |_| {
            let mut members = self.writer.write();
            let (fields, max) = (msg.update.fields, msg.update.max);
            members.set_fields(
                &msg.nsp,
                &msg.room,
                &msg.socket_id,
                msg.incarnation,
                fields,
                max,
            )
        });
        let _ = msg.reply.send(result);
    }
}

impl Handler<LeaveRoom> for RoomSupervisor {
    type Result = ();

    fn handle(&mut self, msg: LeaveRoom, ctx: &mut Context<Self>) {
        let stats = self.stats.clone();
        let presence = self.presence_on(&msg.nsp);
        let changes = guarded(&stats, ctx, Vec::new(), |_| {
            let mut members = self.writer.write();
            let (nsp, room, id) = (&msg.nsp, &msg.room, &msg.socket_id);
            let user = presence.then(|| members.user_of(nsp, id)).flatten();
            let left = members.leave(nsp, room, id, msg.incarnation);
            match presence && left {
                true => vec![left_change(&members, nsp, room, id, user)],
                false => Vec::new(),
            }
        });
        let _ = msg.reply.send(());
        self.announce(changes, ctx);
    }
}

impl Handler<RemoveSocket> for RoomSupervisor {
    type Result = ();

    fn handle(&mut self, msg: RemoveSocket, ctx: &mut Context<Self>) {
        let stats = self.stats.clone();
        let presence = self.presence_on(&msg.nsp);
        let changes = guarded(&stats, ctx, Vec::new(), |_| {
            let mut members = self.writer.write();
            let (nsp, id) = (&msg.nsp, &msg.socket_id);
            let before = presence
                .then(|| members.socket_entry(nsp, id, Some(msg.incarnation)))
                .flatten();
            members.remove_socket(nsp, id, Some(msg.incarnation));
            removed(&members, nsp, id, before)
        });
        self.announce(changes, ctx);
    }
}

impl Handler<RemoveSessionSockets> for RoomSupervisor {
    type Result = ();

    fn handle(&mut self, msg: RemoveSessionSockets, ctx: &mut Context<Self>) {
        let stats = self.stats.clone();
        let policies = self.policies.clone();
        let changes = guarded(&stats, ctx, Vec::new(), |_| {
            let mut members = self.writer.write();
            let mut changes = Vec::new();
            for socket in &msg.sockets {
                let (nsp, id) = (&socket.nsp, &socket.socket_id);
                let before = policies
                    .of(nsp)
                    .presence
                    .events
                    .then(|| members.socket_entry(nsp, id, Some(socket.incarnation)))
                    .flatten();
                members.remove_socket(nsp, id, Some(socket.incarnation));
                changes.extend(removed(&members, nsp, id, before));
            }
            changes
        });
        self.announce(changes, ctx);
    }
}

impl Handler<MembershipAnnounced> for RoomSupervisor {
    type Result = ();

    fn handle(&mut self, msg: MembershipAnnounced, ctx: &mut Context<Self>) {
        let Some(held) = self.reconciling.remove(&msg.session) else {
            return;
        };
        // Removal is per life: a socket added again since (a new incarnation) stays.
        let gone = held
            .into_iter()
            .filter(|s| !msg.sockets.contains(s))
            .collect();
        let stats = self.stats.clone();
        guarded(&stats, ctx, (), |ctx| self.prune(gone, ctx));
    }
}

/// The presence change of one socket joining (or leaving) a room, as the membership is
/// now.
fn one_change(members: &Membership, nsp: &str, room: &str, id: &str, joined: bool) -> Change {
    Change {
        nsp: nsp.to_owned(),
        room: room.to_owned(),
        member: RoomMember {
            socket_id: id.to_owned(),
            user: members.user_of(nsp, id),
        },
        joined,
        size: members.room_size(nsp, room),
    }
}

/// A socket of `user` left `room`.
fn left_change(
    members: &Membership,
    nsp: &str,
    room: &str,
    id: &str,
    user: Option<String>,
) -> Change {
    Change {
        member: RoomMember {
            socket_id: id.to_owned(),
            user,
        },
        ..one_change(members, nsp, room, id, false)
    }
}

/// The rooms a removed socket left (`before`: its rooms and user while it was there).
fn removed(
    members: &Membership,
    nsp: &str,
    id: &str,
    before: Option<(Vec<String>, Option<String>)>,
) -> Vec<Change> {
    let Some((rooms, user)) = before else {
        return Vec::new();
    };
    rooms
        .iter()
        .map(|room| left_change(members, nsp, room, id, user.clone()))
        .collect()
}

/// The changes of a socket added (over an older life of it, `before`): the rooms it has
/// now and did not have, joined; those it had and has no more, left.
fn replaced(
    members: &Membership,
    nsp: &str,
    id: &str,
    before: Option<(Vec<String>, Option<String>)>,
) -> Vec<Change> {
    let (old, user) = before.unwrap_or_default();
    let now = members.socket_rooms(nsp, id);
    let joined = now
        .iter()
        .filter(|room| !old.contains(room))
        .map(|room| one_change(members, nsp, room, id, true));
    let left = old
        .iter()
        .filter(|room| !now.contains(room))
        .map(|room| left_change(members, nsp, room, id, user.clone()));
    joined.chain(left).collect()
}

#[cfg(feature = "fault-injection")]
impl Handler<crate::supervision::Crash> for RoomSupervisor {
    type Result = ();

    fn handle(&mut self, _msg: crate::supervision::Crash, ctx: &mut Context<Self>) {
        guarded(&self.stats, ctx, (), |_| {
            panic!("fault injected into RoomSupervisor")
        })
    }
}
