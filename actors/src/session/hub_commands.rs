//! What the hub and the socket handles ask of a session: deliveries from the Broadcaster
//! (sent on, held while a replay is on its way, or dropped when the socket they name is
//! gone), emits and acks, joins and leaves driven inside the session
//! (`ctx.spawn(fut.into_actor(self))`), server-side disconnects, and the re-announcement a
//! restarted RoomSupervisor asks for.

use actix::prelude::*;
use siohub_protocol::SocketPacket;

use super::socket_layer::{announcement, leave_namespace, AckWaiter, Route};
use super::Session;
use crate::admin::feed::RoomChanged;
use crate::delivery::{Deliver, DeliverBatch, DeliverWithAck, Replayed};
use crate::disconnect_reason::DisconnectReason;
use crate::error::AckError;
use crate::fields::FieldsError;
use crate::hub_error::{JoinError, NotConnected};
use crate::ids::next_ack_id;
use crate::messages::{
    AnnounceMembership, CloseSession, SocketDisconnect, SocketEmit, SocketEmitWithAck, SocketJoin,
    SocketLeave, SocketRooms, SocketSetFields,
};
use crate::policy::RoomBuffering;
use crate::room_supervisor::{MembershipAnnounced, SocketLife};
use crate::stats::{DropReason, RefusalReason};
use crate::wire_frame::Frames;

impl Session {
    /// Sends a packet on the socket of its namespace, if the session still has one.
    pub(super) fn emit_on_socket(&mut self, packet: SocketPacket, ctx: &mut Context<Self>) {
        if self.socket_io() && self.layer().sockets.contains_key(&packet.nsp) {
            self.send_socket_packet(packet, ctx);
        }
    }

    /// Sends a delivery for one socket on, holds it or drops it (see [`Route`]).
    fn deliver(&mut self, msg: Deliver, ctx: &mut Context<Self>) {
        if !self.socket_io() {
            return;
        }
        match self.layer().route(&msg.nsp, &msg.socket_id) {
            Route::Send => {
                self.send_frames(&msg.frames, msg.volatile, ctx);
            }
            Route::Hold => self.hold(&msg.nsp, msg.frames, msg.volatile, ctx),
            Route::Drop => {}
        }
    }

    /// Holds a delivery for the socket of `nsp` until its replay is out. Over the outgoing
    /// queue's bounds a volatile event is dropped, and any other makes the client a slow
    /// consumer, as a full queue would.
    fn hold(&mut self, nsp: &str, frames: Frames, volatile: bool, ctx: &mut Context<Self>) {
        let (max_packets, max_bytes) =
            (self.config.max_buffer_packets, self.config.max_buffer_bytes);
        let size: usize = frames.iter().map(|f| f.len()).sum();
        let Some(hold) = self.layer().hold_mut(nsp) else {
            return;
        };
        let fits = hold.packets + frames.len() <= max_packets && hold.bytes + size <= max_bytes;
        if fits {
            hold.packets += frames.len();
            hold.bytes += size;
            hold.events.push((frames, volatile));
        } else if volatile {
            self.count_drop(DropReason::VolatileBufferFull, 1);
        } else {
            self.disconnect_slow_consumer(frames.len(), size, ctx);
        }
    }

    /// A join's replay arrived (or the join failed): writes the replayed events, and once no
    /// other replay is on its way, what was held meanwhile. Answers the number replayed.
    fn finish_join(
        &mut self,
        nsp: &str,
        socket_id: &str,
        joined: Result<Replayed, NotConnected>,
        ctx: &mut Context<Self>,
    ) -> Result<usize, JoinError> {
        let current = self
            .layer_ref()
            .and_then(|l| l.sockets.get(nsp))
            .is_some_and(|s| *s.socket_id == *socket_id);
        if !current || self.closing {
            return Err(JoinError::NotConnected);
        }
        // A join refused while the socket is still here was refused by a RoomSupervisor
        // that restarted (its rebuild had not seen the socket yet): the room is in the
        // socket's set, which the session announces to it, so the socket is in the room
        // (with nothing replayed).
        let replayed = joined.map(|r| r.frames).unwrap_or_default();
        for frames in &replayed {
            self.send_frames(frames, false, ctx);
        }
        let released = self.layer().sockets.get_mut(nsp).and_then(|state| {
            let hold = state.hold.as_mut()?;
            hold.pending = hold.pending.saturating_sub(1);
            (hold.pending == 0).then(|| state.hold.take()).flatten()
        });
        for (frames, volatile) in released.map(|h| h.events).unwrap_or_default() {
            self.send_frames(&frames, volatile, ctx);
        }
        Ok(replayed.len())
    }

