//! What a websocket connection has read and its session has not handled yet: the reader
//! stops reading the socket while this is over its bound (messages or bytes), so a client
//! that sends faster than its session handles is held back by TCP flow control instead of
//! filling the session's mailbox.
//!
//! Each message the reader hands the session carries a [`Credit`]; the message is dropped
//! once handled (or once the mailbox is gone), and the credit goes back with it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::task::AtomicWaker;

/// The bound on what a reader may hand its session before that is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InflightLimit {
    /// Most messages read and not handled.
    pub messages: usize,
    /// Most bytes of such messages (one message is always let through, whatever its size).
    pub bytes: usize,
}

impl Default for InflightLimit {
    fn default() -> Self {
        InflightLimit {
            messages: 64,
            bytes: 1024 * 1024,
        }
    }
}

#[derive(Debug)]
struct Shared {
    limit: InflightLimit,
    messages: AtomicUsize,
    bytes: AtomicUsize,
    /// The reader, while it waits for credit.
    waker: AtomicWaker,
}

/// The reader's side: takes credits and tells whether it may read on.
#[derive(Debug, Clone)]
pub struct Inflight {
    shared: Arc<Shared>,
}

/// One unhandled message's share of the bound; given back when dropped.
#[derive(Debug)]
pub struct Credit {
    shared: Arc<Shared>,
    bytes: usize,
}

impl Inflight {
    /// Nothing in flight yet, bounded by `limit`.
    pub fn new(limit: InflightLimit) -> Self {
        Inflight {
            shared: Arc::new(Shared {
                limit,
                messages: AtomicUsize::new(0),
                bytes: AtomicUsize::new(0),
                waker: AtomicWaker::new(),
            }),
        }
    }

    /// A credit for a message of `bytes` (always granted: the reader asks
    /// [`Inflight::has_room`] before it reads or decodes more).
    pub fn take(&self, bytes: usize) -> Credit {
        self.shared.messages.fetch_add(1, Ordering::AcqRel);
        self.shared.bytes.fetch_add(bytes, Ordering::AcqRel);
        Credit {
            shared: self.shared.clone(),
            bytes,
        }
    }

    /// Whether what is in flight is under the bound.
    pub fn has_room(&self) -> bool {
        self.shared.has_room()
    }

    /// Messages and bytes in flight now.
    pub fn current(&self) -> (usize, usize) {
        (
            self.shared.messages.load(Ordering::Acquire),
            self.shared.bytes.load(Ordering::Acquire),
        )
    }

    /// Ready once there is room again.
    pub fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.has_room() {
            return Poll::Ready(());
        }
        self.shared.waker.register(cx.waker());
        // A credit may have come back between the check and the registration.
        if self.has_room() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Resolves once there is room again (see [`Inflight::poll_room`]).
    pub async fn room(&self) {
        futures::future::poll_fn(|cx| self.poll_room(cx)).await
    }
}

impl Shared {
    fn has_room(&self) -> bool {
        self.messages.load(Ordering::Acquire) < self.limit.messages
            && self.bytes.load(Ordering::Acquire) < self.limit.bytes
    }
}

impl Drop for Credit {
    fn drop(&mut self) {
        self.shared.messages.fetch_sub(1, Ordering::AcqRel);
        self.shared.bytes.fetch_sub(self.bytes, Ordering::AcqRel);
        // Only a reader that found no room registered a waker; waking an empty slot is a
        // load and nothing more.
        self.shared.waker.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_is_on_messages_and_bytes_and_credits_come_back() {
        let inflight = Inflight::new(InflightLimit {
            messages: 2,
            bytes: 100,
        });
        let a = inflight.take(10);
        assert!(inflight.has_room());
        let b = inflight.take(10);
        assert!(!inflight.has_room(), "two messages is the bound");
        drop(a);
        assert!(inflight.has_room());
        let big = inflight.take(500);
        assert!(
            !inflight.has_room(),
            "one message over the byte bound still passes"
        );
        assert_eq!(inflight.current(), (2, 510));
        drop((b, big));
        assert_eq!(inflight.current(), (0, 0));
    }

    #[test]
    fn a_waiting_reader_is_woken_when_a_credit_returns() {
        let inflight = Inflight::new(InflightLimit {
            messages: 1,
            bytes: 100,
        });
        let credit = inflight.take(1);
        let waiter = inflight.clone();
        let handle = std::thread::spawn(move || futures::executor::block_on(waiter.room()));
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(
            !handle.is_finished(),
            "no room while the message is unhandled"
        );
        drop(credit);
        handle.join().unwrap();
    }
}
