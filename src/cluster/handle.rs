//! [`ClusterHandle`]: the cheap, cloneable face of the cluster adapter that HTTP handlers,
//! the admin code and the API use. Every request to the other nodes answers with what the
//! live nodes said within the request timeout ([`ClusterReply`]): it never waits longer and
//! never fails its caller because a node died.

use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use futures::channel::oneshot;
use serde::Serialize;
use serde_json::Value;
use siohub_actors::{ClusterOutbox, OutboundBroadcast, Target};
use tokio::sync::mpsc::UnboundedSender;

use super::adapter::{Ask, ClusterAdapter, Query};
use super::broadcast_wire::target_rooms;
use super::channels::Channels;
use super::redis_link::Publish;
use super::request_wire::{self, Kind};
use super::requests::Gathered;
use super::status::LinkStatus;

/// What the other nodes answered to a request.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClusterReply<T> {
    /// The answers gathered (from the other nodes only).
    pub items: T,
    /// How many other nodes were expected to answer (the node count less this node, as
    /// Redis counted the subscribers when the request went out).
    pub nodes_expected: usize,
    /// How many of them answered within the request timeout.
    pub nodes_answered: usize,
}

impl<T: Default> ClusterReply<T> {
    /// The answer when no other node is there (or Redis is unreachable).
    pub fn alone() -> Self {
        ClusterReply {
            items: T::default(),
            nodes_expected: 0,
            nodes_answered: 0,
        }
    }
}

/// A reply of `items` with the counts of `got`.
fn reply<T>(items: T, got: &Gathered) -> ClusterReply<T> {
    ClusterReply {
        items,
        nodes_expected: got.expected,
        nodes_answered: got.answered,
    }
}

/// A socket of another node, as `fetchSockets` returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemoteSocket {
    /// The socket id.
    pub id: String,
    /// The handshake, as socket.io serializes it (`headers`, `time`, `address`, `xdomain`,
    /// `secure`, `issued`, `url`, `query`, `auth`).
    pub handshake: Value,
    /// Its rooms (its own id among them, as socket.io puts every socket in that room).
    pub rooms: Vec<String>,
    /// Its data.
    pub data: Value,
}

impl RemoteSocket {
    /// A socket as another node serialized it (`None` without a string `id`).
    fn from_json(value: &Value) -> Option<RemoteSocket> {
        let field = |key: &str| value.get(key).cloned().unwrap_or(Value::Null);
        let rooms = value.get("rooms").and_then(Value::as_array);
        Some(RemoteSocket {
            id: value.get("id")?.as_str()?.to_owned(),
            handshake: field("handshake"),
            rooms: rooms
                .map(|r| {
                    r.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            data: field("data"),
        })
    }
}

/// The adapter's parts a handle talks to.
pub(crate) struct HandleParts {
    /// This node's uid.
    pub uid: Arc<str>,
    /// The Broadcaster's outbox.
    pub outbox: ClusterOutbox,
    /// The connections' state, node count and counters.
    pub status: Arc<LinkStatus>,
    /// The request timeout.
    pub request_timeout: Duration,
    /// The channel names.
    pub channels: Channels,
    /// The adapter (absent when it could not start: a bad Redis URL).
    pub adapter: Option<Addr<ClusterAdapter>>,
    /// Where messages for Redis go (requests that wait for nothing).
    pub publish: Option<UnboundedSender<Publish>>,
}

/// The cluster adapter's handle. Cheap to clone; usable from any thread.
#[derive(Clone)]
pub struct ClusterHandle {
    inner: Arc<HandleParts>,
}

impl std::fmt::Debug for ClusterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterHandle")
            .field("uid", &self.inner.uid)
            .finish_non_exhaustive()
    }
}

impl ClusterHandle {
    /// A handle on the adapter made of `parts`.
    pub(crate) fn new(parts: HandleParts) -> Self {
        ClusterHandle {
            inner: Arc::new(parts),
        }
    }

    /// The connections' state, the node count and the adapter's counters.
    pub fn status(&self) -> &Arc<LinkStatus> {
        &self.inner.status
    }

    /// What the Broadcaster's outbox queued and dropped.
    pub fn outbox(&self) -> &ClusterOutbox {
        &self.inner.outbox
    }

    /// Asks the other nodes of `nsp`; what they answered within the timeout.
    async fn ask(&self, nsp: &str, query: Query) -> Gathered {
        let Some(adapter) = &self.inner.adapter else {
            return Gathered::default();
        };
        let (reply, answer) = oneshot::channel();
        adapter.do_send(Ask {
            nsp: nsp.to_owned(),
            query,
            reply,
        });
        answer.await.unwrap_or_default()
    }

