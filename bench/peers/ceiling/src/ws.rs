//! The websocket side (RFC 6455) of the ceiling: the upgrade answer, client frames read in
//! place from one buffer, and unmasked server frames written into a byte buffer.

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// The largest client message accepted; a bigger frame ends the connection.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// Text, close, ping and pong opcodes.
pub const TEXT: u8 = 0x1;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// What an upgrade request asked for, or why it cannot be served.
pub enum Upgrade {
    /// A websocket on `/socket.io/?EIO=4&transport=websocket`: the 101 answer to write.
    Accept(Vec<u8>),
    /// Anything else: the 400 answer to write before closing.
    Refuse(Vec<u8>),
}

/// The end of the HTTP head in `buf` (just past `\r\n\r\n`), once it is all there.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Answers an HTTP request head: only the Engine.IO v4 websocket transport is served
/// (no long-polling, no upgrade from it).
pub fn upgrade(head: &[u8]) -> Upgrade {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let request = lines.next().unwrap_or("");
    let target = request.split(' ').nth(1).unwrap_or("");
    if !request.starts_with("GET ")
        || !target.starts_with("/socket.io/")
        || !target.contains("EIO=4")
        || !target.contains("transport=websocket")
    {
        return refuse("only GET /socket.io/?EIO=4&transport=websocket is served");
    }
    let key = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("sec-websocket-key")
            .then(|| value.trim().to_owned())
    });
    let Some(key) = key else {
        return refuse("no Sec-WebSocket-Key");
    };
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let accept = base64::engine::general_purpose::STANDARD.encode(sha.finalize());
    Upgrade::Accept(
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .into_bytes(),
    )
}

fn refuse(why: &str) -> Upgrade {
    Upgrade::Refuse(
        format!(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{why}",
            why.len()
        )
        .into_bytes(),
    )
}

/// One client frame parsed in place: its opcode and where its (unmasked) payload lies in
/// the buffer it was read from.
pub struct Frame {
    pub opcode: u8,
    pub payload: std::ops::Range<usize>,
}

/// Parses the client frame at the start of `buf[start..]`, unmasking its payload in place.
/// `Ok(None)` when more bytes are needed; `Ok(Some((frame, end)))` with the offset just
/// past it; an error for what this server does not take (unmasked or fragmented frames,
/// reserved bits, payloads over [`MAX_PAYLOAD`]).
pub fn parse(buf: &mut [u8], start: usize) -> Result<Option<(Frame, usize)>, &'static str> {
    let b = &buf[start..];
    if b.len() < 2 {
        return Ok(None);
    }
    let (fin, rsv, opcode) = (b[0] & 0x80 != 0, b[0] & 0x70, b[0] & 0x0F);
    if rsv != 0 {
        return Err("reserved bits set (no extension was agreed)");
    }
    if !fin || opcode == 0 {
        return Err("fragmented messages are not served");
    }
    if b[1] & 0x80 == 0 {
        return Err("client frames must be masked");
    }
    let (len, mut at) = match b[1] & 0x7F {
        126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
        127 if b.len() >= 10 => {
            let mut n = [0u8; 8];
            n.copy_from_slice(&b[2..10]);
            (
                usize::try_from(u64::from_be_bytes(n)).unwrap_or(usize::MAX),
                10,
            )
        }
        126 | 127 => return Ok(None),
        n => (n as usize, 2),
    };
    if len > MAX_PAYLOAD {
        return Err("frame over the 1 MiB limit");
    }
    if b.len() < at + 4 + len {
        return Ok(None);
    }
    let mut mask = [0u8; 4];
    mask.copy_from_slice(&b[at..at + 4]);
    at += 4;
    let payload = start + at..start + at + len;
    for (i, byte) in buf[payload.clone()].iter_mut().enumerate() {
        *byte ^= mask[i & 3];
    }
    Ok(Some((Frame { opcode, payload }, start + at + len)))
}

/// Appends an unmasked, unfragmented server frame to `out`.
pub fn frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.push(0x80 | opcode);
    match payload.len() {
        n @ 0..=125 => out.push(n as u8),
        n @ 126..=0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_the_rfc_example_key() {
        let head = b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n\
                     sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        let Upgrade::Accept(answer) = upgrade(head) else {
            panic!("refused")
        };
        let answer = String::from_utf8(answer).unwrap();
        assert!(answer.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(matches!(
            upgrade(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n\r\n"),
            Upgrade::Refuse(_)
        ));
    }

    #[test]
    fn parses_masked_frames_and_refuses_the_rest() {
        let mask = [1u8, 2, 3, 4];
        let mut buf = vec![0x81, 0x82];
        buf.extend_from_slice(&mask);
        buf.extend(b"40".iter().zip(mask).map(|(b, m)| b ^ m));
        buf.push(0x81); // the start of a second frame
        let (f, end) = parse(&mut buf, 0).unwrap().unwrap();
        assert_eq!((f.opcode, &buf[f.payload]), (TEXT, &b"40"[..]));
        assert_eq!(parse(&mut buf, end).unwrap().map(|(_, e)| e), None);
        assert!(parse(&mut [0x81, 0x02, b'4', b'0'], 0).is_err());
        assert!(parse(&mut [0x01, 0x82, 0, 0, 0, 0, 0, 0], 0).is_err());
        let mut long = Vec::new();
        frame(&mut long, TEXT, &[b'x'; 300]);
        assert_eq!(&long[..4], &[0x81, 126, 1, 44]);
    }
}
