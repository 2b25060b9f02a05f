//! The bounded queue of writes waiting for PostgreSQL, in the order they were asked: a
//! user's join and leave of one room reach the database in that order, however often the
//! connection fails in between. The store's thread takes writes from its front and removes
//! them only once PostgreSQL answered them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::channel::oneshot;
use serde_json::Value;
use tokio::sync::Notify;

use super::status::{StoreStatus, WriteOutcome};

/// One change to a user's kept rooms.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    /// Keep `room` (with the join's `options`), unless the user keeps `max` rooms already.
    Keep {
        /// The namespace.
        nsp: String,
        /// The user id.
        user: String,
        /// The room.
        room: String,
        /// The join's JSON object without `room`.
        options: Value,
    },
    /// Keep `room` no more.
    Forget {
        /// The namespace.
        nsp: String,
        /// The user id.
        user: String,
        /// The room.
        room: String,
    },
}

/// What the asker of a write learns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Done: kept (`inserted` when the room was not kept before) or removed.
    Done {
        /// What PostgreSQL did.
        outcome: WriteOutcome,
        /// A room kept that was not kept before.
        inserted: bool,
    },
    /// PostgreSQL is not reachable now (or slow): the write waits in the queue and is
    /// retried once it is.
    Queued,
    /// The queue is full: the write is not made.
    Dropped,
    /// PostgreSQL refused it for good.
    Failed(String),
}

struct Pending {
    op: WriteOp,
    reply: Option<oneshot::Sender<Written>>,
}

/// The queue, shared by the hub's threads (which push) and the store's (which drains).
pub(super) struct WriteQueue {
    pending: Mutex<VecDeque<Pending>>,
    max: usize,
    /// Wakes the store's thread: a write was pushed, the connection ended, or the store
    /// closes.
    pub(super) wake: Notify,
    status: Arc<StoreStatus>,
}

impl WriteQueue {
    pub(super) fn new(max: usize, status: Arc<StoreStatus>) -> Self {
        WriteQueue {
            pending: Mutex::new(VecDeque::new()),
            max,
            wake: Notify::new(),
            status,
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Pending>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `op`; the answer comes once PostgreSQL answered it, or at once `Queued` while
    /// it is not connected, or `Dropped` when the queue is full.
    pub(super) fn push(&self, op: WriteOp) -> oneshot::Receiver<Written> {
        let (tx, rx) = oneshot::channel();
        let mut pending = self.lock();
        if pending.len() >= self.max {
            drop(pending);
            self.status.count_write(WriteOutcome::Dropped);
            siohub_actors::limited!(
                warn,
                "subscriptions: {} writes wait for PostgreSQL ([subscriptions] queue_size); one more dropped",
                self.max
            );
            let _ = tx.send(Written::Dropped);
            return rx;
        }
        let reply = match self.status.is_connected() {
            true => Some(tx),
            false => {
                let _ = tx.send(Written::Queued);
                None
            }
        };
        pending.push_back(Pending { op, reply });
        self.status.set_queued(pending.len());
        drop(pending);
        self.wake.notify_one();
        rx
    }

    /// Copies of the first `n` writes.
    pub(super) fn front(&self, n: usize) -> Vec<WriteOp> {
        self.lock().iter().take(n).map(|p| p.op.clone()).collect()
    }

    /// Removes the first writes, answered with `answers` in order.
    pub(super) fn complete(&self, answers: Vec<Written>) {
        let mut pending = self.lock();
        for answer in answers {
            let Some(done) = pending.pop_front() else {
                break;
            };
            if let Some(reply) = done.reply {
                let _ = reply.send(answer);
            }
        }
        self.status.set_queued(pending.len());
    }

    /// Tells everyone still waiting for a write that it is queued (PostgreSQL went away):
    /// their acks need not wait for the retry.
    pub(super) fn release_waiters(&self) {
        for pending in self.lock().iter_mut() {
            if let Some(reply) = pending.reply.take() {
                let _ = reply.send(Written::Queued);
            }
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forget(room: &str) -> WriteOp {
        WriteOp::Forget {
            nsp: "/".into(),
            user: "u".into(),
            room: room.into(),
        }
    }

    fn done() -> Written {
        Written::Done {
            outcome: WriteOutcome::Removed,
            inserted: false,
        }
    }

    #[test]
    fn writes_keep_their_order_and_the_bound_drops_one_more() {
        let status = Arc::new(StoreStatus::new());
        status.set_up();
        let queue = WriteQueue::new(2, status.clone());
        let mut a = queue.push(forget("a"));
        let _b = queue.push(forget("b"));
        let mut c = queue.push(forget("c"));
        assert_eq!(c.try_recv().unwrap(), Some(Written::Dropped));
        assert_eq!(status.writes(WriteOutcome::Dropped), 1);
        assert_eq!(queue.front(5), vec![forget("a"), forget("b")]);
        queue.complete(vec![done()]);
        assert_eq!(a.try_recv().unwrap(), Some(done()));
        assert_eq!(queue.front(5), vec![forget("b")]);
        assert_eq!(status.queued(), 1);
    }

    #[test]
    fn while_down_the_asker_hears_queued_at_once_and_the_write_stays() {
        let status = Arc::new(StoreStatus::new());
        let queue = WriteQueue::new(8, status.clone());
        let mut a = queue.push(forget("a"));
        assert_eq!(a.try_recv().unwrap(), Some(Written::Queued));
        assert_eq!(queue.front(5), vec![forget("a")]);
        status.set_up();
        let mut b = queue.push(forget("b"));
        queue.release_waiters();
        assert_eq!(b.try_recv().unwrap(), Some(Written::Queued));
        assert_eq!(queue.front(5).len(), 2, "still queued for the retry");
    }
}
