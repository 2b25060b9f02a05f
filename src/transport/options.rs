//! The transport options a request handler reads besides the engine settings: the
//! sticky-session cookie of the polling handshake, the compression of polling responses
//! (with the counters of what it did) and whether websockets may negotiate
//! permessage-deflate.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::{ConfigError, EngineSettings};

/// Options of the HTTP side of the transports, built once from `[engine]`.
#[derive(Debug, Default)]
pub struct TransportOptions {
    /// The name of the cookie set on a polling handshake's answer, if any.
    pub cookie: Option<String>,
    /// The smallest polling body compressed, when `http_compression` is on.
    pub compression_threshold: Option<usize>,
    /// The permessage-deflate threshold, when `per_message_deflate` is on.
    pub deflate_threshold: Option<usize>,
    /// What compression did, for `/metrics`.
    pub compressed: CompressionCounters,
}

/// Polling responses compressed, and their bytes before and after.
#[derive(Debug, Default)]
pub struct CompressionCounters {
    responses: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

impl CompressionCounters {
    /// Counts one compressed response of `before` bytes that became `after`.
    pub fn count(&self, before: usize, after: usize) {
        self.responses.fetch_add(1, Ordering::Relaxed);
        self.bytes_in.fetch_add(before as u64, Ordering::Relaxed);
        self.bytes_out.fetch_add(after as u64, Ordering::Relaxed);
    }

    /// Responses compressed, their bytes before, their bytes after.
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.responses.load(Ordering::Relaxed),
            self.bytes_in.load(Ordering::Relaxed),
            self.bytes_out.load(Ordering::Relaxed),
        )
    }
}

impl TransportOptions {
    /// The options `[engine]` asks for (validated by [`validate`]).
    pub fn new(e: &EngineSettings) -> Self {
        TransportOptions {
            cookie: (!e.cookie.is_empty()).then(|| e.cookie.clone()),
            compression_threshold: e.http_compression.then_some(e.http_compression_threshold),
            deflate_threshold: e.per_message_deflate.then_some(e.deflate_threshold),
            compressed: CompressionCounters::default(),
        }
    }

    /// The `Set-Cookie` value of a new session's handshake, as the reference server
    /// serializes its default cookie options (path `/`, HttpOnly, SameSite=Lax).
    pub fn set_cookie(&self, sid: &str) -> Option<String> {
        let name = self.cookie.as_ref()?;
        Some(format!("{name}={sid}; Path=/; HttpOnly; SameSite=Lax"))
    }
}

/// Checks the keys of this module: a cookie name must be an RFC 6265 token.
pub fn validate(e: &EngineSettings) -> Result<(), ConfigError> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !e.cookie.chars().all(token) {
        return Err(ConfigError::Invalid {
            key: "engine.cookie",
            value: format!("{:?}", e.cookie),
            allowed: "\"\" (no cookie) or a cookie name: letters, digits and !#$%&'*+-.^_`|~",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_serialized_as_node_does() {
        let options = TransportOptions {
            cookie: Some("io".into()),
            ..TransportOptions::default()
        };
        assert_eq!(
            options.set_cookie("abc").as_deref(),
            Some("io=abc; Path=/; HttpOnly; SameSite=Lax")
        );
        assert_eq!(TransportOptions::default().set_cookie("abc"), None);
    }
}
