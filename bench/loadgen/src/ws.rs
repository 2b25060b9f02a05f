//! A minimal websocket client (RFC 6455) for the load generator.
//!
//! Only what a Socket.IO client needs, and no allocation per message on the read path:
//! frames are parsed in place from one read buffer per connection, so a read that brings
//! fifty small frames costs one syscall and fifty slice views. Server frames are unmasked;
//! client frames are masked as the RFC requires. Fragmented messages are reassembled
//! (servers rarely send them).
//!
//! permessage-deflate (RFC 7692), when asked for: the upgrade offers it, and the reader
//! inflates every message whose first frame has RSV1 set (raw deflate, the `00 00 ff ff`
//! tail put back), with one inflater per connection whose window is kept across messages:
//! context takeover needs it, and with `server_no_context_takeover` the server's messages
//! never refer to it, so it is reset only when a message ended the deflate stream (a
//! final block). The client's own messages go uncompressed (RSV1 clear), which the RFC
//! allows; they are small.

use std::io;

use flate2::{Decompress, FlushDecompress, Status};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// One frame (or reassembled message) read from the server.
pub enum Frame<'a> {
    /// A text message.
    Text(&'a [u8]),
    /// A binary message (Socket.IO packets of the msgpack parser).
    Binary(&'a [u8]),
    /// A websocket-level ping; the caller answers with [`WsWriter::push_pong`].
    Ping(&'a [u8]),
    /// A pong or any other control frame to ignore.
    Other,
    /// The server closed the websocket (code and reason).
    Close(&'a [u8]),
}

/// The reading half: one growable buffer, parsed in place.
pub struct WsReader<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    frag: Vec<u8>,
    frag_text: bool,
    frag_ready: bool,
    /// Whether the fragmented message being reassembled is compressed.
    frag_deflated: bool,
    /// Whether permessage-deflate was negotiated (RSV1 allowed).
    deflate_negotiated: bool,
    /// The inflater, when permessage-deflate was negotiated.
    inflate: Option<Inflater>,
    /// Bytes read from the socket since the connection opened (the upgrade response too).
    pub wire_bytes: u64,
}

/// Largest message the inflater produces; a bigger one is a protocol error here.
const MAX_INFLATED: usize = 64 << 20;

/// permessage-deflate's receiving side.
struct Inflater {
    d: Decompress,
    /// Whether the server said `server_no_context_takeover` (checked by the tests; the
    /// inflater needs no reset for it: see the module's docs).
    #[cfg_attr(not(test), allow(dead_code))]
    no_context_takeover: bool,
    out: Vec<u8>,
}

impl Inflater {
    fn new(no_context_takeover: bool) -> Inflater {
        Inflater {
            d: Decompress::new(false),
            no_context_takeover,
            out: Vec::new(),
        }
    }

    /// Inflates one message's payload into `self.out`.
    fn inflate(&mut self, data: &[u8]) -> io::Result<&[u8]> {
        self.out.clear();
        let mut ended = false;
        for chunk in [data, &[0, 0, 0xff, 0xff][..]] {
            let mut input = chunk;
            loop {
                if self.out.len() == self.out.capacity() {
                    if self.out.len() >= MAX_INFLATED {
                        return Err(invalid("an inflated message is over 64 MiB"));
                    }
                    self.out.reserve(self.out.capacity().max(4096));
                }
                if ended {
                    // After a final block only the tail may follow; it is not inflated.
                    break;
                }
                let before = self.d.total_in();
                let status = self
                    .d
                    .decompress_vec(input, &mut self.out, FlushDecompress::Sync)
                    .map_err(|e| invalid(&format!("inflate: {e}")))?;
                input = &input[(self.d.total_in() - before) as usize..];
                ended = status == Status::StreamEnd;
                if ended || (input.is_empty() && self.out.len() < self.out.capacity()) {
                    break;
                }
            }
        }
        if ended {
            self.d.reset(false);
        }
        Ok(&self.out)
    }
}

/// The writing half: frames are masked into one output buffer and written together.
pub struct WsWriter<W> {
    inner: W,
    out: Vec<u8>,
    mask: [u8; 4],
    /// Socket.IO packets go in binary frames (the msgpack parser), else in text frames.
    pub binary_packets: bool,
}

/// A connected websocket, split so that one task may read while another writes.
pub struct Ws {
    pub rd: WsReader<OwnedReadHalf>,
    pub wr: WsWriter<OwnedWriteHalf>,
    /// Whether the server accepted permessage-deflate.
    pub deflate: bool,
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

impl Ws {
    /// Opens a TCP connection to `addr` and performs the websocket upgrade on `path_query`
    /// (for example `/socket.io/?EIO=4&transport=websocket`). `buf_size` is the initial read
    /// buffer: small for idle connections, larger for busy subscribers. With `deflate`,
    /// offers permessage-deflate (`client_max_window_bits`, so a server may ask for any).
    pub async fn connect(
        addr: &str,
        path_query: &str,
        buf_size: usize,
        seed: u32,
        deflate: bool,
    ) -> io::Result<Ws> {
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let key = handshake_key(seed);
        let offer = if deflate {
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        } else {
            ""
        };
        let request = format!(
            "GET {path_query} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut buf = vec![0u8; buf_size.max(1024)];
        let mut end = 0;
        let header_end = loop {
            if end == buf.len() {
                return Err(invalid("websocket upgrade response too large"));
            }
            let n = stream.read(&mut buf[end..]).await?;
            if n == 0 {
                return Err(invalid("connection closed during websocket upgrade"));
            }
            end += n;
            if let Some(pos) = find(&buf[..end], b"\r\n\r\n") {
                break pos + 4;
            }
        };
        if !buf.starts_with(b"HTTP/1.1 101") {
            let status = String::from_utf8_lossy(&buf[..header_end.min(80)]).into_owned();
            return Err(invalid(&format!(
                "websocket upgrade refused: {}",
                status.trim()
            )));
        }
        let inflate = if deflate {
            accepted_deflate(&buf[..header_end])?
        } else {
            None
        };
        let (r, w) = stream.into_split();
        let rd = WsReader {
            inner: r,
            buf,
            start: header_end,
            end,
            frag: Vec::new(),
            frag_text: false,
            frag_ready: false,
            frag_deflated: false,
            deflate_negotiated: inflate.is_some(),
            inflate,
            wire_bytes: end as u64,
        };
        let mask = seed
            .wrapping_mul(2_654_435_761)
            .wrapping_add(0x9e37_79b9)
            .to_le_bytes();
        let wr = WsWriter {
            inner: w,
            out: Vec::with_capacity(256),
            mask,
            binary_packets: false,
        };
        let deflate = rd.deflate_negotiated;
        Ok(Ws { rd, wr, deflate })
    }
}

impl Ws {
    /// Hands the connection over to another websocket implementation (`--client real`):
    /// the TCP stream, and the bytes already read from it that no frame was parsed from
    /// yet (frames that came in the same read as the last ones this reader handled).
    /// Refused while a fragmented message is half read, while frames are still queued for
    /// writing, and on a permessage-deflate connection (the inflater's window would be lost).
    pub fn into_raw(self) -> io::Result<(TcpStream, Vec<u8>)> {
        if self.deflate {
            return Err(invalid(
                "a permessage-deflate connection cannot be handed over",
            ));
        }
        if !self.rd.frag.is_empty() && !self.rd.frag_ready {
            return Err(invalid("a fragmented message is half read"));
        }
        if !self.wr.out.is_empty() {
            return Err(invalid("frames are queued for writing"));
        }
        let leftover = self.rd.buf[self.rd.start..self.rd.end].to_vec();
        let stream = self
            .rd
            .inner
            .reunite(self.wr.inner)
            .map_err(|_| invalid("the halves are of different connections"))?;
        Ok((stream, leftover))
    }
}

/// The inflater for the server's answer to a permessage-deflate offer: `None` when it
/// declined (no such extension in the response), an error when it answered with an
/// extension or parameter that was not offered.
fn accepted_deflate(head: &[u8]) -> io::Result<Option<Inflater>> {
    let head = String::from_utf8_lossy(head);
    let mut found: Option<Inflater> = None;
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if !name.trim().eq_ignore_ascii_case("sec-websocket-extensions") {
            continue;
        }
        for ext in value.split(',') {
            let mut params = ext.split(';').map(str::trim);
            if params.next() != Some("permessage-deflate") || found.is_some() {
                return Err(invalid(&format!("unexpected extension answer: {ext}")));
            }
            let mut no_context_takeover = false;
            for param in params {
                let key = param.split('=').next().unwrap_or("").trim();
                match key {
                    "server_no_context_takeover" => no_context_takeover = true,
                    // Windows up to 15 bits inflate with a 15-bit window; the client's
                    // messages are never compressed, so its own limits change nothing.
                    "server_max_window_bits"
                    | "client_max_window_bits"
                    | "client_no_context_takeover" => {}
                    _ => return Err(invalid(&format!("unknown deflate parameter {param}"))),
                }
            }
            found = Some(Inflater::new(no_context_takeover));
        }
    }
    Ok(found)
}

/// A valid `Sec-WebSocket-Key`: base64 of 16 bytes (varied per connection, not secret).
fn handshake_key(seed: u32) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bytes = [0u8; 16];
    let mut x = u64::from(seed) ^ 0x5851_f42d_4c95_7f2d;
    for b in bytes.iter_mut() {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        *b = (x >> 56) as u8;
    }
    let mut out = String::with_capacity(24);
    for chunk in bytes.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, &b| acc << 8 | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl<R: AsyncRead + Unpin> WsReader<R> {
    /// Reads more bytes from the socket into the buffer. Returns 0 at end of stream.
    /// Cancel-safe: nothing is consumed unless the read completes.
    pub async fn fill(&mut self) -> io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.start > 0 && self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // One frame larger than the buffer: grow it.
            let len = self.buf.len() * 2;
            self.buf.resize(len, 0);
        }
        let n = self.inner.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        self.wire_bytes += n as u64;
        Ok(n)
    }

    /// Whether bytes are buffered that have not been parsed into frames yet.
    #[allow(dead_code)]
    pub fn has_buffered(&self) -> bool {
        self.start < self.end
    }

    /// Parses the next complete frame in the buffer, if any. An error means the server
    /// broke the protocol; the caller drops the connection.
    pub fn next_frame(&mut self) -> io::Result<Option<Frame<'_>>> {
        if self.frag_ready {
            self.frag.clear();
            self.frag_ready = false;
        }
        loop {
            let avail = &self.buf[self.start..self.end];
            if avail.len() < 2 {
                return Ok(None);
            }
            let fin = avail[0] & 0x80 != 0;
            let rsv1 = avail[0] & 0x40 != 0;
            let opcode = avail[0] & 0x0f;
            if rsv1 && (!self.deflate_negotiated || opcode == 0 || opcode >= 0x8) {
                return Err(invalid(
                    "server set RSV1 where permessage-deflate allows none",
                ));
            }
            if avail[1] & 0x80 != 0 {
                return Err(invalid("server sent a masked frame"));
            }
            let (len, header) = match avail[1] & 0x7f {
                126 if avail.len() >= 4 => (u64::from(u16::from_be_bytes([avail[2], avail[3]])), 4),
                127 if avail.len() >= 10 => {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&avail[2..10]);
                    (u64::from_be_bytes(b), 10)
                }
                126 | 127 => return Ok(None),
                n => (u64::from(n), 2),
            };
            let total = header + len as usize;
            if avail.len() < total {
                return Ok(None);
            }
            let from = self.start + header;
            let to = self.start + total;
            self.start = to;
            match (opcode, fin) {
                (0x1 | 0x2, true) => {
                    let payload = match (rsv1, self.inflate.as_mut()) {
                        (true, Some(inf)) => inf.inflate(&self.buf[from..to])?,
                        _ => &self.buf[from..to],
                    };
                    return Ok(Some(if opcode == 0x1 {
                        Frame::Text(payload)
                    } else {
                        Frame::Binary(payload)
                    }));
                }
                (0x1 | 0x2, false) => {
                    self.frag.clear();
                    self.frag.extend_from_slice(&self.buf[from..to]);
                    self.frag_text = opcode == 0x1;
                    self.frag_deflated = rsv1;
                }
                (0x0, _) => {
                    self.frag.extend_from_slice(&self.buf[from..to]);
                    if fin {
                        self.frag_ready = true;
                        let payload = match (self.frag_deflated, self.inflate.as_mut()) {
                            (true, Some(inf)) => inf.inflate(&self.frag)?,
                            _ => &self.frag,
                        };
                        return Ok(Some(if self.frag_text {
                            Frame::Text(payload)
                        } else {
                            Frame::Binary(payload)
                        }));
                    }
                }
                (0x8, _) => return Ok(Some(Frame::Close(&self.buf[from..to]))),
                (0x9, _) => return Ok(Some(Frame::Ping(&self.buf[from..to]))),
                (0xA, _) => return Ok(Some(Frame::Other)),
                _ => return Err(invalid("server sent a frame with an unknown opcode")),
            }
        }
    }
}