    /// A join refused for its field set: the room (and the set) leave the socket's state.
    fn undo_join(&mut self, nsp: &str, socket_id: &str, room: &str) {
        let hub = self.hub.clone();
        hub.counters().refused(RefusalReason::FieldSetsPerRoom);
        if let Some(state) = self.socket_mut(nsp, socket_id) {
            state.rooms.remove(room);
            state.fields.remove(room);
            state.keep_record(&hub);
        }
    }
}

impl Handler<Deliver> for Session {
    type Result = ();

    fn handle(&mut self, msg: Deliver, ctx: &mut Context<Self>) {
        self.deliver(msg, ctx);
    }
}

impl Handler<DeliverBatch> for Session {
    type Result = ();

    fn handle(&mut self, msg: DeliverBatch, ctx: &mut Context<Self>) {
        if !self.socket_io() || self.closing {
            return;
        }
        let route = self.layer().route(&msg.nsp, &msg.socket_id);
        if matches!(route, Route::Drop) {
            return;
        }
        if matches!(route, Route::Send) && self.push_events_bounded(&msg.events) {
            return;
        }
        for (frames, volatile) in msg.events.iter() {
            match route {
                Route::Send => {
                    self.send_frames(frames, *volatile, ctx);
                }
                Route::Hold => self.hold(&msg.nsp, frames.clone(), *volatile, ctx),
                Route::Drop => {}
            }
        }
    }
}

impl Handler<SocketEmit> for Session {
    type Result = ();

    fn handle(&mut self, msg: SocketEmit, ctx: &mut Context<Self>) {
        self.emit_on_socket(msg.packet, ctx);
    }
}

impl Handler<SocketEmitWithAck> for Session {
    type Result = ();

    fn handle(&mut self, msg: SocketEmitWithAck, ctx: &mut Context<Self>) {
        let id = next_ack_id();
        let nsp = msg.packet.nsp.clone();
        match self.wait_for_ack(&nsp, id, AckWaiter::One(msg.reply), msg.timeout, ctx) {
            Ok(()) => self.send_socket_packet(msg.packet.with_id(id), ctx),
            Err(waiter) => waiter.answer(Err(AckError::Disconnected)),
        }
    }
}

impl Handler<DeliverWithAck> for Session {
    type Result = ();

    fn handle(&mut self, msg: DeliverWithAck, ctx: &mut Context<Self>) {
        let route = match self.socket_io() {
            true => self.layer().route(&msg.nsp, &msg.socket_id),
            false => Route::Drop,
        };
        let waiter = AckWaiter::Broadcast {
            socket_id: msg.socket_id,
            reports: msg.reports,
        };
        if matches!(route, Route::Drop) {
            return waiter.answer(Err(AckError::Disconnected));
        }
        match self.wait_for_ack(&msg.nsp, msg.ack_id, waiter, msg.timeout, ctx) {
            // Behind a replay on its way, like any live event. A full hold or outgoing
            // buffer closes the session, which answers the waiter.
            Ok(()) if matches!(route, Route::Hold) => {
                self.hold(&msg.nsp, msg.frames, false, ctx);
            }
            Ok(()) => {
                self.send_frames(&msg.frames, false, ctx);
            }
            // Added by the RoomSupervisor, its CONNECT reply not out yet: the ack is waited
            // for once it is, and the frames go after the reply.
            Err(waiter) if matches!(route, Route::Hold) => {
                let ask = (msg.ack_id, waiter, msg.timeout);
                match self.layer().connecting.get_mut(&*msg.nsp) {
                    Some(connecting) => connecting.acks.push(ask),
                    None => return ask.1.answer(Err(AckError::Disconnected)),
                }
                self.hold(&msg.nsp, msg.frames, false, ctx);
            }
            Err(waiter) => waiter.answer(Err(AckError::Disconnected)),
        }
    }
}

impl Handler<SocketDisconnect> for Session {
    type Result = ();

