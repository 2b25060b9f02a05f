//! A join under a stream of broadcasts: the socket gets every event of the room once, in
//! order, whether it came from the replay (resolved before the join) or live (after it).

use std::time::Duration;

use crate::support::{event, hub, namespaces, room, Client, Sockets};
use futures::future::join_all;
use serde_json::json;
use siohub_actors::{BufferPolicy, DeliveryPolicy, Hub};

/// Broadcasts `n` numbered events to room `r`, one after the other, while a flood to room
/// `other` keeps the Broadcaster's mailbox busy (so deliveries are gathered into runs too).
fn stream(hub: &Hub, n: usize) -> actix_rt::task::JoinHandle<()> {
    let (ordered, flooded) = (hub.clone(), hub.clone());
    actix_rt::spawn(async move {
        let flood = actix_rt::spawn(async move {
            let sends = (0..n).map(|i| flooded.broadcast(event(room("other"), "noise", json!(i))));
            join_all(sends).await;
        });
        for i in 0..n {
            ordered
                .broadcast(event(room("r"), "ev", json!(i)))
                .await
                .unwrap();
        }
        flood.await.unwrap();
    })
}

/// Waits until the stream is under way (at least `k` events buffered in `r`), so the join
/// lands in the middle of it. Where it lands changes only how many events are replayed.
async fn under_way(hub: &Hub, k: usize) {
    let ttl = Duration::from_secs(3600);
    while hub.buffered("/", "r", ttl).await.unwrap() < k {
        actix_rt::task::yield_now().await;
    }
}

async fn join_during_stream(policy: DeliveryPolicy, n: usize) -> (Hub, usize, Vec<usize>) {
    let hub = hub(policy);
    let sockets = Sockets::default();
    let (mut client, _) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    let streaming = stream(&hub, n);
    under_way(&hub, 1).await;
    let replayed = sockets.last().join("r").await.expect("the join succeeds");
    streaming.await.unwrap();
    let received = client.events("ev", n).await;
    let received = received
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    (hub, replayed, received)
}

#[actix_rt::test]
async fn an_always_buffer_replays_what_came_before_the_join_and_nothing_twice() {
    let policy = DeliveryPolicy {
        buffer: BufferPolicy::Always,
        buffer_size: 100_000,
        ..DeliveryPolicy::default()
    };
    let n = 2000;
    let (_, replayed, received) = join_during_stream(policy, n).await;
    assert_eq!(
        received,
        (0..n).collect::<Vec<_>>(),
        "each event once, in order"
    );
    assert!(
        (1..n).contains(&replayed),
        "the join landed mid-stream: {replayed}"
    );
}

#[actix_rt::test]
async fn an_if_no_clients_buffer_hands_its_events_over_once() {
    let policy = DeliveryPolicy {
        buffer: BufferPolicy::IfNoClients,
        buffer_size: 100_000,
        ..DeliveryPolicy::default()
    };
    let n = 2000;
    let (hub, replayed, received) = join_during_stream(policy, n).await;
    assert_eq!(
        received,
        (0..n).collect::<Vec<_>>(),
        "each event once, in order"
    );
    assert!(replayed >= 1, "the join landed mid-stream: {replayed}");
    let ttl = Duration::from_secs(3600);
    assert_eq!(
        hub.buffered("/", "r", ttl).await.unwrap(),
        0,
        "what was replayed left the buffer, and nothing later was kept"
    );
}

#[actix_rt::test]
async fn a_room_that_buffers_nothing_is_answered_by_the_room_supervisor() {
    let n = 500;
    let hub = hub(DeliveryPolicy::default());
    let sockets = Sockets::default();
    let (mut client, _) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    let streaming = stream(&hub, n);
    let replayed = sockets.last().join("r").await.expect("the join succeeds");
    assert_eq!(replayed, 0);
    streaming.await.unwrap();
    // Whatever came after the join arrives, in order, once.
    hub.broadcast(event(room("r"), "ev", json!(n)))
        .await
        .unwrap();
    let mut received = Vec::new();
    while received.last() != Some(&n) {
        let next = client.events("ev", 1).await[0].as_u64().unwrap() as usize;
        received.push(next);
    }
    let first = received[0];
    assert_eq!(received, (first..=n).collect::<Vec<_>>());
}
