//! What a socket joining a room receives, and in which order: the replay first, then
//! everything live, and nothing twice.

use std::time::Duration;

use crate::support::read_lock::{hold_behind_join, ReadLock};
use crate::support::{event, hub, namespaces, room, Client, Sockets};
use serde_json::json;
use siohub_actors::{BroadcastWithAck, BufferPolicy, DeliveryPolicy};

fn always() -> DeliveryPolicy {
    DeliveryPolicy {
        buffer: BufferPolicy::Always,
        buffer_size: 100,
        ..DeliveryPolicy::default()
    }
}

/// The name of an event packet on `/` (with or without an ack id).
fn event_name(packet: &str) -> Option<String> {
    let json = packet
        .strip_prefix('2')?
        .trim_start_matches(|c: char| c.is_ascii_digit());
    let items: Vec<serde_json::Value> = serde_json::from_str(json).ok()?;
    Some(items.first()?.as_str()?.to_owned())
}

/// A broadcast asking for acks, resolved with the joining socket while its replay is on
/// its way, reaches the client after the replay, as any other live event does.
#[actix_rt::test]
async fn an_event_asking_for_acks_waits_behind_the_replay() {
    let hub = hub(always());
    let sockets = Sockets::default();
    let (mut client, _) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    hub.broadcast(event(room("r"), "kept", json!(1)))
        .await
        .unwrap();

    // The RoomSupervisor is inside the join, waiting for the lock.
    let (lock, join) = hold_behind_join(&hub, sockets.last(), "r").await;
    // Queued at the Broadcaster before the replay the join will ask for, resolved after
    // the join: the socket is a recipient.
    let (reports, _acks) = futures::channel::mpsc::unbounded();
    let asked = hub.broadcast_with_ack(BroadcastWithAck {
        broadcast: event(room("r"), "asked", json!(2)),
        timeout: Duration::from_secs(60),
        reports,
    });
    lock.release();
    assert_eq!(asked.await.unwrap().recipients, 1);
    assert_eq!(join.await.unwrap(), Ok(1));

    let mut names = Vec::new();
    while names.len() < 2 {
        let packet = client.next_matching(|p| p.starts_with('2')).await;
        names.push(event_name(&packet).unwrap());
    }
    assert_eq!(names, ["kept", "asked"], "the replay first");
}

/// Joining a room the socket is in already replays nothing: what the room buffered since
/// the first join reached the socket live.
#[actix_rt::test]
async fn joining_a_room_again_replays_nothing_it_got_live() {
    let hub = hub(always());
    let sockets = Sockets::default();
    let (mut client, _) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    let socket = sockets.last();
    assert_eq!(socket.join("r").await, Ok(0));
    hub.broadcast(event(room("r"), "ev", json!(1)))
        .await
        .unwrap();
    assert_eq!(client.events("ev", 1).await, vec![json!(1)]);
    assert_eq!(socket.join("r").await, Ok(0), "nothing to replay");
    hub.broadcast(event(room("r"), "ev", json!(2)))
        .await
        .unwrap();
    assert_eq!(
        client.events("ev", 1).await,
        vec![json!(2)],
        "event 1 came once"
    );
}

