//! The two Redis connections of a node. Publishing and commands go through the `redis`
//! crate's `ConnectionManager` (it reconnects by itself on the next command); the publisher
//! task drains the outbox and the adapter's own messages in order, a pipeline of PUBLISHes
//! per batch, and counts what failed. The subscribing connection has a loop of its own: it
//! connects, PSUBSCRIBEs to every namespace's channels and SUBSCRIBEs to the request channels
//! of the namespaces this node serves (to be counted by `PUBSUB NUMSUB`), hands every message
//! on, PINGs every few seconds, and when the connection ends or stops answering starts again
//! with a backoff (100 ms doubling to 5 s).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSubSink};
use redis::{Client, Msg};
use siohub_actors::{OutboundBroadcast, OutboxReceiver};
use tokio::sync::mpsc;

use super::channels::Channels;
use super::history::writer::{Append, HistoryWriter};
use super::status::{AdapterDrop, LinkStatus};

/// How long connecting (or a command) may take before it counts as a failure.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The first and the longest wait before the subscriber connects again.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How often the subscribing connection is checked with a PING.
const PING_EVERY: Duration = Duration::from_secs(3);
/// Messages published in one pipeline at most.
const BATCH: usize = 1024;
/// How long after Redis came back a channel with fewer subscribers than before it went
/// down counts its messages as lost for the missing ones (they have not subscribed again
/// yet); past it, a node still missing left the cluster.
const RESUBSCRIBE_GRACE: Duration = Duration::from_secs(30);

/// Channels whose subscriber counts are remembered at most (one per namespace and kind).
const MAX_CHANNELS: usize = 4096;

/// Per channel, how many subscribers its last PUBLISH reached, and those counts from
/// before Redis went down: after Redis comes back the nodes subscribe again each after
/// its own backoff, and what Redis takes meanwhile reaches fewer of them. Such messages
/// are lost for the missing nodes and counted (`unsubscribed`).
#[derive(Default)]
struct Receivers {
    last: std::collections::HashMap<String, i64>,
    /// The counts from before the outage, and when Redis answered again (`None` while it
    /// is still down).
    outage: Option<(
        std::collections::HashMap<String, i64>,
        Option<std::time::Instant>,
    )>,
}

impl Receivers {
    /// A pipeline failed: Redis is down.
    fn failed(&mut self) {
        if self.outage.is_none() {
            self.outage = Some((self.last.clone(), None));
        }
    }

    /// A PUBLISH on `channel` reached `n` subscribers: whether one that listened before
    /// the outage did not get it.
    fn published(&mut self, channel: &str, n: i64) -> bool {
        let missed = match &mut self.outage {
            Some((before, back)) => {
                let back = *back.get_or_insert_with(std::time::Instant::now);
                back.elapsed() < RESUBSCRIBE_GRACE
                    && before.get(channel).is_some_and(|&was| n < was)
            }
            None => false,
        };
        if self.last.len() < MAX_CHANNELS || self.last.contains_key(channel) {
            self.last.insert(channel.to_owned(), n);
        }
        missed
    }

    /// The outage is over for counting once every channel reaches as many as before it,
    /// or the grace has passed (a node still missing then left the cluster).
    fn settle(&mut self) {
        if let Some((before, back)) = &self.outage {
            let all_back = before
                .iter()
                .all(|(ch, was)| self.last.get(ch).is_some_and(|now| now >= was));
            let over = back.is_some_and(|t| t.elapsed() >= RESUBSCRIBE_GRACE);
            if back.is_some() && (all_back || over) {
                self.outage = None;
            }
        }
    }
}

/// One message for Redis: a channel and its bytes.
pub(crate) struct Publish {
    /// The channel.
    pub channel: String,
    /// The message.
    pub bytes: Vec<u8>,
}

/// The adapter's own messages for Redis (requests, answers to other nodes' requests, remote
/// join / leave / disconnect): at most `max_queued` messages and [`QUEUED_MESSAGE_SIZES`]
/// times `max_message_bytes` bytes wait, as broadcasts in the outbox; one more is dropped
/// and counted (`queue_full`). Without a bound a hung Redis let every API call and every
/// peer's request (whose answer may be megabytes: all rooms, fetched sockets) add to it.
#[derive(Clone)]
pub(crate) struct Outgoing {
    queue: mpsc::Sender<Publish>,
    bytes: Arc<AtomicUsize>,
    max_bytes: usize,
    status: Arc<LinkStatus>,
}

/// How many largest messages the adapter's own queue holds at most, in bytes.
pub(crate) const QUEUED_MESSAGE_SIZES: usize = 64;

