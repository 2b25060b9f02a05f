//! The seam to the cluster adapter: what the Broadcaster offers to its `ClusterOutbox`
//! (every broadcast that may have recipients elsewhere, with the recovery offset local
//! recipients got; none aimed only at this node's own sockets; none it got from another
//! node), and a `RemoteBroadcast` delivered and buffered like a local one.

use std::time::Duration;

use crate::support::{event, namespaces, room, Client, Sockets};
use serde_json::{json, Value};
use siohub_actors::{
    BufferPolicy, ClusterOutbox, DeliveryPolicies, DeliveryPolicy, Hub, Payload, RemoteBroadcast,
    Target,
};

fn clustered(policy: DeliveryPolicy, capacity: usize) -> (Hub, siohub_actors::OutboxReceiver) {
    let (outbox, receiver) = ClusterOutbox::new(capacity);
    (
        Hub::start_clustered(DeliveryPolicies::new(policy), outbox),
        receiver,
    )
}

#[actix_rt::test]
async fn broadcasts_go_to_the_outbox_with_their_offset_but_not_those_for_local_sockets() {
    let policy = DeliveryPolicy {
        recovery: Duration::from_secs(60),
        ..DeliveryPolicy::default()
    };
    let (hub, mut outbox) = clustered(policy, 8);
    let sockets = Sockets::default();
    let (mut client, _) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    let id = sockets.last().id().to_string();

    hub.broadcast(event(room("r"), "to_room", json!(1)))
        .await
        .unwrap();
    let out = outbox.try_recv().expect("a room broadcast goes out");
    assert_eq!(out.target, room("r"));
    assert_eq!(out.event, "to_room");
    // The offset local recipients got travels with it.
    assert_eq!(out.payload.args.len(), 2, "{:?}", out.payload.args);
    assert!(out.payload.args[1].is_string());

    let mine = Target {
        socket_ids: vec![id.clone()],
        ..Target::namespace("/")
    };
    hub.broadcast(event(mine, "direct", json!(2)))
        .await
        .unwrap();
    assert_eq!(client.events("direct", 1).await, vec![json!(2)]);
    assert!(
        outbox.try_recv().is_err(),
        "only a local socket: not sent to Redis"
    );

    let elsewhere = Target {
        socket_ids: vec![id, "on-another-node".into()],
        ..Target::namespace("/")
    };
    hub.broadcast(event(elsewhere, "mixed", json!(3)))
        .await
        .unwrap();
    assert_eq!(outbox.try_recv().unwrap().event, "mixed");

    let remote = RemoteBroadcast {
        target: Target::namespace("/"),
        event: "remote".into(),
        payload: Payload::new(vec![json!(4), json!("origin-offset")]),
        volatile: false,
        origin_offset: true,
        key: None,
    };
    assert_eq!(hub.remote_broadcast(remote).await.unwrap().recipients, 1);
    assert_eq!(client.events("remote", 1).await, vec![json!(4)]);
    assert!(
        outbox.try_recv().is_err(),
        "a remote broadcast is never sent back"
    );
}

#[actix_rt::test]
async fn a_full_outbox_drops_and_counts_and_local_delivery_goes_on() {
    let (outbox, _receiver) = ClusterOutbox::new(1);
    let policies = DeliveryPolicies::new(DeliveryPolicy::default());
    let hub = Hub::start_clustered(policies, outbox.clone());
    let sockets = Sockets::default();
    let (mut client, _) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    for n in 0..3 {
        hub.broadcast(event(Target::namespace("/"), "ev", json!(n)))
            .await
            .unwrap();
    }
    let got: Vec<Value> = client.events("ev", 3).await;
    assert_eq!(got, vec![json!(0), json!(1), json!(2)]);
    assert_eq!(outbox.counters().queued(), 1);
    assert_eq!(outbox.counters().dropped_full(), 2);
}

