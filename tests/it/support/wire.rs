//! Raw wire helpers for the protocol tests: a minimal HTTP/1.1 client written on a
//! `TcpStream` (so a test controls every byte: chunked bodies sent slowly, requests dropped
//! half-way, upgrade headers without a handshake) and a blocking websocket client
//! (tungstenite) with read deadlines. Every read has a deadline, so a server that does not
//! answer fails the test instead of hanging it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;
use siohub::config::Settings;
use siohub::server::BackgroundServer;
use siohub::Application;
use tungstenite::{Message, WebSocket};

/// The endpoint path of `test_settings()`.
pub const PATH: &str = "/socket.io/";
/// The longest any single read may block before the test fails.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// The query of a polling handshake.
pub const POLLING: &str = "EIO=4&transport=polling";
/// The query of a websocket handshake.
pub const WEBSOCKET: &str = "EIO=4&transport=websocket";

/// Starts the Engine.IO echo server.
pub fn start_echo(settings: Settings) -> BackgroundServer {
    BackgroundServer::start(settings, Application::EngineEcho).expect("the echo server starts")
}

/// `PATH?query`.
pub fn target(query: &str) -> String {
    format!("{PATH}?{query}")
}

/// The polling query of session `sid`.
pub fn sid_query(sid: &str) -> String {
    format!("{POLLING}&sid={sid}")
}

// ---------------------------------------------------------------------------------------
// HTTP

/// An HTTP response as it came off the wire.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl Response {
    /// The value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a UTF-8 body")
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("a JSON body ({e}): {:?}", self.text()))
    }

    /// Asserts an Engine.IO error answer: `status`, `application/json`,
    /// `{"code":code,"message":message}` exactly.
    #[track_caller]
    pub fn assert_engine_error(&self, status: u16, code: u8, message: &str) {
        assert_eq!(self.status, status, "status of {self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        assert_eq!(
            self.text(),
            format!(r#"{{"code":{code},"message":"{message}"}}"#)
        );
    }

    /// Asserts a 200 polling answer (`text/plain; charset=UTF-8`, `no-store`) and returns its
    /// body.
    #[track_caller]
    pub fn polling_body(&self) -> String {
        assert_eq!(self.status, 200, "status of {self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("text/plain; charset=UTF-8")
        );
        assert_eq!(self.header("cache-control"), Some("no-store"));
        self.text()
    }
}

/// A TCP connection to `addr` from the local address `from` (another loopback address such
/// as 127.0.0.2 plays a client on another machine), or from any address.
pub fn connect_from(from: Option<IpAddr>, addr: SocketAddr) -> TcpStream {
    try_connect_from(from, addr).expect("connect to the test server")
}

/// [`connect_from`], with the error.
pub fn try_connect_from(from: Option<IpAddr>, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let Some(local) = from else {
        return TcpStream::connect(addr);
    };
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    socket.bind(&SocketAddr::new(local, 0).into())?;
    socket.connect(&addr.into())?;
    Ok(socket.into())
}