    /// Publishes a request that waits for nothing on `nsp`'s request channel.
    fn tell(&self, nsp: &str, bytes: Vec<u8>) {
        if let Some(publish) = &self.inner.publish {
            let channel = self.inner.channels.request(nsp);
            let _ = publish.send(Publish { channel, bytes });
        }
    }

    /// This node's uid (6+ random characters), the first element of every broadcast it
    /// publishes.
    pub fn uid(&self) -> &str {
        &self.inner.uid
    }

    /// Whether both Redis connections (publishing and subscribing) are up.
    pub fn is_connected(&self) -> bool {
        self.inner.status.is_connected()
    }

    /// The number of nodes, this one included: the last `PUBSUB NUMSUB` of the request
    /// channel (1 until it is known).
    pub fn node_count(&self) -> usize {
        self.inner.status.node_count().max(1)
    }

    /// How long a request waits for the other nodes.
    pub fn request_timeout(&self) -> Duration {
        self.inner.request_timeout
    }

    /// Publishes a broadcast for the other nodes (what the Broadcaster does for every
    /// broadcast it delivers); dropped and counted when the outbox is full.
    pub fn publish(&self, b: OutboundBroadcast) {
        self.inner.outbox.offer(b);
    }

    /// The rooms of namespace `nsp` on the other nodes.
    pub async fn all_rooms(&self, nsp: &str) -> ClusterReply<Vec<String>> {
        let got = self.ask(nsp, Query::AllRooms).await;
        let mut rooms: Vec<String> = got
            .items
            .iter()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect();
        rooms.sort();
        rooms.dedup();
        reply(rooms, &got)
    }

    /// The sockets of the other nodes that `target` resolves to.
    pub async fn fetch_sockets(&self, target: &Target) -> ClusterReply<Vec<RemoteSocket>> {
        let got = self.ask(&target.nsp, Query::Fetch(target.clone())).await;
        let sockets = got
            .items
            .iter()
            .filter_map(RemoteSocket::from_json)
            .collect();
        reply(sockets, &got)
    }

    /// Adds the sockets of the other nodes that `target` resolves to to `rooms` (this node's
    /// sockets are not touched).
    pub fn remote_join(&self, target: &Target, rooms: Vec<String>) {
        let (of, except) = target_rooms(target);
        let bytes = request_wire::membership(self.uid(), Kind::RemoteJoin, (&of, &except), &rooms);
        self.tell(&target.nsp, bytes);
    }

    /// Removes the sockets of the other nodes that `target` resolves to from `rooms`.
    pub fn remote_leave(&self, target: &Target, rooms: Vec<String>) {
        let (of, except) = target_rooms(target);
        let bytes = request_wire::membership(self.uid(), Kind::RemoteLeave, (&of, &except), &rooms);
        self.tell(&target.nsp, bytes);
    }

    /// Disconnects the sockets of the other nodes that `target` resolves to (`close`: their
    /// whole connection).
    pub fn remote_disconnect(&self, target: &Target, close: bool) {
        let (of, except) = target_rooms(target);
        let bytes = request_wire::disconnect(self.uid(), (&of, &except), close);
        self.tell(&target.nsp, bytes);
    }

    /// Emits `event` to the other nodes' servers (socket.io's `serverSideEmit`); with `ack`,
    /// gathers one answer per node that has a listener for it (Node.js servers; siohub nodes
    /// run no server-side listeners and do not answer, so with them the reply comes at the
    /// request timeout).
    pub async fn server_side_emit(
        &self,
        nsp: &str,
        event: &str,
        args: Vec<Value>,
        ack: bool,
    ) -> ClusterReply<Vec<Value>> {
        let query = Query::Emit {
            event: event.to_owned(),
            args,
            ack,
        };
        let got = self.ask(nsp, query).await;
        reply(got.items.clone(), &got)
    }

    /// Broadcasts an event that asks every recipient on the other nodes for an ack; gathers
    /// their acks within `timeout` (and a second of grace), each `{"sid", "data", "args"?}`
    /// as the HTTP emit answers (`sid` is null from a Node.js node, which sends only the
    /// ack's first argument).
    pub async fn broadcast_with_ack(
        &self,
        b: OutboundBroadcast,
        timeout: Duration,
    ) -> ClusterReply<Vec<Value>> {
        self.broadcast_with_ack_counted(b, timeout).await.0
    }

    /// [`ClusterHandle::broadcast_with_ack`], with the number of clients the other nodes
    /// sent the event to.
    pub async fn broadcast_with_ack_counted(
        &self,
        b: OutboundBroadcast,
        timeout: Duration,
    ) -> (ClusterReply<Vec<Value>>, usize) {
        let nsp = b.target.nsp.clone();
        let got = self.ask(&nsp, Query::AckBroadcast(b, timeout)).await;
        (reply(got.items.clone(), &got), got.recipients)
    }
}
