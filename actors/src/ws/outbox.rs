//! The outgoing side of a websocket: a queue of encoded frames the session pushes into and
//! the response body pulls from. Whatever the body has not pulled yet is the backlog the
//! session bounds (packets and bytes).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::task::AtomicWaker;
use futures::Stream;

use crate::wire_frame::WireFrame;

#[derive(Default)]
struct State {
    /// Frames not yet taken by the writer, each marked volatile or not.
    chunks: VecDeque<(Bytes, bool)>,
    bytes: usize,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    waker: AtomicWaker,
}

/// The session's handle on the queue. Cheap to clone.
#[derive(Clone, Default)]
pub struct Outbox {
    shared: Arc<Shared>,
}

/// The body stream that writes the queue to the socket.
pub struct OutboxStream {
    shared: Arc<Shared>,
}

impl Outbox {
    /// An empty, open queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// The response body that drains this queue.
    pub fn stream(&self) -> OutboxStream {
        OutboxStream {
            shared: self.shared.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues frames for writing; ignored once closed. Volatile frames may be dropped by
    /// [`Outbox::drop_volatile`] while they wait.
    pub fn push(&self, frames: impl IntoIterator<Item = Bytes>, volatile: bool) {
        {
            let mut state = self.lock();
            if state.closed {
                return;
            }
            for frame in frames {
                state.bytes += frame.len();
                state.chunks.push_back((frame, volatile));
            }
        }
        self.shared.waker.wake();
    }

    /// Queues frames that belong together only if the backlog stays within `max_packets`
    /// and `max_bytes`; returns the new backlog, or `None` (nothing queued) when they do not
    /// fit. One lock for the check, the push and the reading.
    pub fn try_push(
        &self,
        frames: &[WireFrame],
        volatile: bool,
        max_packets: usize,
        max_bytes: usize,
    ) -> Option<(usize, usize)> {
        self.try_push_events(std::iter::once((frames, volatile)), max_packets, max_bytes)
    }

    /// Like [`Outbox::try_push`] for several events at once: all of them, or none.
    pub fn try_push_events<'a>(
        &self,
        events: impl Iterator<Item = (&'a [WireFrame], bool)> + Clone,
        max_packets: usize,
        max_bytes: usize,
    ) -> Option<(usize, usize)> {
        let (count, size) = events.clone().fold((0, 0), |(n, b), (frames, _)| {
            (
                n + frames.len(),
                b + frames.iter().map(WireFrame::len).sum::<usize>(),
            )
        });
        let backlog = {
            let mut state = self.lock();
            if state.closed {
                return Some((state.chunks.len(), state.bytes));
            }
            if state.chunks.len() + count > max_packets || state.bytes + size > max_bytes {
                return None;
            }
            for (frames, volatile) in events {
                for frame in frames {
                    state.chunks.push_back((frame.ws_bytes().clone(), volatile));
                }
            }
            state.bytes += size;
            (state.chunks.len(), state.bytes)
        };
        self.shared.waker.wake();
        Some(backlog)
    }

    /// Drops the volatile frames still waiting; returns how many went.
    pub fn drop_volatile(&self) -> usize {
        let mut state = self.lock();
        let before = state.chunks.len();
        state.chunks.retain(|(_, volatile)| !volatile);
        state.bytes = state.chunks.iter().map(|(b, _)| b.len()).sum();
        before - state.chunks.len()
    }

    /// Frames and bytes queued and not yet taken by the writer.
    pub fn backlog(&self) -> (usize, usize) {
        let state = self.lock();
        (state.chunks.len(), state.bytes)
    }

    /// Ends the stream after what is queued (a close frame, typically) has been written.
    pub fn close(&self) {
        self.lock().closed = true;
        self.shared.waker.wake();
    }

    /// Drops what is queued and ends the stream at once.
    pub fn abort(&self) {
        {
            let mut state = self.lock();
            state.chunks.clear();
            state.bytes = 0;
            state.closed = true;
        }
        self.shared.waker.wake();
    }
}

impl Stream for OutboxStream {
    type Item = Result<Bytes, actix_web::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.shared.waker.register(cx.waker());
        let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        match state.chunks.len() {
            0 if state.closed => Poll::Ready(None),
            0 => Poll::Pending,
            1 => {
                let (chunk, _) = state.chunks.pop_front().unwrap_or_default();
                state.bytes = 0;
                Poll::Ready(Some(Ok(chunk)))
            }
            _ => {
                // A backlog: hand the writer everything in one buffer, one write.
                let mut batch = BytesMut::with_capacity(state.bytes);
                for (chunk, _) in state.chunks.drain(..) {
                    batch.extend_from_slice(&chunk);
                }
                state.bytes = 0;
                Poll::Ready(Some(Ok(batch.freeze())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[test]
    fn frames_are_batched_and_counted_until_taken() {
        let outbox = Outbox::new();
        let mut stream = outbox.stream();
        outbox.push(
            [Bytes::from_static(b"ab"), Bytes::from_static(b"cde")],
            false,
        );
        assert_eq!(outbox.backlog(), (2, 5));
        let batch = futures::executor::block_on(stream.next()).unwrap().unwrap();
        assert_eq!(&batch[..], b"abcde");
        assert_eq!(outbox.backlog(), (0, 0));
        outbox.push([Bytes::from_static(b"v")], true);
        outbox.push([Bytes::from_static(b"x")], false);
        assert_eq!(outbox.drop_volatile(), 1);
        outbox.close();
        outbox.push([Bytes::from_static(b"ignored after close")], false);
        let last = futures::executor::block_on(stream.next()).unwrap().unwrap();
        assert_eq!(&last[..], b"x");
        assert!(futures::executor::block_on(stream.next()).is_none());
    }

    #[test]
    fn abort_drops_the_backlog() {
        let outbox = Outbox::new();
        let mut stream = outbox.stream();
        outbox.push([Bytes::from_static(b"never written")], false);
        outbox.abort();
        assert!(futures::executor::block_on(stream.next()).is_none());
    }
}
