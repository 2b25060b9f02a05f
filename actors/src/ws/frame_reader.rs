//! The reading side of a websocket without its socket: frames decoded from a buffer, fragments
//! reassembled and compressed messages inflated, all within the message size limit, and the
//! close frame the connection answers with when the client closes or breaks the protocol.
//!
//! The connection (`ws_connection`) feeds it what it reads; the fuzz targets feed it
//! arbitrary bytes.

use actix_codec::Decoder;
use actix_http::ws::{Codec, Frame, Item, ProtocolError};
use bytes::{Bytes, BytesMut};

use super::{deflate, Assembler, WsEvent};
use crate::wire_frame::{ws_close_frame, ws_close_frame_with};

/// Close status 1002: the peer broke the protocol (RFC 6455 §7.4.1).
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
/// Close status 1007: a message's data is not what its type says (invalid UTF-8).
pub const CLOSE_INVALID_DATA: u16 = 1007;
/// Close status 1009: a message too big to process.
pub const CLOSE_TOO_BIG: u16 = 1009;

/// Decodes a client's frames into [`WsEvent`]s.
pub struct FrameReader {
    codec: Codec,
    assembler: Assembler,
    /// The largest message, after inflation too.
    max_message: usize,
    /// The inflation state, when permessage-deflate was negotiated.
    inflate: Option<Inflate>,
    /// The close frame the connection writes as its last frame, once the client closed or
    /// broke the protocol (its status: the frame is made when it is taken, so that an idle
    /// connection's task does not hold room for one).
    farewell: Option<Farewell>,
    /// Whether the last error was a message inflating past the limit.
    inflated_too_big: bool,
}

/// The close frame a connection answers with.
#[derive(Debug, Clone, Copy)]
enum Farewell {
    /// With no status (the client's close had none).
    Plain,
    /// With this status.
    Status(u16),
}

/// What a deflate connection's reader tracks of compressed messages.
struct Inflate {
    /// Whether the frame at the front of the buffer had RSV1 set (cleared there, since the
    /// frame decoder refuses it).
    frame: bool,
    /// Whether the message being reassembled is compressed (its first frame's RSV1).
    message: bool,
}

impl FrameReader {
    /// A reader refusing messages over `max_message` bytes (inflated size included);
    /// `deflate` when the connection negotiated permessage-deflate.
    pub fn new(max_message: usize, deflate: bool) -> Self {
        FrameReader {
            codec: Codec::new().max_size(max_message),
            assembler: Assembler::new(max_message),
            max_message,
            inflate: deflate.then_some(Inflate {
                frame: false,
                message: false,
            }),
            farewell: None,
            inflated_too_big: false,
        }
    }

    /// The next event the front of `buf` makes (its bytes consumed), or `None` until more
    /// bytes come. After a [`WsEvent::is_last`] event the reader is done.
    pub fn next_event(&mut self, buf: &mut BytesMut) -> Option<WsEvent> {
        loop {
            self.take_rsv1(buf);
            let frame = match self.codec.decode(buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => return None,
                Err(e) => {
                    let code = match e {
                        ProtocolError::Overflow => CLOSE_TOO_BIG,
                        _ => CLOSE_PROTOCOL_ERROR,
                    };
                    return Some(self.fail(code, format!("websocket protocol error: {e}")));
                }
            };
            if let Err(event) = self.check_rsv1(&frame) {
                return Some(event);
            }
            if let Frame::Close(reason) = &frame {
                // Answered with the same status (RFC 6455 §5.5.1); the codec checked it.
                self.farewell = Some(match reason {
                    Some(reason) => Farewell::Status(reason.code.into()),
                    None => Farewell::Plain,
                });
            }
            let Some(event) = self.assembler.on_frame(frame) else {
                continue;
            };
            return Some(match event {
                WsEvent::Error(message) => {
                    let code = if self.assembler.too_big() {
                        CLOSE_TOO_BIG
                    } else {
                        CLOSE_PROTOCOL_ERROR
                    };
                    self.fail(code, message)
                }
                event => self.inflated(event),
            });
        }
    }

    /// The close frame the connection answers with, once the client closed or broke the
    /// protocol (each is given once).
    pub fn take_farewell(&mut self) -> Option<Bytes> {
        self.farewell.take().map(|farewell| match farewell {
            Farewell::Plain => ws_close_frame(),
            Farewell::Status(code) => ws_close_frame_with(code),
        })
    }

    /// Whether the error returned last was a compressed message inflating past the limit
    /// (counted as a refusal by the connection).
    pub fn inflated_too_big(&self) -> bool {
        self.inflated_too_big
    }

    fn fail(&mut self, code: u16, message: String) -> WsEvent {
        self.farewell = Some(Farewell::Status(code));
        WsEvent::Error(message)
    }

    /// On a deflate connection, clears RSV1 on the frame at the front of the buffer (the
    /// frame decoder refuses it) and remembers it for that frame.
    fn take_rsv1(&mut self, buf: &mut BytesMut) {
        if let (Some(inflate), Some(first)) = (self.inflate.as_mut(), buf.first_mut()) {
            if *first & deflate::RSV1 != 0 {
                *first &= !deflate::RSV1;
                inflate.frame = true;
            }
        }
    }

