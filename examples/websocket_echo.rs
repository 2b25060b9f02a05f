//! A raw websocket echo server on the hub's own websocket code, for the external websocket
//! conformance suite (`scripts/websocket_suite.sh`): the upgrade head is parsed and checked
//! by the hub's first-request code, the `101` is the hub's, and the connection runs on
//! `siohub_actors::ws_connection` (frame decoding, fragments, permessage-deflate, the
//! outbox and its bounds), with an echo actor in the session's place: every text and binary
//! message goes back to its sender, pings are answered, a close is answered with a close.
//!
//! It is an example only: no hub serves this, whatever its configuration.
//!
//! `cargo run --release --example websocket_echo -- [PORT] [MAX_MESSAGE_BYTES]
//! [DEFLATE_THRESHOLD]` (defaults 9001, 64 MiB and 64 bytes; PORT 0 picks a free port). It
//! prints `listening on ADDR`.

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, ActorContext, Context, Handler};
use bytes::BytesMut;
use siohub::transport::head::header_text;
use siohub_actors::messages::WsIncoming;
use siohub_actors::wire_frame::{ws_close_frame, ws_close_frame_with, ws_pong_frame, WireFrame};
use siohub_actors::ws::{deflate, InflightLimit, Outbox, WsEvent, CLOSE_INVALID_DATA};
use siohub_actors::ws_connection::{self, WsLimits};
use siohub_actors::HubCounters;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The most an upgrade head may take.
const MAX_HEAD: usize = 8192;

/// Messages of at least this many bytes are echoed compressed on a deflate connection,
/// unless told otherwise.
const DEFLATE_THRESHOLD: usize = 64;

/// How long accepting pauses after it failed (a connection reset before it was taken, no
/// descriptor left), as the hub's workers do: the listener stays, the next connection is
/// taken.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// The session's stand-in: echoes what the connection reads.
struct Echo {
    outbox: Outbox,
}

impl Actor for Echo {
    type Context = Context<Self>;
}

impl Handler<WsIncoming> for Echo {
    type Result = ();

    fn handle(&mut self, msg: WsIncoming, ctx: &mut Context<Self>) {
        match msg.event {
            WsEvent::Text(data) => match String::from_utf8(data.to_vec()) {
                Ok(text) => self.outbox.push_frames([&WireFrame::text(text)], false),
                Err(_) => self.close(ws_close_frame_with(CLOSE_INVALID_DATA), ctx),
            },
            WsEvent::Binary(data) => self.outbox.push_frames([&WireFrame::binary(data)], false),
            WsEvent::Ping(data) => self.outbox.push([ws_pong_frame(&data)], false),
            WsEvent::Close => self.close(ws_close_frame(), ctx),
            // The connection wrote its own close frame and ended.
            WsEvent::Error(_) => ctx.stop(),
        }
    }
}

impl Echo {
    fn close(&mut self, frame: bytes::Bytes, ctx: &mut Context<Self>) {
        self.outbox.push([frame], false);
        self.outbox.close();
        ctx.stop();
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args
        .next()
        .map_or(Ok(9001), |p| p.parse())
        .map_err(std::io::Error::other)?;
    let max_message: usize = args
        .next()
        .map_or(Ok(64 << 20), |m| m.parse())
        .map_err(std::io::Error::other)?;
    let deflate_threshold: usize = args
        .next()
        .map_or(Ok(DEFLATE_THRESHOLD), |t| t.parse())
        .map_err(std::io::Error::other)?;
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    run(listener, max_message, deflate_threshold).await;
    Ok(())
}

/// Serves every connection `listener` accepts (on the current actix system), for ever; a
/// failed accept is logged and accepting goes on after [`ACCEPT_ERROR_PAUSE`]. The test
/// suite runs it in its own process (tests/it/websocket_suite.rs).
pub async fn run(listener: TcpListener, max_message: usize, deflate_threshold: usize) {
    let counters = Arc::new(HubCounters::default());
    loop {
        match listener.accept().await {
            Ok((io, _)) => {
                let _ = io.set_nodelay(true);
                let counters = counters.clone();
                actix_rt::spawn(serve(io, max_message, deflate_threshold, counters));
            }
            Err(e) => {
                eprintln!("websocket_echo: accept failed: {e}; pausing {ACCEPT_ERROR_PAUSE:?}");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
}

/// Reads the upgrade head (more reads as needed, up to [`MAX_HEAD`]), answers it, and runs
/// the connection.
async fn serve(
    mut io: TcpStream,
    max_message: usize,
    deflate_threshold: usize,
    counters: Arc<HubCounters>,
) {
    let mut buf = BytesMut::with_capacity(1024);
    let (accepted, head_len) = loop {
        if buf.len() >= MAX_HEAD || matches!(io.read_buf(&mut buf).await, Ok(0) | Err(_)) {
            return;
        }
        let parsed = siohub::transport::with_plain_upgrade(&buf, |head, len| {
            let accept = siohub::transport::websocket_accept(head).map_err(|e| e.to_string());
            let offers = head
                .headers_named("sec-websocket-extensions")
                .filter_map(header_text);
            (accept.map(|a| (a, deflate::accepts_offer(offers))), len)
        });
        if let Some(parsed) = parsed {
            break parsed;
        }
    };
    let (accept, deflating) = match accepted {
        Ok(accepted) => accepted,
        Err(message) => {
            let response = format!(
                "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{message}",
                message.len()
            );
            let _ = io.write_all(response.as_bytes()).await;
            return;
        }
    };
    let leftover = buf.split_off(head_len);
    let outbox = if deflating {
        Outbox::counted_deflating(counters.clone(), deflate_threshold)
    } else {
        Outbox::counted(counters.clone())
    };
    outbox.push(
        [siohub::transport::switching_protocols(&accept, deflating).into()],
        false,
    );
    let stream = outbox.stream();
    let echo = Echo { outbox }.start();
    let limits = WsLimits {
        max_message,
        write_timeout: Duration::from_secs(10),
        inflight: InflightLimit::default(),
        deflate: deflating,
    };
    ws_connection::run(io, leftover, stream, 1, Arc::new(echo), limits, counters).await;
}
