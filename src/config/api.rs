//! `[api]`: the backend HTTP API under `/api` — the keys that guard it, the body limit, the
//! ack timeouts of `POST /api/v1/emit`, and the bounds of the SSE subscribe stream.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// `[api]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a table of keys", deny_unknown_fields)]
pub struct ApiSettings {
    /// Keys a request may present (`Authorization: Bearer <key>` or `X-API-Key: <key>`).
    /// Empty = every `/api` request is refused with 401, unless `insecure` is set.
    pub keys: Vec<String>,
    /// Serve `/api` without keys (development only; off by default).
    pub insecure: bool,
    /// Largest request body, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// How long `emit` with `ack: true` waits when the request gives no `timeout_ms`.
    pub ack_timeout_ms: u64,
    /// The largest `timeout_ms` a request may ask for.
    pub max_ack_timeout_ms: u64,
    /// Events queued for one SSE subscriber that reads slowly; one more cuts it off.
    pub sse_queue: usize,
    /// Seconds between keep-alive comments on an idle SSE stream.
    pub sse_keepalive_s: u64,
    /// Most SSE subscribers at once (503 above it).
    pub sse_max_subscribers: usize,
}

impl Default for ApiSettings {
    /// The values of `config/default.toml`.
    fn default() -> Self {
        ApiSettings {
            keys: Vec::new(),
            insecure: false,
            max_body_bytes: 1_048_576,
            ack_timeout_ms: 5_000,
            max_ack_timeout_ms: 60_000,
            sse_queue: 1024,
            sse_keepalive_s: 15,
            sse_max_subscribers: 1000,
        }
    }
}

impl ApiSettings {
    /// Checks every value (called by `Settings::validate`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, value: String, allowed| {
            Err(ConfigError::Invalid {
                key,
                value,
                allowed,
            })
        };
        if let Some(bad) = self
            .keys
            .iter()
            .find(|k| k.is_empty() || k.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            let shown = if bad.is_empty() { "\"\"" } else { "a key" };
            return invalid(
                "api.keys",
                format!("{shown} with whitespace or nothing in it"),
                "non-empty keys without spaces or control characters (they travel in headers)",
            );
        }
        for (key, value) in [
            ("api.max_body_bytes", self.max_body_bytes as u64),
            ("api.ack_timeout_ms", self.ack_timeout_ms),
            ("api.max_ack_timeout_ms", self.max_ack_timeout_ms),
            ("api.sse_queue", self.sse_queue as u64),
            ("api.sse_keepalive_s", self.sse_keepalive_s),
            ("api.sse_max_subscribers", self.sse_max_subscribers as u64),
        ] {
            if value == 0 {
                return invalid(key, "0".into(), "a number above 0");
            }
        }
        if self.ack_timeout_ms > self.max_ack_timeout_ms {
            return invalid(
                "api.ack_timeout_ms",
                format!(
                    "{} (above api.max_ack_timeout_ms = {})",
                    self.ack_timeout_ms, self.max_ack_timeout_ms
                ),
                "at most api.max_ack_timeout_ms",
            );
        }
        Ok(())
    }

    /// Replaces every key by `***`.
    pub fn mask(&mut self) {
        for key in &mut self.keys {
            *key = "***".into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Settings;
    use super::*;

    #[test]
    fn defaults_match_the_embedded_file() {
        assert_eq!(Settings::default().api, ApiSettings::default());
    }

    #[test]
    fn keys_are_a_list_and_are_masked() {
        let s = Settings::load(None, &[("api.keys", "k1, k2".into())]).unwrap();
        assert_eq!(s.api.keys, vec!["k1".to_string(), "k2".to_string()]);
        assert_eq!(
            s.masked().api.keys,
            vec!["***".to_string(), "***".to_string()]
        );
        let printed = serde_json::to_string(&s.masked()).unwrap();
        assert!(
            !printed.contains("k1") && !printed.contains("k2"),
            "{printed}"
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        for (key, value) in [
            ("api.max_body_bytes", "0"),
            ("api.keys", "good,has space"),
            ("api.sse_queue", "0"),
            ("api.ack_timeout_ms", "120000"),
        ] {
            let err = Settings::load(None, &[(key, value.into())]).unwrap_err();
            assert!(err.to_string().contains(key), "{key}: {err}");
        }
    }
}
