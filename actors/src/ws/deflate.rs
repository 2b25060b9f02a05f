//! permessage-deflate (RFC 7692): the negotiation of one connection's parameters, the
//! compression of an outgoing message and the inflation, within a size limit, of an
//! incoming one.
//!
//! The server always answers `server_no_context_takeover` (§7.1.1.1), so a message it
//! compresses does not depend on what the connection sent before: a broadcast frame is
//! compressed once and the same bytes serve every recipient that negotiated deflate. It
//! answers `client_no_context_takeover` too (§7.1.1.2 lets a server ask it), so no inflate
//! window (32 KiB) is kept per connection between messages: one lives only while a
//! message is inflated.

use bytes::{BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The `Sec-WebSocket-Extensions` answer of an accepted offer.
pub const RESPONSE: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// The tail a sync flush ends with, which the sender removes and the receiver puts back
/// (RFC 7692 §7.2.1, §7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The websocket frame header bit that marks a compressed message (RSV1).
pub const RSV1: u8 = 0x40;

/// Whether a `Sec-WebSocket-Extensions` offer (all its header values, in order) holds a
/// permessage-deflate offer this server can accept: one whose parameters are all known,
/// given at most once, and valid, and that does not ask the server for a window under 15
/// bits (the compressor always uses 15).
pub fn accepts_offer<'a>(values: impl IntoIterator<Item = &'a str>) -> bool {
    values
        .into_iter()
        .flat_map(|value| value.split(','))
        .any(acceptable)
}

fn acceptable(offer: &str) -> bool {
    let mut parts = offer.split(';').map(str::trim);
    if parts.next() != Some("permessage-deflate") {
        return false;
    }
    let mut seen: Vec<&str> = Vec::new();
    for param in parts {
        let (name, value) = match param.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (param, None),
        };
        if seen.contains(&name) {
            return false;
        }
        seen.push(name);
        let bits = value.map(|v| v.parse::<u8>().ok().filter(|b| (8..=15).contains(b)));
        let ok = match name {
            "server_no_context_takeover" | "client_no_context_takeover" => value.is_none(),
            "client_max_window_bits" => !matches!(bits, Some(None)),
            "server_max_window_bits" => matches!(bits, Some(Some(15))),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// `payload` compressed as one message body: raw deflate, sync-flushed, tail removed.
pub fn compress(payload: &[u8]) -> Vec<u8> {
    let mut deflater = Compress::new(Compression::default(), false);
    // Room for incompressible data (stored blocks) and the flush: a deflater that fills the
    // output exactly may finish the flush only over the next calls.
    let mut out = Vec::with_capacity(payload.len() + payload.len() / 64 + 64);
    let mut input = payload;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(64));
        }
        let before = deflater.total_in();
        deflater
            .compress_vec(input, &mut out, FlushCompress::Sync)
            .expect("deflating into memory cannot fail");
        input = &input[(deflater.total_in() - before) as usize..];
        // The flush is complete once the input is in and a call left room unused with the
        // sync marker last (one that filled the output may write the rest of the flush on
        // the next call before the marker).
        if input.is_empty() && out.len() < out.capacity() && out.ends_with(&TAIL) {
            break;
        }
    }
    debug_assert!(out.ends_with(&TAIL));
    out.truncate(out.len() - TAIL.len());
    out
}

/// A whole server frame (FIN, RSV1, unmasked) carrying `compressed` with `opcode`.
pub fn frame(opcode: u8, compressed: &[u8]) -> Bytes {
    let len = compressed.len();
    let mut out = BytesMut::with_capacity(len + 10);
    out.put_u8(0x80 | RSV1 | opcode);
    if len < 126 {
        out.put_u8(len as u8);
    } else if len <= usize::from(u16::MAX) {
        out.put_u8(126);
        out.put_u16(len as u16);
    } else {
        out.put_u8(127);
        out.put_u64(len as u64);
    }
    out.put_slice(compressed);
    out.freeze()
}

