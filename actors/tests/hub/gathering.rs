//! Deliveries gathered while broadcasts wait in the Broadcaster's mailbox: broadcasts to
//! different rooms, gathered per socket, reach each socket once each, in the order they
//! were broadcast.

use crate::support::{event, hub, namespaces, room, Client, Sockets};
use futures::future::join_all;
use serde_json::json;
use siohub_actors::{DeliveryPolicy, Target};

/// Broadcast `i` goes to room `a`, room `b` or the whole namespace, in turn.
fn target_of(i: usize) -> Target {
    match i % 3 {
        0 => room("a"),
        1 => room("b"),
        _ => Target::namespace("/"),
    }
}

#[actix_rt::test]
async fn broadcasts_to_different_rooms_gathered_per_socket_keep_their_order() {
    let hub = hub(DeliveryPolicy::default());
    let sockets = Sockets::default();
    let (mut both, _) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    assert_eq!(sockets.last().join("a").await, Ok(0));
    assert_eq!(sockets.last().join("b").await, Ok(0));
    let (mut only_b, _) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    assert_eq!(sockets.last().join("b").await, Ok(0));

    // All queued at once: the Broadcaster handles them with more waiting behind, so their
    // deliveries are gathered (one room after another, then per socket).
    let n = 600;
    let sends = (0..n).map(|i| hub.broadcast(event(target_of(i), "ev", json!(i))));
    let outcomes = join_all(sends).await;
    for (i, outcome) in outcomes.into_iter().enumerate() {
        let expected = if i % 3 == 0 { 1 } else { 2 };
        assert_eq!(outcome.unwrap().recipients, expected, "broadcast {i}");
    }

    let numbers = |values: Vec<serde_json::Value>| -> Vec<usize> {
        values.iter().map(|v| v.as_u64().unwrap() as usize).collect()
    };
    assert_eq!(
        numbers(both.events("ev", n).await),
        (0..n).collect::<Vec<_>>(),
        "the socket in both rooms gets every event once, in order"
    );
    assert_eq!(
        numbers(only_b.events("ev", n * 2 / 3).await),
        (0..n).filter(|i| i % 3 != 0).collect::<Vec<_>>(),
        "the socket in one room gets its events once, in order"
    );
}
