//! The outgoing side of a websocket: a queue of encoded frames the session pushes into and
//! the response body pulls from. Whatever the body has not pulled yet is the backlog the
//! session bounds (packets and bytes).
//!
//! Once the session is done with it (closed or aborted) the queue may still hold frames
//! the connection writes out; until the connection ends it counts as a lingering
//! connection (see [`HubCounters::lingering_connections`]), so that `max_connections` and
//! the drain see sockets whose session is gone.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::task::AtomicWaker;
use futures::Stream;

use crate::stats::HubCounters;
use crate::wire_frame::WireFrame;

#[derive(Default)]
struct State {
    /// Frames not yet taken by the writer, each marked volatile or not.
    chunks: VecDeque<(Bytes, bool)>,
    bytes: usize,
    closed: bool,
    /// Whether the queue was dropped unwritten: the connection ends at once.
    aborted: bool,
    /// Whether the writer's stream exists (from [`Outbox::stream`] to its drop).
    writer: bool,
}

impl State {
    /// Empties the queue and gives its memory back: an idle connection holds no queue
    /// (the four frames' room it grew for its first frames is 160 bytes), and the next
    /// push allocates again, a small price beside the write it leads to.
    fn release(&mut self) {
        self.chunks = VecDeque::new();
        self.bytes = 0;
    }
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    waker: AtomicWaker,
    /// Where a closed queue whose writer still runs is counted, if anywhere.
    counters: Option<Arc<HubCounters>>,
    /// The permessage-deflate threshold, when the connection negotiated it.
    deflate: Option<usize>,
}

impl Shared {
    /// Marks the queue closed; a writer still running starts lingering.
    fn set_closed(&self, state: &mut State) {
        if !state.closed && state.writer {
            if let Some(counters) = &self.counters {
                counters.lingering_started();
            }
        }
        state.closed = true;
    }
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

    /// An empty, open queue whose writer counts in `counters` as lingering from the
    /// queue's close until it ends.
    pub fn counted(counters: Arc<HubCounters>) -> Self {
        Outbox {
            shared: Arc::new(Shared {
                counters: Some(counters),
                ..Shared::default()
            }),
        }
    }

    /// Like [`Outbox::counted`], for a connection that negotiated permessage-deflate:
    /// messages of at least `threshold` bytes are written compressed.
    pub fn counted_deflating(counters: Arc<HubCounters>, threshold: usize) -> Self {
        Outbox {
            shared: Arc::new(Shared {
                counters: Some(counters),
                deflate: Some(threshold),
                ..Shared::default()
            }),
        }
    }

