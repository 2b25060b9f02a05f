//! Engine.IO v4 packets: the transport-level frames under Socket.IO.

use bytes::Bytes;

use crate::ProtocolError;

/// The seven Engine.IO packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineType {
    /// `0`: the handshake.
    Open,
    /// `1`: either side ends the session.
    Close,
    /// `2`: heartbeat request (server → client in v4), or `2probe` during an upgrade.
    Ping,
    /// `3`: heartbeat answer, or `3probe` during an upgrade.
    Pong,
    /// `4`: application data.
    Message,
    /// `5`: the client completes the upgrade to websocket.
    Upgrade,
    /// `6`: nothing; answers a pending poll during an upgrade.
    Noop,
}

impl EngineType {
    /// The digit that starts an encoded packet of this type.
    pub fn as_char(self) -> char {
        match self {
            EngineType::Open => '0',
            EngineType::Close => '1',
            EngineType::Ping => '2',
            EngineType::Pong => '3',
            EngineType::Message => '4',
            EngineType::Upgrade => '5',
            EngineType::Noop => '6',
        }
    }

    /// The type named by a packet's first character.
    pub fn from_char(c: char) -> Result<Self, ProtocolError> {
        Ok(match c {
            '0' => EngineType::Open,
            '1' => EngineType::Close,
            '2' => EngineType::Ping,
            '3' => EngineType::Pong,
            '4' => EngineType::Message,
            '5' => EngineType::Upgrade,
            '6' => EngineType::Noop,
            other => return Err(ProtocolError::UnknownEngineType(other)),
        })
    }
}

/// One Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnginePacket {
    /// The handshake, with its JSON (see [`crate::Handshake`]).
    Open(String),
    /// End of the session.
    Close,
    /// A ping, with optional data (`probe` during an upgrade).
    Ping(String),
    /// A pong, with optional data (`probe` during an upgrade).
    Pong(String),
    /// A text message.
    Message(String),
    /// A binary message: a raw websocket frame, or `b`+base64 in a polling payload.
    Binary(Bytes),
    /// The upgrade is complete.
    Upgrade,
    /// Nothing.
    Noop,
}

impl EnginePacket {
    /// The packet's type.
    pub fn kind(&self) -> EngineType {
        match self {
            EnginePacket::Open(_) => EngineType::Open,
            EnginePacket::Close => EngineType::Close,
            EnginePacket::Ping(_) => EngineType::Ping,
            EnginePacket::Pong(_) => EngineType::Pong,
            EnginePacket::Message(_) | EnginePacket::Binary(_) => EngineType::Message,
            EnginePacket::Upgrade => EngineType::Upgrade,
            EnginePacket::Noop => EngineType::Noop,
        }
    }

    /// The packet as a websocket text frame, or `None` for a binary message, which travels
    /// as a raw binary frame instead.
    pub fn encode_text(&self) -> Option<String> {
        let data: &str = match self {
            EnginePacket::Binary(_) => return None,
            EnginePacket::Open(d)
            | EnginePacket::Ping(d)
            | EnginePacket::Pong(d)
            | EnginePacket::Message(d) => d,
            EnginePacket::Close | EnginePacket::Upgrade | EnginePacket::Noop => "",
        };
        let mut out = String::with_capacity(1 + data.len());
        out.push(self.kind().as_char());
        out.push_str(data);
        Some(out)
    }

    /// Appends the packet as it travels in a polling payload: text packets as they are,
    /// binary messages as `b` followed by standard base64.
    pub fn encode_polling(&self, out: &mut String) {
        use base64::Engine as _;
        match self {
            EnginePacket::Binary(data) => {
                out.push('b');
                base64::engine::general_purpose::STANDARD.encode_string(data, out);
            }
            EnginePacket::Open(d)
            | EnginePacket::Ping(d)
            | EnginePacket::Pong(d)
            | EnginePacket::Message(d) => {
                out.push(self.kind().as_char());
                out.push_str(d);
            }
            EnginePacket::Close | EnginePacket::Upgrade | EnginePacket::Noop => {
                out.push(self.kind().as_char())
            }
        }
    }

    /// Decodes a websocket text frame, or one packet of a polling payload, where a leading
    /// `b` marks base64 binary.
    pub fn decode_text(text: &str) -> Result<Self, ProtocolError> {
        let mut chars = text.chars();
        let first = chars.next().ok_or(ProtocolError::Empty)?;
        let rest = chars.as_str();
        if first == 'b' {
            use base64::Engine as _;
            let data = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .map_err(|_| ProtocolError::InvalidBase64)?;
            return Ok(EnginePacket::Binary(Bytes::from(data)));
        }
        Ok(match EngineType::from_char(first)? {
            EngineType::Open => EnginePacket::Open(rest.to_owned()),
            EngineType::Close => EnginePacket::Close,
            EngineType::Ping => EnginePacket::Ping(rest.to_owned()),
            EngineType::Pong => EnginePacket::Pong(rest.to_owned()),
            EngineType::Message => EnginePacket::Message(rest.to_owned()),
            EngineType::Upgrade => EnginePacket::Upgrade,
            EngineType::Noop => EnginePacket::Noop,
        })
    }

