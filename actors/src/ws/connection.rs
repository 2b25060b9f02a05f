//! A websocket connection on its raw socket, after the HTTP upgrade: the client's frames
//! are decoded into a small, growing buffer and handed to the session; the session's
//! outbox is written as it fills. No HTTP dispatcher stays behind the connection, so an
//! idle websocket costs little more than its session.

use std::pin::pin;

use actix::Addr;
use actix_codec::Decoder;
use actix_http::ws::Codec;
use bytes::BytesMut;
use futures::future::select;
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{Assembler, OutboxStream, WsEvent};
use crate::messages::WsIncoming;
use crate::session::Session;

/// The least free space kept in the read buffer before a read.
const READ_RESERVE: usize = 512;
/// A read buffer this big is dropped once empty, so an idle connection holds a small one.
const SHRINK_ABOVE: usize = 16 * 1024;

/// Runs the connection until either side closes it: reads go to `session` as
/// [`WsIncoming`] tagged `id`, and `outbox` is written out. `leftover` holds bytes read
/// past the upgrade request.
pub async fn run<T>(
    io: T,
    leftover: BytesMut,
    outbox: OutboxStream,
    id: u64,
    session: Addr<Session>,
    max_message: usize,
) where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let (mut reader, mut writer) = tokio::io::split(io);
    let write = async move {
        let mut outbox = outbox;
        while let Some(Ok(chunk)) = outbox.next().await {
            if writer.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = writer.shutdown().await;
    };
    let read = async move {
        let mut codec = Codec::new().max_size(max_message);
        let mut assembler = Assembler::new(max_message);
        let mut buf = leftover;
        loop {
            loop {
                let event = match codec.decode(&mut buf) {
                    Ok(Some(frame)) => match assembler.on_frame(frame) {
                        Some(event) => event,
                        None => continue,
                    },
                    Ok(None) => break,
                    Err(e) => WsEvent::Error(format!("websocket protocol error: {e}")),
                };
                let last = event.is_last();
                session.do_send(WsIncoming { id, event });
                if last {
                    return;
                }
            }
            if buf.is_empty() && buf.capacity() > SHRINK_ABOVE {
                buf = BytesMut::new();
            }
            if buf.capacity() - buf.len() < READ_RESERVE {
                buf.reserve(buf.len().max(READ_RESERVE));
            }
            match reader.read_buf(&mut buf).await {
                Ok(0) | Err(_) => {
                    session.do_send(WsIncoming {
                        id,
                        event: WsEvent::Close,
                    });
                    return;
                }
                Ok(_) => {}
            }
        }
    };
    // Either the session closed the outbox (the connection is done), or the client went
    // away or broke the protocol (the session has been told): stop both halves.
    select(pin!(write), pin!(read)).await;
}
