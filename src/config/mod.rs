//! The hub's configuration: embedded defaults (`config/default.toml`), then a `--config`
//! file, then `SOCKETIO_` environment variables, then CLI flags; later layers win.

mod api;
mod auth;
mod namespaces;
mod ops;
mod origin;
mod subscriptions;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use siohub_actors::{DeliveryPolicies, DeliveryPolicy, EngineConfig, SlowConsumerAction};
use siohub_protocol::Parser;
use thiserror::Error;

use origin::Origins;

pub use api::ApiSettings;
pub use auth::{read_public_key, AuthSettings, KeyError, MIN_SECRET_BYTES};
pub use namespaces::{
    glob_matches, BufferName, NamespacePolicy, PublishRefusal, RateLimit, RoomAccess, RoomRule,
    BUILTIN_EVENTS,
};
pub use ops::{
    is_bcrypt_hash, AdapterSettings, AdminSettings, HttpClientSettings, LimitsSettings,
    MetricsSettings, ShutdownSettings, WebhookSettings,
};
pub use subscriptions::SubscriptionSettings;

/// The defaults, compiled in.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Keys whose value is a list; given as text (environment, CLI) they are comma-separated.
const LIST_KEYS: [&str; 3] = ["cors.origins", "engine.transports", "api.keys"];

fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Everything the hub can be told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a table of keys", deny_unknown_fields)]
pub struct Settings {
    /// Listening address, path and workers.
    pub server: ServerSettings,
    /// Cross-origin requests.
    pub cors: CorsSettings,
    /// Engine.IO timings and limits.
    pub engine: EngineSettings,
    /// Each session's outgoing buffer and what happens when it is full.
    pub outgoing: OutgoingSettings,
    /// What a websocket may read ahead of its session.
    pub incoming: IncomingSettings,
    /// Namespace policies; a namespace not listed (by name or pattern) is refused.
    pub namespaces: Vec<NamespacePolicy>,
    /// Token verification.
    pub auth: AuthSettings,
    /// Log level and format.
    pub logging: LoggingSettings,
    /// Connection limits.
    #[serde(default)]
    pub limits: LimitsSettings,
    /// The backend webhook.
    #[serde(default)]
    pub webhook: WebhookSettings,
    /// The drain on SIGTERM.
    #[serde(default)]
    pub shutdown: ShutdownSettings,
    /// Who may read `/metrics`.
    #[serde(default)]
    pub metrics: MetricsSettings,
    /// Admin credentials.
    #[serde(default)]
    pub admin: AdminSettings,
    /// The cluster adapter.
    #[serde(default)]
    pub adapter: AdapterSettings,
    /// The backend HTTP API (`/api`): keys and limits.
    #[serde(default)]
    pub api: ApiSettings,
    /// The hub's outgoing HTTP client (webhook, JWKS): extra trusted CAs.
    #[serde(default)]
    pub http_client: HttpClientSettings,
    /// Durable subscriptions: where the rooms users joined are kept.
    #[serde(default)]
    pub subscriptions: SubscriptionSettings,
}

/// `[server]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a table of keys", deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to bind.
    pub host: String,
    /// Port to bind (0 picks a free one).
    pub port: u16,
    /// Endpoint path, with leading and trailing `/`.
    pub path: String,
    /// Worker threads; 0 = one per core.
    pub workers: usize,
    /// The Socket.IO parser: `json` (socket.io-parser) or `msgpack` (socket.io-msgpack-parser).
    pub parser: String,
}

/// `[cors]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a table of keys", deny_unknown_fields)]
pub struct CorsSettings {
    /// `[]` = off, `["*"]` = any origin, else the allowed origins.
    pub origins: Vec<String>,
    /// Whether credentials are allowed (the exact origin is echoed).
    pub credentials: bool,
}

