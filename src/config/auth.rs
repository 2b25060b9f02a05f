//! `[auth]`: the keys tokens are checked with (an HMAC secret, a PEM public key, a JWKS
//! URL), the claims required of them, and how often the JWKS may be fetched; with their
//! validation at start-up.

use jsonwebtoken::DecodingKey;
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Fewest bytes an HMAC secret may have (the output size of SHA-256: a shorter secret
/// can be guessed offline from any one token).
pub const MIN_SECRET_BYTES: usize = 32;

/// Why `[auth]` cannot be used (reported at start-up).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

/// The RSA or EC public key of a PEM file.
pub fn read_public_key(path: &str) -> Result<DecodingKey, KeyError> {
    let pem = std::fs::read(path).map_err(|e| KeyError(format!("cannot read {path}: {e}")))?;
    DecodingKey::from_rsa_pem(&pem)
        .or_else(|_| DecodingKey::from_ec_pem(&pem))
        .map_err(|_| KeyError(format!("{path} holds no RSA or EC public key in PEM form")))
}

/// `[auth]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a table of keys", deny_unknown_fields, default)]
pub struct AuthSettings {
    /// HMAC secret (`HS256`/`HS384`/`HS512` tokens), at least 32 bytes; empty = none.
    pub jwt_secret: String,
    /// Required `iss`, or empty.
    pub jwt_issuer: String,
    /// Required `aud`, or empty.
    pub jwt_audience: String,
    /// Path of a PEM file with an RSA or EC public key (`RS*`/`PS*`/`ES*` tokens); empty =
    /// none.
    pub jwt_public_key: String,
    /// `http(s)://` URL of a JSON Web Key Set; tokens name their key by `kid`. Empty = none.
    pub jwks_url: String,
    /// Least seconds between two fetches of the JWKS, however many unknown `kid`s arrive.
    pub jwks_refresh_min_s: u64,
    /// Seconds a fetched JWKS is used before it is fetched again (on next use).
    pub jwks_cache_ttl_s: u64,
    /// Milliseconds a JWKS fetch may take.
    pub jwks_timeout_ms: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            jwt_secret: String::new(),
            jwt_issuer: String::new(),
            jwt_audience: String::new(),
            jwt_public_key: String::new(),
            jwks_url: String::new(),
            jwks_refresh_min_s: 30,
            jwks_cache_ttl_s: 3600,
            jwks_timeout_ms: 5000,
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

/// Whether `url` is `http://` or `https://` with a host.
pub(super) fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let host = rest.and_then(|r| r.split(['/', '?']).next()).unwrap_or("");
    !host.is_empty() && !url.contains(char::is_whitespace)
}

impl AuthSettings {
    /// Whether any key is configured (so tokens can be checked at all).
    pub fn has_key(&self) -> bool {
        !(self.jwt_secret.is_empty() && self.jwt_public_key.is_empty() && self.jwks_url.is_empty())
    }

    /// Checks the section: the secret's length, the public key file, the JWKS URL and
    /// timings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let secret = self.jwt_secret.len();
        if secret > 0 && secret < MIN_SECRET_BYTES {
            // The value itself is a secret: only its length is shown.
            return invalid(
                "auth.jwt_secret",
                format!("a secret of {secret} bytes"),
                "empty (no HMAC tokens) or at least 32 bytes, such as the output of `openssl rand -hex 32`",
            );
        }
        if !self.jwt_public_key.is_empty() {
            if let Err(e) = read_public_key(&self.jwt_public_key) {
                return invalid(
                    "auth.jwt_public_key",
                    format!("{:?} ({e})", self.jwt_public_key),
                    "empty or the path of a PEM file with an RSA or EC (P-256, P-384) public key",
                );
            }
        }
        if !self.jwks_url.is_empty() && !is_http_url(&self.jwks_url) {
            return invalid(
                "auth.jwks_url",
                format!("{:?}", self.jwks_url),
                "empty or an http:// or https:// URL such as \"https://issuer.example/.well-known/jwks.json\"",
            );
        }
        if self.jwks_refresh_min_s == 0 {
            return invalid(
                "auth.jwks_refresh_min_s",
                "0".into(),
                "a number of seconds above 0 (else each unknown kid would fetch the JWKS)",
            );
        }
        if self.jwks_cache_ttl_s == 0 || self.jwks_timeout_ms == 0 {
            return invalid(
                "auth.jwks_cache_ttl_s/jwks_timeout_ms",
                format!("{}/{}", self.jwks_cache_ttl_s, self.jwks_timeout_ms),
                "numbers above 0",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let overrides: Vec<(&str, String)> =
            pairs.iter().map(|(k, v)| (*k, v.to_string())).collect();
        Settings::load(None, &overrides)
    }

    #[test]
    fn the_defaults_match_the_embedded_file() {
        assert_eq!(load(&[]).unwrap().auth, AuthSettings::default());
    }

    #[test]
    fn a_short_secret_stops_start_up_without_showing_it() {
        let err = load(&[("auth.jwt_secret", "s3cret")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "configuration key `auth.jwt_secret` = a secret of 6 bytes: empty (no HMAC tokens) or at least 32 bytes, such as the output of `openssl rand -hex 32` (set by the command line)"
        );
        assert!(!err.contains("s3cret"));
        let long = "x".repeat(32);
        assert_eq!(
            load(&[("auth.jwt_secret", &long)]).unwrap().auth.jwt_secret,
            long
        );
    }

    #[test]
    fn a_public_key_file_must_hold_a_public_key() {
        assert!(read_public_key(&format!("{FIXTURES}/rs256.pub.pem")).is_ok());
        assert!(read_public_key(&format!("{FIXTURES}/es256.pub.pem")).is_ok());
        let missing = read_public_key("/nonexistent.pem").unwrap_err();
        assert!(
            missing.0.contains("cannot read /nonexistent.pem"),
            "{missing}"
        );
        let cert = read_public_key(&format!("{FIXTURES}/jwks.json")).unwrap_err();
        assert!(cert.0.contains("no RSA or EC public key"), "{cert}");
    }

    #[test]
    fn public_keys_and_jwks_urls_are_checked() {
        let rsa = format!("{FIXTURES}/rs256.pub.pem");
        assert!(load(&[("auth.jwt_public_key", &rsa)]).is_ok());
        let err = load(&[("auth.jwt_public_key", "/nonexistent.pem")]).unwrap_err();
        assert!(err.to_string().contains("`auth.jwt_public_key`"), "{err}");
        let cert = format!("{FIXTURES}/jwks.json");
        let err = load(&[("auth.jwt_public_key", &cert)]).unwrap_err();
        assert!(err.to_string().contains("no RSA or EC public key"), "{err}");
        assert!(load(&[("auth.jwks_url", "https://issuer.test/jwks.json")]).is_ok());
        assert!(load(&[("auth.jwks_url", "http://127.0.0.1:9/keys")]).is_ok());
        let err = load(&[("auth.jwks_url", "ftp://issuer/jwks")]).unwrap_err();
        assert!(err.to_string().contains("`auth.jwks_url`"), "{err}");
        let err = load(&[
            ("auth.jwks_url", "https://issuer.test/jwks.json"),
            ("auth.jwks_refresh_min_s", "0"),
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains("`auth.jwks_refresh_min_s`"),
            "{err}"
        );
    }
}
