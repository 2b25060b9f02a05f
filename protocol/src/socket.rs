//! Socket.IO v5 packets: `<type>[<attachments>-][<nsp>,][<ack id>][JSON]`, the decoder with
//! the reference parser's validation rules, and reassembly of binary attachments.

use bytes::Bytes;
use serde_json::Value;

use crate::binary::check_placeholders;
use crate::{Payload, ProtocolError};

/// Event names a client may not emit: the reference server reserves them.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// The reference parser's default limit on attachments per packet.
pub const DEFAULT_MAX_ATTACHMENTS: usize = 10;

/// The default bound on the bytes of attachments one packet may gather while it waits for
/// the rest (4 MiB): `max_payload` bounds each buffer, this bounds their sum.
pub const DEFAULT_MAX_ATTACHMENT_BYTES: usize = 4 * 1024 * 1024;

/// The seven Socket.IO packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketType {
    /// `0`: join a namespace (client), or accept the join (server).
    Connect,
    /// `1`: leave a namespace.
    Disconnect,
    /// `2`: an event.
    Event,
    /// `3`: the answer to an event that asked for one.
    Ack,
    /// `4`: the server refuses a namespace join.
    ConnectError,
    /// `5`: an event with binary attachments.
    BinaryEvent,
    /// `6`: an ack with binary attachments.
    BinaryAck,
}

impl SocketType {
    /// The digit that starts an encoded packet of this type.
    pub fn as_char(self) -> char {
        (b'0' + self as u8) as char
    }

    fn from_char(c: char) -> Result<Self, ProtocolError> {
        Ok(match c {
            '0' => SocketType::Connect,
            '1' => SocketType::Disconnect,
            '2' => SocketType::Event,
            '3' => SocketType::Ack,
            '4' => SocketType::ConnectError,
            '5' => SocketType::BinaryEvent,
            '6' => SocketType::BinaryAck,
            other => return Err(ProtocolError::UnknownSocketType(other)),
        })
    }

    /// Whether packets of this type carry attachments.
    pub fn is_binary(self) -> bool {
        matches!(self, SocketType::BinaryEvent | SocketType::BinaryAck)
    }

    fn name(self) -> &'static str {
        match self {
            SocketType::Connect => "CONNECT",
            SocketType::Disconnect => "DISCONNECT",
            SocketType::Event => "EVENT",
            SocketType::Ack => "ACK",
            SocketType::ConnectError => "CONNECT_ERROR",
            SocketType::BinaryEvent => "BINARY_EVENT",
            SocketType::BinaryAck => "BINARY_ACK",
        }
    }
}

/// One Socket.IO packet, with its attachments when it is a binary one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketPacket {
    /// The packet type.
    pub kind: SocketType,
    /// The namespace, `/` by default.
    pub nsp: String,
    /// The ack id, on events that want an answer and on acks.
    pub id: Option<u64>,
    /// The JSON data, if any.
    pub data: Option<Value>,
    /// The buffers of a binary packet, in placeholder order.
    pub attachments: Vec<Bytes>,
}

impl SocketPacket {
    fn new(kind: SocketType, nsp: &str, data: Option<Value>) -> Self {
        SocketPacket {
            kind,
            nsp: nsp.to_owned(),
            id: None,
            data,
            attachments: Vec::new(),
        }
    }

    /// A CONNECT: the client's join request (with auth) or the server's acceptance.
    pub fn connect(nsp: &str, data: Option<Value>) -> Self {
        Self::new(SocketType::Connect, nsp, data)
    }

    /// A DISCONNECT for `nsp`.
    pub fn disconnect(nsp: &str) -> Self {
        Self::new(SocketType::Disconnect, nsp, None)
    }

    /// A CONNECT_ERROR `{"message":..,"data":..}` (data omitted when `None`).
    pub fn connect_error(nsp: &str, message: &str, data: Option<Value>) -> Self {
        let mut body = serde_json::Map::new();
        body.insert("message".into(), Value::String(message.to_owned()));
        if let Some(data) = data {
            body.insert("data".into(), data);
        }
        Self::new(SocketType::ConnectError, nsp, Some(Value::Object(body)))
    }

    /// An EVENT `[event, arg]` with one plain JSON argument array spread after the name.
    pub fn event(nsp: &str, event: &str, args: Value) -> Self {
        let mut items = vec![Value::String(event.to_owned())];
        match args {
            Value::Array(a) => items.extend(a),
            other => items.push(other),
        }
        Self::new(SocketType::Event, nsp, Some(Value::Array(items)))
    }

    /// An EVENT (or BINARY_EVENT when the payload has attachments).
    pub fn event_with_payload(nsp: &str, event: &str, payload: Payload) -> Self {
        let mut items = Vec::with_capacity(payload.args.len() + 1);
        items.push(Value::String(event.to_owned()));
        items.extend(payload.args);
        let kind = if payload.attachments.is_empty() {
            SocketType::Event
        } else {
            SocketType::BinaryEvent
        };
        SocketPacket {
            attachments: payload.attachments,
            ..Self::new(kind, nsp, Some(Value::Array(items)))
        }
    }

