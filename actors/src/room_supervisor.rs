//! The RoomSupervisor: room membership per namespace (join, leave, leave-all on disconnect),
//! queries, and replay of buffered events to a socket that joins. After a restart it clears
//! membership and asks every live session to announce its sockets and rooms again: the
//! sessions are the source of truth.

use std::sync::Arc;

use actix::prelude::*;

use crate::hub_messages::{
    AnnounceMembership, Deliver, DescribeRoom, JoinRoom, LeaveRoom, ListMembers, ListRooms,
    RemoveSocket, ResolveTarget, Subscribe, Unsubscribe,
};
use crate::registry::SessionRegistry;
use crate::room_table::{lock, SharedRoomTable};
use crate::stats::ActorStats;
use crate::subscription::Subscriber;
use crate::supervision::guarded;

/// See the module documentation.
pub struct RoomSupervisor {
    table: SharedRoomTable,
    registry: SessionRegistry,
    stats: Arc<ActorStats>,
}

impl RoomSupervisor {
    /// A supervisor over `table`, rebuilding from the sessions of `registry`.
    pub fn new(table: SharedRoomTable, registry: SessionRegistry, stats: Arc<ActorStats>) -> Self {
        RoomSupervisor {
            table,
            registry,
            stats,
        }
    }
}

impl Actor for RoomSupervisor {
    type Context = Context<Self>;
}

impl Supervised for RoomSupervisor {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        self.stats.restarted();
        lock(&self.table).clear_membership();
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

impl Handler<RemoveSocket> for RoomSupervisor {
    type Result = ();

    fn handle(&mut self, msg: RemoveSocket, ctx: &mut Context<Self>) {
        let table = self.table.clone();
        guarded(&self.stats, ctx, (), |_| {
            lock(&table).remove_socket(&msg.nsp, &msg.sid, &msg.rooms)
        })
    }
}

impl Handler<JoinRoom> for RoomSupervisor {
    type Result = usize;

    fn handle(&mut self, mut msg: JoinRoom, ctx: &mut Context<Self>) -> usize {
        let table = self.table.clone();
        let answer = msg.replayed.take();
        let replayed = guarded(&self.stats, ctx, 0, |_| {
            let mut table = lock(&table);
            let replay = table.join(
                &msg.nsp,
                &msg.room,
                msg.sid,
                msg.session.clone(),
                msg.buffering,
            );
            // Sent while the table is locked, so no live broadcast can overtake the replay.
            let nsp: Arc<str> = msg.nsp.into();
            for frames in &replay {
                msg.session.do_send(Deliver {
                    nsp: nsp.clone(),
                    frames: frames.clone(),
                    volatile: false,
                });
            }
            replay.len()
        });
        if let Some(answer) = answer {
            let _ = answer.send(replayed);
        }
        replayed
    }
}

impl Handler<LeaveRoom> for RoomSupervisor {
    type Result = ();

    fn handle(&mut self, msg: LeaveRoom, ctx: &mut Context<Self>) {
        let table = self.table.clone();
        guarded(&self.stats, ctx, (), |_| {
            lock(&table).leave(&msg.nsp, &msg.room, &msg.sid)
        })
    }
}

impl Handler<ListRooms> for RoomSupervisor {
    type Result = MessageResult<ListRooms>;

    fn handle(&mut self, msg: ListRooms, ctx: &mut Context<Self>) -> Self::Result {
        let table = self.table.clone();
        MessageResult(guarded(&self.stats, ctx, Vec::new(), |_| {
            lock(&table).rooms(&msg.nsp)
        }))
    }
}

impl Handler<ListMembers> for RoomSupervisor {
    type Result = MessageResult<ListMembers>;

    fn handle(&mut self, msg: ListMembers, ctx: &mut Context<Self>) -> Self::Result {
        let table = self.table.clone();
        MessageResult(guarded(&self.stats, ctx, Vec::new(), |_| {
            lock(&table).members(&msg.nsp, &msg.room)
        }))
    }
}

impl Handler<DescribeRoom> for RoomSupervisor {
    type Result = MessageResult<DescribeRoom>;

    fn handle(&mut self, msg: DescribeRoom, ctx: &mut Context<Self>) -> Self::Result {
        let table = self.table.clone();
        MessageResult(guarded(&self.stats, ctx, Vec::new(), |_| {
            lock(&table).member_users(&msg.nsp, &msg.room)
        }))
    }
}

impl Handler<ResolveTarget> for RoomSupervisor {
    type Result = MessageResult<ResolveTarget>;

    fn handle(&mut self, msg: ResolveTarget, ctx: &mut Context<Self>) -> Self::Result {
        let table = self.table.clone();
        MessageResult(guarded(&self.stats, ctx, Vec::new(), |_| {
            lock(&table).resolve(&msg.target)
        }))
    }
}

impl Handler<Subscribe> for RoomSupervisor {
    type Result = MessageResult<Subscribe>;

    fn handle(&mut self, msg: Subscribe, _ctx: &mut Context<Self>) -> Self::Result {
        // Not `guarded`: nothing here can panic, and a subscription has no fallback value.
        self.stats.handled();
        let (subscriber, subscription) = Subscriber::new(&msg.nsp, msg.rooms, msg.capacity);
        lock(&self.table).subscribe(&msg.nsp, subscriber);
        MessageResult(subscription)
    }
}

impl Handler<Unsubscribe> for RoomSupervisor {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, ctx: &mut Context<Self>) {
        let table = self.table.clone();
        guarded(&self.stats, ctx, (), |_| {
            lock(&table).unsubscribe(&msg.nsp, msg.id)
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