    /// Checks where a decoded frame had RSV1: only on the first frame of a data message
    /// (RFC 7692 §6), which marks the message compressed.
    fn check_rsv1(&mut self, frame: &Frame) -> Result<(), WsEvent> {
        let Some(inflate) = self.inflate.as_mut() else {
            return Ok(());
        };
        let rsv1 = std::mem::take(&mut inflate.frame);
        match frame {
            Frame::Text(_) | Frame::Binary(_) => inflate.message = rsv1,
            Frame::Continuation(Item::FirstText(_) | Item::FirstBinary(_)) => {
                inflate.message = rsv1
            }
            _ if rsv1 => {
                return Err(self.fail(
                    CLOSE_PROTOCOL_ERROR,
                    "RSV1 set on a control or continuation frame".into(),
                ))
            }
            _ => {}
        }
        Ok(())
    }

    /// A whole message, inflated when it came compressed. One that inflates to more than
    /// the message limit ends the connection with 1009 (Message Too Big).
    fn inflated(&mut self, event: WsEvent) -> WsEvent {
        let Some(inflate) = self.inflate.as_mut().filter(|i| i.message) else {
            return event;
        };
        let (data, binary) = match &event {
            WsEvent::Text(data) => (data, false),
            WsEvent::Binary(data) => (data, true),
            _ => return event,
        };
        inflate.message = false;
        match deflate::inflate(data, self.max_message) {
            Ok(data) if binary => WsEvent::Binary(data),
            Ok(data) => WsEvent::Text(data),
            Err(e) => {
                let code = match e {
                    deflate::InflateError::TooBig(_) => {
                        self.inflated_too_big = true;
                        CLOSE_TOO_BIG
                    }
                    deflate::InflateError::Corrupt => CLOSE_INVALID_DATA,
                };
                self.fail(code, format!("permessage-deflate: {e}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame.
    fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let mut out = vec![first];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xffff => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    fn events(reader: &mut FrameReader, bytes: &[u8]) -> Vec<String> {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(event) = reader.next_event(&mut buf) {
            let last = event.is_last();
            out.push(format!("{event:?}"));
            if last {
                break;
            }
        }
        out
    }

    #[test]
    fn a_client_close_is_answered_with_its_status() {
        let mut reader = FrameReader::new(1 << 20, false);
        let close = client_frame(0x88, &[0x03, 0xe8, b'b', b'y', b'e']);
        assert_eq!(events(&mut reader, &close), ["Close"]);
        assert_eq!(reader.take_farewell(), Some(ws_close_frame_with(1000)));
        let mut reader = FrameReader::new(1 << 20, false);
        assert_eq!(events(&mut reader, &client_frame(0x88, &[])), ["Close"]);
        assert_eq!(reader.take_farewell(), Some(ws_close_frame()));
    }

    #[test]
    fn protocol_errors_and_big_messages_choose_their_close_status() {
        for (bytes, code) in [
            // An unmasked frame.
            (vec![0x81, 0x01, b'a'], CLOSE_PROTOCOL_ERROR),
            // RSV2 without an extension.
            (client_frame(0xA1, b"a"), CLOSE_PROTOCOL_ERROR),
            // A close status that may not be sent (1005).
            (client_frame(0x88, &[0x03, 0xed]), CLOSE_PROTOCOL_ERROR),
            // A continuation with nothing to continue.
            (client_frame(0x80, b"a"), CLOSE_PROTOCOL_ERROR),
            // A single frame over the limit.
            (client_frame(0x82, &[0; 100]), CLOSE_TOO_BIG),
            // Fragments adding up over the limit.
            (
                [client_frame(0x02, &[0; 40]), client_frame(0x80, &[0; 40])].concat(),
                CLOSE_TOO_BIG,
            ),
        ] {
            let mut reader = FrameReader::new(64, false);
            let seen = events(&mut reader, &bytes);
            assert!(seen.last().unwrap().starts_with("Error"), "{seen:?}");
            assert_eq!(reader.take_farewell(), Some(ws_close_frame_with(code)));
        }
    }

    #[test]
    fn compressed_messages_inflate_and_bombs_close_with_1009() {
        let payload = "hello ".repeat(100);
        let compressed = deflate::compress(payload.as_bytes());
        let mut reader = FrameReader::new(1 << 20, true);
        let seen = events(&mut reader, &client_frame(0xC1, &compressed));
        assert_eq!(seen, [format!("{:?}", WsEvent::Text(payload.into()))]);

        let bomb = deflate::compress(&[0u8; 100_000]);
        let mut reader = FrameReader::new(1000, true);
        let seen = events(&mut reader, &client_frame(0xC2, &bomb));
        assert!(seen[0].starts_with("Error"), "{seen:?}");
        assert!(reader.inflated_too_big());
        assert_eq!(reader.take_farewell(), Some(ws_close_frame_with(1009)));

        // RSV1 on a ping is refused; without deflate, RSV1 is refused by the decoder.
        let mut reader = FrameReader::new(1000, true);
        assert!(events(&mut reader, &client_frame(0xC9, b"x"))[0].starts_with("Error"));
        let mut reader = FrameReader::new(1000, false);
        assert!(events(&mut reader, &client_frame(0xC1, &compressed))[0].starts_with("Error"));
    }
}
