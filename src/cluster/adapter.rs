//! The `ClusterAdapter` actor. It owns this node's uid, the requests waiting for the other
//! nodes (the pending table and its timers), the subscribing connection's sink (to add the
//! request channel of a namespace it starts serving) and the set of served namespaces, and
//! it writes the node count. The two Redis connections are each driven by a task of their own
//! (`redis_link`): the publisher task owns the publishing connection's queue, the subscriber
//! loop owns the subscribing connection; both write their state into `LinkStatus`.
//!
//! Broadcasts from other nodes never pass through here (the subscriber loop hands them to
//! the Broadcaster directly); requests and responses do, one message each.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use std::future::Future;

use actix::prelude::*;
use futures::channel::oneshot;
use redis::aio::{ConnectionManager, PubSubSink};
use serde_json::Value;
use siohub_actors::{Hub, OutboundBroadcast, Target};

use super::broadcast_wire::target_rooms;
use super::channels::Channels;
use super::redis_link::{Outgoing, Publish, Served};
use super::request_wire::{self, Kind, Message};
use super::requests::{Gathered, Pending, PendingRequest, Taken};
use super::responder::{Refusal, Responder};
use super::status::{AdapterDrop, LinkStatus};

/// How often the node count is asked of Redis and new namespaces are subscribed to.
const TICK: Duration = Duration::from_secs(1);

/// The adapter's bounds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// How long a request waits for the other nodes.
    pub request_timeout: Duration,
    /// The largest message taken from Redis.
    pub max_message_bytes: usize,
    /// Requests waiting at once at most (and broadcasts with acks from other nodes).
    pub max_pending: usize,
    /// Rooms one message may name at most.
    pub max_rooms: usize,
    /// Items (rooms, sockets, acks) one request gathers at most.
    pub max_items: usize,
    /// Namespaces whose request channel this node SUBSCRIBEs to at most.
    pub max_served: usize,
    /// The rooms a socket may be in at most.
    pub max_rooms_per_socket: usize,
}

/// A request to the other nodes of a namespace.
pub(crate) enum Query {
    /// Their rooms.
    AllRooms,
    /// Their sockets of a target.
    Fetch(Target),
    /// An event for their servers (answers gathered when `ack`).
    Emit {
        event: String,
        args: Vec<Value>,
        ack: bool,
    },
    /// A broadcast that asks their clients for acks, waited for `timeout`.
    AckBroadcast(OutboundBroadcast, Duration),
}

/// Asks the other nodes; answered on `reply` with what they said within the timeout.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Ask {
    pub nsp: String,
    pub query: Query,
    pub reply: oneshot::Sender<Gathered>,
}

/// A message from a request or response channel.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Incoming {
    /// Whether it came on a response channel.
    pub response: bool,
    /// The namespace the channel names.
    pub nsp: String,
    /// The message.
    pub bytes: Vec<u8>,
}

/// The subscribing connection is (again) up: its sink adds subscriptions.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct SinkUp(pub PubSubSink);

/// See the module documentation.
pub(crate) struct ClusterAdapter {
    uid: Arc<str>,
    hub: Hub,
    channels: Channels,
    conn: ConnectionManager,
    publish: Outgoing,
    sink: Option<PubSubSink>,
    served: Served,
    status: Arc<LinkStatus>,
    pending: Pending,
    /// Requests whose nodes are being counted (NUMSUB) before they enter `pending`: they
    /// hold their place in the bound meanwhile.
    counting: usize,
    responder: Responder,
    limits: Limits,
}

/// What the adapter is made of.
pub(crate) struct AdapterParts {
    pub uid: Arc<str>,
    pub hub: Hub,
    pub channels: Channels,
    pub conn: ConnectionManager,
    pub publish: Outgoing,
    pub served: Served,
    pub status: Arc<LinkStatus>,
    pub limits: Limits,
}

impl ClusterAdapter {
    /// An adapter of these parts.
    pub(crate) fn new(p: AdapterParts) -> Self {
        let responder = Responder {
            hub: p.hub.clone(),
            publish: p.publish.clone(),
            max_rooms: p.limits.max_rooms,
            acks_waiting: Arc::new(AtomicUsize::new(0)),
            max_acks_waiting: p.limits.max_pending,
            max_rooms_per_socket: p.limits.max_rooms_per_socket,
        };
        ClusterAdapter {
            uid: p.uid,
            hub: p.hub,
            channels: p.channels,
            conn: p.conn,
            publish: p.publish,
            sink: None,
            served: p.served,
            status: p.status,
            pending: Pending::default(),
            counting: 0,
            responder,
            limits: p.limits,
        }
    }

