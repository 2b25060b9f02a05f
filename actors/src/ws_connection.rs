//! A websocket connection on its raw socket, after the HTTP upgrade: one task waits for
//! the socket to be readable or writable, or for the session's outbox to have frames.
//! Reads go into a buffer that exists only while there is something to decode, so an idle
//! connection holds no read buffer at all and no HTTP dispatcher stays behind it.
//!
//! Both directions are bounded. A write that makes no progress for the write timeout ends
//! the connection (a client that stopped reading cannot hold its socket and buffers for
//! ever, even after its session is gone), and so does an aborted outbox, at once. Reading
//! stops while the session has too much unhandled (see [`crate::ws::Inflight`]), so the
//! kernel's receive buffer and TCP flow control hold a client that sends too fast.
//!
//! It feeds a session, so it sits above it; the plain parts it uses (outbox, in-flight
//! bound, frame assembly) are in `ws`.

use std::future::Future;
use std::io::ErrorKind;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use actix::dev::ToEnvelope;
use actix::{Actor, Addr, Handler};
use bytes::{Buf, Bytes, BytesMut};
use futures::StreamExt as _;
use tokio::io::{AsyncWrite, Interest};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use crate::messages::WsIncoming;
use crate::stats::HubCounters;
use crate::ws::{FrameReader, Inflight, InflightLimit, OutboxStream, WsEvent};

/// Bytes read per readiness event (more are read on the next one).
const READ_CHUNK: usize = 4096;

/// Whether the reactor is edge-triggered here (epoll, kqueue), so a short read proves the
/// socket empty.
const EDGE_TRIGGERED: bool = cfg!(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
));

/// The bounds of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsLimits {
    /// The largest message the client may send.
    pub max_message: usize,
    /// How long a write may make no progress before the connection is cut.
    pub write_timeout: Duration,
    /// What may be read and not yet handled by the session.
    pub inflight: InflightLimit,
    /// Whether the connection negotiated permessage-deflate (compressed messages are
    /// inflated, to at most `max_message` bytes).
    pub deflate: bool,
}

/// Where a connection hands what it reads: the actor serving it, through an address it
/// may share (a session's connection holds the session's one shared address, so it keeps
/// no sender of its own: see [`crate::SessionAddr`]).
pub trait WsReceiver: Send + Sync + 'static {
    /// Hands one message to the actor (never waits; a stopped actor drops it).
    fn receive(&self, msg: WsIncoming);
}

impl<A> WsReceiver for Addr<A>
where
    A: Actor + Handler<WsIncoming>,
    A::Context: ToEnvelope<A, WsIncoming>,
{
    fn receive(&self, msg: WsIncoming) {
        self.do_send(msg);
    }
}

/// Runs the connection until either side closes it: reads go to `session` (a
/// [`crate::session::Session`], or any actor taking [`WsIncoming`]) tagged `id`, and
/// `outbox` is written out. `leftover` holds bytes read past the upgrade request. Write
/// timeouts and read pauses are counted in `counters`.
///
/// After the client's close frame nothing more is read, and the outbox is written until
/// the session closes it (its answering close frame last), for at most the write timeout;
/// a protocol error or a message too big ends the connection at once, with a close frame
/// saying why (1002, 1009).
pub fn run(
    io: TcpStream,
    leftover: BytesMut,
    outbox: OutboxStream,
    id: u64,
    session: Arc<dyn WsReceiver>,
    limits: WsLimits,
    counters: Arc<HubCounters>,
) -> impl Future<Output = ()> {
    let reader = Reader {
        frames: FrameReader::new(limits.max_message, limits.deflate),
        buf: leftover,
        id,
        session,
        inflight: Inflight::new(limits.inflight),
        paused: false,
        held: false,
        high_water: 0,
        counters,
    };
    Running {
        io,
        connection: Connection {
            watch: outbox.outbox(),
            outbox,
            reader,
            writer: Writer {
                pending: None,
                timer: None,
                timeout: limits.write_timeout,
            },
            closing: None,
            flow: None,
        },
        shutting_down: false,
    }
}

/// The connection's task: the socket and the connection's state, nothing more (an
/// `async` body would keep its arguments and the futures of every branch it waits on
/// besides, several hundred bytes per idle connection).
struct Running {
    io: TcpStream,
    connection: Connection,
    /// Whether the connection is done and the socket is being shut down for writing.
    shutting_down: bool,
}

impl Future for Running {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if !this.shutting_down {
            let end = match this.connection.poll_step(&this.io, cx) {
                Poll::Ready(end) => end,
                Poll::Pending => return Poll::Pending,
            };
            match end {
                End::Done => {}
                // A reset: the kernel drops what it still holds for the client instead
                // of trying to deliver it to a peer that does not read.
                End::Cut => {
                    let _ = this.io.set_zero_linger();
                }
                End::Shutdown => this.shutting_down = true,
            }
            if !this.shutting_down {
                return Poll::Ready(());
            }
        }
        // The task ends (and drops the socket) once the shutdown is done or failed.
        Pin::new(&mut this.io).poll_shutdown(cx).map(|_| ())
    }
}