    fn handle(&mut self, msg: SocketDisconnect, ctx: &mut Context<Self>) {
        if self.socket_mut(&msg.nsp, &msg.socket_id).is_none() {
            return;
        }
        if let Some(state) = self.layer().sockets.remove(&msg.nsp) {
            self.send_socket_packet(SocketPacket::disconnect(&msg.nsp), ctx);
            let hub = self.hub.clone();
            leave_namespace(
                state,
                DisconnectReason::ServerNamespaceDisconnect,
                &hub,
                ctx,
            );
            self.publish_socket_metas();
        }
    }
}

impl Handler<SocketJoin> for Session {
    type Result = ();

    fn handle(&mut self, msg: SocketJoin, ctx: &mut Context<Self>) {
        let hub = self.hub.clone();
        let max = self.config.max_rooms_per_socket;
        let Some(state) = self.socket_mut(&msg.nsp, &msg.socket_id) else {
            let _ = msg.reply.send(Err(JoinError::NotConnected));
            return;
        };
        if state.rooms.len() >= max && !state.rooms.contains(&msg.room) {
            hub.counters().refused(RefusalReason::RoomsPerSocket);
            // A client can ask again and again, in a namespace name of its own choosing.
            crate::limited!(
                info,
                "socket {} on {}: join refused: in {max} rooms already",
                state.socket.id(),
                crate::ClientText(&msg.nsp)
            );
            let _ = msg.reply.send(Err(JoinError::TooManyRooms { max }));
            return;
        }
        if !state.rooms.insert(msg.room.clone()) {
            // In the room already: nothing to replay, and no hold (a client repeating a join
            // must not keep its live deliveries held); a join naming another field set
            // changes it.
            let changes = msg
                .fields
                .as_ref()
                .is_some_and(|u| u.fields.as_ref() != state.fields.get(&msg.room));
            match msg.fields {
                Some(update) if changes => {
                    let reply = msg.reply;
                    let set = SocketSetFields {
                        nsp: msg.nsp,
                        socket_id: msg.socket_id,
                        room: msg.room,
                        update,
                        reply: {
                            let (tx, rx) = futures::channel::oneshot::channel();
                            actix::spawn(async move {
                                let result = rx.await.unwrap_or(Err(FieldsError::NotConnected));
                                let _ = reply.send(result.map(|()| 0).map_err(JoinError::Fields));
                            });
                            tx
                        },
                    };
                    <Self as Handler<SocketSetFields>>::handle(self, set, ctx);
                }
                _ => {
                    let _ = msg.reply.send(Ok(0));
                }
            }
            return;
        }
        // Taken now, given back if the RoomSupervisor refuses the set.
        if let Some(fields) = msg.fields.as_ref().and_then(|u| u.fields.clone()) {
            state.fields.insert(msg.room.clone(), fields);
        }
        if hub.admin().wants(&msg.nsp) {
            hub.admin().send(RoomChanged {
                nsp: msg.nsp.clone(),
                room: msg.room.clone(),
                socket_id: msg.socket_id.to_string(),
                joined: true,
                at: std::time::SystemTime::now(),
            });
        }
        state.keep_record(&hub);
        // Live deliveries wait until the replay is written (see `Hold`).
        state.hold.get_or_insert_with(Box::default).pending += 1;
        let socket = (state.socket_id.clone(), state.incarnation);
        let buffering = RoomBuffering::for_room(&state.delivery);
        let fields = msg.fields;
        let joined = hub.join_room(&msg.nsp, &msg.room, socket.clone(), buffering, fields);
        let (nsp, room, reply) = (msg.nsp, msg.room, msg.reply);
        ctx.spawn(joined.into_actor(self).map(move |joined, act, ctx| {
            let refused = joined.as_ref().ok().and_then(|r| r.refused);
            let Some(refused) = refused else {
                let _ = reply.send(act.finish_join(&nsp, &socket.0, joined, ctx));
                return;
            };
            act.undo_join(&nsp, &socket.0, &room);
            let finished = act.finish_join(&nsp, &socket.0, Ok(Replayed::default()), ctx);
            let _ = reply.send(finished.and(Err(JoinError::Fields(refused))));
        }));
    }
}

impl Handler<SocketLeave> for Session {
    type Result = ();

