//! HTTP/1.1 on a raw `TcpStream`: requests written byte by byte, responses read with a
//! deadline (framed by `Content-Length`, by chunks, or by the end of the connection).

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};

use serde_json::Value;

use super::{target, IO_TIMEOUT};

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
        let (status, headers) = self.read_head()?;
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
            while let Some(chunk) = self.read_chunk()? {
                body.extend_from_slice(&chunk);
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

    /// Reads a response's status line and headers (names in lower case), leaving its body
    /// to be read.
    pub fn read_head(&mut self) -> std::io::Result<(u16, Vec<(String, String)>)> {
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
        Ok((status, headers))
    }

    /// Reads the next chunk of a chunked body; `None` at its last (empty) chunk.
    pub fn read_chunk(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut size = String::new();
        if self.reader.read_line(&mut size)? == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        let size = usize::from_str_radix(size.trim(), 16)
            .map_err(|_| std::io::Error::other(format!("a chunk size, got {size:?}")))?;
        let mut chunk = vec![0; size + 2];
        self.reader.read_exact(&mut chunk)?;
        chunk.truncate(size);
        Ok((size > 0).then_some(chunk))
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

/// A `Sec-WebSocket-Key` (the example key of RFC 6455 §1.3).
pub const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// The `Sec-WebSocket-Accept` for [`WS_KEY`] (RFC 6455 §1.3).
pub const WS_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A whole websocket upgrade request for `PATH?query` (`Connection: Upgrade`, with
/// `keep-alive` first when asked) with extra headers, to write on a raw connection.
pub fn upgrade_head(query: &str, keep_alive: bool, headers: &[(&str, &str)]) -> String {
    let mut head = format!(
        "GET {} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: {}Upgrade\r\nSec-WebSocket-Key: {WS_KEY}\r\nSec-WebSocket-Version: 13\r\n",
        target(query),
        if keep_alive { "keep-alive, " } else { "" },
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head + "\r\n"
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
