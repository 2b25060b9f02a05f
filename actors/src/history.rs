//! A room's history as the `history` built-in and `GET /api/v1/rooms/{room}/history`
//! answer it: the events a buffered room keeps, each with its offset, its name and its
//! arguments, read back from the frames the room buffer holds (so nothing is kept twice).

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use siohub_protocol::{decode_msgpack_packet, Decoded, Parser, Payload, SocketDecoder};

use crate::wire_frame::Frames;

/// What a kept event is listed with in `history`: its offset (the recovery offset the
/// event carries, else one given to it for the history), and whether its frames carry the
/// offset as their last argument (to be left out of the event's data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryStamp {
    /// The offset, as clients hold it.
    pub offset: Arc<str>,
    /// Whether the last argument of the frames is the offset.
    pub in_frames: bool,
}

/// One event of a room's history, as the buffer holds it.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    /// Its offset and where it is.
    pub stamp: HistoryStamp,
    /// The frames, as sent.
    pub frames: Frames,
}

/// One event of a room's history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    /// Its offset (the recovery offset the event carried, when the namespace recovers).
    pub offset: String,
    /// The event name.
    pub event: String,
    /// Its arguments (the offset left out), binary attachments included.
    pub payload: Payload,
}

/// A page of a room's history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// The events, oldest first.
    pub events: Vec<HistoryEvent>,
    /// False when the asked `since` is no longer in the buffer (events may be missing
    /// between it and the first event listed).
    pub complete: bool,
    /// Whether the limit left later events out: ask again with the last offset as `since`.
    pub more: bool,
}

/// The event an entry holds, read back from its frames; `None` when they do not hold one
/// event (never for frames the Broadcaster encoded).
pub(crate) fn decode_entry(entry: &HistoryEntry, parser: Parser) -> Option<HistoryEvent> {
    let packet = decode_frames(&entry.frames, parser)?;
    let (event, mut payload) = packet.into_payload();
    if entry.stamp.in_frames && payload.args.last().is_some_and(Value::is_string) {
        payload.args.pop();
    }
    Some(HistoryEvent {
        offset: entry.stamp.offset.to_string(),
        event,
        payload,
    })
}

fn decode_frames(frames: &Frames, parser: Parser) -> Option<siohub_protocol::SocketPacket> {
    let (first, attachments) = frames.split_first()?;
    if parser == Parser::Msgpack {
        let message = Bytes::copy_from_slice(first.payload());
        return decode_msgpack_packet(&message, usize::MAX).ok();
    }
    // An Engine.IO message: `4` and the Socket.IO packet.
    let text = std::str::from_utf8(first.payload())
        .ok()?
        .strip_prefix('4')?;
    let mut decoder = SocketDecoder::new(usize::MAX).with_max_attachment_bytes(usize::MAX);
    let mut decoded = decoder.feed_text(text).ok()?;
    for attachment in attachments {
        decoded = decoder
            .feed_binary(Bytes::copy_from_slice(attachment.payload()))
            .ok()?;
    }
    match decoded {
        Decoded::Packet(packet) => Some(packet),
        Decoded::NeedAttachments(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire_frame::socket_packet_frames;
    use serde_json::json;
    use siohub_protocol::SocketPacket;

    fn entry(packet: &SocketPacket, parser: Parser, in_frames: bool) -> HistoryEntry {
        HistoryEntry {
            stamp: HistoryStamp {
                offset: "a1".into(),
                in_frames,
            },
            frames: socket_packet_frames(packet, parser).into(),
        }
    }

    #[test]
    fn events_are_read_back_from_their_frames_in_both_parsers() {
        let mut payload = Payload::new(vec![json!({"n": 1})]);
        let buffer = payload.push_binary(vec![1u8, 2, 3]);
        payload.push_arg(buffer);
        payload.push_arg(json!("a1"));
        let packet = SocketPacket::event_with_payload("/chat", "news", payload);
        for parser in [Parser::Json, Parser::Msgpack] {
            let event = decode_entry(&entry(&packet, parser, true), parser).unwrap();
            assert_eq!(event.offset, "a1");
            assert_eq!(event.event, "news");
            assert_eq!(
                event.payload.args.len(),
                2,
                "{parser:?}: the offset is left out"
            );
            assert_eq!(event.payload.args[0], json!({"n": 1}));
            let binary = event.payload.binary_of(&event.payload.args[1]);
            assert_eq!(
                binary.map(|b| b.to_vec()),
                Some(vec![1, 2, 3]),
                "{parser:?}"
            );
        }
        let plain = SocketPacket::event("/", "ev", json!(["x"]));
        let event = decode_entry(&entry(&plain, Parser::Json, false), Parser::Json).unwrap();
        assert_eq!(event.payload.args, vec![json!("x")], "nothing left out");
    }
}
