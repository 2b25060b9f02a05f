//! Which Socket.IO parser the server speaks: the default JSON text packets, or the
//! `socket.io-msgpack-parser` 3.x format (one msgpack map per packet, in a binary message).

/// The Socket.IO packet encoding of a server. As in the reference server it is chosen once
/// for the whole server: a client built with the other parser cannot connect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Parser {
    /// `socket.io-parser`: text packets, buffers in separate binary attachments.
    #[default]
    Json,
    /// `socket.io-msgpack-parser` 3.x: one binary message per packet, buffers inside as
    /// msgpack `bin`.
    Msgpack,
}

impl Parser {
    /// The parser named `name` in the configuration (`"json"` or `"msgpack"`).
    pub fn from_name(name: &str) -> Option<Parser> {
        match name {
            "json" => Some(Parser::Json),
            "msgpack" => Some(Parser::Msgpack),
            _ => None,
        }
    }
}
