//! The responder's side of the requests between nodes: answers another node's request from
//! the local [`Hub`], on the namespace's response channel, as `@socket.io/redis-adapter`
//! 8.3 does. siohub runs no server-side event listeners, so a SERVER_SIDE_EMIT is taken in
//! and not answered (as a Node server without a listener for that event).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::StreamExt;
use serde_json::{json, Value};
use siohub_actors::{Broadcast, BroadcastWithAck, DisconnectReason, Hub, Target};

use super::inbound;
use super::redis_link::{Outgoing, Publish};
use super::request_wire::{self, Kind, Message};

/// Sockets one fetch answers with at most.
pub(crate) const MAX_FETCHED: usize = 10_000;
/// The longest a broadcast with acks from another node is waited for.
const MAX_ACK_WAIT: Duration = Duration::from_secs(300);

/// What a responder needs.
pub(crate) struct Responder {
    /// The local hub.
    pub hub: Hub,
    /// Where answers are published.
    pub publish: Outgoing,
    /// The rooms a request may name at most.
    pub max_rooms: usize,
    /// Broadcasts with acks from other nodes being waited for now.
    pub acks_waiting: Arc<AtomicUsize>,
    /// How many of those may wait at once.
    pub max_acks_waiting: usize,
    /// The rooms a socket may be in at most (`[limits] max_rooms_per_socket`).
    pub max_rooms_per_socket: usize,
}

/// Why a request was not answered.
pub(crate) enum Refusal {
    /// It made no sense (the reason).
    Malformed(String),
    /// Too many broadcasts with acks wait already.
    Busy,
}

impl Responder {
    /// Answers request `req` of namespace `nsp` (sent by another node).
    pub(crate) fn respond(
        &self,
        nsp: &str,
        response_channel: &str,
        req: &Message,
    ) -> Result<(), Refusal> {
        let kind = req
            .kind()
            .ok_or_else(|| Refusal::Malformed("unknown request type".into()))?;
        let answer = |fields: Value| {
            if let Some(id) = req.request_id() {
                let bytes = request_wire::response(id, fields);
                self.send(response_channel, bytes);
            }
        };
        match kind {
            Kind::Sockets => {
                let rooms = self.rooms(req, "/rooms")?;
                let target = inbound::target(&self.hub, nsp, rooms, Vec::new());
                let ids: Vec<String> = self
                    .hub
                    .resolve(&target)
                    .into_iter()
                    .map(|(id, _)| id.to_string())
                    .collect();
                answer(json!({ "sockets": ids }));
            }
            Kind::AllRooms => {
                let rooms: Vec<String> = self.hub.rooms(nsp).into_iter().map(|(r, _)| r).collect();
                answer(json!({ "rooms": rooms }));
            }
            Kind::RemoteJoin | Kind::RemoteLeave => self.membership(nsp, kind, req, answer)?,
            Kind::RemoteDisconnect => self.disconnect(nsp, req, answer)?,
            Kind::RemoteFetch => {
                let target = self.opts_target(nsp, req)?;
                let sockets = self.hub.serialized_sockets(&target, MAX_FETCHED);
                answer(json!({ "sockets": sockets }));
            }
            Kind::ServerSideEmit => {
                log::debug!(
                    "cluster adapter: a server-side emit on namespace {} (no listeners here)",
                    siohub_actors::ClientText(nsp)
                );
            }
            Kind::Broadcast => self.broadcast_with_ack(nsp, response_channel, req)?,
            Kind::BroadcastClientCount | Kind::BroadcastAck => {
                return Err(Refusal::Malformed(
                    "a response on the request channel".into(),
                ));
            }
        }
        Ok(())
    }

    fn send(&self, channel: &str, bytes: Vec<u8>) {
        self.publish.send(Publish {
            channel: channel.to_owned(),
            bytes,
        });
    }

    fn rooms(&self, req: &Message, pointer: &str) -> Result<Vec<String>, Refusal> {
        req.strings(pointer, self.max_rooms).ok_or_else(|| {
            Refusal::Malformed(format!(
                "{pointer} is not a list of at most {} rooms",
                self.max_rooms
            ))
        })
    }

    /// The target of `opts: {rooms, except}`.
    fn opts_target(&self, nsp: &str, req: &Message) -> Result<Target, Refusal> {
        let rooms = self.rooms(req, "/opts/rooms")?;
        let except = self.rooms(req, "/opts/except")?;
        Ok(inbound::target(&self.hub, nsp, rooms, except))
    }

    /// REMOTE_JOIN / REMOTE_LEAVE: by `opts` (no answer) or one socket by `sid` (answered).
    fn membership(
        &self,
        nsp: &str,
        kind: Kind,
        req: &Message,
        answer: impl Fn(Value),
    ) -> Result<(), Refusal> {
        let join = kind == Kind::RemoteJoin;
        if req.body.get("opts").is_some() {
            let target = self.opts_target(nsp, req)?;
            let rooms = self.rooms(req, "/rooms")?;
            for (id, _) in self.hub.resolve(&target) {
                for room in self.worth_asking(nsp, &id, &rooms, join) {
                    self.apply(nsp, &id, room, join);
                }
            }
            return Ok(());
        }
        let (Some(sid), Some(room)) = (req.str("sid"), req.str("room")) else {
            return Err(Refusal::Malformed("neither opts nor sid and room".into()));
        };
        if self.hub.membership().read().session_of(nsp, sid).is_some() {
            self.apply(nsp, sid, room, join);
            answer(json!({}));
        }
        Ok(())
    }

