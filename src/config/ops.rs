//! The operational sections of the configuration: connection limits, the backend webhook,
//! the shutdown grace period, who may read `/metrics`, the admin credentials and the
//! cluster adapter, with their
//! validation (one line naming the key, the value and what is allowed) and masking.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// `[limits]`: what one server and one client address may open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a table of keys", deny_unknown_fields, default)]
pub struct LimitsSettings {
    /// Most Engine.IO sessions open at once; 0 = no limit. A handshake over it gets 503.
    pub max_connections: usize,
    /// New sessions per second one client address may open (a token bucket); 0 = no limit.
    /// A handshake over it gets 429.
    pub ip_connections_per_s: u32,
    /// How many handshakes one address may make in a burst above that rate.
    pub ip_connection_burst: u32,
    /// Most Engine.IO sessions one client address may hold open at once; 0 = no limit. A
    /// handshake over it gets 429.
    pub max_connections_per_ip: usize,
    /// Most rooms one socket may be in (its user room included); a join over it is refused
    /// with `RATE_LIMIT_EXCEEDED`.
    pub max_rooms_per_socket: usize,
    /// Most namespaces one connection may join (or be joining) at once; a CONNECT over it
    /// gets a CONNECT_ERROR.
    pub max_namespaces_per_connection: usize,
    /// Longest namespace name a CONNECT may carry, in bytes; a longer one closes the
    /// connection before any pattern is tried.
    pub max_namespace_name_bytes: usize,
}

impl Default for LimitsSettings {
    fn default() -> Self {
        LimitsSettings {
            max_connections: 0,
            ip_connections_per_s: 0,
            ip_connection_burst: 20,
            max_connections_per_ip: 0,
            max_rooms_per_socket: 1000,
            max_namespaces_per_connection: 32,
            max_namespace_name_bytes: 256,
        }
    }
}

impl LimitsSettings {
    /// The per-socket bounds must be above 0 (a socket that may join nothing is useless).
    pub(super) fn validate_socket_bounds(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("limits.max_rooms_per_socket", self.max_rooms_per_socket),
            (
                "limits.max_namespaces_per_connection",
                self.max_namespaces_per_connection,
            ),
            (
                "limits.max_namespace_name_bytes",
                self.max_namespace_name_bytes,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    key,
                    value: "0".into(),
                    allowed: "a number above 0",
                });
            }
        }
        Ok(())
    }
}

/// `[webhook]`: the backend that `request` events and `forward`ed events are POSTed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a table of keys", deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// `http(s)://host:port/path`; empty = no backend (`request` answers
    /// `BACKEND_UNAVAILABLE`).
    pub url: String,
    /// Milliseconds to wait for the backend's answer (`TIMEOUT` after that).
    pub timeout_ms: u64,
    /// Most calls waiting for the backend at once; more are refused at once with
    /// `BACKEND_UNAVAILABLE`.
    pub max_concurrency: usize,
    /// When set, each call carries `X-Siohub-Signature: sha256=<hex HMAC of the body>`.
    pub secret: String,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            url: String::new(),
            timeout_ms: 5000,
            max_concurrency: 256,
            secret: String::new(),
        }
    }
}

/// `[http_client]`: the hub's outgoing HTTP client (the webhook and the JWKS fetch).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a table of keys", deny_unknown_fields, default)]
pub struct HttpClientSettings {
    /// A PEM file of CA certificates trusted for `https://` besides the webpki (Mozilla)
    /// roots, for backends with a private CA; empty = the webpki roots only.
    pub ca_file: String,
}

impl HttpClientSettings {
    /// Checks that the CA file, when given, holds certificates.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.ca_file.is_empty() {
            return Ok(());
        }
        match crate::http_client::read_ca_file(&self.ca_file) {
            Ok(_) => Ok(()),
            Err(e) => invalid(
                "http_client.ca_file",
                e.to_string(),
                "empty or the path of a PEM file of CA certificates",
            ),
        }
    }
}

/// `[shutdown]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a table of keys", deny_unknown_fields, default)]
pub struct ShutdownSettings {
    /// Seconds a SIGTERM/SIGINT drain may take before the process exits anyway.
    pub grace_s: u64,
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        ShutdownSettings { grace_s: 10 }
    }
}

/// `[metrics]`: who may read `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(expecting = "a table of keys", deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// Whether `/metrics` needs an operator (an `[api] keys` key or the `[admin]` login, as
    /// `/connections`); off, anyone who can reach the port may scrape it.
    pub require_auth: bool,
}

/// `[admin]`: who may use the `/admin` namespace and the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a table of keys", deny_unknown_fields, default)]
pub struct AdminSettings {
    /// The basic-auth user name.
    pub username: String,
    /// The bcrypt hash of the password (`$2b$12$…`); empty = admin access disabled.
    pub password_hash: String,
    /// Whether admins may only watch (no emit, join, leave or disconnect).
    pub read_only: bool,
    /// The most admin logins that may wait for their (slow, one at a time) bcrypt check;
    /// more are refused at once.
    pub max_pending_logins: usize,
}