    fn send(&self, channel: String, bytes: Vec<u8>) {
        self.publish.send(Publish { channel, bytes });
    }

    /// Asks Redis for the node count of the root namespace, and subscribes to the request
    /// channels of namespaces that got sockets since.
    fn tick(&mut self, ctx: &mut Context<Self>) {
        for (nsp, _, _) in self.hub.namespace_counts() {
            let subscribed = self.serve(&nsp);
            ctx.spawn(subscribed.into_actor(self));
        }
        let mut conn = self.conn.clone();
        let channel = self.channels.request("/");
        let status = self.status.clone();
        ctx.spawn(
            async move {
                // The node count, and whether the publishing connection answers.
                match numsub(&mut conn, &channel).await {
                    Ok(n) => {
                        status.set_node_count(n);
                        status.set_publisher(None);
                    }
                    Err(e) => {
                        // Alone until Redis answers again.
                        status.set_node_count(0);
                        status.set_publisher(Some(e.to_string()));
                    }
                }
            }
            .into_actor(self),
        );
    }

    /// SUBSCRIBEs to the request channel of `nsp` (once), so that other nodes count this
    /// one; resolves once subscribed (at once when it already was, or cannot be).
    fn serve(&mut self, nsp: &str) -> impl Future<Output = ()> + 'static {
        let added = {
            let mut served = self.served.lock().unwrap_or_else(|e| e.into_inner());
            let room = served.len() < self.limits.max_served;
            room && served.insert(nsp.to_owned())
        };
        let sink = self.sink.clone().filter(|_| added);
        let channel = self.channels.request(nsp);
        async move {
            if let Some(mut sink) = sink {
                let _ = sink.subscribe(channel).await;
            }
        }
    }

    fn ask(&mut self, msg: Ask, ctx: &mut Context<Self>) {
        let Ask { nsp, query, reply } = msg;
        if !self.status.is_connected() {
            let _ = reply.send(Gathered::default());
            return;
        }
        if self.pending.len() + self.counting >= self.limits.max_pending {
            self.status.dropped(AdapterDrop::PendingFull, 1);
            siohub_actors::limited!(warn, "cluster adapter: {} requests wait for the other nodes already ([adapter] max_pending_requests); this one answers with this node only", self.limits.max_pending);
            let _ = reply.send(Gathered::default());
            return;
        }
        let id = request_id();
        let (kind, bytes, timeout) = match self.encode(&id, &query) {
            Some(encoded) => encoded,
            None => {
                // An emit without ack: nothing to wait for.
                if let Query::Emit { event, args, .. } = query {
                    let bytes = request_wire::server_side_emit(&self.uid, None, &event, args);
                    self.send(self.channels.request(&nsp), bytes);
                }
                let _ = reply.send(Gathered::default());
                return;
            }
        };
        let subscribed = self.serve(&nsp);
        let mut conn = self.conn.clone();
        let channel = self.channels.request(&nsp);
        let started = std::time::Instant::now();
        let counted = async move {
            let count = async {
                subscribed.await;
                numsub(&mut conn, &channel).await.ok()
            };
            // A hung Redis answers nothing until its connection gives up (seconds): the
            // count comes within the request's own deadline, or this node is alone.
            tokio::time::timeout(timeout, count).await.ok().flatten()
        };
        self.counting += 1;
        ctx.spawn(counted.into_actor(self).map(move |count, act, ctx| {
            act.counting -= 1;
            // NUMSUB counts this node too.
            let expected = count.unwrap_or(0).saturating_sub(1);
            if expected == 0 {
                let _ = reply.send(Gathered::default());
                return;
            }
            // Each expected node may answer with a message as large as one may be.
            let budget = expected.saturating_mul(act.limits.max_message_bytes);
            let request = PendingRequest::new(kind, expected, budget, reply);
            act.pending.insert(id.clone(), request);
            act.status.set_pending(act.pending.len());
            act.send(act.channels.request(&nsp), bytes);
            ctx.run_later(timeout.saturating_sub(started.elapsed()), move |act, _| {
                act.pending.finish(&id);
                act.status.set_pending(act.pending.len());
            });
        }));
    }

    /// The request's type, message and deadline (`None`: a request that waits for nothing).
    fn encode(&self, id: &str, query: &Query) -> Option<(Kind, Vec<u8>, Duration)> {
        let uid = &*self.uid;
        let timeout = self.limits.request_timeout;
        Some(match query {
            Query::AllRooms => (Kind::AllRooms, request_wire::all_rooms(uid, id), timeout),
            Query::Fetch(target) => {
                let (rooms, except) = target_rooms(target);
                (
                    Kind::RemoteFetch,
                    request_wire::fetch(uid, id, &rooms, &except),
                    timeout,
                )
            }
            Query::Emit { ack: false, .. } => return None,
            Query::Emit { event, args, .. } => {
                let bytes = request_wire::server_side_emit(uid, Some(id), event, args.clone());
                (Kind::ServerSideEmit, bytes, timeout)
            }
            Query::AckBroadcast(b, wait) => {
                let ms = wait.as_millis() as u64;
                // The other nodes' sessions report a timeout at `wait`; a second more lets
                // their last acks arrive.
                (
                    Kind::Broadcast,
                    request_wire::broadcast(uid, id, b, ms),
                    *wait + Duration::from_secs(1),
                )
            }
        })
    }

    fn incoming(&mut self, msg: Incoming) {
        if msg.bytes.len() > self.limits.max_message_bytes {
            self.refused(
                &msg.nsp,
                AdapterDrop::TooLarge,
                format!(
                    "{} bytes, over [adapter] max_message_bytes",
                    msg.bytes.len()
                ),
            );
            return;
        }
        let message = match Message::decode(&msg.bytes) {
            Ok(m) => m,
            Err(why) => return self.refused(&msg.nsp, AdapterDrop::Malformed, why),
        };
        if msg.response {
            let size = msg.bytes.len();
            let taken = self
                .pending
                .on_response(&message, size, self.limits.max_items);
            if taken != Taken::NotOurs {
                self.hub.counters().adapter_message(false);
                self.status.set_pending(self.pending.len());
            }
            if taken == Taken::OverBudget {
                self.refused(
                    &msg.nsp,
                    AdapterDrop::TooLarge,
                    "answers over max_message_bytes per node for one request".into(),
                );
            }
            return;
        }
        let own = message.uid() == Some(&*self.uid)
            || message
                .request_id()
                .is_some_and(|id| self.pending.contains(id));
        if own {
            return;
        }
        self.hub.counters().adapter_message(false);
        let response_channel = self.channels.response(&msg.nsp);
        match self
            .responder
            .respond(&msg.nsp, &response_channel, &message)
        {
            Ok(()) => {}
            Err(Refusal::Malformed(why)) => self.refused(&msg.nsp, AdapterDrop::Malformed, why),
            Err(Refusal::Busy) => self.refused(
                &msg.nsp,
                AdapterDrop::RespondersBusy,
                "too many broadcasts with acks from other nodes wait already".into(),
            ),
        }
    }

    fn refused(&self, nsp: &str, reason: AdapterDrop, why: String) {
        self.status.dropped(reason, 1);
        self.hub.counters().adapter_error();
        siohub_actors::limited!(
            warn,
            "cluster adapter: a request or response on namespace {} dropped ({why})",
            siohub_actors::ClientText(nsp)
        );
    }
}

/// `PUBSUB NUMSUB <channel>`: how many connections subscribe to it.
async fn numsub(conn: &mut ConnectionManager, channel: &str) -> redis::RedisResult<usize> {
    let answer: (String, usize) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query_async(conn)
        .await?;
    Ok(answer.1)
}

/// A request id: random, as the Node adapter's 6 characters.
fn request_id() -> String {
    siohub_actors::random_id()
}

impl Actor for ClusterAdapter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.tick(ctx);
        ctx.run_interval(TICK, |act, ctx| act.tick(ctx));
    }
}

impl Handler<Ask> for ClusterAdapter {
    type Result = ();

    fn handle(&mut self, msg: Ask, ctx: &mut Context<Self>) {
        self.ask(msg, ctx);
    }
}

impl Handler<Incoming> for ClusterAdapter {
    type Result = ();

    fn handle(&mut self, msg: Incoming, _ctx: &mut Context<Self>) {
        self.incoming(msg);
    }
}

impl Handler<SinkUp> for ClusterAdapter {
    type Result = ();

    fn handle(&mut self, msg: SinkUp, _ctx: &mut Context<Self>) {
        self.sink = Some(msg.0);
    }
}
