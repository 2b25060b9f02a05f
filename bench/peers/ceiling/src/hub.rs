//! What the ceiling keeps: per connection an output queue of encoded frames, and the
//! rooms as plain lists of connections.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Notify;
use tokio::time::{interval_at, Duration, Instant};

use crate::ws;

/// Bytes a connection may have queued and unwritten; a frame that would go over is
/// dropped (and counted in the publish's ack as `"dropped"`).
pub const MAX_QUEUED: usize = 4 << 20;

/// Engine.IO's ping interval, as the open packet announces it.
pub const PING_INTERVAL: Duration = Duration::from_secs(25);

/// One connection's output: encoded websocket frames waiting for its writer.
pub struct Conn {
    out: Mutex<Out>,
    wake: Notify,
}

struct Out {
    buf: Vec<u8>,
    closed: bool,
}

impl Conn {
    pub fn new() -> Arc<Conn> {
        Arc::new(Conn {
            out: Mutex::new(Out {
                buf: Vec::new(),
                closed: false,
            }),
            wake: Notify::new(),
        })
    }

    /// Queues encoded frame bytes; false when the queue is full and they were dropped.
    pub fn push(&self, bytes: &[u8]) -> bool {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if out.closed {
            return true;
        }
        if out.buf.len() + bytes.len() > MAX_QUEUED {
            return false;
        }
        let wake = out.buf.is_empty();
        out.buf.extend_from_slice(bytes);
        drop(out);
        if wake {
            self.wake.notify_one();
        }
        true
    }

    /// Queues one text frame of `payload`.
    pub fn push_text(&self, payload: &[u8]) -> bool {
        let mut f = Vec::with_capacity(payload.len() + 4);
        ws::frame(&mut f, ws::TEXT, payload);
        self.push(&f)
    }

    /// The bytes queued and not yet taken by the writer.
    #[cfg(test)]
    pub fn queued(&self) -> Vec<u8> {
        self.out.lock().unwrap().buf.clone()
    }

    /// Ends the connection's writer once what is queued is written.
    pub fn close(&self) {
        self.out.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.wake.notify_one();
    }

    /// Writes what is queued, all of it in one write per wake-up (frames that came while
    /// a write was in progress go out together in the next one), and an Engine.IO ping
    /// every [`PING_INTERVAL`].
    pub async fn write_loop(self: Arc<Conn>, mut wr: OwnedWriteHalf) {
        let mut batch = Vec::new();
        let mut ping = interval_at(Instant::now() + PING_INTERVAL, PING_INTERVAL);
        loop {
            let closed = {
                let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
                std::mem::swap(&mut out.buf, &mut batch);
                out.closed
            };
            if batch.is_empty() {
                if closed {
                    break;
                }
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = ping.tick() => { self.push_text(b"2"); }
                }
                continue;
            }
            if wr.write_all(&batch).await.is_err() {
                break;
            }
            batch.clear();
            // A burst's buffer is not kept for a connection that went quiet again.
            if batch.capacity() > 64 << 10 {
                batch = Vec::new();
            }
        }
        self.close();
        let _ = wr.shutdown().await;
    }
}

/// The rooms: a name to a plain list of its members, under one lock.
#[derive(Default)]
pub struct Rooms {
    rooms: Mutex<HashMap<String, Vec<Arc<Conn>>>>,
    /// Frames dropped on full queues since start.
    pub dropped: AtomicU64,
}

/// What one publish did: members it was queued for, and members whose queue was full.
pub struct Sent {
    pub recipients: u64,
    pub dropped: u64,
}

impl Rooms {
    pub fn join(&self, room: &str, conn: &Arc<Conn>) {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        rooms.entry(room.to_owned()).or_default().push(conn.clone());
    }

    pub fn leave(&self, room: &str, conn: &Arc<Conn>) {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(members) = rooms.get_mut(room) {
            if let Some(i) = members.iter().position(|m| Arc::ptr_eq(m, conn)) {
                members.swap_remove(i);
            }
            if members.is_empty() {
                rooms.remove(room);
            }
        }
    }

    /// Queues the encoded `frame` (one text frame) for every member of `room` but `skip`.
    pub fn publish(&self, room: &str, frame: &[u8], skip: Option<&Arc<Conn>>) -> Sent {
        let mut sent = Sent {
            recipients: 0,
            dropped: 0,
        };
        let rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        for m in rooms.get(room).map(Vec::as_slice).unwrap_or_default() {
            if skip.is_some_and(|s| Arc::ptr_eq(s, m)) {
                continue;
            }
            if m.push(frame) {
                sent.recipients += 1;
            } else {
                sent.dropped += 1;
            }
        }
        drop(rooms);
        self.dropped.fetch_add(sent.dropped, Relaxed);
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_and_the_publish_counts_it() {
        let rooms = Rooms::default();
        let (slow, fast) = (Conn::new(), Conn::new());
        rooms.join("r", &slow);
        rooms.join("r", &fast);
        let frame = vec![b'x'; 1 << 20];
        for _ in 0..4 {
            assert_eq!(rooms.publish("r", &frame, None).dropped, 0);
        }
        // `fast` is drained by its writer; `slow` never is.
        fast.out.lock().unwrap().buf.clear();
        let sent = rooms.publish("r", &frame, None);
        assert_eq!((sent.recipients, sent.dropped), (1, 1));
        assert_eq!(rooms.dropped.load(Relaxed), 1);
        assert_eq!(slow.queued().len(), MAX_QUEUED);
    }
}