#[actix_rt::test]
async fn a_remote_broadcast_is_buffered_like_a_local_one() {
    let policy = DeliveryPolicy {
        buffer: BufferPolicy::Always,
        buffer_size: 10,
        ..DeliveryPolicy::default()
    };
    let (hub, _outbox) = clustered(policy, 8);
    let remote = RemoteBroadcast {
        target: room("r"),
        event: "kept".into(),
        payload: Payload::new(vec![json!("x")]),
        volatile: false,
        origin_offset: false,
        key: None,
    };
    assert_eq!(hub.remote_broadcast(remote).await.unwrap().recipients, 0);
    let buffered = hub
        .buffered("/", "r", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(buffered, 1);
}

/// A join of an always-room while a history load is in flight waits for it, then gets the
/// loaded events first, each once (one was held already: it came live).
#[actix_rt::test]
async fn a_join_waits_for_the_history_load_and_gets_it_once_in_order() {
    use siohub_actors::room_history::{
        HistoryKey, HistoryLoadStart, HistoryLoaded, LoadCount, LoadOutcome, LoadSkip, LoadedEvent,
    };
    use siohub_actors::wire_frame::WireFrame;

    let policy = DeliveryPolicy {
        buffer: BufferPolicy::Always,
        buffer_size: 10,
        ..DeliveryPolicy::default()
    };
    let (outbox, _receiver) = ClusterOutbox::new(8);
    let hub = Hub::start_clustered(DeliveryPolicies::new(policy), outbox.clone());
    let sockets = Sockets::default();
    let (mut client, _) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    let key = |seq: u64| HistoryKey {
        origin: Some("n1".into()),
        seq,
        at_us: 1_000 + seq,
    };
    // Event 2 came live before the load; the load has 1 and 2.
    let live = RemoteBroadcast {
        target: room("r"),
        event: "ev".into(),
        payload: Payload::new(vec![json!(2)]),
        volatile: false,
        origin_offset: false,
        key: Some(key(2)),
    };
    hub.remote_broadcast(live).await.unwrap();
    hub.history_load_start(HistoryLoadStart {
        id: 1,
        timeout: Duration::from_secs(60),
    });
    let socket = sockets.last();
    let join = actix_rt::spawn(async move { socket.join("r").await });
    let counters = outbox.history_counters().clone();
    crate::support::read_lock::until("the join waits for the load", || counters.joins_held() == 1)
        .await;
    assert!(!join.is_finished(), "the join's replay waits");
    let loaded = |seq: u64| LoadedEvent {
        room: "r".into(),
        key: key(seq),
        age: Duration::from_secs(1),
        frames: vec![WireFrame::text(format!("42[\"ev\",{seq}]"))].into(),
    };
    hub.history_loaded(HistoryLoaded {
        id: 1,
        namespaces: vec![("/".into(), vec![loaded(2), loaded(1)])],
        outcome: LoadOutcome::Complete,
    });
    let replayed = join.await.unwrap().expect("the join succeeds");
    assert_eq!(replayed, 2);
    assert_eq!(client.events("ev", 2).await, vec![json!(1), json!(2)]);
    assert_eq!(counters.events_loaded(), 1);
    assert_eq!(counters.events_skipped(LoadSkip::Duplicate), 1);
    assert_eq!(counters.loads(LoadCount::Complete), 1);
}

/// A link that keeps resubscribing starts a load more often than a load's timeout: a join
/// held by the first still gets its answer by the first one's deadline, not when the loads
/// stop coming.
#[actix_rt::test]
async fn loads_started_again_and_again_hold_a_join_no_longer_than_the_first_timeout() {
    use siohub_actors::room_history::{HistoryLoadStart, LoadCount};

    let policy = DeliveryPolicy {
        buffer: BufferPolicy::Always,
        buffer_size: 10,
        ..DeliveryPolicy::default()
    };
    let (outbox, _receiver) = ClusterOutbox::new(8);
    let hub = Hub::start_clustered(DeliveryPolicies::new(policy), outbox.clone());
    let sockets = Sockets::default();
    let (_client, _) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    let timeout = Duration::from_millis(300);
    hub.history_load_start(HistoryLoadStart { id: 1, timeout });
    let socket = sockets.last();
    let join = actix_rt::spawn(async move { socket.join("r").await });
    let counters = outbox.history_counters().clone();
    crate::support::read_lock::until("the join waits for the load", || counters.joins_held() == 1)
        .await;
    // A new load every 50 ms for 6 s (none of them ever ends), 20 timeouts' worth.
    let mut id = 1;
    while !join.is_finished() && id < 120 {
        id += 1;
        hub.history_load_start(HistoryLoadStart { id, timeout });
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        join.is_finished(),
        "the join still waits after {id} loads started"
    );
    assert!(id < 120, "answered while the loads kept starting");
    join.await.unwrap().expect("the join succeeds");
    assert_eq!(counters.loads(LoadCount::TimedOut), 1);
}