    /// An ACK (or BINARY_ACK when the payload has attachments) answering ack id `id`.
    pub fn ack(nsp: &str, id: u64, payload: Payload) -> Self {
        let kind = if payload.attachments.is_empty() {
            SocketType::Ack
        } else {
            SocketType::BinaryAck
        };
        SocketPacket {
            id: Some(id),
            attachments: payload.attachments,
            ..Self::new(kind, nsp, Some(Value::Array(payload.args)))
        }
    }

    /// Sets the ack id.
    pub fn with_id(mut self, id: u64) -> Self {
        self.id = Some(id);
        self
    }

    /// The event name of an EVENT or BINARY_EVENT whose first element is a string.
    pub fn event_name(&self) -> Option<&str> {
        match (&self.kind, &self.data) {
            (SocketType::Event | SocketType::BinaryEvent, Some(Value::Array(items))) => {
                items.first().and_then(Value::as_str)
            }
            _ => None,
        }
    }

    /// Splits an event into its name and arguments, or an ack into its arguments (with an
    /// empty name). Numeric event names become their decimal text.
    pub fn into_payload(self) -> (String, Payload) {
        let mut args = match self.data {
            Some(Value::Array(items)) => items,
            Some(other) => vec![other],
            None => Vec::new(),
        };
        let name = if matches!(self.kind, SocketType::Event | SocketType::BinaryEvent)
            && !args.is_empty()
        {
            match args.remove(0) {
                Value::String(s) => s,
                other => other.to_string(),
            }
        } else {
            String::new()
        };
        (
            name,
            Payload {
                args,
                attachments: self.attachments,
            },
        )
    }

    /// The text frame: header, namespace, ack id and JSON. Attachments, if any, follow as
    /// separate binary frames.
    ///
    /// The namespace must not contain a `,` (a comma ends it on the wire; the decoder never
    /// produces one); an empty namespace is written like `/`.
    pub fn encode_header_and_data(&self) -> String {
        let json = self.data.as_ref().map(|d| d.to_string());
        let mut out =
            String::with_capacity(8 + self.nsp.len() + json.as_ref().map_or(0, String::len));
        out.push(self.kind.as_char());
        if self.kind.is_binary() {
            out.push_str(&self.attachments.len().to_string());
            out.push('-');
        }
        if self.nsp != "/" && !self.nsp.is_empty() {
            out.push_str(&self.nsp);
            out.push(',');
        }
        if let Some(id) = self.id {
            out.push_str(&id.to_string());
        }
        if let Some(json) = json {
            out.push_str(&json);
        }
        out
    }
}

/// What feeding one frame to the [`SocketDecoder`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A complete packet.
    Packet(SocketPacket),
    /// A binary packet header was read; this many attachments are still expected.
    NeedAttachments(usize),
}

/// A stateful decoder: text frames carry packets, binary frames carry the attachments of the
/// binary packet read just before them.
///
/// At most one packet waits for its attachments at a time (a text frame in between is an
/// error, as in the reference parser), and the bytes it holds are bounded: each buffer is one
/// frame (bounded by the transport's `max_payload`), and their sum by `max_attachment_bytes`.
/// How long a packet may wait is the caller's business: the decoder has no clock.
#[derive(Debug, Clone)]
pub struct SocketDecoder {
    max_attachments: usize,
    max_attachment_bytes: usize,
    /// Boxed: a decoder lives as long as its connection, and a packet waiting for
    /// attachments is rare (inline, its room was most of an idle session's state).
    pending: Option<Box<(SocketPacket, usize)>>,
    /// Bytes of the attachments the pending packet holds.
    pending_bytes: usize,
}

impl Default for SocketDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_ATTACHMENTS)
    }
}

impl SocketDecoder {
    /// A decoder that refuses packets announcing more than `max_attachments` buffers, and
    /// attachments adding up to more than [`DEFAULT_MAX_ATTACHMENT_BYTES`].
    pub fn new(max_attachments: usize) -> Self {
        SocketDecoder {
            max_attachments,
            max_attachment_bytes: DEFAULT_MAX_ATTACHMENT_BYTES,
            pending: None,
            pending_bytes: 0,
        }
    }

    /// Sets the most bytes the attachments of one packet may add up to.
    pub fn with_max_attachment_bytes(mut self, max: usize) -> Self {
        self.max_attachment_bytes = max;
        self
    }

    /// Whether a binary packet is waiting for attachments.
    pub fn is_reconstructing(&self) -> bool {
        self.pending.is_some()
    }

    /// Bytes of attachments held for the packet waiting for the rest (0 when none waits).
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// Decodes a text frame.
    pub fn feed_text(&mut self, text: &str) -> Result<Decoded, ProtocolError> {
        if self.pending.is_some() {
            return Err(ProtocolError::UnexpectedText);
        }
        let (packet, expected) = parse_packet(text, self.max_attachments)?;
        if expected == 0 {
            return finish(packet);
        }
        self.pending = Some(Box::new((packet, expected)));
        Ok(Decoded::NeedAttachments(expected))
    }