/// One HTTP/1.1 connection, for requests a test writes byte by byte.
pub struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    /// Connects; every read fails after [`IO_TIMEOUT`].
    pub fn open(addr: SocketAddr) -> Conn {
        Conn::open_from(None, addr)
    }

    /// Connects from the local address `from` (see [`connect_from`]).
    pub fn open_from(from: Option<IpAddr>, addr: SocketAddr) -> Conn {
        let stream = connect_from(from, addr);
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            reader: BufReader::new(stream),
        }
    }

    /// Writes raw bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        let stream = self.reader.get_mut();
        stream.write_all(bytes).expect("write to the test server");
        stream.flush().unwrap();
    }

    /// Writes a request line and headers (`Host` and `Connection: close` added).
    pub fn send_head(&mut self, method: &str, target: &str, headers: &[(&str, &str)]) {
        let mut head =
            format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        self.write(head.as_bytes());
    }

    /// Writes one chunk of a chunked body (an empty `data` ends the body).
    pub fn send_chunk(&mut self, data: &[u8]) {
        let mut out = format!("{:x}\r\n", data.len()).into_bytes();
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
        self.write(&out);
    }

    /// Reads one response: status line, headers, and a body framed by `Content-Length`, by
    /// chunks, or by the end of the connection.
    pub fn read_response(&mut self) -> std::io::Result<Response> {
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let find = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let mut body = Vec::new();
        if let Some(len) = find("content-length") {
            body.resize(len.parse().unwrap(), 0);
            self.reader.read_exact(&mut body)?;
        } else if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            loop {
                let mut size = String::new();
                self.reader.read_line(&mut size)?;
                let size = usize::from_str_radix(size.trim(), 16).map_err(std::io::Error::other)?;
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else if status != 101 {
            self.reader.read_to_end(&mut body)?;
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// The connection's byte stream, with what the reader buffered first (for what
    /// follows a `101`).
    pub fn stream(&mut self) -> &mut impl Read {
        &mut self.reader
    }

    /// Closes the connection at once (the client goes away).
    pub fn abort(self) {
        let _ = self.reader.get_ref().shutdown(std::net::Shutdown::Both);
    }
}

/// Sends one request and reads its response.
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut conn = Conn::open(addr);
    let len = body.len().to_string();
    let mut all = headers.to_vec();
    if !body.is_empty() || method != "GET" {
        all.push(("Content-Length", &len));
    }
    conn.send_head(method, target, &all);
    conn.write(body);
    conn.read_response()
        .unwrap_or_else(|e| panic!("{method} {target}: no response: {e}"))
}

/// `GET PATH?query`.
pub fn get(addr: SocketAddr, query: &str) -> Response {
    request(addr, "GET", &target(query), &[], b"")
}

/// `POST PATH?query` with `body` (as text/plain, as browsers send it).
pub fn post(addr: SocketAddr, query: &str, body: &[u8]) -> Response {
    request(
        addr,
        "POST",
        &target(query),
        &[("Content-Type", "text/plain;charset=UTF-8")],
        body,
    )
}

/// A polling GET on session `sid`.
pub fn poll(addr: SocketAddr, sid: &str) -> Response {
    get(addr, &sid_query(sid))
}

/// A polling GET on a thread, for GETs that wait.
pub fn spawn_poll(addr: SocketAddr, sid: &str) -> JoinHandle<Response> {
    let sid = sid.to_owned();
    thread::spawn(move || poll(addr, &sid))
}

/// A polling POST on session `sid`, which must be answered `ok`.
#[track_caller]
pub fn push(addr: SocketAddr, sid: &str, body: &str) {
    let res = post(addr, &sid_query(sid), body.as_bytes());
    assert_eq!(res.status, 200, "POST {body:?}: {res:?}");
    assert_eq!(res.text(), "ok");
}

/// Opens a polling session; returns its sid and the handshake JSON.
#[track_caller]
pub fn open_polling(addr: SocketAddr) -> (String, Value) {
    let res = get(addr, POLLING);
    let body = res.polling_body();
    let json = body
        .strip_prefix('0')
        .unwrap_or_else(|| panic!("an open packet, got {body:?}"));
    let handshake: Value = serde_json::from_str(json).expect("handshake JSON");
    let sid = handshake["sid"].as_str().expect("a sid").to_owned();
    (sid, handshake)
}

/// Splits a polling body into its packets.
pub fn packets(body: &str) -> Vec<String> {
    body.split('\x1e').map(str::to_owned).collect()
}

/// Polls (answering pings with pongs) until a packet equal to `wanted` arrives; returns
/// the packets seen before it.
#[track_caller]
pub fn poll_until(addr: SocketAddr, sid: &str, wanted: &str) -> Vec<String> {
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        for packet in packets(&poll(addr, sid).polling_body()) {
            if packet == wanted {
                return seen;
            }
            if packet == "2" {
                push(addr, sid, "3");
            }
            seen.push(packet);
        }
    }
    panic!("{wanted:?} never arrived; saw {seen:?}");
}

/// Asserts that the polling session `sid` is closed: GETs answer bodies ending in the close
/// packet `1` until the sid is unknown (400, code 1), within a deadline.
#[track_caller]
pub fn assert_polling_closed(addr: SocketAddr, sid: &str) {
    let deadline = Instant::now() + IO_TIMEOUT;
    while Instant::now() < deadline {
        let res = poll(addr, sid);
        if res.status == 400 {
            res.assert_engine_error(400, 1, "Session ID unknown");
            return;
        }
        let body = res.polling_body();
        assert!(
            packets(&body).last().is_some_and(|p| p == "1"),
            "a closed session answers `1`, got {body:?}"
        );
    }
    panic!("session {sid} still open");
}

/// Waits until `check` holds, or fails with `what` after `timeout`.
#[track_caller]
pub fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting until {what}");
}

/// Waits until the session `sid` is no longer registered on `server`.
#[track_caller]
pub fn wait_gone(server: &BackgroundServer, sid: &str) {
    eventually(&format!("session {sid} is gone"), IO_TIMEOUT, || {
        server.registry.get(sid).is_none()
    });
}

// ---------------------------------------------------------------------------------------
// WebSocket

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

// ---------------------------------------------------------------------------------------
// Socket.IO

/// Asserts that `text` is `prefix` followed by JSON, and returns the JSON.
#[track_caller]
pub fn json_after(text: &str, prefix: &str) -> Value {
    let rest = text
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("expected {prefix:?}…, got {text:?}"));
    serde_json::from_str(rest).unwrap_or_else(|e| panic!("JSON after {prefix:?} in {text:?}: {e}"))
}

/// Opens a websocket session and joins `/`; returns the websocket and the socket id.
#[track_caller]
pub fn sio_connect(addr: SocketAddr) -> (Ws, String) {
    let (mut ws, _, _) = Ws::open(addr);
    ws.send_text("40");
    let reply = json_after(&ws.text(), "40");
    let sid = reply["sid"].as_str().expect("a socket id").to_owned();
    (ws, sid)
}

/// Asserts that the `/` socket on `ws` still works: an `echo` comes back.
#[track_caller]
pub fn assert_echoes(ws: &mut Ws, n: u64) {
    ws.send_text(&format!(r#"42["echo",{n}]"#));
    assert_eq!(ws.text_skipping_pings(), format!(r#"42["echo-back",{n}]"#));
}