/// A broadcast asking for acks, resolved with a socket the RoomSupervisor has added while
/// its CONNECT reply waits for the answer, reaches the client after the CONNECT reply (and
/// its ack is waited for), as any other event would.
#[actix_rt::test]
async fn an_event_asking_for_acks_reaches_a_socket_whose_connect_is_being_answered() {
    let hub = hub(DeliveryPolicy::default());
    let sockets = Sockets::default();
    // The session lives on an arbiter of its own, which the test can stop.
    let other = actix::Arbiter::new();
    let (opened_tx, opened) = futures::channel::oneshot::channel();
    let (h, ns) = (hub.clone(), namespaces(&sockets, None));
    other.spawn(async move {
        let _ = opened_tx.send(Client::open(&h, ns).await);
    });
    let mut client = opened.await.unwrap();

    let lock = ReadLock::hold(&hub);
    client.post(&["0"]).await;
    // The session stops until both the RoomSupervisor's answer and the delivery wait in it.
    let (stopped_tx, stopped) = std::sync::mpsc::channel();
    let (resume, resumed) = std::sync::mpsc::channel::<()>();
    other.spawn(async move {
        stopped_tx.send(()).unwrap();
        let _ = resumed.recv();
    });
    stopped.recv().unwrap();
    let (reports, mut acks) = futures::channel::mpsc::unbounded();
    let asked = hub.broadcast_with_ack(BroadcastWithAck {
        broadcast: event(siohub_actors::Target::namespace("/"), "asked", json!(1)),
        timeout: Duration::from_secs(60),
        reports,
    });
    lock.release();
    assert_eq!(
        asked.await.unwrap().recipients,
        1,
        "resolved with the socket"
    );
    resume.send(()).unwrap();

    client.next_matching(|p| p.starts_with('0')).await;
    let packet = client.next_matching(|p| p.starts_with('2')).await;
    assert_eq!(event_name(&packet).as_deref(), Some("asked"));
    let id: String = packet[1..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    client.post(&[&format!("3{id}[\"ok\"]")]).await;
    use futures::StreamExt;
    let report = acks.next().await.unwrap();
    assert_eq!(report.result.map(|p| p.args), Ok(vec![json!("ok")]));
}

/// An event sent to two rooms reaches a member of the first live; when the socket then
/// joins the second, whose buffer kept the event, the event must not come again (a kept
/// event remembers its target, and membership the cutoff each room was entered at).
#[actix_rt::test]
async fn an_event_to_two_rooms_is_not_replayed_to_a_member_of_the_other() {
    let hub = hub(always());
    let sockets = Sockets::default();
    let (mut client, _) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    let socket = sockets.last();
    assert_eq!(socket.join("a").await, Ok(0));
    let both = siohub_actors::Target {
        rooms: vec!["a".into(), "b".into()],
        ..siohub_actors::Target::namespace("/")
    };
    hub.broadcast(event(both, "ev", json!(1))).await.unwrap();
    assert_eq!(client.events("ev", 1).await, vec![json!(1)]);
    assert_eq!(socket.join("b").await, Ok(0), "nothing it did not get");
}

/// The other side of the same rule: a socket that joined the other room only after the
/// event (so never got it) is handed it by the replay, and so is one named by the event's
/// except list (it never got it either).
#[actix_rt::test]
async fn an_event_to_two_rooms_is_replayed_to_whoever_did_not_get_it() {
    let hub = hub(always());
    let sockets = Sockets::default();
    let (mut client, _) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    let socket = sockets.last();
    let both = siohub_actors::Target {
        rooms: vec!["a".into(), "b".into()],
        ..siohub_actors::Target::namespace("/")
    };
    hub.broadcast(event(both.clone(), "ev", json!(1)))
        .await
        .unwrap();
    assert_eq!(
        socket.join("a").await,
        Ok(1),
        "a's buffer, before it was in b"
    );
    assert_eq!(
        socket.join("b").await,
        Ok(1),
        "b's buffer: it was not in a then"
    );
    assert_eq!(client.events("ev", 2).await, vec![json!(1), json!(1)]);

    let excepted = siohub_actors::Target {
        except_socket_ids: vec![socket.id().to_owned()],
        ..both
    };
    hub.broadcast(event(excepted, "ev2", json!(2)))
        .await
        .unwrap();
    assert_eq!(socket.join("c").await, Ok(0));
    assert_eq!(socket.leave("b").await, Ok(()));
    assert_eq!(
        socket.join("b").await,
        Ok(2),
        "the excepted event too, from b's buffer"
    );
}

/// A join of a room the socket is in already is answered by its session at once: it holds
/// nothing, so a client repeating the join cannot keep its live deliveries held (here the
/// RoomSupervisor cannot answer anything while the lock is held, and the repeat is still
/// answered).
#[actix_rt::test]
async fn a_repeated_join_is_answered_at_once_and_holds_nothing() {
    let hub = hub(always());
    let sockets = Sockets::default();
    let (_client, _) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    let socket = sockets.last();
    assert_eq!(socket.join("r").await, Ok(0));
    let lock = ReadLock::hold(&hub);
    let repeat = actix_rt::time::timeout(std::time::Duration::from_secs(20), socket.join("r"));
    assert_eq!(
        repeat.await,
        Ok(Ok(0)),
        "answered without the RoomSupervisor"
    );
    lock.release();
}