impl Outgoing {
    /// A queue of `capacity` messages and `max_bytes` bytes, and its receiving end for the
    /// publisher.
    pub(crate) fn new(
        capacity: usize,
        max_bytes: usize,
        status: Arc<LinkStatus>,
    ) -> (Self, OutgoingReceiver) {
        let (queue, receiver) = mpsc::channel(capacity.max(1));
        let bytes = Arc::new(AtomicUsize::new(0));
        let receiver = OutgoingReceiver {
            receiver,
            bytes: bytes.clone(),
        };
        let queue = Outgoing {
            queue,
            bytes,
            max_bytes,
            status,
        };
        (queue, receiver)
    }

    /// Queues `p` for Redis, or drops and counts it when the queue is full.
    pub(crate) fn send(&self, p: Publish) {
        let size = p.bytes.len();
        let held = self.bytes.fetch_add(size, Ordering::Relaxed);
        let fits = held.saturating_add(size) <= self.max_bytes;
        if fits && self.queue.try_send(p).is_ok() {
            return;
        }
        self.bytes.fetch_sub(size, Ordering::Relaxed);
        if self.queue.is_closed() {
            return;
        }
        self.status.dropped(AdapterDrop::QueueFull, 1);
        siohub_actors::limited!(
            warn,
            "cluster adapter: the adapter's messages waiting for Redis fill its queue ([adapter] max_queued messages, {} bytes); one dropped",
            self.max_bytes
        );
    }
}

/// The publisher's end of [`Outgoing`]: what it takes leaves the queue's byte count.
pub(crate) struct OutgoingReceiver {
    receiver: mpsc::Receiver<Publish>,
    bytes: Arc<AtomicUsize>,
}

impl OutgoingReceiver {
    fn taken(&self, p: Publish) -> Publish {
        self.bytes.fetch_sub(p.bytes.len(), Ordering::Relaxed);
        p
    }

    async fn recv(&mut self) -> Option<Publish> {
        let p = self.receiver.recv().await?;
        Some(self.taken(p))
    }

    fn try_recv(&mut self) -> Option<Publish> {
        let p = self.receiver.try_recv().ok()?;
        Some(self.taken(p))
    }
}

/// The publishing connection (connected lazily, reconnected by itself).
pub(crate) fn publisher(client: &Client) -> redis::RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(CONNECT_TIMEOUT))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(500));
    ConnectionManager::new_lazy_with_config(client.clone(), config)
}

/// Turns an outbound broadcast into a message for Redis, with what the room histories keep
/// of it.
pub(crate) type Encode = Box<dyn Fn(OutboundBroadcast) -> (Publish, Option<Append>) + Send>;

/// Publishes what comes from the adapter (`own`, first) and from the outbox, in order,
/// until both are closed. The room history writes of a batch go first in its pipeline
/// (see `history`).
pub(crate) async fn run_publisher(
    mut conn: ConnectionManager,
    mut own: OutgoingReceiver,
    mut outbox: OutboxReceiver,
    encode: Encode,
    history: HistoryWriter,
    status: Arc<LinkStatus>,
    counters: Arc<siohub_actors::HubCounters>,
) {
    let mut batch: Vec<(Publish, Option<Append>)> = Vec::with_capacity(BATCH);
    let mut receivers = Receivers::default();
    loop {
        // Wait for one message from either source, then take what else is ready.
        tokio::select! {
            biased;
            Some(p) = own.recv() => batch.push((p, None)),
            Some(b) = outbox.recv() => batch.push(encode(b)),
            else => return,
        }
        while batch.len() < BATCH {
            match own.try_recv() {
                Some(p) => batch.push((p, None)),
                None => break,
            }
        }
        while batch.len() < BATCH {
            match outbox.try_recv() {
                Ok(b) => batch.push(encode(b)),
                Err(_) => break,
            }
        }
        let mut pipe = redis::pipe();
        // A command Redis refuses (a history key of the wrong type, out of memory) fails
        // alone: the broadcasts of the batch still count as published.
        pipe.ignore_errors();
        let written = history.add(&mut pipe, batch.iter().filter_map(|(_, a)| a.as_ref()));
        for (p, _) in &batch {
            pipe.cmd("PUBLISH").arg(&p.channel).arg(&p.bytes);
        }
        let n = batch.len() as u64;
        // The answers: the history writes' first, then each PUBLISH's (how many subscribers
        // it reached).
        type Replies = Vec<redis::RedisResult<redis::Value>>;
        let mut sent = pipe.query_async::<Replies>(&mut conn).await;
        if sent
            .as_ref()
            .is_err_and(|e| e.is_connection_dropped() || e.is_io_error())
        {
            // A connection Redis dropped (it restarted) is noticed by the first command on
            // it; the connection manager reconnects for the next one: one more try.
            sent = pipe.query_async::<Replies>(&mut conn).await;
        }
        let replies = written.replies();
        history.done(written, sent.as_ref().ok().and_then(|r| r.get(..replies)));
        // A PUBLISH Redis refused fails as if the pipeline had.
        let sent = sent.and_then(|r| {
            r.into_iter()
                .skip(replies)
                .map(|reply| match reply? {
                    redis::Value::Int(n) => Ok(n),
                    _ => Ok(0),
                })
                .collect::<redis::RedisResult<Vec<i64>>>()
        });
        match sent {
            Ok(reached) => {
                status.set_publisher(None);
                for _ in 0..n {
                    counters.adapter_message(true);
                }
                let missed = batch
                    .iter()
                    .zip(&reached)
                    .filter(|((p, _), &r)| receivers.published(&p.channel, r))
                    .count() as u64;
                receivers.settle();
                if missed > 0 {
                    status.dropped(AdapterDrop::Unsubscribed, missed);
                }
            }
            Err(e) => {
                receivers.failed();
                status.set_publisher(Some(e.to_string()));
                status.dropped(AdapterDrop::PublishFailed, n);
                siohub_actors::limited!(
                    warn,
                    "cluster adapter: {n} messages could not be published to Redis ({e}); they are lost for the other nodes"
                );
            }
        }
        batch.clear();
    }
}

