//! Errors the Engine.IO layer answers to HTTP clients, with the reference server's codes.

use thiserror::Error;

/// An Engine.IO request error: code and message exactly as the reference server sends them
/// in `{"code":N,"message":".."}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum EngineError {
    /// Code 0: the `transport` query parameter is missing or not allowed.
    #[error("Transport unknown")]
    UnknownTransport,
    /// Code 1: no session with that `sid`.
    #[error("Session ID unknown")]
    UnknownSid,
    /// Code 2: a handshake that is not a GET.
    #[error("Bad handshake method")]
    BadHandshakeMethod,
    /// Code 3: anything else the request got wrong (overlapping polls, transport mismatch).
    #[error("Bad request")]
    BadRequest,
    /// Code 4: refused by a policy (origin, connection limit).
    #[error("Forbidden")]
    Forbidden,
    /// Code 5: `EIO` is not 4.
    #[error("Unsupported protocol version")]
    UnsupportedProtocolVersion,
}

impl EngineError {
    /// The numeric code of the reference server.
    pub fn code(self) -> u8 {
        match self {
            EngineError::UnknownTransport => 0,
            EngineError::UnknownSid => 1,
            EngineError::BadHandshakeMethod => 2,
            EngineError::BadRequest => 3,
            EngineError::Forbidden => 4,
            EngineError::UnsupportedProtocolVersion => 5,
        }
    }

    /// The HTTP status: 403 for Forbidden, 400 for every other code.
    pub fn status(self) -> u16 {
        match self {
            EngineError::Forbidden => 403,
            _ => 400,
        }
    }

    /// The JSON body `{"code":N,"message":".."}`.
    pub fn body(self) -> String {
        serde_json::json!({ "code": self.code(), "message": self.to_string() }).to_string()
    }
}

/// Why a server-to-client ack did not arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum AckError {
    /// The client did not answer within the timeout.
    #[error("the client did not acknowledge within the timeout")]
    Timeout,
    /// The socket disconnected before answering.
    #[error("the socket disconnected before acknowledging")]
    Disconnected,
}
