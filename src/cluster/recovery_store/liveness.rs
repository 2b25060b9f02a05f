//! Whether the node that owns a live record is still up: each node holds a subscription to
//! a channel named after it (`<prefix>-recovery-node#<node>`) for as long as it runs, so
//! `PUBSUB NUMSUB` of that channel is 1 while the node is connected to Redis and 0 as soon
//! as its connection closes (a killed process's sockets are closed by the kernel).
//!
//! A record written while its socket was connected (no disconnection time) may be taken only
//! when its owner is gone: taking it from a live node would give the client a second copy of
//! a socket that is still connected there. A hung node still holds its subscription, so its
//! sockets are not taken while it hangs (as on one node, where only a socket that
//! disconnected can be recovered).

use std::time::Duration;

use futures::StreamExt;
use redis::aio::ConnectionManager;
use redis::Client;

/// How often the held subscription is checked with a PING.
const PING_EVERY: Duration = Duration::from_secs(3);
/// The longest wait between two attempts to subscribe again.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The channel that says node `node` is up.
pub(super) fn channel(prefix: &str, node: &str) -> String {
    format!("{prefix}-recovery-node#{node}")
}

/// Holds the subscription to `channel` forever, subscribing again (with a backoff) when the
/// connection is lost or stops answering.
pub(super) async fn hold(client: Client, channel: String) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if let Ok(mut pubsub) = client.get_async_pubsub().await {
            if pubsub.subscribe(&channel).await.is_ok() {
                backoff = Duration::from_millis(100);
                let (mut sink, mut stream) = pubsub.split();
                let mut check = tokio::time::interval(PING_EVERY);
                check.reset();
                loop {
                    tokio::select! {
                        msg = stream.next() => if msg.is_none() { break },
                        _ = check.tick() => {
                            let pong = tokio::time::timeout(
                                PING_EVERY,
                                sink.ping::<redis::Value>(),
                            );
                            if !matches!(pong.await, Ok(Ok(_))) {
                                break;
                            }
                        }
                    }
                }
            }
        }
        siohub_actors::limited!(
            warn,
            "recovery store: the node's liveness subscription to Redis was lost; subscribing again"
        );
        actix_rt::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Whether the node subscribed to `channel` is up (an error counts as up: never take a
/// record on a guess).
pub(super) async fn is_up(conn: &mut ConnectionManager, channel: &str) -> Result<bool, ()> {
    let counts: Vec<(String, u64)> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query_async(conn)
        .await
        .map_err(|_| ())?;
    Ok(counts.first().is_some_and(|(_, n)| *n > 0))
}
