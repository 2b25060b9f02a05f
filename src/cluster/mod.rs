//! The cluster adapter: several siohub nodes (and Node.js Socket.IO servers running
//! `@socket.io/redis-adapter` 8.3) sharing one Redis, in that adapter's classic pub/sub wire
//! format. Broadcasts this node delivers go out through the Broadcaster's
//! [`ClusterOutbox`](siohub_actors::ClusterOutbox); broadcasts and requests from the other
//! nodes come in here and reach the local [`Hub`](siohub_actors::Hub).
//!
//! [`ClusterHandle`] is what the rest of the server uses: the node's uid, whether Redis is
//! reachable, how many nodes there are, and the requests to the other nodes (rooms, fetch
//! sockets, remote join / leave / disconnect, server-side emit, broadcast with acks).
//!
//! [`recovery_store`] keeps connection state recovery in Redis (events and socket records),
//! so that a client whose node died recovers on another one.

mod adapter;
mod broadcast_wire;
mod channels;
mod handle;
mod history;
mod inbound;
pub mod recovery_store;
mod redis_link;
mod request_wire;
mod requests;
mod responder;
mod status;
mod values;

pub use handle::{ClusterHandle, ClusterReply, RemoteSocket};
pub use status::{AdapterDrop, LinkStatus};

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::Actor;
use siohub_actors::{random_id, ClusterOutbox, Hub, OutboundBroadcast, OutboxReceiver};

use crate::config::Settings;
use adapter::{AdapterParts, ClusterAdapter, Incoming, Limits, SinkUp};
use channels::{Channel, Channels};
use handle::HandleParts;
use history::loader::Loader;
use history::writer::{Append, HistoryWriter};
use history::HistoryKeys;
use redis_link::{Publish, SubscriberEvent};

/// Namespaces whose request channel a node SUBSCRIBEs to at most (dynamic namespaces beyond
/// it are still served through the patterns, only not counted by other nodes).
const MAX_SERVED_NAMESPACES: usize = 1_000;

/// Starts the adapter for `hub` (whose Broadcaster publishes through `outbox`); returns its
/// handle at once: it connects to Redis in the background, and reconnects by itself.
pub fn start(
    settings: &Settings,
    hub: &Hub,
    outbox: ClusterOutbox,
    receiver: OutboxReceiver,
) -> ClusterHandle {
    let adapter = &settings.adapter;
    let uid: Arc<str> = node_uid().into();
    let channels = Channels::new(&adapter.key_prefix);
    let status = Arc::new(LinkStatus::default());
    let limits = limits(settings);
    let mut parts = HandleParts {
        uid: uid.clone(),
        outbox,
        status: status.clone(),
        request_timeout: limits.request_timeout,
        channels: channels.clone(),
        adapter: None,
        publish: None,
    };
    let connected = redis::Client::open(adapter.redis_url.as_str())
        .and_then(|client| Ok((redis_link::publisher(&client)?, client)));
    let (conn, client) = match connected {
        Ok(both) => both,
        Err(e) => {
            log::error!(
                "cluster adapter: cannot use Redis at {} ({e}); this node delivers locally only",
                adapter.masked_url()
            );
            status.set_publisher(Some(format!("bad redis_url: {e}")));
            status.set_subscriber(Some(format!("bad redis_url: {e}")));
            // The outbox's receiver goes: what the Broadcaster offers is counted as closed.
            drop(receiver);
            return ClusterHandle::new(parts);
        }
    };
    let max_bytes = adapter
        .max_message_bytes
        .saturating_mul(redis_link::QUEUED_MESSAGE_SIZES);
    let (publish, own) = redis_link::Outgoing::new(adapter.max_queued, max_bytes, status.clone());
    let encode = encoder(uid.clone(), channels.clone(), hub.clone());
    let counters = hub.counters().clone();
    let history_keys = HistoryKeys::new(&adapter.key_prefix);
    let history = HistoryWriter::new(
        history_keys.clone(),
        adapter.history_max_rooms,
        parts.outbox.history_counters().clone(),
    );
    let publisher = redis_link::run_publisher(
        conn.clone(),
        own,
        receiver,
        encode,
        history,
        status.clone(),
        counters,
    );
    let loader = Loader::wanted(hub).then(|| Loader {
        hub: hub.clone(),
        conn: conn.clone(),
        keys: history_keys,
        uid: uid.clone(),
        max_rooms: adapter.history_max_rooms,
        timeout: Duration::from_millis(adapter.history_read_timeout_ms),
        next_id: Arc::default(),
        counters: parts.outbox.history_counters().clone(),
    });
    actix_rt::spawn(publisher);
    let served: redis_link::Served = Arc::new(Mutex::new(BTreeSet::from(["/".to_owned()])));
    let addr = ClusterAdapter::new(AdapterParts {
        uid: uid.clone(),
        hub: hub.clone(),
        channels: channels.clone(),
        conn,
        publish: publish.clone(),
        served: served.clone(),
        status: status.clone(),
        limits,
    })
    .start();
    let deliver = dispatcher(
        hub.clone(),
        uid.clone(),
        channels.clone(),
        status.clone(),
        addr.clone(),
        loader,
        inbound::Bounds {
            max_bytes: limits.max_message_bytes,
            max_backlog: adapter.max_queued,
        },
    );
    actix_rt::spawn(redis_link::run_subscriber(
        client, channels, served, status, deliver,
    ));
    log::info!(
        "cluster adapter: node {uid} on Redis {} (prefix {:?})",
        adapter.masked_url(),
        adapter.key_prefix
    );
    parts.adapter = Some(addr);
    parts.publish = Some(publish);
    ClusterHandle::new(parts)
}