    /// Decodes a binary frame: the next attachment of the pending binary packet. An
    /// attachment that takes the packet over `max_attachment_bytes` is an error, and the
    /// packet is dropped with what it held.
    pub fn feed_binary(&mut self, data: Bytes) -> Result<Decoded, ProtocolError> {
        let mut pending = self
            .pending
            .take()
            .ok_or(ProtocolError::UnexpectedAttachment)?;
        let (packet, expected) = &mut *pending;
        let expected = *expected;
        let held = self.pending_bytes.saturating_add(data.len());
        self.pending_bytes = 0;
        if held > self.max_attachment_bytes {
            return Err(ProtocolError::AttachmentsTooLarge {
                max: self.max_attachment_bytes,
            });
        }
        packet.attachments.push(data);
        if packet.attachments.len() < expected {
            let left = expected - packet.attachments.len();
            self.pending = Some(pending);
            self.pending_bytes = held;
            return Ok(Decoded::NeedAttachments(left));
        }
        let (packet, _) = *pending;
        finish(packet)
    }
}

fn finish(packet: SocketPacket) -> Result<Decoded, ProtocolError> {
    if packet.kind.is_binary() {
        if let Some(data) = &packet.data {
            check_placeholders(data, packet.attachments.len())?;
        }
    }
    Ok(Decoded::Packet(packet))
}

/// Parses the text of one packet; returns it with the number of attachments it announces.
fn parse_packet(
    text: &str,
    max_attachments: usize,
) -> Result<(SocketPacket, usize), ProtocolError> {
    let mut chars = text.chars();
    let kind = SocketType::from_char(chars.next().ok_or(ProtocolError::Empty)?)?;
    let mut rest = chars.as_str();

    let mut expected = 0;
    if kind.is_binary() {
        let dash = rest.find('-').ok_or(ProtocolError::IllegalAttachments)?;
        let count = &rest[..dash];
        if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProtocolError::IllegalAttachments);
        }
        expected = count
            .parse::<usize>()
            .map_err(|_| ProtocolError::IllegalAttachments)?;
        // The reference parser refuses a binary packet that announces no attachment.
        if expected == 0 {
            return Err(ProtocolError::IllegalAttachments);
        }
        if expected > max_attachments {
            return Err(ProtocolError::TooManyAttachments {
                count: expected,
                max: max_attachments,
            });
        }
        rest = &rest[dash + 1..];
    }

    let mut nsp = "/";
    if rest.starts_with('/') {
        let end = rest.find(',').unwrap_or(rest.len());
        nsp = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or("");
    }

    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id = if digits > 0 {
        let id = rest[..digits]
            .parse::<u64>()
            .map_err(|_| ProtocolError::InvalidAckId)?;
        rest = &rest[digits..];
        Some(id)
    } else {
        None
    };

    let data = if rest.is_empty() {
        None
    } else {
        Some(parse_json(rest)?)
    };
    check_payload(kind, data.as_ref())?;

    let packet = SocketPacket {
        kind,
        nsp: nsp.to_owned(),
        id,
        data,
        // A decoder built with a huge limit must not let a header make it allocate up front.
        attachments: Vec::with_capacity(expected.min(DEFAULT_MAX_ATTACHMENTS)),
    };
    Ok((packet, expected))
}

/// The reference parser's rules on the shape of each packet type's data. The reference only
/// checks data that is present; siohub is stricter in two places: an EVENT must carry data
/// (the reference lets `2` through as an event with no name), and so must a CONNECT_ERROR.
pub(crate) fn check_payload(kind: SocketType, data: Option<&Value>) -> Result<(), ProtocolError> {
    let ok = match (kind, data) {
        (SocketType::Connect, None) => true,
        (SocketType::Connect, Some(d)) => d.is_object(),
        (SocketType::Disconnect, d) => d.is_none(),
        (SocketType::ConnectError, Some(d)) => d.is_string() || d.is_object(),
        (SocketType::ConnectError, None) => false,
        (SocketType::Event | SocketType::BinaryEvent, Some(Value::Array(items))) => {
            match items.first() {
                Some(Value::Number(_)) => true,
                Some(Value::String(name)) => !RESERVED_EVENTS.contains(&name.as_str()),
                _ => false,
            }
        }
        (SocketType::Event | SocketType::BinaryEvent, _) => false,
        (SocketType::Ack | SocketType::BinaryAck, None) => true,
        (SocketType::Ack | SocketType::BinaryAck, Some(d)) => d.is_array(),
    };
    if ok {
        Ok(())
    } else {
        Err(ProtocolError::InvalidPayload(kind.name()))
    }
}

/// Parses packet data; text JavaScript wrote with an escaped lone surrogate, which
/// `serde_json` refuses, is read again with those made replacement characters.
fn parse_json(text: &str) -> Result<Value, ProtocolError> {
    serde_json::from_str::<Value>(text).or_else(|e| {
        match crate::lone_surrogates::replace_lone_surrogates(text) {
            std::borrow::Cow::Owned(fixed) => serde_json::from_str::<Value>(&fixed),
            std::borrow::Cow::Borrowed(_) => Err(e),
        }
        .map_err(|e| ProtocolError::InvalidJson(e.to_string()))
    })
}
