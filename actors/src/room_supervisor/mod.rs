//! The RoomSupervisor: the only writer of room membership (see `membership`). Sessions ask
//! it to add their sockets (with their first rooms), to join and leave rooms and to remove
//! their sockets; it publishes the membership read-mostly to the Broadcaster and the `Hub`.
//!
//! A change that may owe the socket a replay takes its cutoff (the last broadcast number)
//! under the write lock and goes on to the Broadcaster, which answers the session with the
//! events resolved without the socket; when nothing can be owed (the rooms buffer nothing
//! and no recovery is asked) the RoomSupervisor answers the session itself.
//!
//! After a restart it clears membership and asks every live session to announce its sockets
//! and rooms again: the sessions are the source of truth.

mod membership;

use std::collections::HashSet;
use std::sync::Arc;

use actix::prelude::*;

use crate::broadcaster::{BroadcastSequence, Broadcaster, Replay, ReplaySource};
use crate::connection_manager::SessionRegistry;
use crate::delivery::{ReplayReply, Replayed};
use crate::fields::{FieldSet, FieldsError, FieldsUpdate};
use crate::messages::AnnounceMembership;
use crate::policy::{BufferPolicy, RoomBuffering};
use crate::session::Session;
use crate::stats::ActorStats;
use crate::supervision::guarded;

pub(crate) use membership::MembershipWriter;
pub use membership::{Membership, MembershipRead, MembershipView, Recipients, RoomMember};

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
    pub session: Addr<Session>,
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
        }
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
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        self.stats.restarted();
        self.writer.write().clear();
        let sessions = self.registry.all();
        log::warn!(
            "RoomSupervisor restarted; rebuilding membership from {} sessions",
            sessions.len()
        );
        for session in sessions {
            session.do_send(AnnounceMembership);
        }
    }
}

impl Handler<AddSocket> for RoomSupervisor {
    type Result = ();

    fn handle(&mut self, msg: AddSocket, ctx: &mut Context<Self>) {
        let stats = self.stats.clone();
        guarded(&stats, ctx, (), |_| {
            let upto = {
                let mut members = self.writer.write();
                // Read under the write lock: see `broadcaster::sequence`.
                let upto = self.sequence.current();
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
                upto
            };
            if let Some(reply) = msg.reply {
                let (nsp, id) = (msg.nsp, msg.socket_id);
                self.route_replay(nsp, id, msg.rooms, msg.recovery, upto, reply);
            }
        })
    }
}

impl Handler<JoinRoom> for RoomSupervisor {
    type Result = ();

    fn handle(&mut self, msg: JoinRoom, ctx: &mut Context<Self>) {
        let stats = self.stats.clone();
        guarded(&stats, ctx, (), |_| {
            let joined = {
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
                        return;
                    }
                }
                let joined = members.join(nsp, room, id, msg.incarnation, upto);
                if let (Ok(_), Some(update)) = (&joined, msg.fields) {
                    let (fields, max) = (update.fields, update.max);
                    let _ = members.set_fields(nsp, room, id, msg.incarnation, fields, max);
                }
                joined.map(|new| new.then_some(upto))
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
        })
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
        guarded(&stats, ctx, (), |_| {
            let mut members = self.writer.write();
            members.leave(&msg.nsp, &msg.room, &msg.socket_id, msg.incarnation)
        });
        let _ = msg.reply.send(());
    }
}

impl Handler<RemoveSocket> for RoomSupervisor {
    type Result = ();

    fn handle(&mut self, msg: RemoveSocket, ctx: &mut Context<Self>) {
        let stats = self.stats.clone();
        guarded(&stats, ctx, (), |_| {
            let mut members = self.writer.write();
            members.remove_socket(&msg.nsp, &msg.socket_id, Some(msg.incarnation))
        })
    }
}

impl Handler<RemoveSessionSockets> for RoomSupervisor {
    type Result = ();

    fn handle(&mut self, msg: RemoveSessionSockets, ctx: &mut Context<Self>) {
        let stats = self.stats.clone();
        guarded(&stats, ctx, (), |_| {
            let mut members = self.writer.write();
            for socket in &msg.sockets {
                let (nsp, id) = (&socket.nsp, &socket.socket_id);
                members.remove_socket(nsp, id, Some(socket.incarnation));
            }
        })
    }
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
