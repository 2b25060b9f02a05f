//! The bounded queue of writes waiting for PostgreSQL, in the order they were asked: a
//! user's join and leave of one room reach the database in that order, however often the
//! connection fails in between. The store's thread takes writes from its front and removes
//! them only once PostgreSQL answered them.
//!
//! A write that changes nothing beyond the latest write waiting for the same room of the
//! same user (a second `join` of the room with the same options, a second `leave`) is not
//! queued again: its asker waits for that write's answer. One user holds at most
//! `per_user` places of the queue (twice `max_rooms_per_user`): a client that joins or
//! leaves room after room while PostgreSQL is slow or down loses its own writes (counted
//! `dropped`), never another user's.

use std::collections::{HashMap, VecDeque};
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

impl WriteOp {
    /// The namespace, user and room it changes.
    fn key(&self) -> (&str, &str, &str) {
        match self {
            WriteOp::Keep {
                nsp, user, room, ..
            }
            | WriteOp::Forget { nsp, user, room } => (nsp, user, room),
        }
    }
}

struct Pending {
    op: WriteOp,
    /// The askers waiting for its answer (none once told it is queued).
    replies: Vec<oneshot::Sender<Written>>,
    /// Its number: the queue's `first` counts up as writes leave the front.
    seq: u64,
}

/// A room of a user, as the queue indexes its writes.
type RoomKey = (String, String, String);

/// The writes waiting, in order, with what indexes them.
#[derive(Default)]
struct Pendings {
    list: VecDeque<Pending>,
    /// The number of the front write.
    first: u64,
    /// The latest write waiting for each room of each user (its number).
    latest: HashMap<RoomKey, u64>,
    /// How many writes wait for each (namespace, user).
    per_user: HashMap<(String, String), usize>,
}

impl Pendings {
    fn len(&self) -> usize {
        self.list.len()
    }

    /// The latest write waiting for `op`'s room, when it is `op` itself.
    fn same_as_latest(&mut self, op: &WriteOp) -> Option<&mut Pending> {
        let (nsp, user, room) = op.key();
        let key = (nsp.to_owned(), user.to_owned(), room.to_owned());
        let seq = *self.latest.get(&key)?;
        let pending = self.list.get_mut((seq - self.first) as usize)?;
        (pending.op == *op).then_some(pending)
    }

    fn queued_by(&self, op: &WriteOp) -> usize {
        let (nsp, user, _) = op.key();
        let key = (nsp.to_owned(), user.to_owned());
        self.per_user.get(&key).copied().unwrap_or(0)
    }

    fn push(&mut self, op: WriteOp, replies: Vec<oneshot::Sender<Written>>) {
        let seq = self.first + self.list.len() as u64;
        let (nsp, user, room) = op.key();
        self.latest
            .insert((nsp.to_owned(), user.to_owned(), room.to_owned()), seq);
        *self
            .per_user
            .entry((nsp.to_owned(), user.to_owned()))
            .or_default() += 1;
        self.list.push_back(Pending { op, replies, seq });
    }

    fn pop(&mut self) -> Option<Pending> {
        let done = self.list.pop_front()?;
        self.first += 1;
        let (nsp, user, room) = done.op.key();
        let key = (nsp.to_owned(), user.to_owned(), room.to_owned());
        if self.latest.get(&key) == Some(&done.seq) {
            self.latest.remove(&key);
        }
        let user_key = (nsp.to_owned(), user.to_owned());
        if let Some(n) = self.per_user.get_mut(&user_key) {
            *n -= 1;
            if *n == 0 {
                self.per_user.remove(&user_key);
            }
        }
        Some(done)
    }
}

/// Most askers one queued write answers when more of the same are folded into it (see
/// [`WriteQueue::push`]).
pub(super) const MAX_COALESCED_REPLIES: usize = 16;

/// The queue, shared by the hub's threads (which push) and the store's (which drains).
pub(super) struct WriteQueue {
    pending: Mutex<Pendings>,
    max: usize,
    /// Most writes one user may have waiting.
    per_user: usize,
    /// Wakes the store's thread: a write was pushed, the connection ended, or the store
    /// closes.
    pub(super) wake: Notify,
    status: Arc<StoreStatus>,
}