    fn handle(&mut self, msg: SocketLeave, ctx: &mut Context<Self>) {
        let hub = self.hub.clone();
        let Some(state) = self.socket_mut(&msg.nsp, &msg.socket_id) else {
            let _ = msg.reply.send(Err(NotConnected));
            return;
        };
        state.fields.remove(&msg.room);
        if state.rooms.remove(&msg.room) && hub.admin().wants(&msg.nsp) {
            hub.admin().send(RoomChanged {
                nsp: msg.nsp.clone(),
                room: msg.room.clone(),
                socket_id: msg.socket_id.to_string(),
                joined: false,
                at: std::time::SystemTime::now(),
            });
        }
        state.keep_record(&hub);
        let socket = (state.socket_id.clone(), state.incarnation);
        let left = hub.leave_room(&msg.nsp, &msg.room, socket);
        let reply = msg.reply;
        ctx.spawn(left.into_actor(self).map(move |(), _, _| {
            let _ = reply.send(Ok(()));
        }));
    }
}

impl Handler<SocketSetFields> for Session {
    type Result = ();

    fn handle(&mut self, msg: SocketSetFields, ctx: &mut Context<Self>) {
        let hub = self.hub.clone();
        let Some(state) = self.socket_mut(&msg.nsp, &msg.socket_id) else {
            let _ = msg.reply.send(Err(FieldsError::NotConnected));
            return;
        };
        if !state.rooms.contains(&msg.room) {
            let _ = msg.reply.send(Err(FieldsError::NotInRoom));
            return;
        }
        let socket = (state.socket_id.clone(), state.incarnation);
        let update = msg.update.clone();
        let set = hub.set_room_fields(&msg.nsp, &msg.room, socket.clone(), msg.update);
        let (nsp, room, reply) = (msg.nsp, msg.room, msg.reply);
        ctx.spawn(set.into_actor(self).map(move |result, act, _| {
            if result.is_ok() {
                let hub = act.hub.clone();
                if let Some(state) = act.socket_mut(&nsp, &socket.0) {
                    match update.fields {
                        Some(fields) => state.fields.insert(room, fields),
                        None => state.fields.remove(&room),
                    };
                    state.keep_record(&hub);
                }
            } else if result == Err(FieldsError::TooManyFieldSets { max: update.max }) {
                act.hub.counters().refused(RefusalReason::FieldSetsPerRoom);
            }
            let _ = reply.send(result);
        }));
    }
}

impl Handler<SocketRooms> for Session {
    type Result = MessageResult<SocketRooms>;

    fn handle(&mut self, msg: SocketRooms, _ctx: &mut Context<Self>) -> Self::Result {
        let rooms = self
            .layer_ref()
            .and_then(|l| l.sockets.get(&msg.nsp))
            .map(|s| s.rooms.iter().cloned().collect())
            .unwrap_or_default();
        MessageResult(rooms)
    }
}

impl Handler<AnnounceMembership> for Session {
    type Result = ();

    fn handle(&mut self, _msg: AnnounceMembership, _ctx: &mut Context<Self>) {
        let mut sockets = Vec::new();
        if self.socket_io() {
            for (nsp, connecting) in self.layer().connecting.iter_mut() {
                connecting.announce = true;
                // Added already (its replay on its way): it stays.
                if let Some((socket_id, incarnation)) = &connecting.added {
                    sockets.push(SocketLife {
                        nsp: nsp.clone(),
                        socket_id: socket_id.clone(),
                        incarnation: *incarnation,
                    });
                }
            }
        }
        if let Some(layer) = self.layer_ref() {
            for state in layer.sockets.values() {
                let add = announcement(state, self.addr());
                sockets.push(SocketLife {
                    nsp: add.nsp.clone(),
                    socket_id: add.socket_id.clone(),
                    incarnation: add.incarnation,
                });
                self.hub.announce_socket(add);
            }
        }
        // Behind the announcements (one mailbox, in order): the rest of what the
        // supervisor held for this session goes.
        self.hub.announced(MembershipAnnounced {
            session: self.addr(),
            sockets,
        });
    }
}

impl Handler<CloseSession> for Session {
    type Result = ();

    fn handle(&mut self, msg: CloseSession, ctx: &mut Context<Self>) {
        self.close(msg.reason, ctx);
    }
}
