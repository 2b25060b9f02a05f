//! A streaming reader of `text/event-stream` answers (the API's ack stream and its
//! subscribe stream): the request and head on the wire's HTTP client, then the chunked body
//! read event by event as it arrives.

use std::net::SocketAddr;

use serde_json::Value;

use super::wire::Conn;

/// One block of an event stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Sse {
    /// A comment line (`: keep-alive`).
    Comment(String),
    /// An event with its JSON data.
    Event { name: String, data: Value },
}

/// An event stream being read.
pub struct SseReader {
    conn: Conn,
    pending: String,
    ended: bool,
}

impl SseReader {
    /// Sends a request with `headers` (and `body` as JSON unless it is a GET) asking for an
    /// event stream, and reads the head; returns the status, the headers and the reader.
    pub fn open(
        addr: SocketAddr,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, Vec<(String, String)>, SseReader) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let len = body.len().to_string();
        let mut all = headers.to_vec();
        all.push(("Accept", "text/event-stream"));
        if method != "GET" {
            all.push(("Content-Type", "application/json"));
            all.push(("Content-Length", &len));
        }
        let mut conn = Conn::open(addr);
        conn.send_head(method, target, &all);
        conn.write(body.as_bytes());
        let (status, headers) = conn.read_head().expect("a response head");
        let sse = SseReader {
            conn,
            pending: String::new(),
            ended: false,
        };
        (status, headers, sse)
    }

    /// Reads one chunk of the body into `pending`; false at the end of the body (or of
    /// the connection).
    fn read_chunk(&mut self) -> bool {
        match self.conn.read_chunk() {
            Ok(Some(chunk)) => {
                self.pending
                    .push_str(std::str::from_utf8(&chunk).expect("UTF-8 events"));
                true
            }
            Ok(None) | Err(_) => false,
        }
    }

    /// The next event or comment; `None` when the stream ended.
    pub fn next(&mut self) -> Option<Sse> {
        loop {
            if let Some(end) = self.pending.find("\n\n") {
                let block: String = self.pending.drain(..end + 2).collect();
                return Some(parse_block(block.trim_end()));
            }
            if self.ended || !self.read_chunk() {
                self.ended = true;
                assert!(
                    self.pending.is_empty(),
                    "a partial event: {:?}",
                    self.pending
                );
                return None;
            }
        }
    }

    /// The next event, skipping comments.
    pub fn event(&mut self) -> (String, Value) {
        loop {
            match self.next().expect("an event before the end of the stream") {
                Sse::Event { name, data } => return (name, data),
                Sse::Comment(_) => {}
            }
        }
    }
}

fn parse_block(block: &str) -> Sse {
    if let Some(comment) = block.strip_prefix(':') {
        return Sse::Comment(comment.trim().to_owned());
    }
    let mut name = String::new();
    let mut data = String::new();
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event: ") {
            name = v.to_owned();
        } else if let Some(v) = line.strip_prefix("data: ") {
            data = v.to_owned();
        } else {
            panic!("unexpected SSE line {line:?} in {block:?}");
        }
    }
    let data = serde_json::from_str(&data).unwrap_or_else(|e| panic!("JSON data {data:?}: {e}"));
    Sse::Event { name, data }
}
