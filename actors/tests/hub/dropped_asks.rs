//! A request to a singleton whose asker stops waiting before the singleton gets to it: it
//! is still handled (a broadcast still delivered) and counted off the mailbox depth. With
//! `Addr::send`, actix skipped such a handler, the depth stayed raised for good, and the
//! Broadcaster, reading more broadcasts as waiting, held every later run for its flush
//! timer.
#![cfg(feature = "fault-injection")]

use crate::support::read_lock::{hold_behind_join, stats, until};
use crate::support::{event, hub, namespaces, room, Client, Sockets};
use serde_json::json;
use siohub_actors::{DeliveryPolicy, HubActor};

#[actix_rt::test]
async fn a_broadcast_whose_asker_left_is_delivered_and_counted_off() {
    let hub = hub(DeliveryPolicy::default());
    let sockets = Sockets::default();
    let (mut client, _) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    let socket = sockets.last();
    socket.join("r").await.unwrap();

    // Hold the hub's arbiter behind a join, so the broadcast waits in the mailbox while
    // its asker goes away.
    let (lock, join) = hold_behind_join(&hub, socket.clone(), "x").await;
    drop(hub.broadcast(event(room("r"), "ev", json!("no one waits"))));
    drop(hub.list_connections(0, 10));
    assert!(stats(&hub, HubActor::Broadcaster).mailbox_depth >= 1);
    lock.release();
    join.await.unwrap().unwrap();

    assert_eq!(client.events("ev", 1).await, vec![json!("no one waits")]);
    until("the Broadcaster's mailbox depth is back to 0", || {
        stats(&hub, HubActor::Broadcaster).mailbox_depth == 0
    })
    .await;
    until("the ConnectionManager's mailbox depth is back to 0", || {
        stats(&hub, HubActor::ConnectionManager).mailbox_depth == 0
    })
    .await;
}