/// Why a compressed message could not be inflated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    /// It inflates to more than the limit (a zip bomb, or just too big).
    #[error("the message inflates to more than {0} bytes")]
    TooBig(usize),
    /// It is not valid deflate data.
    #[error("the message is not valid deflate data")]
    Corrupt,
}

/// Inflates one message body (its tail put back), refusing to produce more than `limit`
/// bytes: the output grows as it is produced, so a bomb stops at the limit.
pub fn inflate(compressed: &[u8], limit: usize) -> Result<Bytes, InflateError> {
    let mut inflater = Decompress::new(false);
    let input = [compressed, &TAIL[..]].concat();
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut consumed = 0;
    loop {
        let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
        let status = inflater
            .decompress(&input[consumed..], &mut chunk, FlushDecompress::Sync)
            .map_err(|_| InflateError::Corrupt)?;
        let read = (inflater.total_in() - in_before) as usize;
        let produced = (inflater.total_out() - out_before) as usize;
        consumed += read;
        if out.len() + produced > limit {
            return Err(InflateError::TooBig(limit));
        }
        out.extend_from_slice(&chunk[..produced]);
        let all_read = consumed == input.len() && produced < chunk.len();
        if status == Status::StreamEnd || all_read {
            return Ok(Bytes::from(out));
        }
        if read == 0 && produced == 0 {
            return Err(InflateError::Corrupt);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_are_accepted_unless_they_bind_the_server_window() {
        assert!(accepts_offer([
            "permessage-deflate; client_max_window_bits"
        ]));
        assert!(accepts_offer(["permessage-deflate"]));
        assert!(accepts_offer([
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=10"
        ]));
        assert!(accepts_offer([
            "permessage-deflate; server_max_window_bits=10, permessage-deflate"
        ]));
        assert!(!accepts_offer([
            "permessage-deflate; server_max_window_bits=10"
        ]));
        assert!(!accepts_offer(["permessage-deflate; unknown"]));
        assert!(!accepts_offer([
            "permessage-deflate; client_max_window_bits=99"
        ]));
        assert!(!accepts_offer([
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover"
        ]));
        assert!(!accepts_offer(["x-webkit-deflate-frame"]));
        assert!(!accepts_offer([]));
    }

    #[test]
    fn messages_compress_and_inflate_back() {
        for payload in [
            b"4".to_vec(),
            "4hello ".repeat(3000).into_bytes(),
            vec![7u8; 70_000],
        ] {
            let compressed = compress(&payload);
            assert!(!compressed.ends_with(&TAIL));
            assert_eq!(&inflate(&compressed, 1 << 20).unwrap()[..], &payload[..]);
        }
    }

    /// A 64 KiB binary message of Autobahn's case 12.2.x: compressing it filled the output
    /// exactly, the flush ended over two calls, and the message lost its last bytes.
    #[test]
    fn a_flush_finished_over_several_calls_keeps_every_byte() {
        let payload = include_bytes!("compress_regression.bin");
        let compressed = compress(payload);
        assert_eq!(&inflate(&compressed, 1 << 20).unwrap()[..], &payload[..]);
        // The same in the old, too small first allocation: the loop finishes the flush.
        let mut seed = 7u64;
        let noise: Vec<u8> = (0..200_000)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                (seed >> 56) as u8
            })
            .collect();
        assert_eq!(
            &inflate(&compress(&noise), 1 << 20).unwrap()[..],
            &noise[..]
        );
    }

    #[test]
    fn a_bomb_stops_at_the_limit_and_garbage_is_refused() {
        let bomb = compress(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 20_000, "{}", bomb.len());
        assert_eq!(inflate(&bomb, 1000), Err(InflateError::TooBig(1000)));
        assert_eq!(
            inflate(&[0xff, 0xff, 0xff], 1000),
            Err(InflateError::Corrupt)
        );
    }

    #[test]
    fn frames_carry_rsv1_and_their_length() {
        let small = frame(1, &[1, 2, 3]);
        assert_eq!(&small[..], &[0xC1, 3, 1, 2, 3]);
        let big = frame(2, &vec![0; 300]);
        assert_eq!(&big[..4], &[0xC2, 126, 1, 44]);
    }
}