/// How the socket goes once the connection is done.
enum End {
    /// Dropped (what was written was written, or it failed).
    Done,
    /// Closed with a reset.
    Cut,
    /// Shut down for writing after the last frame (the session closed the outbox).
    Shutdown,
}

/// One connection's state between wake-ups. Polled by hand instead of a `select!` in a
/// loop, so the task holds only this (no future per branch): an idle connection's task is
/// the connection and nothing more.
struct Connection {
    outbox: OutboxStream,
    /// The abort is watched beside the stream.
    watch: crate::ws::Outbox,
    reader: Reader,
    writer: Writer,
    /// Armed once the client closed: the session's close must be written by then.
    closing: Option<Pin<Box<Sleep>>>,
    /// Where the reading half stands (`None` until the first poll has decoded what was
    /// read past the upgrade request).
    flow: Option<Flow>,
}

impl Connection {
    /// Runs what is ready, in the order of the branches of a select loop: the outbox (when
    /// no write is pending), the pending write and its deadline, the abort, the client's
    /// close deadline, room for more reads, the socket's readability. Pending once none is
    /// ready (each registered for a wake-up); ready with how the socket goes once the
    /// connection is done.
    fn poll_step(&mut self, io: &TcpStream, cx: &mut std::task::Context<'_>) -> Poll<End> {
        loop {
            let flow = *self.flow.get_or_insert_with(|| self.reader.decode());
            match flow {
                Flow::Open => {}
                Flow::Closing if self.closing.is_none() => {
                    self.closing = Some(Box::pin(tokio::time::sleep(self.writer.timeout)));
                }
                Flow::Closing => {}
                Flow::Ended => {
                    self.reader.say_farewell(io, &self.writer);
                    return Poll::Ready(End::Done);
                }
            }
            let reading = self.closing.is_none() && self.reader.may_read();
            let room_awaited = self.closing.is_none() && !reading;
            if self.writer.pending.is_none() {
                match self.outbox.poll_next_unpin(cx) {
                    Poll::Ready(Some(Ok(chunk))) => {
                        if self.writer.start(chunk, io).is_err() {
                            self.reader.closed();
                            return Poll::Ready(End::Done);
                        }
                        continue;
                    }
                    // The session closed the outbox: the connection is done.
                    Poll::Ready(_) => {
                        return Poll::Ready(match self.outbox.is_aborted() {
                            true => End::Cut,
                            false => End::Shutdown,
                        });
                    }
                    Poll::Pending => {}
                }
            } else {
                if let Poll::Ready(ready) = io.poll_write_ready(cx) {
                    if ready.is_err() || self.writer.write(io).is_err() {
                        self.reader.closed();
                        return Poll::Ready(End::Done);
                    }
                    continue;
                }
                if self.writer.poll_expired(cx).is_ready() {
                    self.timed_out();
                    return Poll::Ready(End::Cut);
                }
                // The session dropped the client as a slow consumer: what is being
                // written goes too, now.
                if self.watch.poll_aborted(cx).is_ready() {
                    return Poll::Ready(End::Cut);
                }
            }
            // The client closed and the session did not answer in time: the reader's own
            // answer, and the end.
            if let Some(closing) = self.closing.as_mut() {
                if closing.as_mut().poll(cx).is_ready() {
                    self.reader.say_farewell(io, &self.writer);
                    return Poll::Ready(End::Cut);
                }
            }
            if room_awaited && self.reader.inflight.poll_room(cx).is_ready() {
                self.flow = Some(self.reader.decode());
                continue;
            }
            if reading {
                if let Poll::Ready(ready) = io.poll_read_ready(cx) {
                    self.flow = Some(match ready {
                        Err(_) => Flow::Ended,
                        Ok(()) => self.reader.read_from(io),
                    });
                    continue;
                }
            }
            return Poll::Pending;
        }
    }

    /// The pending write made no progress for the write timeout: counted and logged.
    fn timed_out(&mut self) {
        self.reader.counters.write_timeout();
        let (packets, bytes) = self.outbox.backlog();
        log::info!(
            "websocket {}: no write progress for {} ms ({} bytes in the write, {packets} frames and {bytes} bytes queued); closing (outgoing.write_timeout_ms)",
            self.reader.id,
            self.writer.timeout.as_millis(),
            self.writer.pending.as_ref().map_or(0, Bytes::len),
        );
        self.reader.closed();
    }
}

/// The writing half: the chunk being written and the deadline of its next progress.
struct Writer {
    pending: Option<Bytes>,
    /// Armed while a write waits; created on the first wait and reset after.
    timer: Option<Pin<Box<Sleep>>>,
    timeout: Duration,
}

impl Writer {
    /// Writes `chunk`, keeping what the socket does not take now.
    fn start(&mut self, chunk: Bytes, io: &TcpStream) -> std::io::Result<()> {
        self.pending = Some(chunk);
        self.write(io)?;
        if self.pending.is_some() {
            self.arm();
        }
        Ok(())
    }