impl<W: AsyncWrite + Unpin> WsWriter<W> {
    fn push_frame(&mut self, opcode: u8, payload: &[u8]) {
        self.out.push(0x80 | opcode);
        let len = payload.len();
        if len < 126 {
            self.out.push(0x80 | len as u8);
        } else if len <= 0xffff {
            self.out.push(0x80 | 126);
            self.out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            self.out.push(0x80 | 127);
            self.out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        self.out.extend_from_slice(&self.mask);
        let mask = self.mask;
        self.out
            .extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    }

    /// Queues a text frame; [`WsWriter::flush`] sends everything queued in one write.
    pub fn push_text(&mut self, payload: &[u8]) {
        self.push_frame(0x1, payload);
    }

    /// Queues a Socket.IO packet: a binary frame with the msgpack parser, else text.
    pub fn push_packet(&mut self, payload: &[u8]) {
        self.push_frame(if self.binary_packets { 0x2 } else { 0x1 }, payload);
    }

    /// Queues and writes one Socket.IO packet.
    pub async fn send_packet(&mut self, payload: &[u8]) -> io::Result<()> {
        self.push_packet(payload);
        self.flush().await
    }

    /// Queues the answer to a websocket-level ping.
    pub fn push_pong(&mut self, payload: &[u8]) {
        self.push_frame(0xA, payload);
    }

    /// Writes every queued frame.
    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.inner.write_all(&self.out).await?;
            self.out.clear();
        }
        Ok(())
    }

    /// Queues and writes one text frame.
    pub async fn send_text(&mut self, payload: &[u8]) -> io::Result<()> {
        self.push_text(payload);
        self.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(bytes: &'static [u8], buf: usize) -> WsReader<&'static [u8]> {
        WsReader {
            inner: bytes,
            buf: vec![0; buf],
            start: 0,
            end: 0,
            frag: Vec::new(),
            frag_text: false,
            frag_ready: false,
            frag_deflated: false,
            deflate_negotiated: false,
            inflate: None,
            wire_bytes: 0,
        }
    }

    /// Every frame the reader yields, as (kind, payload).
    async fn frames(mut rd: WsReader<&'static [u8]>) -> Vec<(&'static str, Vec<u8>)> {
        let mut out = Vec::new();
        loop {
            while let Some(f) = rd.next_frame().unwrap() {
                out.push(match f {
                    Frame::Text(t) => ("text", t.to_vec()),
                    Frame::Binary(b) => ("binary", b.to_vec()),
                    Frame::Ping(p) => ("ping", p.to_vec()),
                    Frame::Close(c) => ("close", c.to_vec()),
                    Frame::Other => ("other", vec![]),
                });
            }
            if rd.fill().await.unwrap() == 0 {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn parses_short_long_fragmented_and_control_frames() {
        let long = Box::leak(vec![b'a'; 300].into_boxed_slice());
        let mut wire = vec![0x81, 1, b'2'];
        wire.extend_from_slice(&[0x81, 126, 1, 44]);
        wire.extend_from_slice(long);
        wire.extend_from_slice(&[
            0x01, 2, b'4', b'2', 0x89, 1, b'p', 0x80, 3, b'[', b'1', b']',
        ]);
        wire.extend_from_slice(&[0x88, 2, 0x03, 0xe8]);
        let wire: &'static [u8] = Box::leak(wire.into_boxed_slice());
        // A buffer smaller than the long frame makes the reader grow it.
        let got = frames(reader(wire, 64)).await;
        assert_eq!(got[0], ("text", b"2".to_vec()));
        assert_eq!(got[1], ("text", long.to_vec()));
        assert_eq!(got[2], ("ping", b"p".to_vec()));
        assert_eq!(got[3], ("text", b"42[1]".to_vec()));
        assert_eq!(got[4], ("close", vec![0x03, 0xe8]));
        assert_eq!(got.len(), 5);
    }

    #[tokio::test]
    async fn masks_client_frames() {
        let mut wr = WsWriter {
            inner: Vec::new(),
            out: Vec::new(),
            mask: [1, 2, 3, 4],
            binary_packets: false,
        };
        wr.send_text(b"40").await.unwrap();
        assert_eq!(wr.inner, vec![0x81, 0x82, 1, 2, 3, 4, b'4' ^ 1, b'0' ^ 2]);
    }

    /// A compressed message as a server sends it: raw deflate, sync flush, the
    /// `00 00 ff ff` tail cut.
    fn deflated(c: &mut flate2::Compress, text: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() + 64);
        c.compress_vec(text, &mut out, flate2::FlushCompress::Sync)
            .unwrap();
        assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
        out.truncate(out.len() - 4);
        out
    }

    #[tokio::test]
    async fn inflates_compressed_messages_with_context_takeover() {
        let mut c = flate2::Compress::new(flate2::Compression::default(), false);
        let first = b"42[\"m\",\"price=1;volume=2;price=1;volume=2;price=1\"]";
        let (a, b) = (deflated(&mut c, first), deflated(&mut c, first));
        // The second refers back to the first: only an inflater that kept its window reads it.
        assert!(b.len() < a.len());
        let mut wire = vec![0xc1, a.len() as u8];
        wire.extend_from_slice(&a);
        wire.extend_from_slice(&[0xc1, b.len() as u8]);
        wire.extend_from_slice(&b);
        // A fragmented compressed binary message: RSV1 on the first frame only.
        let bin = deflated(&mut c, &[7u8; 40]);
        let half = bin.len() / 2;
        wire.extend_from_slice(&[0x42, half as u8]);
        wire.extend_from_slice(&bin[..half]);
        wire.extend_from_slice(&[0x80, (bin.len() - half) as u8]);
        wire.extend_from_slice(&bin[half..]);
        wire.extend_from_slice(&[0x81, 1, b'2']);
        let wire: &'static [u8] = Box::leak(wire.into_boxed_slice());
        let mut rd = reader(wire, 64);
        rd.deflate_negotiated = true;
        rd.inflate = Some(Inflater::new(false));
        let got = frames(rd).await;
        assert_eq!(got[0], ("text", first.to_vec()));
        assert_eq!(got[1], ("text", first.to_vec()));
        assert_eq!(got[2], ("binary", vec![7u8; 40]));
        assert_eq!(got[3], ("text", b"2".to_vec()));
    }

    #[test]
    fn one_inflater_reads_fresh_compressors_and_final_blocks() {
        let text = b"price=12345;volume=678;price=12345;volume=678;".repeat(20);
        let mut inf = Inflater::new(true);
        for _ in 0..3 {
            // server_no_context_takeover: a new compressor for every message.
            let mut c = flate2::Compress::new(flate2::Compression::default(), false);
            assert_eq!(inf.inflate(&deflated(&mut c, &text)).unwrap(), &text[..]);
        }
        // A message ending with a final block (BFINAL), then another one.
        let mut c = flate2::Compress::new(flate2::Compression::default(), false);
        let mut fin = Vec::with_capacity(text.len() + 64);
        c.compress_vec(&text, &mut fin, flate2::FlushCompress::Finish)
            .unwrap();
        assert_eq!(inf.inflate(&fin).unwrap(), &text[..]);
        let mut c = flate2::Compress::new(flate2::Compression::default(), false);
        assert_eq!(inf.inflate(&deflated(&mut c, b"after")).unwrap(), b"after");
    }

    #[tokio::test]
    async fn refuses_rsv1_without_deflate_and_garbage_deflate() {
        let mut rd = reader(&[0xc1, 1, b'x'], 64);
        rd.fill().await.unwrap();
        assert!(rd.next_frame().is_err());
        let mut rd = reader(&[0xc1, 3, 0xff, 0xff, 0xff], 64);
        rd.deflate_negotiated = true;
        rd.inflate = Some(Inflater::new(true));
        rd.fill().await.unwrap();
        assert!(rd.next_frame().is_err());
    }

    #[test]
    fn reads_the_servers_deflate_answer() {
        let ok = b"HTTP/1.1 101 Switching Protocols\r\nsec-websocket-extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n\r\n";
        assert!(accepted_deflate(ok).unwrap().unwrap().no_context_takeover);
        let node = b"HTTP/1.1 101 x\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15\r\n\r\n";
        assert!(!accepted_deflate(node).unwrap().unwrap().no_context_takeover);
        assert!(accepted_deflate(b"HTTP/1.1 101 x\r\n\r\n")
            .unwrap()
            .is_none());
        let odd = b"HTTP/1.1 101 x\r\nSec-WebSocket-Extensions: x-webkit-deflate-frame\r\n\r\n";
        assert!(accepted_deflate(odd).is_err());
    }

    #[test]
    fn handshake_keys_are_24_base64_chars() {
        let key = handshake_key(7);
        assert_eq!(key.len(), 24);
        assert!(key.ends_with("=="));
        assert_ne!(key, handshake_key(8));
    }
}