impl Default for AdminSettings {
    fn default() -> Self {
        AdminSettings {
            username: "admin".into(),
            password_hash: String::new(),
            read_only: false,
            max_pending_logins: 8,
        }
    }
}

/// `[adapter]`: how nodes share broadcasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a table of keys", deny_unknown_fields, default)]
pub struct AdapterSettings {
    /// `memory` (one node) or `redis` (nodes sharing one Redis).
    pub kind: String,
    /// `redis://[user:password@]host:port[/db]` (or `rediss://`).
    pub redis_url: String,
    /// The channel prefix (`socket.io` is what `@socket.io/redis-adapter` uses).
    pub key_prefix: String,
    /// Writes for the Redis recovery store (events, socket records) queued at most; one
    /// more is dropped, counted.
    pub recovery_queue: usize,
    /// Events kept per namespace stream at most (approximately: MAXLEN ~), whatever the
    /// recovery window.
    pub recovery_stream_max_events: usize,
    /// How long a recovering client waits for Redis before it gets a fresh socket (also
    /// the store's connection and response timeout).
    pub recovery_read_timeout_ms: u64,
    /// How long a request to the other nodes waits for their answers, in milliseconds.
    pub request_timeout_ms: u64,
    /// Broadcasts queued for Redis at most; more are dropped and counted.
    pub max_queued: usize,
    /// The largest message taken from Redis; larger ones are dropped and counted.
    pub max_message_bytes: usize,
    /// Requests to the other nodes waiting at once at most (more answer with this node
    /// only), and as many broadcasts with acks from other nodes waited for at once.
    pub max_pending_requests: usize,
    /// How long joins of rooms with `buffer = "always"` wait at most for the room
    /// histories a (re)subscription loads from Redis.
    pub history_read_timeout_ms: u64,
    /// Rooms with `buffer = "always"` whose history Redis keeps per namespace at most (the
    /// least recently written go first), and a load reads.
    pub history_max_rooms: usize,
}

impl Default for AdapterSettings {
    fn default() -> Self {
        AdapterSettings {
            kind: "memory".into(),
            redis_url: "redis://127.0.0.1:6379".into(),
            key_prefix: "socket.io".into(),
            recovery_queue: 65_536,
            recovery_stream_max_events: 10_000,
            recovery_read_timeout_ms: 2_000,
            request_timeout_ms: 5000,
            max_queued: 10_000,
            max_message_bytes: 4 * 1024 * 1024,
            max_pending_requests: 256,
            history_read_timeout_ms: 2_000,
            history_max_rooms: 10_000,
        }
    }
}

fn invalid(key: &'static str, value: String, allowed: &'static str) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid {
        key,
        value,
        allowed,
    })
}

/// Whether `hash` looks like a bcrypt hash: `$2a$`/`$2b$`/`$2x$`/`$2y$`, a cost of 04 to
/// 31, `$`, then 53 characters of bcrypt's base64.
pub fn is_bcrypt_hash(hash: &str) -> bool {
    let bytes = hash.as_bytes();
    if bytes.len() != 60 || !hash.starts_with("$2") || bytes[3] != b'$' || bytes[6] != b'$' {
        return false;
    }
    let variant_ok = matches!(bytes[2], b'a' | b'b' | b'x' | b'y');
    let cost_ok = hash[4..6]
        .parse::<u32>()
        .is_ok_and(|c| (4..=31).contains(&c));
    let rest_ok = bytes[7..]
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'/');
    variant_ok && cost_ok && rest_ok
}

impl LimitsSettings {
    /// Checks the limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.ip_connections_per_s > 0 && self.ip_connection_burst == 0 {
            return invalid(
                "limits.ip_connection_burst",
                "0".into(),
                "a number above 0 when limits.ip_connections_per_s is set (0 would refuse every handshake)",
            );
        }
        Ok(())
    }
}

impl WebhookSettings {
    /// Checks the webhook section.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.url.is_empty() && !super::auth::is_http_url(&self.url) {
            return invalid(
                "webhook.url",
                format!("{:?}", self.url),
                "empty (no backend) or an http:// or https:// URL such as \"https://backend.internal/siohub\" (a private CA goes in [http_client] ca_file)",
            );
        }
        if self.timeout_ms == 0 {
            return invalid(
                "webhook.timeout_ms",
                "0".into(),
                "a number of milliseconds above 0",
            );
        }
        if self.max_concurrency == 0 {
            return invalid(
                "webhook.max_concurrency",
                "0".into(),
                "a number of concurrent calls above 0",
            );
        }
        Ok(())
    }
}

impl ShutdownSettings {
    /// Checks the grace period.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.grace_s == 0 || self.grace_s > 3600 {
            return invalid(
                "shutdown.grace_s",
                self.grace_s.to_string(),
                "a number of seconds from 1 to 3600",
            );
        }
        Ok(())
    }
}

