//! The ceiling of the siohub benchmark: the least a Socket.IO fan-out server can do on this
//! machine, as a reference for the others (issue 15, goal 8).
//!
//! It speaks just enough Engine.IO v4 / Socket.IO v5 over websocket for the load
//! generator's `fanout` (the upgrade, the open packet, CONNECT to `/`, the `join`,
//! `leave`, `publish` and `ping` events with siohub's acks, Engine.IO pings every 25 s)
//! and nothing else: no long-polling, no other namespace, no msgpack, no
//! permessage-deflate, no fragmented messages, no auth, policies, replay or metrics, no
//! actors. A room is a plain list of connections (`hub::Rooms`). A publish is parsed once
//! and its event encoded once, as one websocket frame, whose bytes are appended to every
//! member's output queue; each connection's writer takes its whole queue and writes it in
//! one write (`hub::Conn::write_loop`). A queue over 4 MiB drops what does not fit and
//! the publish's ack says how many in `"dropped"`, as the socketioxide peer's does.
//!
//! Usage: `ceiling-peer <port>`; listens on 127.0.0.1, path `/socket.io/`; tokio with one
//! worker thread per core.

mod hub;
mod sio;
mod ws;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use hub::{Conn, Rooms};

/// The largest HTTP request head taken before the upgrade.
const MAX_HEAD: usize = 8 << 10;

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(serve(port));
}

async fn serve(port: u16) {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("bind 127.0.0.1:{port}: {e}"));
    eprintln!("ceiling peer listening on http://127.0.0.1:{port}/socket.io/");
    let rooms = Arc::new(Rooms::default());
    let next_sid = Arc::new(AtomicU64::new(1));
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let sid = format!("c{:019}", next_sid.fetch_add(1, Relaxed));
                tokio::spawn(connection(stream, sid, rooms.clone()));
            }
            // Out of descriptors, say: wait for some to be freed rather than spin.
            Err(e) => {
                eprintln!("ceiling: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

/// Serves one TCP connection: the upgrade, then its frames until it closes.
async fn connection(mut stream: TcpStream, sid: String, rooms: Arc<Rooms>) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 4096];
    let mut end = 0;
    let head = loop {
        if let Some(h) = ws::head_end(&buf[..end]) {
            break h;
        }
        if end == MAX_HEAD {
            return;
        }
        let cap = buf.len();
        match stream.read(&mut buf[end..cap]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => end += n,
        }
        if end == buf.len() {
            buf.resize(MAX_HEAD, 0);
        }
    };
    match ws::upgrade(&buf[..head]) {
        ws::Upgrade::Refuse(answer) => {
            let _ = stream.write_all(&answer).await;
            return;
        }
        ws::Upgrade::Accept(answer) => {
            if stream.write_all(&answer).await.is_err() {
                return;
            }
        }
    }
    let (mut rd, wr) = stream.into_split();
    let conn = Conn::new();
    conn.push_text(sio::open_packet(&sid).as_bytes());
    tokio::spawn(conn.clone().write_loop(wr));
    let mut client = sio::Client {
        conn,
        sid,
        joined: Vec::new(),
    };
    let mut start = head;
    'read: loop {
        loop {
            let (frame, next) = match ws::parse(&mut buf[..end], start) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(why) => {
                    eprintln!("ceiling: {}: {why}", client.sid);
                    break 'read;
                }
            };
            start = next;
            let payload = &buf[frame.payload];
            match frame.opcode {
                ws::TEXT => client.on_text(payload, &rooms),
                ws::PING => {
                    let mut pong = Vec::with_capacity(payload.len() + 2);
                    ws::frame(&mut pong, ws::PONG, payload);
                    client.conn.push(&pong);
                }
                ws::CLOSE => {
                    let mut close = Vec::with_capacity(4);
                    ws::frame(&mut close, ws::CLOSE, payload.get(..2).unwrap_or_default());
                    client.conn.push(&close);
                    break 'read;
                }
                _ => {}
            }
        }
        // Keep the unread part at the front; grow only for a frame larger than the buffer.
        buf.copy_within(start..end, 0);
        end -= start;
        start = 0;
        if end == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match rd.read(&mut buf[end..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => end += n,
        }
    }
    client.leave_all(&rooms);
    client.conn.close();
}
