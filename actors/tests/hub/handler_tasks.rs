//! A handler that waits for something before it answers runs its task inside the session
//! (`Socket::run_in_session`): the join it asks for and its ack are applied there.

use crate::support::{event, hub, room, Client};
use serde_json::json;
use siohub_actors::{BufferPolicy, DeliveryPolicy, Namespaces};

fn joining_namespace() -> Namespaces {
    Namespaces::new().add("/", |n| {
        n.on("join", |socket, _payload, ack| {
            let (session, socket) = (socket.clone(), socket.clone());
            session.run_in_session(async move {
                let replayed = socket.join("r").await.expect("joined");
                socket.emit("joined", json!(replayed));
                if let Some(ack) = ack {
                    ack.send_json(json!([replayed]));
                }
            });
        })
    })
}

#[actix_rt::test]
async fn a_join_and_its_ack_run_inside_the_session() {
    let policy = DeliveryPolicy {
        buffer: BufferPolicy::Always,
        ..DeliveryPolicy::default()
    };
    let hub = hub(policy);
    hub.broadcast(event(room("r"), "ev", json!("before")))
        .await
        .unwrap();
    let (mut client, reply) = Client::connect(&hub, joining_namespace(), None).await;
    client.post(&["21[\"join\"]"]).await;
    let next = client.next_matching(|p| !p.starts_with('0')).await;
    assert_eq!(next, "2[\"ev\",\"before\"]", "the replay comes first");
    assert_eq!(client.next().await, "2[\"joined\",1]");
    assert_eq!(client.next().await, "31[1]");
    let id = reply["sid"].as_str().unwrap().to_owned();
    assert_eq!(hub.members("/", "r"), vec![id]);
}