impl AdminSettings {
    /// Checks the admin credentials.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.password_hash.is_empty() && !is_bcrypt_hash(&self.password_hash) {
            return invalid(
                "admin.password_hash",
                "(not shown)".into(),
                "empty (admin disabled) or a bcrypt hash such as \"$2b$12$\" followed by 53 characters (make one with `htpasswd -nbBC 12 admin PASSWORD`)",
            );
        }
        if self.max_pending_logins == 0 {
            return invalid(
                "admin.max_pending_logins",
                "0".into(),
                "at least 1 (logins waiting for their bcrypt check)",
            );
        }
        if self.username.is_empty() || self.username.contains(':') {
            return invalid(
                "admin.username",
                format!("{:?}", self.username),
                "a non-empty name without ':'",
            );
        }
        Ok(())
    }
}

impl AdapterSettings {
    /// Checks the adapter section.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.kind.as_str() {
            "memory" => Ok(()),
            "redis" => {
                let url = &self.redis_url;
                let rest = url
                    .strip_prefix("redis://")
                    .or_else(|| url.strip_prefix("rediss://"));
                let has_host = matches!(rest, Some(r) if !r.is_empty() && !r.starts_with('/'));
                if !has_host {
                    return invalid(
                        "adapter.redis_url",
                        format!("{url:?}"),
                        "a redis:// or rediss:// URL with a host, such as \"redis://127.0.0.1:6379\"",
                    );
                }
                if self.key_prefix.is_empty() || self.key_prefix.contains('#') {
                    return invalid(
                        "adapter.key_prefix",
                        format!("{:?}", self.key_prefix),
                        "a non-empty prefix without '#', such as \"socket.io\"",
                    );
                }
                if self.request_timeout_ms == 0 {
                    return invalid("adapter.request_timeout_ms", "0".into(), "at least 1");
                }
                if self.max_queued == 0 {
                    return invalid("adapter.max_queued", "0".into(), "at least 1");
                }
                if self.max_message_bytes < 1024 {
                    let value = self.max_message_bytes.to_string();
                    return invalid("adapter.max_message_bytes", value, "at least 1024");
                }
                if self.max_pending_requests == 0 {
                    return invalid("adapter.max_pending_requests", "0".into(), "at least 1");
                }
                self.validate_recovery()
            }
            other => invalid("adapter.kind", other.to_owned(), "memory or redis"),
        }
    }

    fn validate_recovery(&self) -> Result<(), ConfigError> {
        if !(1..=10_000_000).contains(&self.recovery_queue) {
            let value = self.recovery_queue.to_string();
            return invalid("adapter.recovery_queue", value, "1 to 10000000");
        }
        if !(1..=1_000_000).contains(&self.recovery_stream_max_events) {
            let value = self.recovery_stream_max_events.to_string();
            return invalid("adapter.recovery_stream_max_events", value, "1 to 1000000");
        }
        if !(10..=60_000).contains(&self.recovery_read_timeout_ms) {
            let value = self.recovery_read_timeout_ms.to_string();
            return invalid("adapter.recovery_read_timeout_ms", value, "10 to 60000");
        }
        if !(10..=60_000).contains(&self.history_read_timeout_ms) {
            let value = self.history_read_timeout_ms.to_string();
            return invalid("adapter.history_read_timeout_ms", value, "10 to 60000");
        }
        if !(1..=1_000_000).contains(&self.history_max_rooms) {
            let value = self.history_max_rooms.to_string();
            return invalid("adapter.history_max_rooms", value, "1 to 1000000");
        }
        Ok(())
    }

    /// The URL with its password replaced by `***`.
    pub fn masked_url(&self) -> String {
        let Some((scheme, rest)) = self.redis_url.split_once("://") else {
            return self.redis_url.clone();
        };
        match rest.split_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split_once(':').map_or("", |(u, _)| u);
                format!("{scheme}://{user}:***@{host}")
            }
            None => self.redis_url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";

    #[test]
    fn bcrypt_hashes_are_recognised() {
        assert!(is_bcrypt_hash(HASH));
        assert!(!is_bcrypt_hash("secret"));
        assert!(!is_bcrypt_hash(&HASH.replace("$12$", "$99$")));
        assert!(!is_bcrypt_hash(&HASH.replace("$2b$", "$3b$")));
        assert!(!is_bcrypt_hash(&HASH[..59]));
    }

    #[test]
    fn redis_passwords_are_masked() {
        let adapter = AdapterSettings {
            redis_url: "redis://user:pw@host:6379/0".into(),
            ..AdapterSettings::default()
        };
        assert_eq!(adapter.masked_url(), "redis://user:***@host:6379/0");
        assert_eq!(
            AdapterSettings::default().masked_url(),
            "redis://127.0.0.1:6379"
        );
    }

    #[test]
    fn webhook_urls_are_checked() {
        let ok = |url: &str| {
            WebhookSettings {
                url: url.into(),
                ..WebhookSettings::default()
            }
            .validate()
            .is_ok()
        };
        assert!(ok(""));
        assert!(ok("http://127.0.0.1:8080/hook"));
        assert!(ok("http://backend"));
        assert!(
            ok("https://backend/hook"),
            "https backends are reached over TLS"
        );
        assert!(!ok("ftp://backend/hook"));
        assert!(!ok("https:///hook"));
        assert!(!ok("http:///hook"));
        assert!(!ok("backend:8080"));
    }
}