    /// Decodes a websocket binary frame: always a binary message in Engine.IO v4.
    pub fn decode_binary(data: Bytes) -> Self {
        EnginePacket::Binary(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_TYPES: [(EngineType, char); 7] = [
        (EngineType::Open, '0'),
        (EngineType::Close, '1'),
        (EngineType::Ping, '2'),
        (EngineType::Pong, '3'),
        (EngineType::Message, '4'),
        (EngineType::Upgrade, '5'),
        (EngineType::Noop, '6'),
    ];

    fn polling(packet: &EnginePacket) -> String {
        let mut out = String::new();
        packet.encode_polling(&mut out);
        out
    }

    #[test]
    fn type_chars_both_ways() {
        for (kind, c) in ALL_TYPES {
            assert_eq!(kind.as_char(), c);
            assert_eq!(EngineType::from_char(c), Ok(kind));
        }
        for c in ['7', '9', 'a', 'b', ' ', 'é'] {
            assert_eq!(
                EngineType::from_char(c),
                Err(ProtocolError::UnknownEngineType(c))
            );
        }
    }

    #[test]
    fn every_packet_encodes_and_decodes() {
        let cases = [
            (
                EnginePacket::Open(r#"{"sid":"x"}"#.into()),
                r#"0{"sid":"x"}"#,
            ),
            (EnginePacket::Close, "1"),
            (EnginePacket::Ping(String::new()), "2"),
            (EnginePacket::Pong(String::new()), "3"),
            (EnginePacket::Ping("probe".into()), "2probe"),
            (EnginePacket::Pong("probe".into()), "3probe"),
            (EnginePacket::Message("hello €".into()), "4hello €"),
            (EnginePacket::Message(String::new()), "4"),
            (EnginePacket::Upgrade, "5"),
            (EnginePacket::Noop, "6"),
        ];
        for (packet, text) in cases {
            assert_eq!(packet.encode_text().as_deref(), Some(text), "{packet:?}");
            assert_eq!(polling(&packet), text, "{packet:?}");
            assert_eq!(EnginePacket::decode_text(text), Ok(packet.clone()));
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(EnginePacket::Open(String::new()).kind(), EngineType::Open);
        assert_eq!(EnginePacket::Close.kind(), EngineType::Close);
        assert_eq!(EnginePacket::Ping(String::new()).kind(), EngineType::Ping);
        assert_eq!(EnginePacket::Pong(String::new()).kind(), EngineType::Pong);
        assert_eq!(
            EnginePacket::Message(String::new()).kind(),
            EngineType::Message
        );
        assert_eq!(
            EnginePacket::Binary(Bytes::new()).kind(),
            EngineType::Message
        );
        assert_eq!(EnginePacket::Upgrade.kind(), EngineType::Upgrade);
        assert_eq!(EnginePacket::Noop.kind(), EngineType::Noop);
    }

    #[test]
    fn binary_has_no_text_form() {
        assert_eq!(
            EnginePacket::Binary(Bytes::from_static(b"\x01\x02")).encode_text(),
            None
        );
    }

    #[test]
    fn binary_polling_is_b_and_base64() {
        let packet = EnginePacket::Binary(Bytes::from_static(&[0, 1, 2, 3, 255]));
        assert_eq!(polling(&packet), "bAAECA/8=");
        assert_eq!(EnginePacket::decode_text("bAAECA/8="), Ok(packet));
        assert_eq!(
            EnginePacket::decode_text("b"),
            Ok(EnginePacket::Binary(Bytes::new()))
        );
        assert_eq!(polling(&EnginePacket::Binary(Bytes::new())), "b");
    }

    #[test]
    fn encode_polling_appends() {
        let mut out = String::from("x");
        EnginePacket::Noop.encode_polling(&mut out);
        EnginePacket::Binary(Bytes::from_static(b"hi")).encode_polling(&mut out);
        assert_eq!(out, "x6baGk=");
    }

    #[test]
    fn bad_base64_is_refused() {
        for text in ["b!!!!", "bAAECA/8", "bA", "bAAE=CA", "b AAA"] {
            assert_eq!(
                EnginePacket::decode_text(text),
                Err(ProtocolError::InvalidBase64),
                "{text}"
            );
        }
    }

    #[test]
    fn empty_and_unknown() {
        assert_eq!(EnginePacket::decode_text(""), Err(ProtocolError::Empty));
        assert_eq!(
            EnginePacket::decode_text("7"),
            Err(ProtocolError::UnknownEngineType('7'))
        );
        assert_eq!(
            EnginePacket::decode_text("xhello"),
            Err(ProtocolError::UnknownEngineType('x'))
        );
        assert_eq!(
            EnginePacket::decode_text("é4"),
            Err(ProtocolError::UnknownEngineType('é'))
        );
    }

    #[test]
    fn data_after_a_dataless_type_is_ignored() {
        // engine.io-parser keeps it, but nothing reads it: siohub drops it.
        assert_eq!(EnginePacket::decode_text("1bye"), Ok(EnginePacket::Close));
        assert_eq!(EnginePacket::decode_text("5x"), Ok(EnginePacket::Upgrade));
        assert_eq!(EnginePacket::decode_text("6x"), Ok(EnginePacket::Noop));
    }

    #[test]
    fn binary_frames_are_messages() {
        let data = Bytes::from_static(b"\x00raw");
        assert_eq!(
            EnginePacket::decode_binary(data.clone()),
            EnginePacket::Binary(data)
        );
    }
}
