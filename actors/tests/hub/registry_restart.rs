//! The session registry across a ConnectionManager restart: the manager is its only
//! writer, so registrations and unregistrations queued behind a crash must still land, and
//! what was registered before must still be there after.
#![cfg(feature = "fault-injection")]

use crate::support::read_lock::{stats, until};
use crate::support::{hub, namespaces, Client, Sockets};
use siohub_actors::{DeliveryPolicy, DisconnectReason, HubActor};

/// A session opened while the ConnectionManager crashes (its registration queued behind
/// the crash) is registered once its handshake may be answered; the sessions registered
/// before the crash still are; and a session that stops after the restart is unregistered.
#[actix_rt::test]
async fn the_registry_stays_right_across_a_connection_manager_restart() {
    let hub = hub(DeliveryPolicy::default());
    let sockets = Sockets::default();
    let before = Client::open(&hub, namespaces(&sockets, None)).await;
    let leaving = Client::open(&hub, namespaces(&sockets, None)).await;

    hub.crash(HubActor::ConnectionManager);
    // `open` waits for the registration, which the manager handles after its restart.
    let during = Client::open(&hub, namespaces(&sockets, None)).await;
    assert!(hub.registry().get(&during.sid).is_some());
    assert!(stats(&hub, HubActor::ConnectionManager).restarts >= 1);
    assert!(hub.registry().get(&before.sid).is_some());

    // A fault of the client's ends a polling session at once: it stops and is unregistered.
    hub.close_session(&leaving.sid, DisconnectReason::TransportError)
        .unwrap();
    until("the stopped session is unregistered", || {
        hub.registry().get(&leaving.sid).is_none()
    })
    .await;
    assert_eq!(hub.registry().len(), 2);

    // Its end crosses another crash: it lands after the restart.
    hub.close_session(&before.sid, DisconnectReason::TransportError)
        .unwrap();
    hub.crash(HubActor::ConnectionManager);
    until(
        "the session that stopped across a crash is unregistered",
        || hub.registry().get(&before.sid).is_none(),
    )
    .await;
    assert_eq!(hub.registry().len(), 1);
    assert!(hub.registry().get(&during.sid).is_some());
}