    /// The bytes written for `frame` on this connection (compressed when negotiated).
    fn wire<'a>(&self, frame: &'a WireFrame) -> &'a Bytes {
        match self.shared.deflate {
            None => frame.ws_bytes(),
            Some(threshold) => frame.ws_bytes_deflated(threshold),
        }
    }

    /// Queues encoded frames (see [`Outbox::push`]), compressed when negotiated.
    pub fn push_frames<'a>(&self, frames: impl IntoIterator<Item = &'a WireFrame>, volatile: bool) {
        self.push(frames.into_iter().map(|f| self.wire(f).clone()), volatile);
    }

    /// The stream that drains this queue (one per queue).
    pub fn stream(&self) -> OutboxStream {
        self.lock().writer = true;
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
        // Compressed (once per frame, for every connection) before the lock is taken.
        let (count, size) = events.clone().fold((0, 0), |(n, b), (frames, _)| {
            (
                n + frames.len(),
                b + frames.iter().map(|f| self.wire(f).len()).sum::<usize>(),
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
                    state.chunks.push_back((self.wire(frame).clone(), volatile));
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
        {
            let mut state = self.lock();
            self.shared.set_closed(&mut state);
        }
        self.shared.waker.wake();
    }

    /// Resolves once the queue is aborted: what the writer holds is to be dropped too.
    /// For the writer's task only (it shares the stream's waker).
    pub async fn aborted(&self) {
        futures::future::poll_fn(|cx| self.poll_aborted(cx)).await
    }

    /// Ready once the queue is aborted (see [`Outbox::aborted`]).
    pub fn poll_aborted(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.shared.waker.register(cx.waker());
        if self.lock().aborted {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Drops what is queued and ends the stream at once.
    pub fn abort(&self) {
        {
            let mut state = self.lock();
            state.chunks.clear();
            state.bytes = 0;
            state.aborted = true;
            self.shared.set_closed(&mut state);
        }
        self.shared.waker.wake();
    }
}

impl OutboxStream {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A handle on the same queue, to wait for [`Outbox::aborted`] beside the stream.
    pub fn outbox(&self) -> Outbox {
        Outbox {
            shared: self.shared.clone(),
        }
    }

    /// Whether the queue was aborted (its frames dropped unwritten).
    pub fn is_aborted(&self) -> bool {
        self.lock().aborted
    }

    /// Frames and bytes queued and not yet taken by the writer.
    pub fn backlog(&self) -> (usize, usize) {
        let state = self.lock();
        (state.chunks.len(), state.bytes)
    }
}

impl Drop for OutboxStream {
    fn drop(&mut self) {
        let mut state = self.lock();
        if state.closed && state.writer {
            if let Some(counters) = &self.shared.counters {
                counters.lingering_ended();
            }
        }
        // Nothing can be written any more: the frames go now, and so does whatever the
        // session pushes until it learns that the connection ended.
        state.writer = false;
        state.closed = true;
        state.chunks.clear();
        state.bytes = 0;
    }
}

impl Stream for OutboxStream {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.shared.waker.register(cx.waker());
        let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        match state.chunks.len() {
            0 if state.closed => Poll::Ready(None),
            0 => Poll::Pending,
            1 => {
                let (chunk, _) = state.chunks.pop_front().unwrap_or_default();
                state.release();
                Poll::Ready(Some(Ok(chunk)))
            }
            _ => {
                // A backlog: hand the writer everything in one buffer, one write.
                let mut batch = BytesMut::with_capacity(state.bytes);
                for (chunk, _) in state.chunks.drain(..) {
                    batch.extend_from_slice(&chunk);
                }
                state.release();
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
    fn a_closed_queue_lingers_until_its_writer_ends() {
        let counters = Arc::new(HubCounters::default());
        let outbox = Outbox::counted(counters.clone());
        let stream = outbox.stream();
        outbox.push([Bytes::from_static(b"still to write")], false);
        assert_eq!(counters.lingering_connections(), 0, "open: not lingering");
        outbox.close();
        outbox.close();
        assert_eq!(counters.lingering_connections(), 1, "counted once");
        drop(stream);
        assert_eq!(counters.lingering_connections(), 0);
        outbox.push([Bytes::from_static(b"nobody writes this")], false);
        assert_eq!(
            outbox.backlog(),
            (0, 0),
            "pushes after the writer ended are dropped"
        );

        // A writer that ended first never lingers.
        let outbox = Outbox::counted(counters.clone());
        drop(outbox.stream());
        outbox.abort();
        assert_eq!(counters.lingering_connections(), 0);
    }

    #[test]
    fn a_frame_is_compressed_once_for_every_deflate_connection() {
        let counters = Arc::new(HubCounters::default());
        let big = std::sync::Arc::new([WireFrame::text(format!("4{}", "x".repeat(4000)))]);
        let small = std::sync::Arc::new([WireFrame::text("4small".into())]);
        let taken = |outbox: &Outbox, frames: &[WireFrame]| {
            let mut stream = outbox.stream();
            outbox.try_push(frames, false, 10, 1 << 20).expect("room");
            futures::executor::block_on(stream.next()).unwrap().unwrap()
        };
        let first = Outbox::counted_deflating(counters.clone(), 1024);
        let second = Outbox::counted_deflating(counters.clone(), 1024);
        let third = Outbox::counted_deflating(counters.clone(), 1024);
        let plain = Outbox::counted(counters);
        let (a, b) = (taken(&first, &big[..]), taken(&second, &big[..]));
        assert_eq!(a[0], 0xC1, "FIN + RSV1 + text");
        assert!(a.len() < 100, "{}", a.len());
        assert_eq!(
            a.as_ptr(),
            b.as_ptr(),
            "the same compressed bytes, not a copy"
        );
        assert_eq!(&taken(&plain, &big[..])[..], &big[0].ws_bytes()[..]);
        // Under the threshold: the plain frame (each queue is drained once: one stream each).
        assert_eq!(&taken(&third, &small[..])[..], &small[0].ws_bytes()[..]);
    }

    #[test]
    fn abort_drops_the_backlog() {
        let outbox = Outbox::new();
        let mut stream = outbox.stream();
        outbox.push([Bytes::from_static(b"never written")], false);
        assert!(!stream.is_aborted());
        outbox.abort();
        assert!(stream.is_aborted());
        futures::executor::block_on(stream.outbox().aborted());
        assert!(futures::executor::block_on(stream.next()).is_none());
    }
}
