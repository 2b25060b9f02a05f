//! Holding the RoomSupervisor at a chosen point: a read lock on the membership, taken on a
//! thread of its own, makes the RoomSupervisor's next write wait (and with it the hub's
//! arbiter, which the Broadcaster shares), so a test can queue messages behind it and force
//! an interleaving instead of hoping for it.

use std::sync::mpsc;
use std::thread;

use siohub_actors::{ActorStatsSnapshot, Hub, HubActor, JoinError, Socket};

use super::PATIENCE;

/// A read lock on a hub's membership, held until released.
pub struct ReadLock {
    release: mpsc::Sender<()>,
    thread: thread::JoinHandle<()>,
}

impl ReadLock {
    /// Takes the lock; returns once it is held. Reading the membership on the test's thread
    /// while the RoomSupervisor waits for it would block (writers go first).
    pub fn hold(hub: &Hub) -> ReadLock {
        let view = hub.membership().clone();
        let (locked_tx, locked) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let thread = thread::spawn(move || {
            let _guard = view.read();
            locked_tx.send(()).unwrap();
            let _ = released.recv();
        });
        locked.recv().unwrap();
        ReadLock { release, thread }
    }

    /// Lets the RoomSupervisor go on.
    pub fn release(self) {
        self.release.send(()).unwrap();
        self.thread.join().unwrap();
    }
}

/// Holds the lock while `socket` joins `room`: returns once the RoomSupervisor is inside
/// that join, waiting for the lock (and with it the hub's arbiter, the Broadcaster's too),
/// so what the test sends next queues behind it. The join resolves after `release`.
pub async fn hold_behind_join(
    hub: &Hub,
    socket: Socket,
    room: &'static str,
) -> (
    ReadLock,
    actix_rt::task::JoinHandle<Result<usize, JoinError>>,
) {
    let lock = ReadLock::hold(hub);
    let handled = stats(hub, HubActor::RoomSupervisor).messages_handled;
    let join = actix_rt::spawn(async move { socket.join(room).await });
    until("the join is being handled", || {
        stats(hub, HubActor::RoomSupervisor).messages_handled > handled
    })
    .await;
    (lock, join)
}

/// One singleton's stats.
pub fn stats(hub: &Hub, actor: HubActor) -> ActorStatsSnapshot {
    hub.actor_stats()[actor as usize].clone()
}

/// Yields until `cond` holds; fails the test after `PATIENCE`.
pub async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        actix_rt::task::yield_now().await;
    }
}
