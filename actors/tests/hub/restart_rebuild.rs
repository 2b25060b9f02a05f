//! The RoomSupervisor's restart rebuild (the sessions announce their sockets again) racing
//! a socket being added and a room being joined. The RoomSupervisor is held at a chosen
//! point by a read lock on the membership (its writes wait for it), so each interleaving is
//! forced, not hoped for.
#![cfg(feature = "fault-injection")]

use std::sync::mpsc;

use crate::support::read_lock::{stats, until, ReadLock};
use crate::support::{hub, namespaces, Client, Sockets};
use actix::Arbiter;
use siohub_actors::{DeliveryPolicy, Hub, HubActor};

fn room_supervisor(hub: &Hub) -> siohub_actors::ActorStatsSnapshot {
    stats(hub, HubActor::RoomSupervisor)
}

/// A socket whose AddSocket the RoomSupervisor handled just before it crashed: the restart
/// asked its session to announce its sockets while the CONNECT was still waiting for the
/// answer, and reconciles the membership with what the session announces once it resumes.
/// The socket must be in the membership once connected.
#[actix_rt::test]
async fn a_socket_added_just_before_a_room_supervisor_restart_is_in_the_membership() {
    let hub = hub(DeliveryPolicy::default());
    let sockets = Sockets::default();
    // A witness on this thread: its re-announcement shows the restart is over.
    let (_witness, _) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    // The socket under test lives on an arbiter of its own, which the test can stop.
    let other = Arbiter::new();
    let (opened_tx, opened) = futures::channel::oneshot::channel();
    let (h, ns) = (hub.clone(), namespaces(&sockets, None));
    other.spawn(async move {
        let _ = opened_tx.send(Client::open(&h, ns).await);
    });
    let mut client = opened.await.unwrap();

    let lock = ReadLock::hold(&hub);
    // Its CONNECT: the session hands the socket to the RoomSupervisor, which waits for
    // the lock before it can answer.
    client.post(&["0"]).await;
    // Stop the session's arbiter so the answer and the restart's announcement request
    // both wait in the session.
    let (stopped_tx, stopped) = mpsc::channel();
    let (resume, resumed) = mpsc::channel::<()>();
    other.spawn(async move {
        stopped_tx.send(()).unwrap();
        let _ = resumed.recv();
    });
    stopped.recv().unwrap();
    hub.crash(HubActor::RoomSupervisor);
    lock.release();
    until("the RoomSupervisor restarted", || {
        room_supervisor(&hub).restarts >= 1
    })
    .await;
    // The restart keeps the published membership while it reconciles it with the
    // sessions' announcements: both sockets stay in it (the witness announces itself
    // again; the other session cannot answer until it resumes).
    until(
        "the restart's messages are handled, both sockets kept",
        || room_supervisor(&hub).mailbox_depth == 0 && hub.socket_count("/") == 2,
    )
    .await;
    resume.send(()).unwrap();

    let reply = client.next_matching(|p| p.starts_with('0')).await;
    let reply: serde_json::Value = serde_json::from_str(&reply[1..]).unwrap();
    let id = reply["sid"].as_str().unwrap().to_owned();
    until("the new socket is in the membership", || {
        hub.resolve(&siohub_actors::Target::namespace("/"))
            .iter()
            .any(|(socket_id, _)| **socket_id == *id)
    })
    .await;
}

/// A join queued behind the RoomSupervisor's crash reaches it after the restart cleared the
/// membership and before the session announced the socket again: the socket is in the
/// room once the announcement lands (the session announces the room it joined), so the
/// join must not be answered "not connected".
#[actix_rt::test]
async fn a_join_across_a_room_supervisor_restart_is_answered_as_joined() {
    let hub = hub(DeliveryPolicy::default());
    let sockets = Sockets::default();
    let (_client, reply) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    let id = reply["sid"].as_str().unwrap().to_owned();
    let socket = sockets.last();

    let lock = ReadLock::hold(&hub);
    hub.crash(HubActor::RoomSupervisor);
    // The restart clears the membership first: it waits for the lock there, before it
    // asks the sessions to announce.
    until("the RoomSupervisor is restarting", || {
        room_supervisor(&hub).restarts >= 1
    })
    .await;
    let join = actix_rt::spawn(async move { socket.join("r").await });
    until("the join is queued", || {
        room_supervisor(&hub).mailbox_depth >= 1
    })
    .await;
    lock.release();

    let joined = join.await.unwrap();
    until("the socket is in the room again", || {
        hub.members("/", "r") == vec![id.clone()]
    })
    .await;
    assert_eq!(joined, Ok(0), "the socket is in the room");
}
