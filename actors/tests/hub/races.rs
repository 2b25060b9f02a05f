//! The three races of the first room design, each forced here: they are gone by
//! construction (see the crate documentation).

use std::sync::Arc;

use crate::support::{event, hub, namespaces, room, Client, Sockets};
use serde_json::{json, Value};
use siohub_actors::delivery::Deliver;
use siohub_actors::wire_frame::WireFrame;
use siohub_actors::{DeliveryPolicy, DisconnectReason, Target};

/// (b) A user-room emit in the instant after the CONNECT reply reaches the socket: the
/// reply goes out only once the RoomSupervisor has the socket in its user room.
#[actix_rt::test]
async fn a_user_room_emit_right_after_the_connect_reply_is_delivered() {
    let hub = hub(DeliveryPolicy::default());
    let sockets = Sockets::default();
    for i in 0..50 {
        let (mut client, _) =
            Client::connect(&hub, namespaces(&sockets, Some("alice")), None).await;
        let to_alice = Target {
            users: vec!["alice".into()],
            ..Target::namespace("/")
        };
        let out = hub
            .broadcast(event(to_alice, "dm", json!(i)))
            .await
            .unwrap();
        assert_eq!(out.recipients, 1, "round {i}");
        assert_eq!(client.events("dm", 1).await, vec![json!(i)]);
        hub.close_session(&client.sid, DisconnectReason::ForcedClose)
            .unwrap();
        while hub.socket_count("/") > 0 {
            actix_rt::task::yield_now().await;
        }
    }
}

/// (c) A delivery resolved for a socket that then left its namespace, on its way when a new
/// socket joins the same namespace on the same session, never reaches the new socket.
#[actix_rt::test]
async fn a_delivery_for_an_old_socket_never_reaches_its_successor() {
    let hub = hub(DeliveryPolicy::default());
    let sockets = Sockets::default();
    let (mut client, first) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    let old: Arc<str> = first["sid"].as_str().unwrap().into();
    client.post(&["1", "0"]).await;
    let reply = client.next_matching(|p| p.starts_with('0')).await;
    let second: Value = serde_json::from_str(&reply[1..]).unwrap();
    assert_ne!(second["sid"].as_str(), Some(&*old));
    // As if resolved before the leave and handed over after the rejoin.
    client.session.do_send(Deliver {
        nsp: "/".into(),
        socket_id: old,
        frames: vec![WireFrame::text("42[\"stale\"]".into())].into(),
        volatile: false,
    });
    hub.broadcast(event(Target::namespace("/"), "fresh", json!(1)))
        .await
        .unwrap();
    let next = client.next_matching(|p| p.starts_with('2')).await;
    assert_eq!(next, "2[\"fresh\",1]", "the stale delivery was dropped");
}

/// (a) A recovered socket keeps its rooms, whatever the old session's removal does after
/// the recovery put the socket back.
#[actix_rt::test]
async fn a_recovered_socket_keeps_its_rooms_after_the_old_removal() {
    let policy = DeliveryPolicy {
        recovery: std::time::Duration::from_secs(60),
        ..DeliveryPolicy::default()
    };
    let hub = hub(policy);
    let sockets = Sockets::default();
    let (mut old, first) = Client::connect(&hub, namespaces(&sockets, None), None).await;
    let (id, pid) = (first["sid"].clone(), first["pid"].clone());
    sockets.last().join("r").await.unwrap();
    hub.broadcast(event(room("r"), "ev", json!(1)))
        .await
        .unwrap();
    let packet = old.next_matching(|p| p.starts_with('2')).await;
    let offset: Value = serde_json::from_str::<Value>(&packet[1..]).unwrap()[2].clone();
    hub.close_session(&old.sid, DisconnectReason::TransportClose)
        .unwrap();
    hub.broadcast(event(room("r"), "ev", json!(2)))
        .await
        .unwrap();
    let auth = json!({ "pid": pid, "offset": offset });
    let (mut new, reply) = Client::connect(&hub, namespaces(&sockets, None), Some(auth)).await;
    assert_eq!(reply["sid"], id, "recovered");
    assert_eq!(
        new.events("ev", 1).await,
        vec![json!(2)],
        "the missed event"
    );
    // A removal of the old life of the socket, however late, removes nothing now.
    hub.broadcast(event(room("r"), "ev", json!(3)))
        .await
        .unwrap();
    assert_eq!(new.events("ev", 1).await, vec![json!(3)]);
    let id = id.as_str().unwrap().to_owned();
    assert_eq!(hub.members("/", "r"), vec![id]);
}