/// `[engine]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a table of keys", deny_unknown_fields)]
pub struct EngineSettings {
    /// Milliseconds between pings.
    pub ping_interval_ms: u64,
    /// Milliseconds to wait for a pong.
    pub ping_timeout_ms: u64,
    /// Milliseconds allowed for an upgrade.
    pub upgrade_timeout_ms: u64,
    /// Largest body or message, in bytes.
    pub max_payload: usize,
    /// Milliseconds to join a first namespace.
    pub connect_timeout_ms: u64,
    /// Most attachments per packet.
    pub max_attachments: usize,
    /// Most bytes the attachments of one packet may add up to while it waits for the rest.
    pub max_attachment_bytes: usize,
    /// Milliseconds a binary packet may wait for its attachments.
    pub attachment_timeout_ms: u64,
    /// Allowed transports.
    pub transports: Vec<String>,
    /// Whether requests naming a session must come from the handshake's IP address.
    pub bind_session_to_ip: bool,
    /// Whether Engine.IO v3 clients (socket.io-client 2.x) are accepted.
    #[serde(default)]
    pub allow_eio3: bool,
    /// Whether a polling handshake offers the upgrade to websocket.
    pub allow_upgrades: bool,
    /// The name of the sticky-session cookie set on the handshake; `""` = none.
    pub cookie: String,
    /// Whether polling responses are gzip- or deflate-compressed by `Accept-Encoding`.
    pub http_compression: bool,
    /// Smallest polling response body compressed, in bytes.
    pub http_compression_threshold: usize,
    /// Whether websockets may negotiate permessage-deflate (RFC 7692).
    pub per_message_deflate: bool,
    /// Smallest websocket message compressed, in bytes.
    pub deflate_threshold: usize,
}

/// `[outgoing]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a table of keys", deny_unknown_fields)]
pub struct OutgoingSettings {
    /// Most packets waiting to be written to one client.
    pub max_packets: usize,
    /// Most bytes waiting to be written to one client.
    pub max_bytes: usize,
    /// `disconnect` | `drop_volatile`.
    pub slow_consumer: String,
    /// Milliseconds a websocket write may make no progress before the connection is cut.
    pub write_timeout_ms: u64,
}

/// `[incoming]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a table of keys", deny_unknown_fields)]
pub struct IncomingSettings {
    /// Most websocket messages read and not yet handled by their session.
    pub max_messages: usize,
    /// Most bytes of such messages.
    pub max_bytes: usize,
}

/// `[logging]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a table of keys", deny_unknown_fields)]
pub struct LoggingSettings {
    /// `error` | `warn` | `info` | `debug` | `trace`.
    pub level: String,
    /// `text` | `json`.
    pub format: String,
    /// Most bytes of one piece of client-sent text (event, room or namespace name, user
    /// agent, webhook reply...) a log line shows; the rest is counted, not written.
    pub client_text_max_bytes: usize,
    /// Shortest time between two lines of one log site a client can trigger again and
    /// again; the lines held back are counted on the next one.
    pub warn_interval_ms: u64,
}

/// A configuration that cannot be used: names the key, the value and what is allowed.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// A file or variable could not be read or parsed.
    #[error("configuration: {0}")]
    Load(String),
    /// A value is out of its allowed range.
    #[error("configuration key `{key}` = {value}: {allowed}")]
    Invalid {
        /// The dotted key.
        key: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        allowed: &'static str,
    },
    /// A value does not fit its key (a wrong type, a value not among those allowed), or the
    /// key does not exist.
    #[error("configuration key `{key}`{}: {problem}", from_phrase(.origin))]
    Rejected {
        /// The dotted key, with indexes (`namespaces[0].buffer`).
        key: String,
        /// What is wrong, and what is allowed.
        problem: String,
        /// Where the value came from ("environment variable X", "file F", "the command
        /// line"), when not from the embedded defaults.
        origin: Option<String>,
    },
    /// An invalid value, with where it came from.
    #[error("{error} (set by {origin})")]
    Given {
        /// What is wrong with it.
        error: Box<ConfigError>,
        /// Where it came from: "environment variable X", "file F", "the command line".
        origin: String,
    },
}

fn from_phrase(origin: &Option<String>) -> String {
    origin
        .as_ref()
        .map(|origin| format!(" (set by {origin})"))
        .unwrap_or_default()
}

impl Default for Settings {
    fn default() -> Self {
        Settings::load(None, &[]).expect("the embedded defaults are valid")
    }
}

