//! A websocket connection on its raw socket, after the HTTP upgrade: one task waits for
//! the socket to be readable or for the session's outbox to have frames. Reads go into a
//! buffer that exists only while there is something to decode, so an idle connection holds
//! no read buffer at all and no HTTP dispatcher stays behind it.

use std::io::ErrorKind;

use actix::Addr;
use actix_codec::Decoder;
use actix_http::ws::Codec;
use bytes::BytesMut;
use futures::StreamExt;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;

use super::{Assembler, OutboxStream, WsEvent};
use crate::messages::WsIncoming;
use crate::session::Session;

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

/// Runs the connection until either side closes it: reads go to `session` as
/// [`WsIncoming`] tagged `id`, and `outbox` is written out. `leftover` holds bytes read
/// past the upgrade request.
pub async fn run(
    mut io: TcpStream,
    leftover: BytesMut,
    mut outbox: OutboxStream,
    id: u64,
    session: Addr<Session>,
    max_message: usize,
) {
    let mut reader = Reader {
        codec: Codec::new().max_size(max_message),
        assembler: Assembler::new(max_message),
        buf: leftover,
        id,
        session,
    };
    if !reader.decode() {
        return;
    }
    loop {
        tokio::select! {
            ready = io.readable() => {
                if ready.is_err() || !reader.read_from(&io) {
                    return;
                }
            }
            chunk = outbox.next() => match chunk {
                Some(Ok(chunk)) => {
                    if io.write_all(&chunk).await.is_err() {
                        reader.closed();
                        return;
                    }
                }
                // The session closed the outbox: the connection is done.
                _ => {
                    let _ = io.shutdown().await;
                    return;
                }
            },
        }
    }
}

/// The reading half: decodes frames and hands the session whole messages.
struct Reader {
    codec: Codec,
    assembler: Assembler,
    buf: BytesMut,
    id: u64,
    session: Addr<Session>,
}

impl Reader {
    /// Reads what the socket has; returns whether the connection goes on. Reads land on
    /// the stack first, so a wake-up with nothing to read allocates nothing.
    fn read_from(&mut self, io: &TcpStream) -> bool {
        let mut chunk = [0u8; READ_CHUNK];
        match io.try_read(&mut chunk) {
            Ok(0) => {
                self.closed();
                false
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
            Err(e) if e.kind() == ErrorKind::WouldBlock => true,
            Err(_) => {
                self.closed();
                false
            }
        }
    }

    /// Hands every whole message in the buffer to the session; returns whether the
    /// connection goes on. An emptied buffer is released.
    fn decode(&mut self) -> bool {
        loop {
            let event = match self.codec.decode(&mut self.buf) {
                Ok(Some(frame)) => match self.assembler.on_frame(frame) {
                    Some(event) => event,
                    None => continue,
                },
                Ok(None) => break,
                Err(e) => WsEvent::Error(format!("websocket protocol error: {e}")),
            };
            let last = event.is_last();
            self.session.do_send(WsIncoming { id: self.id, event });
            if last {
                return false;
            }
        }
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
        }
        true
    }

    /// Tells the session the client is gone.
    fn closed(&self) {
        self.session.do_send(WsIncoming {
            id: self.id,
            event: WsEvent::Close,
        });
    }
}
