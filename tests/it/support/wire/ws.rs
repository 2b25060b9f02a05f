//! A blocking websocket client (tungstenite) with read deadlines, and the Engine.IO
//! upgrade of a polling session onto it.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;
use tungstenite::{Message, WebSocket};

use super::{target, try_connect_from, IO_TIMEOUT, WEBSOCKET};

/// What a websocket read produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
    /// The connection closed (close frame, end of stream or reset).
    Closed,
}

/// A blocking websocket client.
pub struct Ws {
    ws: WebSocket<TcpStream>,
    closed: bool,
    /// Whether the server's websocket close frame arrived (not just the end of stream).
    close_frame: bool,
}

impl Ws {
    /// Opens a websocket to `PATH?query`; panics if the handshake fails.
    pub fn connect(addr: SocketAddr, query: &str) -> Ws {
        Self::try_connect(addr, query).unwrap_or_else(|e| panic!("websocket handshake: {e}"))
    }

    /// Opens a websocket to `PATH?query`.
    pub fn try_connect(addr: SocketAddr, query: &str) -> Result<Ws, String> {
        Self::try_connect_with(None, addr, query, &[])
    }

    /// Opens a websocket to `PATH?query` from the local address `from` (see
    /// [`connect_from`]) with these extra request headers.
    pub fn try_connect_with(
        from: Option<IpAddr>,
        addr: SocketAddr,
        query: &str,
        headers: &[(&str, &str)],
    ) -> Result<Ws, String> {
        use tungstenite::client::IntoClientRequest;
        let stream = try_connect_from(from, addr).map_err(|e| e.to_string())?;
        stream.set_nodelay(true).unwrap();
        let url = format!("ws://{addr}{}", target(query));
        let mut request = url.into_client_request().map_err(|e| e.to_string())?;
        for (name, value) in headers {
            request.headers_mut().insert(
                tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                tungstenite::http::HeaderValue::from_str(value).unwrap(),
            );
        }
        let (ws, _) = tungstenite::client(request, stream).map_err(|e| e.to_string())?;
        Ok(Ws {
            ws,
            closed: false,
            close_frame: false,
        })
    }

    /// Opens a websocket session; returns it, its sid and the handshake JSON.
    #[track_caller]
    pub fn open(addr: SocketAddr) -> (Ws, String, Value) {
        let mut ws = Ws::connect(addr, WEBSOCKET);
        let open = ws.text();
        let json = open
            .strip_prefix('0')
            .unwrap_or_else(|| panic!("an open packet, got {open:?}"));
        let handshake: Value = serde_json::from_str(json).expect("handshake JSON");
        let sid = handshake["sid"].as_str().expect("a sid").to_owned();
        (ws, sid, handshake)
    }

    /// Whether the connection ended with the server's close frame (rather than an end of
    /// stream or a reset).
    pub fn saw_close_frame(&self) -> bool {
        self.close_frame
    }

    /// The raw socket (to tune or inspect it).
    pub fn socket(&self) -> &TcpStream {
        self.ws.get_ref()
    }

    /// Sends a text frame.
    pub fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::text(text))
            .unwrap_or_else(|e| panic!("send {text:?}: {e}"));
    }

    /// Sends a text frame, ignoring a connection the server already closed.
    pub fn try_send_text(&mut self, text: &str) {
        let _ = self.ws.send(Message::text(text));
    }

    /// Sends a binary frame.
    pub fn send_binary(&mut self, data: &[u8]) {
        self.ws
            .send(Message::binary(data.to_vec()))
            .unwrap_or_else(|e| panic!("send binary: {e}"));
    }

    /// Sends a binary frame, ignoring a connection the server already closed.
    pub fn try_send_binary(&mut self, data: &[u8]) {
        let _ = self.ws.send(Message::binary(data.to_vec()));
    }

    /// The next text, binary or close, or `None` if nothing came within `timeout`.
    /// Websocket-level pings and pongs are skipped.
    pub fn recv_within(&mut self, timeout: Duration) -> Option<Frame> {
        if self.closed {
            return Some(Frame::Closed);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.ws.get_mut().set_read_timeout(Some(left)).unwrap();
            match self.ws.read() {
                Ok(Message::Text(t)) => return Some(Frame::Text(t.to_string())),
                Ok(Message::Binary(b)) => return Some(Frame::Binary(b.to_vec())),
                Ok(Message::Close(_)) => {
                    self.closed = true;
                    self.close_frame = true;
                    return Some(Frame::Closed);
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => {
                    self.closed = true;
                    return Some(Frame::Closed);
                }
            }
        }
    }

    /// The next frame; fails the test if none comes within [`IO_TIMEOUT`].
    #[track_caller]
    pub fn recv(&mut self) -> Frame {
        self.recv_within(IO_TIMEOUT)
            .expect("a websocket frame within the deadline")
    }

    /// The next frame, which must be a text frame.
    #[track_caller]
    pub fn text(&mut self) -> String {
        match self.recv() {
            Frame::Text(t) => t,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// The next frame, which must be a binary frame.
    #[track_caller]
    pub fn binary(&mut self) -> Vec<u8> {
        match self.recv() {
            Frame::Binary(b) => b,
            other => panic!("expected a binary frame, got {other:?}"),
        }
    }

    /// The next text frame, skipping (and answering) Engine.IO pings.
    #[track_caller]
    pub fn text_skipping_pings(&mut self) -> String {
        loop {
            let text = self.text();
            if text == "2" {
                self.try_send_text("3");
                continue;
            }
            return text;
        }
    }

    /// Asserts that the server closes the connection within `within`; returns the frames
    /// that came before the close.
    #[track_caller]
    pub fn assert_closed_within(&mut self, within: Duration) -> Vec<Frame> {
        let deadline = Instant::now() + within;
        let mut before = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv_within(left) {
                Some(Frame::Closed) => return before,
                Some(frame) => before.push(frame),
                None => panic!("the connection is still open; frames seen: {before:?}"),
            }
        }
    }

    /// Asserts that the server closes the connection within [`IO_TIMEOUT`].
    #[track_caller]
    pub fn assert_closed(&mut self) -> Vec<Frame> {
        self.assert_closed_within(IO_TIMEOUT)
    }

    /// Asserts that nothing arrives within `within` (the connection stays open and quiet).
    #[track_caller]
    pub fn assert_quiet(&mut self, within: Duration) {
        if let Some(frame) = self.recv_within(within) {
            panic!("expected silence, got {frame:?}");
        }
    }
}

/// Upgrades the polling session `sid` to websocket (`2probe`, `3probe`, `5`).
#[track_caller]
pub fn upgrade(addr: SocketAddr, sid: &str) -> Ws {
    let mut ws = Ws::connect(addr, &format!("{WEBSOCKET}&sid={sid}"));
    ws.send_text("2probe");
    assert_eq!(ws.text(), "3probe");
    ws.send_text("5");
    ws
}
