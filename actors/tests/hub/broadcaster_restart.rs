//! The Broadcaster's restart: what it kept goes on, and so does the delivery of gathered
//! runs. The hub's arbiter is held (see `support::read_lock`) while messages queue up, so
//! the Broadcaster meets them in a chosen order.
#![cfg(feature = "fault-injection")]

use std::time::Duration;

use crate::support::read_lock::{hold_behind_join, stats};
use crate::support::{event, hub, namespaces, room, Client, Sockets};
use serde_json::json;
use siohub_actors::{DeliveryPolicy, HubActor};

/// A run of deliveries gathered (more messages were waiting) must still go out after a
/// restart that dropped the timer which would have flushed the previous run.
#[actix_rt::test]
async fn a_run_gathered_after_a_restart_is_delivered() {
    let hub = hub(DeliveryPolicy::default());
    let sockets = Sockets::default();
    let (mut client, _) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    let socket = sockets.last();
    socket.join("r").await.unwrap();

    // Hold the hub's arbiter: the RoomSupervisor waits inside a join.
    let (lock, join) = hold_behind_join(&hub, socket.clone(), "x").await;
    // Gathered (a crash waits behind it) and timed; the crash drops the timer.
    let first = hub.broadcast(event(room("r"), "ev", json!(1)));
    hub.crash(HubActor::Broadcaster);
    // Gathered again (a query waits behind it); nothing else follows.
    let second = hub.broadcast(event(room("r"), "ev", json!(2)));
    let query = hub.buffered("/", "r", Duration::from_secs(60));
    lock.release();
    join.await.unwrap().unwrap();
    first.await.unwrap();
    second.await.unwrap();
    query.await.unwrap();
    assert_eq!(stats(&hub, HubActor::Broadcaster).restarts, 1);

    assert_eq!(client.events("ev", 2).await, vec![json!(1), json!(2)]);
}