impl Settings {
    /// Reads the layers: defaults, then `file`, then the `SOCKETIO_` environment, then the
    /// `overrides` (dotted key, value; lists comma-separated) given on the command line;
    /// validates the result.
    pub fn load(file: Option<&str>, overrides: &[(&str, String)]) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder().add_source(config::File::from_str(
            DEFAULT_TOML,
            config::FileFormat::Toml,
        ));
        if let Some(path) = file {
            builder = builder.add_source(config::File::new(path, config::FileFormat::Toml));
        }
        // Only nested names (`SOCKETIO_SECTION__KEY`) go through the environment source; the
        // flat names below are mapped by hand, and anything else is not ours to read.
        let nested: std::collections::HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with(origin::ENV_PREFIX) && k.contains("__"))
            .collect();
        let mut origins = Origins::new(file, nested.keys().cloned());
        builder = builder.add_source(
            config::Environment::with_prefix("SOCKETIO")
                .source(Some(nested))
                .prefix_separator("_")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("cors.origins")
                .with_list_parse_key("engine.transports")
                .with_list_parse_key("api.keys")
                .try_parsing(true),
        );
        let mut layered: Vec<(&str, String, String)> = [
            ("SOCKETIO_HOST", "server.host"),
            ("SOCKETIO_PORT", "server.port"),
            ("SOCKETIO_CORS", "cors.origins"),
            ("SOCKETIO_LOGGER_LEVEL", "logging.level"),
        ]
        .into_iter()
        .filter_map(|(flat, key)| {
            let by = format!("environment variable {flat}");
            std::env::var(flat).ok().map(|v| (key, v, by))
        })
        .collect();
        layered.extend(
            overrides
                .iter()
                .map(|(key, value)| (*key, value.clone(), "the command line".to_owned())),
        );
        for (key, value, by) in layered {
            origins.set(key, by);
            builder = if LIST_KEYS.contains(&key) {
                builder.set_override(key, split_list(&value))
            } else {
                builder.set_override(key, value)
            }
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        }
        let config = builder
            .build()
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        let settings: Settings = config
            .clone()
            .try_deserialize()
            .map_err(|e| origins.rejected(&config, e))?;
        settings
            .validate()
            .map_err(|e| origins.locate(&config, e))?;
        Ok(settings)
    }

    /// The defaults with `toml` over them, as a configuration file (no environment, no
    /// command line), not yet validated: what the config fuzz target decodes.
    pub fn from_toml(toml: &str) -> Result<Self, ConfigError> {
        config::Config::builder()
            .add_source(config::File::from_str(
                DEFAULT_TOML,
                config::FileFormat::Toml,
            ))
            .add_source(config::File::from_str(toml, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError::Load(e.to_string()))
    }

    /// Checks every value once, at start-up.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, value: String, allowed| {
            Err(ConfigError::Invalid {
                key,
                value,
                allowed,
            })
        };
        let s = &self.server;
        // `/` and `/dashboard/…` are the hub's own pages: a transport there would be shadowed.
        let shadowed = s.path == "/" || s.path.starts_with("/dashboard/");
        if !s.path.starts_with('/') || !s.path.ends_with('/') || shadowed {
            return invalid(
                "server.path",
                format!("{:?}", s.path),
                "a path starting and ending with '/', other than \"/\" and not under \"/dashboard/\", such as \"/socket.io/\"",
            );
        }
        if Parser::from_name(&s.parser).is_none() {
            return invalid(
                "server.parser",
                format!("{:?}", s.parser),
                "\"json\" or \"msgpack\"",
            );
        }
        let e = &self.engine;
        for (key, value) in [
            ("engine.ping_interval_ms", e.ping_interval_ms),
            ("engine.ping_timeout_ms", e.ping_timeout_ms),
            ("engine.upgrade_timeout_ms", e.upgrade_timeout_ms),
            ("engine.connect_timeout_ms", e.connect_timeout_ms),
            ("engine.attachment_timeout_ms", e.attachment_timeout_ms),
        ] {
            if value == 0 {
                return invalid(key, value.to_string(), "a number of milliseconds above 0");
            }
        }
        if e.max_payload == 0 {
            return invalid(
                "engine.max_payload",
                "0".into(),
                "a number of bytes above 0",
            );
        }
        if e.max_attachment_bytes == 0 {
            return invalid(
                "engine.max_attachment_bytes",
                "0".into(),
                "a number of bytes above 0",
            );
        }
        self.limits.validate_socket_bounds()?;
        let o = &self.outgoing;
        if o.max_packets == 0 || o.max_bytes == 0 {
            return invalid(
                "outgoing.max_packets/max_bytes",
                format!("{}/{}", o.max_packets, o.max_bytes),
                "numbers above 0",
            );
        }
        if o.write_timeout_ms == 0 {
            return invalid(
                "outgoing.write_timeout_ms",
                "0".into(),
                "a number of milliseconds above 0",
            );
        }
        let i = &self.incoming;
        if i.max_messages == 0 || i.max_bytes == 0 {
            return invalid(
                "incoming.max_messages/max_bytes",
                format!("{}/{}", i.max_messages, i.max_bytes),
                "numbers above 0",
            );
        }
        if !["disconnect", "drop_volatile"].contains(&o.slow_consumer.as_str()) {
            return invalid(
                "outgoing.slow_consumer",
                o.slow_consumer.clone(),
                "disconnect or drop_volatile",
            );
        }
        self.validate_namespaces()?;
        self.auth.validate()?;
        if !self.auth.has_key() && self.namespaces.iter().any(|ns| ns.require_auth) {
            return invalid(
                "auth.jwt_secret",
                "\"\"".into(),
                "a secret, jwt_public_key or jwks_url when a namespace has require_auth = true (tokens could never be checked)",
            );
        }
        if e.transports.is_empty()
            || e.transports
                .iter()
                .any(|t| t != "polling" && t != "websocket")
        {
            return invalid(
                "engine.transports",
                format!("{:?}", e.transports),
                "a non-empty list of \"polling\" and \"websocket\"",
            );
        }
        crate::transport::options::validate(e)?;
        if !["error", "warn", "info", "debug", "trace"].contains(&self.logging.level.as_str()) {
            return invalid(
                "logging.level",
                self.logging.level.clone(),
                "one of error, warn, info, debug, trace",
            );
        }
        if !["text", "json"].contains(&self.logging.format.as_str()) {
            return invalid(
                "logging.format",
                self.logging.format.clone(),
                "text or json",
            );
        }
        if !(16..=65_536).contains(&self.logging.client_text_max_bytes) {
            return invalid(
                "logging.client_text_max_bytes",
                self.logging.client_text_max_bytes.to_string(),
                "16 to 65536 bytes",
            );
        }
        self.limits.validate()?;
        self.webhook.validate()?;
        self.http_client.validate()?;
        if self.webhook.url.is_empty() && self.namespaces.iter().any(|ns| !ns.forward.is_empty()) {
            return invalid(
                "webhook.url",
                "\"\"".into(),
                "an http:// URL when a namespace forwards events (forward = [..])",
            );
        }
        self.shutdown.validate()?;
        self.admin.validate()?;
        self.adapter.validate()?;
        self.api.validate()?;
        self.subscriptions
            .validate(self.limits.max_rooms_per_socket)?;
        if self.cors.credentials && self.cors.origins.iter().any(|o| o == "*") {
            return invalid(
                "cors.origins",
                "[\"*\"] with cors.credentials = true".into(),
                "explicit origins when credentials are allowed (browsers refuse \"*\" with credentials)",
            );
        }
        Ok(())
    }

    fn validate_namespaces(&self) -> Result<(), ConfigError> {
        let invalid = |key, value: String, allowed| {
            Err(ConfigError::Invalid {
                key,
                value,
                allowed,
            })
        };
        let mut seen = std::collections::HashSet::new();
        for ns in &self.namespaces {
            if !ns.name.starts_with('/') {
                return invalid(
                    "namespaces.name",
                    format!("{:?}", ns.name),
                    "a namespace starting with '/', such as \"/\" or \"/tenant-{id}\"",
                );
            }
            if !seen.insert(ns.name.as_str()) {
                return invalid(
                    "namespaces.name",
                    format!("{:?}", ns.name),
                    "each namespace listed once",
                );
            }
            if ns.buffer != BufferName::Drop && (ns.buffer_size == 0 || ns.buffer_ttl_s == 0) {
                return invalid(
                    "namespaces.buffer_size/buffer_ttl_s",
                    format!("{}/{} for {}", ns.buffer_size, ns.buffer_ttl_s, ns.name),
                    "numbers above 0 when buffer is if_no_clients or always",
                );
            }
            let bounds = [
                (
                    "namespaces.max_buffer_bytes",
                    ns.max_buffer_bytes,
                    "a number of bytes above 0",
                ),
                (
                    "namespaces.recovery_max_bytes",
                    ns.recovery_max_bytes,
                    "a number of bytes above 0",
                ),
                (
                    "namespaces.dedupe_max_ids",
                    ns.dedupe_max_ids,
                    "a number of ids above 0",
                ),
            ];
            if let Some((key, _, allowed)) = bounds.into_iter().find(|(_, value, _)| *value == 0) {
                return invalid(key, format!("0 for {}", ns.name), allowed);
            }
            if ns.max_event_bytes == 0 {
                return invalid(
                    "namespaces.max_event_bytes",
                    format!("0 for {}", ns.name),
                    "a number of bytes above 0",
                );
            }
            if !(10..=60_000).contains(&ns.presence_batch_ms) {
                return invalid(
                    "namespaces.presence_batch_ms",
                    format!("{} for {}", ns.presence_batch_ms, ns.name),
                    "a number of milliseconds from 10 to 60000",
                );
            }
            if !(1..=10_000).contains(&ns.presence_batch_max) {
                return invalid(
                    "namespaces.presence_batch_max",
                    format!("{} for {}", ns.presence_batch_max, ns.name),
                    "a number of members from 1 to 10000",
                );
            }
            if ns.rate_limit.per_s > 0 && ns.rate_limit.burst == 0 {
                return invalid(
                    "namespaces.rate_limit.burst",
                    format!("0 for {}", ns.name),
                    "a number of events above 0 when rate_limit.per_s is set",
                );
            }
            if let Some(event) = ns.forward.iter().find(|e| {
                e.is_empty()
                    || BUILTIN_EVENTS.contains(&e.as_str())
                    || siohub_protocol::RESERVED_EVENTS.contains(&e.as_str())
            }) {
                return invalid(
                    "namespaces.forward",
                    format!("{event:?} for {}", ns.name),
                    "event names other than the built-in ones (join, leave, publish, ping, request, fields, presence, history) and Socket.IO's reserved ones",
                );
            }
        }
        Ok(())
    }

    /// The delivery policies the broadcaster applies.
    pub fn delivery_policies(&self) -> DeliveryPolicies {
        self.namespaces.iter().fold(
            DeliveryPolicies::new(DeliveryPolicy::default()).with_parser(self.parser()),
            |policies, ns| policies.with_rule(&ns.name, ns.delivery()),
        )
    }

    /// The settings with every secret replaced by `***` (for `--print-config` and logs).
    pub fn masked(&self) -> Settings {
        let mut masked = self.clone();
        for secret in [
            &mut masked.auth.jwt_secret,
            &mut masked.webhook.secret,
            &mut masked.admin.password_hash,
        ] {
            if !secret.is_empty() {
                *secret = "***".into();
            }
        }
        masked.adapter.redis_url = self.adapter.masked_url();
        masked.api.mask();
        masked.subscriptions.postgres_url = self.subscriptions.masked_url();
        masked
    }

    /// The Socket.IO parser of `[server] parser` (JSON when the value is not one: validation
    /// refused it already).
    pub fn parser(&self) -> Parser {
        Parser::from_name(&self.server.parser).unwrap_or_default()
    }

    /// The engine settings the sessions use.
    pub fn engine_config(&self) -> EngineConfig {
        let e = &self.engine;
        EngineConfig {
            ping_interval: Duration::from_millis(e.ping_interval_ms),
            ping_timeout: Duration::from_millis(e.ping_timeout_ms),
            upgrade_timeout: Duration::from_millis(e.upgrade_timeout_ms),
            max_payload: e.max_payload,
            connect_timeout: Duration::from_millis(e.connect_timeout_ms),
            max_buffer_packets: self.outgoing.max_packets,
            max_buffer_bytes: self.outgoing.max_bytes,
            slow_consumer: if self.outgoing.slow_consumer == "drop_volatile" {
                SlowConsumerAction::DropVolatile
            } else {
                SlowConsumerAction::Disconnect
            },
            write_timeout: Duration::from_millis(self.outgoing.write_timeout_ms),
            inflight: siohub_actors::ws::InflightLimit {
                messages: self.incoming.max_messages,
                bytes: self.incoming.max_bytes,
            },
            max_attachments: e.max_attachments,
            max_attachment_bytes: e.max_attachment_bytes,
            attachment_timeout: Duration::from_millis(e.attachment_timeout_ms),
            max_rooms_per_socket: self.limits.max_rooms_per_socket,
            max_namespaces_per_connection: self.limits.max_namespaces_per_connection,
            max_namespace_name_bytes: self.limits.max_namespace_name_bytes,
            allow_polling: e.transports.iter().any(|t| t == "polling"),
            allow_websocket: e.transports.iter().any(|t| t == "websocket"),
            bind_session_to_ip: e.bind_session_to_ip,
            parser: self.parser(),
            allow_eio3: e.allow_eio3,
            allow_upgrades: e.allow_upgrades,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_match_the_engine_defaults() {
        let settings = Settings::load(None, &[]).unwrap();
        assert_eq!(settings.engine_config(), EngineConfig::default());
        assert_eq!(settings.server.port, 3000);
        assert_eq!(settings.server.path, "/socket.io/");
    }

    #[test]
    fn eio3_clients_are_off_unless_allowed() {
        let settings = Settings::load(None, &[]).unwrap();
        assert!(!settings.engine_config().allow_eio3);
        let settings = Settings::load(None, &[("engine.allow_eio3", "true".into())]).unwrap();
        assert!(settings.engine_config().allow_eio3);
    }

    #[test]
    fn overrides_win_and_bad_values_name_the_key() {
        let s = Settings::load(None, &[("server.port", "4100".into())]).unwrap();
        assert_eq!(s.server.port, 4100);
        let err = Settings::load(None, &[("engine.ping_interval_ms", "0".into())]).unwrap_err();
        assert!(err.to_string().contains("engine.ping_interval_ms"), "{err}");
        let err = Settings::load(None, &[("logging.format", "xml".into())]).unwrap_err();
        assert!(err.to_string().contains("`logging.format` = xml"), "{err}");
    }

    #[test]
    fn the_socket_io_path_cannot_shadow_the_hubs_pages() {
        for path in ["/", "/dashboard/", "/dashboard/x/"] {
            let err = Settings::load(None, &[("server.path", path.into())]).unwrap_err();
            assert!(err.to_string().contains("server.path"), "{path}: {err}");
        }
        assert!(Settings::load(None, &[("server.path", "/io/".into())]).is_ok());
    }

    #[test]
    fn namespace_defaults_match_the_file_and_bounds_must_be_above_zero() {
        let mut s = Settings::load(None, &[]).unwrap();
        assert_eq!(s.namespaces, vec![NamespacePolicy::default()]);
        assert_eq!(
            NamespacePolicy::default().delivery(),
            DeliveryPolicy::default()
        );
        s.namespaces[0].max_buffer_bytes = 0;
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("namespaces.max_buffer_bytes"), "{err}");
        s.namespaces[0].max_buffer_bytes = 1;
        s.namespaces[0].dedupe_max_ids = 0;
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("namespaces.dedupe_max_ids"), "{err}");
    }

    #[test]
    fn the_conformance_file_loads() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/conformance.toml");
        let s = Settings::load(Some(path), &[]).unwrap();
        assert_eq!(s.engine.ping_interval_ms, 300);
        assert_eq!(s.cors.origins, vec!["*".to_string()]);
    }
}
