//! The websocket frame reader (framing, fragments, control frames, permessage-deflate) and
//! the inflater on its own.

use bytes::BytesMut;
use siohub_actors::ws::{deflate, FrameReader, WsEvent};

/// The largest message of the targets (small, so that limits are reached).
const MAX_MESSAGE: usize = 4096;

/// A [`FrameReader`] fed the input in pieces. The first byte picks the options (bit 0:
/// permessage-deflate) and the size of the pieces (the rest of it), so frames split at
/// every point. Every event must keep the message bound, and nothing may follow the last
/// one; an error leaves a close frame to send.
pub fn ws_frames(data: &[u8]) {
    let Some((&options, stream)) = data.split_first() else {
        return;
    };
    let mut reader = FrameReader::new(MAX_MESSAGE, options & 1 == 1);
    let piece = usize::from(options >> 1).max(1);
    let mut buf = BytesMut::new();
    for chunk in stream.chunks(piece) {
        buf.extend_from_slice(chunk);
        while let Some(event) = reader.next_event(&mut buf) {
            match &event {
                WsEvent::Text(d) | WsEvent::Binary(d) => assert!(d.len() <= MAX_MESSAGE),
                WsEvent::Ping(d) => assert!(d.len() <= 125),
                WsEvent::Close => return,
                WsEvent::Error(_) => {
                    assert!(reader.take_farewell().is_some());
                    return;
                }
            }
        }
    }
}

/// [`deflate::inflate`] on any bytes within a limit the first two bytes give: never more
/// than the limit comes out; what inflates compresses back to what inflates to the same.
/// The rest, as text, is also an extension offer for [`deflate::accepts_offer`].
pub fn inflate(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let limit = usize::from(u16::from_be_bytes([data[0], data[1]]));
    let body = &data[2..];
    if let Ok(out) = deflate::inflate(body, limit) {
        assert!(out.len() <= limit);
        let again = deflate::compress(&out);
        assert_eq!(deflate::inflate(&again, limit), Ok(out));
    }
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = deflate::accepts_offer(text.split('\n'));
    }
}
