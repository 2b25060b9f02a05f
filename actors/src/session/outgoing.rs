//! The outgoing side of a session: frames go to the websocket's outbox or into the polling
//! queue, within the configured bounds (packets and bytes). A full buffer triggers the
//! slow-consumer action; every drop and disconnect is counted and logged.

use std::borrow::Cow;

use actix::prelude::*;
use siohub_protocol::EnginePacket;

use super::{Queued, Session, Transport};
use crate::disconnect_reason::DisconnectReason;
use crate::policy::SlowConsumerAction;
use crate::stats::DropReason;
use crate::wire_frame::Frames;
use crate::wire_frame::{polling_body, WireFrame};

impl Session {
    /// Sends one Engine.IO packet (never volatile).
    pub(super) fn send(&mut self, packet: EnginePacket, ctx: &mut Context<Self>) {
        let frame = WireFrame::from_packet(&packet);
        self.hub.counters().sent(1, frame.len());
        self.send_frames(&[frame], false, ctx);
    }

    /// Frames and bytes written and not yet taken by the client.
    fn backlog(&self) -> (usize, usize) {
        match &self.transport {
            Transport::WebSocket(link) => link.outbox.backlog(),
            Transport::Polling { .. } => (self.queue.len(), self.queued_bytes),
        }
    }

    /// Sends frames that belong together (a packet and its attachments) if the outgoing
    /// buffer has room; otherwise applies the slow-consumer action. Returns whether they
    /// were sent. The hub-wide traffic counters are the caller's (a broadcast counts its
    /// deliveries once, not per recipient).
    pub(super) fn send_frames(
        &mut self,
        frames: &[WireFrame],
        volatile: bool,
        ctx: &mut Context<Self>,
    ) -> bool {
        if self.closing {
            return false;
        }
        if self.push_bounded(frames, volatile) {
            return true;
        }
        if volatile {
            self.count_drop(DropReason::VolatileBufferFull, 1);
            return false;
        }
        if self.config.slow_consumer == SlowConsumerAction::DropVolatile {
            let freed = self.drop_queued_volatile();
            if freed > 0 {
                self.count_drop(DropReason::VolatileBufferFull, freed as u64);
            }
            if self.push_bounded(frames, volatile) {
                return true;
            }
        }
        let size = frames.iter().map(|f| f.len()).sum();
        self.disconnect_slow_consumer(frames.len(), size, ctx);
        false
    }

    /// Queues several events on a websocket in one go if all fit; returns whether they
    /// did (if not, the caller sends them one by one, so each meets the slow-consumer
    /// policy on its own).
    pub(super) fn push_events_bounded(&mut self, events: &[(Frames, bool)]) -> bool {
        let Transport::WebSocket(link) = &self.transport else {
            return false;
        };
        if self.eio3 {
            // Re-encoded one by one (see `eio3::v3_ws_frames`).
            return false;
        }
        let (max_packets, max_bytes) =
            (self.config.max_buffer_packets, self.config.max_buffer_bytes);
        let iter = events
            .iter()
            .map(|(frames, volatile)| (&frames[..], *volatile));
        let Some((packets, bytes)) = link.outbox.try_push_events(iter, max_packets, max_bytes)
        else {
            return false;
        };
        let (count, size) = events.iter().fold((0, 0), |(n, b), (frames, _)| {
            (
                n + frames.len(),
                b + frames.iter().map(WireFrame::len).sum::<usize>(),
            )
        });
        self.meta.sent(count, size);
        self.meta.set_backlog(packets, bytes);
        true
    }

