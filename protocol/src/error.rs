//! The one error type of the protocol layer: every way a packet can be malformed.

use thiserror::Error;

/// Why a frame, a payload or a packet could not be decoded.
///
/// Each variant names what was wrong so that the log line written by the server tells the
/// operator which rule the client broke.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// An empty Engine.IO packet (no type character).
    #[error("empty packet")]
    Empty,
    /// The Engine.IO packet type is not one of 0..=6.
    #[error("unknown Engine.IO packet type {0:?}")]
    UnknownEngineType(char),
    /// A `b`-prefixed polling packet whose base64 does not decode.
    #[error("invalid base64 in a binary polling packet")]
    InvalidBase64,
    /// An Engine.IO v3 payload record whose length is missing, not a number, or does not
    /// match what follows.
    #[error("invalid record length in an Engine.IO v3 payload")]
    BadLength,
    /// A polling body that is not UTF-8 text.
    #[error("polling payload is not valid UTF-8")]
    InvalidUtf8,
    /// The Socket.IO packet type is not one of 0..=6.
    #[error("unknown Socket.IO packet type {0:?}")]
    UnknownSocketType(char),
    /// The attachment count of a binary packet is missing, not a number, zero, or not followed
    /// by `-`.
    #[error("illegal attachments header")]
    IllegalAttachments,
    /// More attachments announced than the decoder allows.
    #[error("too many attachments: {count} (at most {max})")]
    TooManyAttachments {
        /// Attachments the packet announced.
        count: usize,
        /// The decoder's limit.
        max: usize,
    },
    /// The ack id is not a valid unsigned number.
    #[error("invalid ack id")]
    InvalidAckId,
    /// The JSON part does not parse.
    #[error("invalid JSON in packet: {0}")]
    InvalidJson(String),
    /// The JSON parses but its shape is not allowed for this packet type.
    #[error("invalid payload for a {0} packet")]
    InvalidPayload(&'static str),
    /// A text frame arrived while attachments of a binary packet were still expected.
    #[error("got plaintext data while reconstructing a binary packet")]
    UnexpectedText,
    /// A binary frame arrived although no binary packet was waiting for attachments.
    #[error("got binary data when not reconstructing a packet")]
    UnexpectedAttachment,
    /// A `_placeholder` whose `num` does not point at one of the packet's attachments.
    #[error("placeholder refers to attachment {0}, which does not exist")]
    BadPlaceholder(i64),
    /// The attachments received for one binary packet add up to more bytes than the decoder
    /// holds for a packet still waiting for the rest.
    #[error("binary attachments of one packet exceed {max} bytes")]
    AttachmentsTooLarge {
        /// The decoder's limit.
        max: usize,
    },
    /// A msgpack packet that does not decode, or whose shape the msgpack parser refuses.
    #[error("invalid msgpack packet: {0}")]
    InvalidMsgpack(String),
    /// A msgpack packet nesting maps and arrays deeper than the decoder allows.
    #[error("msgpack packet nested deeper than {max} levels")]
    MsgpackTooDeep {
        /// The decoder's limit.
        max: usize,
    },
    /// A text message reached a server speaking the msgpack parser (every packet is binary).
    #[error("a text message, but the server's parser is msgpack (binary messages only)")]
    TextUnderMsgpack,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_broken_rule() {
        let cases = [
            (ProtocolError::Empty, "empty packet"),
            (
                ProtocolError::UnknownEngineType('9'),
                "unknown Engine.IO packet type '9'",
            ),
            (
                ProtocolError::InvalidBase64,
                "invalid base64 in a binary polling packet",
            ),
            (
                ProtocolError::InvalidUtf8,
                "polling payload is not valid UTF-8",
            ),
            (
                ProtocolError::UnknownSocketType('x'),
                "unknown Socket.IO packet type 'x'",
            ),
            (
                ProtocolError::IllegalAttachments,
                "illegal attachments header",
            ),
            (
                ProtocolError::TooManyAttachments { count: 11, max: 10 },
                "too many attachments: 11 (at most 10)",
            ),
            (ProtocolError::InvalidAckId, "invalid ack id"),
            (
                ProtocolError::InvalidJson("eof".into()),
                "invalid JSON in packet: eof",
            ),
            (
                ProtocolError::InvalidPayload("EVENT"),
                "invalid payload for a EVENT packet",
            ),
            (
                ProtocolError::UnexpectedText,
                "got plaintext data while reconstructing a binary packet",
            ),
            (
                ProtocolError::UnexpectedAttachment,
                "got binary data when not reconstructing a packet",
            ),
            (
                ProtocolError::BadPlaceholder(-1),
                "placeholder refers to attachment -1, which does not exist",
            ),
            (
                ProtocolError::AttachmentsTooLarge { max: 4096 },
                "binary attachments of one packet exceed 4096 bytes",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
        }
    }
}