impl WriteQueue {
    pub(super) fn new(max: usize, per_user: usize, status: Arc<StoreStatus>) -> Self {
        WriteQueue {
            pending: Mutex::new(Pendings::default()),
            max,
            per_user,
            wake: Notify::new(),
            status,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pendings> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `op`; the answer comes once PostgreSQL answered it, or at once `Queued` while
    /// it is not connected, or `Dropped` when the queue (or the user's share of it) is
    /// full. A write the same as the latest one waiting for its room is not queued again.
    pub(super) fn push(&self, op: WriteOp) -> oneshot::Receiver<Written> {
        let (tx, rx) = oneshot::channel();
        let connected = self.status.is_connected();
        let mut pending = self.lock();
        if let Some(same) = pending.same_as_latest(&op) {
            self.status.count_coalesced();
            // Askers that stopped waiting (their `timeout_ms` passed) leave the list; past
            // `MAX_COALESCED_REPLIES` waiting ones, one more hears `Queued` at once, so a
            // client repeating a write while PostgreSQL is slow holds a bounded list.
            let waited = !same.replies.is_empty();
            same.replies.retain(|reply| !reply.is_canceled());
            match connected && waited && same.replies.len() < MAX_COALESCED_REPLIES {
                true => same.replies.push(tx),
                false => {
                    let _ = tx.send(Written::Queued);
                }
            }
            return rx;
        }
        let full = pending.len() >= self.max;
        if full || pending.queued_by(&op) >= self.per_user {
            drop(pending);
            self.status.count_write(WriteOutcome::Dropped);
            match full {
                true => siohub_actors::limited!(
                    warn,
                    "subscriptions: {} writes wait for PostgreSQL ([subscriptions] queue_size); one more dropped",
                    self.max
                ),
                false => siohub_actors::limited!(
                    warn,
                    "subscriptions: a user has {} writes waiting for PostgreSQL (twice [subscriptions] max_rooms_per_user); one more of theirs dropped",
                    self.per_user
                ),
            }
            let _ = tx.send(Written::Dropped);
            return rx;
        }
        let replies = match connected {
            true => vec![tx],
            false => {
                let _ = tx.send(Written::Queued);
                Vec::new()
            }
        };
        pending.push(op, replies);
        self.status.set_queued(pending.len());
        drop(pending);
        self.wake.notify_one();
        rx
    }

    /// Copies of the first `n` writes.
    pub(super) fn front(&self, n: usize) -> Vec<WriteOp> {
        self.lock()
            .list
            .iter()
            .take(n)
            .map(|p| p.op.clone())
            .collect()
    }

    /// Removes the first writes, answered with `answers` in order.
    pub(super) fn complete(&self, answers: Vec<Written>) {
        let mut pending = self.lock();
        for answer in answers {
            let Some(done) = pending.pop() else {
                break;
            };
            // The first asker's write is the one made: the others (coalesced) inserted
            // nothing of their own.
            let mut replies = done.replies.into_iter();
            if let Some(first) = replies.next() {
                let _ = first.send(answer.clone());
            }
            let later = match answer {
                Written::Done { outcome, .. } => Written::Done {
                    outcome,
                    inserted: false,
                },
                other => other,
            };
            for reply in replies {
                let _ = reply.send(later.clone());
            }
        }
        self.status.set_queued(pending.len());
    }

    /// Tells everyone still waiting for a write that it is queued (PostgreSQL went away):
    /// their acks need not wait for the retry.
    pub(super) fn release_waiters(&self) {
        for pending in self.lock().list.iter_mut() {
            for reply in pending.replies.drain(..) {
                let _ = reply.send(Written::Queued);
            }
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.lock().list.is_empty()
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
        let queue = WriteQueue::new(2, 10, status.clone());
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
        let queue = WriteQueue::new(8, 10, status.clone());
        let mut a = queue.push(forget("a"));
        assert_eq!(a.try_recv().unwrap(), Some(Written::Queued));
        assert_eq!(queue.front(5), vec![forget("a")]);
        status.set_up();
        let mut b = queue.push(forget("b"));
        queue.release_waiters();
        assert_eq!(b.try_recv().unwrap(), Some(Written::Queued));
        assert_eq!(queue.front(5).len(), 2, "still queued for the retry");
    }

    fn keep(user: &str, room: &str, n: u64) -> WriteOp {
        WriteOp::Keep {
            nsp: "/".into(),
            user: user.into(),
            room: room.into(),
            options: serde_json::json!({ "n": n }),
        }
    }

    #[test]
    fn a_write_that_changes_nothing_waits_for_the_one_before() {
        let status = Arc::new(StoreStatus::new());
        status.set_up();
        let queue = WriteQueue::new(8, 10, status.clone());
        let mut first = queue.push(keep("u", "r", 1));
        let mut again = queue.push(keep("u", "r", 1));
        assert_eq!(queue.front(5), vec![keep("u", "r", 1)], "queued once");
        assert_eq!(status.coalesced(), 1);
        // Other options, or a leave in between, change something: queued.
        let _other = queue.push(keep("u", "r", 2));
        let _leave = queue.push(forget("r"));
        let _leave_again = queue.push(forget("r"));
        let _keep_after = queue.push(keep("u", "r", 2));
        assert_eq!(queue.front(9).len(), 4, "{:?}", queue.front(9));
        let kept = Written::Done {
            outcome: WriteOutcome::Kept,
            inserted: true,
        };
        queue.complete(vec![kept.clone()]);
        assert_eq!(first.try_recv().unwrap(), Some(kept.clone()));
        let not_inserted = Written::Done {
            outcome: WriteOutcome::Kept,
            inserted: false,
        };
        assert_eq!(
            again.try_recv().unwrap(),
            Some(not_inserted),
            "kept, by the first"
        );
        // Once its write is done, the same write is queued again (PostgreSQL may have
        // changed meanwhile, through another node).
        let _later = queue.push(keep("u", "r", 1));
        assert_eq!(queue.front(9).len(), 4);
    }

    #[test]
    fn askers_folded_into_one_write_are_bounded_and_those_gone_leave() {
        let status = Arc::new(StoreStatus::new());
        status.set_up();
        let queue = WriteQueue::new(8, 10, status.clone());
        let _first = queue.push(keep("u", "r", 1));
        // Askers that gave up leave the list: it never grows past the bound.
        for _ in 0..1000 {
            drop(queue.push(keep("u", "r", 1)));
        }
        assert_eq!(queue.front(9).len(), 1, "queued once");
        let mut waiting: Vec<_> = (1..MAX_COALESCED_REPLIES)
            .map(|_| queue.push(keep("u", "r", 1)))
            .collect();
        // The list is full (the first asker and the ones still waiting): one more hears
        // `Queued` at once.
        let mut over = queue.push(keep("u", "r", 1));
        assert_eq!(over.try_recv().unwrap(), Some(Written::Queued));
        let kept = Written::Done {
            outcome: WriteOutcome::Kept,
            inserted: true,
        };
        queue.complete(vec![kept]);
        for rx in &mut waiting {
            assert!(matches!(rx.try_recv().unwrap(), Some(Written::Done { .. })));
        }
    }

    #[test]
    fn one_user_fills_only_their_share() {
        let status = Arc::new(StoreStatus::new());
        let queue = WriteQueue::new(8, 3, status.clone());
        for n in 0..3 {
            let mut ok = queue.push(keep("greedy", &format!("r{n}"), 0));
            assert_eq!(ok.try_recv().unwrap(), Some(Written::Queued));
        }
        let mut over = queue.push(keep("greedy", "r3", 0));
        assert_eq!(over.try_recv().unwrap(), Some(Written::Dropped));
        let mut other = queue.push(keep("other", "r0", 0));
        assert_eq!(
            other.try_recv().unwrap(),
            Some(Written::Queued),
            "not pushed out"
        );
        assert_eq!(status.writes(WriteOutcome::Dropped), 1);
        queue.complete(vec![Written::Queued]);
        let mut freed = queue.push(keep("greedy", "r3", 0));
        assert_eq!(
            freed.try_recv().unwrap(),
            Some(Written::Queued),
            "a place came free"
        );
    }
}
