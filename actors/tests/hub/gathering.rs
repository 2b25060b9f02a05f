//! Broadcasts handled while more wait in the Broadcaster's mailbox (some gathered into
//! runs, some handed out at once): each reaches each of its sockets once, in the order
//! they were broadcast, whichever rooms they went to.

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
async fn broadcasts_to_rooms_taking_turns_while_more_wait_keep_their_order() {
    let hub = hub(DeliveryPolicy::default());
    let sockets = Sockets::default();
    let (mut both, _) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    assert_eq!(sockets.last().join("a").await, Ok(0));
    assert_eq!(sockets.last().join("b").await, Ok(0));
    let (mut only_b, _) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    assert_eq!(sockets.last().join("b").await, Ok(0));

    // All queued at once: the Broadcaster handles each with more waiting behind (targets
    // taking turns, then runs of one target).
    let n = 600;
    let target = |i: usize| {
        if i < n / 2 {
            target_of(i)
        } else {
            target_of(i / 50)
        }
    };
    let sends = (0..n).map(|i| hub.broadcast(event(target(i), "ev", json!(i))));
    let outcomes = join_all(sends).await;
    for (i, outcome) in outcomes.into_iter().enumerate() {
        let expected = if target(i) == room("a") { 1 } else { 2 };
        assert_eq!(outcome.unwrap().recipients, expected, "broadcast {i}");
    }

    let numbers = |values: Vec<serde_json::Value>| -> Vec<usize> {
        values
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect()
    };
    assert_eq!(
        numbers(both.events("ev", n).await),
        (0..n).collect::<Vec<_>>(),
        "the socket in both rooms gets every event once, in order"
    );
    let to_b: Vec<usize> = (0..n).filter(|&i| target(i) != room("a")).collect();
    assert_eq!(
        numbers(only_b.events("ev", to_b.len()).await),
        to_b,
        "the socket in one room gets its events once, in order"
    );
}