    /// `frames` as this session's websocket takes them: re-framed for a v3 client (see
    /// `reframes_websocket`), else as they are.
    fn for_websocket<'a>(&self, frames: &'a [WireFrame]) -> Cow<'a, [WireFrame]> {
        match self.reframes_websocket() {
            true => Cow::Owned(Session::v3_ws_frames(frames)),
            false => Cow::Borrowed(frames),
        }
    }

    /// Queues frames if they fit within the bounds; returns whether they did.
    fn push_bounded(&mut self, frames: &[WireFrame], volatile: bool) -> bool {
        let frames = self.for_websocket(frames);
        let frames = &frames[..];
        let (max_packets, max_bytes) =
            (self.config.max_buffer_packets, self.config.max_buffer_bytes);
        let backlog = match &self.transport {
            Transport::WebSocket(link) => {
                link.outbox
                    .try_push(frames, volatile, max_packets, max_bytes)
            }
            Transport::Polling { .. } => {
                let size: usize = frames.iter().map(WireFrame::len).sum();
                let fits = self.queue.len() + frames.len() <= max_packets
                    && self.queued_bytes + size <= max_bytes;
                if !fits {
                    return false;
                }
                self.write_frames(frames, volatile);
                return true;
            }
        };
        let Some((packets, bytes)) = backlog else {
            return false;
        };
        let size: usize = frames.iter().map(WireFrame::len).sum();
        self.meta.sent(frames.len(), size);
        self.meta.set_backlog(packets, bytes);
        true
    }

    /// Writes frames with no bound check (the handshake, control packets).
    pub(super) fn write_frames(&mut self, frames: &[WireFrame], volatile: bool) {
        let frames = self.for_websocket(frames);
        let frames = &frames[..];
        let bytes: usize = frames.iter().map(WireFrame::len).sum();
        self.meta.sent(frames.len(), bytes);
        match &mut self.transport {
            Transport::WebSocket(link) => {
                link.outbox.push_frames(frames, volatile);
            }
            Transport::Polling { .. } => {
                self.queued_bytes += bytes;
                self.queue.extend(frames.iter().map(|frame| Queued {
                    frame: frame.clone(),
                    volatile,
                }));
                self.flush_polling();
            }
        }
        let (packets, bytes) = self.backlog();
        self.meta.set_backlog(packets, bytes);
    }

    /// Answers the pending poll, if any, with what is queued.
    pub(super) fn flush_polling(&mut self) {
        if self.queue.is_empty() || self.flush_deferred {
            return;
        }
        if let Transport::Polling { pending, .. } = &mut self.transport {
            if let Some(tx) = pending.take() {
                let body = self.drain_polling_body();
                let _ = tx.send(body);
            }
        }
    }

    /// Everything queued, as one polling body.
    pub(super) fn drain_polling_body(&mut self) -> bytes::Bytes {
        let frames = self.queue.iter().map(|q| &q.frame);
        let body = match self.eio3 {
            true => super::eio3::polling_body(frames, self.eio3_binary_bodies),
            false => bytes::Bytes::from(polling_body(frames)),
        };
        self.queue.clear();
        self.queued_bytes = 0;
        body
    }

    /// Moves what the polling queue holds to the websocket that replaced it.
    pub(super) fn move_queue_to_websocket(&mut self) {
        if let Transport::WebSocket(link) = &self.transport {
            for queued in self.queue.drain(..) {
                let frame = match self.eio3 {
                    true => Session::v3_ws_frames(std::slice::from_ref(&queued.frame)).remove(0),
                    false => queued.frame,
                };
                link.outbox.push_frames([&frame], queued.volatile);
            }
            self.queued_bytes = 0;
        }
    }

    /// Drops the volatile frames still waiting; returns how many went.
    fn drop_queued_volatile(&mut self) -> usize {
        match &self.transport {
            Transport::WebSocket(link) => link.outbox.drop_volatile(),
            Transport::Polling { .. } => {
                let before = self.queue.len();
                self.queue.retain(|q| !q.volatile);
                self.queued_bytes = self.queue.iter().map(|q| q.frame.len()).sum();
                before - self.queue.len()
            }
        }
    }

    pub(super) fn count_drop(&mut self, reason: DropReason, n: u64) {
        self.hub.counters().dropped(reason, n);
        if !self.drop_logged {
            self.drop_logged = true;
            let (packets, bytes) = self.backlog();
            crate::limited!(
                warn,
                "session {}: outgoing buffer full ({packets} packets, {bytes} bytes); dropping volatile events (counted in drops{{reason=\"{}\"}})",
                self.meta.sid,
                reason.as_str()
            );
        }
    }

    /// Disconnects the client: `frames` frames of `size` bytes did not fit in its outgoing
    /// buffer (the log line says what waited and what did not fit: a single frame larger
    /// than the byte bound does not fit an empty buffer either).
    pub(super) fn disconnect_slow_consumer(
        &mut self,
        frames: usize,
        size: usize,
        ctx: &mut Context<Self>,
    ) {
        let (packets, bytes) = self.backlog();
        self.hub.counters().slow_consumer_disconnect();
        self.hub
            .counters()
            .dropped(DropReason::SlowConsumer, packets as u64 + 1);
        crate::limited!(
            warn,
            "session {}: slow consumer: {frames} more frames of {size} bytes do not fit its outgoing buffer ({packets} packets, {bytes} bytes waiting; limits {} and {}); disconnecting",
            self.meta.sid,
            self.config.max_buffer_packets,
            self.config.max_buffer_bytes
        );
        self.close(DisconnectReason::SlowConsumer, ctx);
    }
}