    /// Writes what it can of the pending chunk; any progress moves the deadline.
    fn write(&mut self, io: &TcpStream) -> std::io::Result<()> {
        let Some(chunk) = self.pending.as_mut() else {
            return Ok(());
        };
        let mut progress = false;
        while !chunk.is_empty() {
            match io.try_write(chunk) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => {
                    chunk.advance(n);
                    progress = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if chunk.is_empty() {
            self.pending = None;
        } else if progress {
            self.arm();
        }
        Ok(())
    }

    /// Starts the no-progress deadline from now.
    fn arm(&mut self) {
        let deadline = Instant::now() + self.timeout;
        match self.timer.as_mut() {
            Some(timer) => timer.as_mut().reset(deadline),
            None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
    }

    /// Ready when the pending write made no progress for the timeout.
    fn poll_expired(&mut self, cx: &mut std::task::Context<'_>) -> Poll<()> {
        match self.timer.as_mut() {
            Some(timer) => timer.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}

/// The reading half: decodes frames and hands the session whole messages, within the
/// in-flight bound.
struct Reader {
    frames: FrameReader,
    buf: BytesMut,
    id: u64,
    session: Arc<dyn WsReceiver>,
    inflight: Inflight,
    /// Whether reading is paused for the session (counted once per pause).
    paused: bool,
    /// Whether decoding stopped for want of room, with the buffer not yet decoded.
    held: bool,
    /// The most messages this connection had in flight.
    high_water: usize,
    counters: Arc<HubCounters>,
}

/// Where the reading half stands after a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// Reading goes on.
    Open,
    /// The client sent its close frame: nothing more is read, and what the session still
    /// writes (its answering close frame last) goes out before the socket closes.
    Closing,
    /// The client went away or broke the protocol: the connection ends now.
    Ended,
}

impl Reader {
    /// Whether the socket may be read: the session has room for more, and no whole
    /// message waits in the buffer (those are handed over first, as room comes back).
    fn may_read(&mut self) -> bool {
        let room = self.inflight.has_room();
        if !room && !self.paused {
            self.counters.read_paused();
        }
        self.paused = !room;
        room && !self.held
    }

    /// Reads what the socket has; returns where the connection stands. Reads land on the
    /// stack first, so a wake-up with nothing to read allocates nothing.
    fn read_from(&mut self, io: &TcpStream) -> Flow {
        let mut chunk = [0u8; READ_CHUNK];
        match io.try_read(&mut chunk) {
            Ok(0) => {
                self.closed();
                Flow::Ended
            }
            Ok(n) => {
                if EDGE_TRIGGERED && n < READ_CHUNK {
                    // A short read emptied the socket: the next read would only find it
                    // empty (one more syscall per message). Waiting for readiness again is
                    // safe: new bytes bring a new edge-triggered event, and a closed state
                    // is never cleared (as tokio's own reads do).
                    let _ = io.try_io(Interest::READABLE, || {
                        Err::<(), _>(std::io::Error::from(ErrorKind::WouldBlock))
                    });
                }
                self.buf.extend_from_slice(&chunk[..n]);
                self.decode()
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => Flow::Open,
            Err(_) => {
                self.closed();
                Flow::Ended
            }
        }
    }

    /// Hands whole messages in the buffer to the session while it has room for them;
    /// returns where the connection stands. An emptied buffer is released.
    fn decode(&mut self) -> Flow {
        self.held = false;
        loop {
            if !self.inflight.has_room() {
                self.held = !self.buf.is_empty();
                break;
            }
            let Some(event) = self.frames.next_event(&mut self.buf) else {
                break;
            };
            let flow = match &event {
                WsEvent::Close => Flow::Closing,
                WsEvent::Error(_) => {
                    if self.frames.inflated_too_big() {
                        self.counters
                            .refused(crate::stats::RefusalReason::InflatedTooLarge);
                    }
                    Flow::Ended
                }
                _ => Flow::Open,
            };
            let size = match &event {
                WsEvent::Text(data) | WsEvent::Binary(data) | WsEvent::Ping(data) => data.len(),
                WsEvent::Close | WsEvent::Error(_) => 0,
            };
            let credit = self.inflight.take(size);
            let (inflight, _) = self.inflight.current();
            if inflight > self.high_water {
                // Once per new high of this connection: the hub-wide atomic is shared.
                self.high_water = inflight;
                self.counters.inflight_seen(inflight);
            }
            self.session.receive(WsIncoming {
                id: self.id,
                event,
                credit: Some(credit),
            });
            if flow != Flow::Open {
                self.buf = BytesMut::new();
                return flow;
            }
        }
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
        }
        Flow::Open
    }

    /// Writes the close frame the reader chose (1002 for a protocol error, 1009 for a
    /// message too big, the client's own status after its close), if any, as the
    /// connection ends: best effort, and only between frames (never inside a write in
    /// progress).
    fn say_farewell(&mut self, io: &TcpStream, writer: &Writer) {
        if let Some(frame) = self
            .frames
            .take_farewell()
            .filter(|_| writer.pending.is_none())
        {
            let _ = io.try_write(&frame);
        }
    }

    /// Tells the session the client is gone.
    fn closed(&self) {
        self.session.receive(WsIncoming {
            id: self.id,
            event: WsEvent::Close,
            credit: None,
        });
    }
}