/// The namespaces whose request channel this node SUBSCRIBEs to (shared by the adapter,
/// which adds to it, and the subscriber loop, which subscribes to all of them on connect).
pub(crate) type Served = Arc<Mutex<BTreeSet<String>>>;

/// What the subscriber loop tells its owner.
pub(crate) enum SubscriberEvent {
    /// Connected and subscribed: the sink adds subscriptions later.
    Up(PubSubSink),
    /// A message.
    Message(Msg),
}

/// Connects, subscribes and hands messages to `deliver` forever, reconnecting with a
/// backoff; records the connection's state in `status`.
pub(crate) async fn run_subscriber(
    client: Client,
    channels: Channels,
    served: Served,
    status: Arc<LinkStatus>,
    mut deliver: impl FnMut(SubscriberEvent),
) {
    let mut backoff = BACKOFF_MIN;
    let mut connected_once = false;
    loop {
        match subscribe(&client, &channels, &served).await {
            Ok(pubsub) => {
                if connected_once {
                    status.reconnected();
                    log::info!("cluster adapter: subscribed to Redis again");
                }
                connected_once = true;
                backoff = BACKOFF_MIN;
                status.set_subscriber(None);
                let (sink, stream) = pubsub.split();
                deliver(SubscriberEvent::Up(sink.clone()));
                let why = listen(sink, stream, &mut deliver).await;
                status.set_subscriber(Some(why.into()));
                log::warn!(
                    "cluster adapter: the subscribing connection to Redis was lost; reconnecting"
                );
            }
            Err(e) => {
                status.set_subscriber(Some(e.clone()));
                siohub_actors::limited!(
                    warn,
                    "cluster adapter: cannot subscribe to Redis ({e}); retrying in {} ms",
                    backoff.as_millis()
                );
            }
        }
        actix_rt::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Hands on every message until the connection ends, or stops answering a PING (a peer that
/// vanished without closing the TCP connection); says which.
async fn listen(
    mut sink: PubSubSink,
    mut stream: redis::aio::PubSubStream,
    deliver: &mut impl FnMut(SubscriberEvent),
) -> &'static str {
    let mut check = tokio::time::interval(PING_EVERY);
    check.reset();
    loop {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(msg) => deliver(SubscriberEvent::Message(msg)),
                None => return "the connection to Redis was lost",
            },
            _ = check.tick() => {
                let pong = tokio::time::timeout(CONNECT_TIMEOUT, sink.ping::<redis::Value>()).await;
                if !matches!(pong, Ok(Ok(_))) {
                    return "Redis stopped answering on the subscribing connection";
                }
            }
        }
    }
}

/// A new subscribing connection with every subscription in place.
async fn subscribe(
    client: &Client,
    channels: &Channels,
    served: &Served,
) -> Result<redis::aio::PubSub, String> {
    let setup = async {
        let mut pubsub = client.get_async_pubsub().await?;
        for pattern in channels.patterns() {
            pubsub.psubscribe(pattern).await?;
        }
        let names: Vec<String> = served
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|nsp| channels.request(nsp))
            .collect();
        if !names.is_empty() {
            pubsub.subscribe(names).await?;
        }
        Ok::<_, redis::RedisError>(pubsub)
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, setup).await {
        Ok(Ok(pubsub)) => Ok(pubsub),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())),
    }
}