/// The adapter's bounds, from `[adapter]` and the wire's own limits.
fn limits(settings: &Settings) -> Limits {
    let adapter = &settings.adapter;
    Limits {
        request_timeout: Duration::from_millis(adapter.request_timeout_ms),
        max_message_bytes: adapter.max_message_bytes,
        max_pending: adapter.max_pending_requests,
        max_rooms: broadcast_wire::MAX_ROOMS_PER_MESSAGE,
        max_items: responder::MAX_FETCHED,
        max_served: MAX_SERVED_NAMESPACES,
        max_rooms_per_socket: settings.limits.max_rooms_per_socket,
    }
}

/// How an outbound broadcast becomes a message: its channel and msgpack bytes.
fn encoder(uid: Arc<str>, channels: Channels, hub: Hub) -> redis_link::Encode {
    Box::new(move |b: OutboundBroadcast| {
        let policy = hub.policies().of(&b.target.nsp);
        // The Broadcaster appended an offset exactly when the namespace recovers.
        let offset = !policy.recovery.is_zero() && !b.volatile;
        let (room, bytes) = broadcast_wire::encode(&uid, &b, offset);
        let append = Append::of(&uid, &b);
        let publish = Publish {
            channel: channels.broadcast(&b.target.nsp, room.as_deref()),
            bytes,
        };
        (publish, append)
    })
}

/// What the subscriber loop does with each event: broadcasts go straight to the hub, requests
/// and responses to the adapter.
fn dispatcher(
    hub: Hub,
    uid: Arc<str>,
    channels: Channels,
    status: Arc<LinkStatus>,
    adapter: actix::Addr<ClusterAdapter>,
    loader: Option<Loader>,
    bounds: inbound::Bounds,
) -> impl FnMut(SubscriberEvent) {
    move |event| match event {
        SubscriberEvent::Up(sink) => {
            adapter.do_send(SinkUp(sink));
            // Before any message of the new subscription reaches the Broadcaster.
            if let Some(loader) = &loader {
                loader.start();
            }
        }
        SubscriberEvent::Message(msg) => {
            let Some(channel) =
                inbound::parse(&channels, msg.get_channel_name(), msg.from_pattern())
            else {
                return;
            };
            let bytes = msg.get_payload_bytes();
            match channel {
                Channel::Broadcast { .. } => {
                    inbound::deliver(&hub, &uid, &status, bounds, channel, bytes)
                }
                Channel::Request(nsp) | Channel::Response(nsp) => adapter.do_send(Incoming {
                    response: matches!(channel, Channel::Response(_)),
                    nsp: nsp.to_owned(),
                    bytes: bytes.to_vec(),
                }),
            }
        }
    }
}

/// A node uid: random, alphanumeric, like the 6 characters `@socket.io/redis-adapter`
/// uses (longer, so two nodes never share one).
fn node_uid() -> String {
    random_id()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect()
}