    /// The rooms of `rooms` worth asking socket `socket_id` to join (those it is not in, as
    /// many as it may still join) or leave (those it is in): a peer's list may name 10,000
    /// rooms, and each would be a message to the socket's session.
    fn worth_asking<'a>(
        &self,
        nsp: &str,
        socket_id: &str,
        rooms: &'a [String],
        join: bool,
    ) -> Vec<&'a String> {
        let current = self.hub.membership().read().socket_rooms(nsp, socket_id);
        let room_left = self.max_rooms_per_socket.saturating_sub(current.len());
        let wanted = rooms.iter().filter(|r| current.contains(r) != join);
        match join {
            true => wanted.take(room_left).collect(),
            false => wanted.collect(),
        }
    }

    fn apply(&self, nsp: &str, socket_id: &str, room: &str, join: bool) {
        // The sessions apply them; nobody waits for the outcome (as in Node).
        if join {
            drop(self.hub.join_socket(nsp, socket_id, room));
        } else {
            drop(self.hub.leave_socket(nsp, socket_id, room));
        }
    }

    /// REMOTE_DISCONNECT: by `opts` (no answer) or one socket by `sid` (answered).
    fn disconnect(&self, nsp: &str, req: &Message, answer: impl Fn(Value)) -> Result<(), Refusal> {
        let close = req
            .body
            .get("close")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let ids: Vec<String> = if req.body.get("opts").is_some() {
            let target = self.opts_target(nsp, req)?;
            self.hub
                .resolve(&target)
                .into_iter()
                .map(|(id, _)| id.to_string())
                .collect()
        } else {
            let sid = req
                .str("sid")
                .ok_or_else(|| Refusal::Malformed("neither opts nor sid".into()))?;
            if self.hub.membership().read().session_of(nsp, sid).is_none() {
                return Ok(());
            }
            vec![sid.to_owned()]
        };
        for id in &ids {
            let _ = match close {
                true => self.hub.close_connection_of(
                    nsp,
                    id,
                    DisconnectReason::ServerNamespaceDisconnect,
                ),
                false => self.hub.disconnect_socket(nsp, id),
            };
        }
        if req.body.get("opts").is_none() {
            answer(json!({}));
        }
        Ok(())
    }

    /// BROADCAST: delivered here with one ack id; the client count goes back at once, then
    /// each client's ack as it comes (msgpack), until the requester's timeout.
    fn broadcast_with_ack(
        &self,
        nsp: &str,
        response_channel: &str,
        req: &Message,
    ) -> Result<(), Refusal> {
        let id = req
            .request_id()
            .ok_or_else(|| Refusal::Malformed("no requestId".into()))?
            .to_owned();
        let (event, payload) = req
            .packet_event()
            .ok_or_else(|| Refusal::Malformed("packet.data is not [event, ...args]".into()))?;
        super::values::check_event(&event, &payload).map_err(Refusal::Malformed)?;
        let target = self.opts_target(nsp, req)?;
        let timeout = req
            .body
            .pointer("/opts/flags/timeout")
            .and_then(Value::as_u64)
            .map(Duration::from_millis);
        let timeout = timeout.unwrap_or(Duration::from_secs(5)).min(MAX_ACK_WAIT);
        if self.acks_waiting.fetch_add(1, Ordering::Relaxed) >= self.max_acks_waiting {
            self.acks_waiting.fetch_sub(1, Ordering::Relaxed);
            return Err(Refusal::Busy);
        }
        let (reports, mut incoming) = mpsc::unbounded();
        let sent = self.hub.broadcast_with_ack(BroadcastWithAck {
            broadcast: Broadcast {
                target,
                event,
                payload,
                volatile: false,
                dedupe_id: None,
            },
            timeout,
            reports,
        });
        let (publish, channel) = (self.publish.clone(), response_channel.to_owned());
        let waiting = self.acks_waiting.clone();
        actix_rt::spawn(async move {
            let send = |bytes| {
                publish.send(Publish {
                    channel: channel.clone(),
                    bytes,
                });
            };
            let recipients = sent.await.map(|o| o.recipients).unwrap_or(0);
            send(request_wire::response(
                &id,
                json!({"type": Kind::BroadcastClientCount as u8, "clientCount": recipients}),
            ));
            let deadline = tokio::time::Instant::now() + timeout + Duration::from_secs(1);
            let mut left = recipients;
            while left > 0 {
                let next = tokio::time::timeout_at(deadline, incoming.next()).await;
                let Ok(Some(report)) = next else { break };
                left -= 1;
                if let Ok(payload) = report.result {
                    send(request_wire::broadcast_ack(
                        &id,
                        &report.socket_id,
                        &payload,
                    ));
                }
            }
            waiting.fetch_sub(1, Ordering::Relaxed);
        });
        Ok(())
    }
}
