//! The public keys of a JWKS URL (`[auth] jwks_url`), fetched on first use and cached by
//! key id (`kid`).
//!
//! The cache is refreshed when it is older than `jwks_cache_ttl_s` or when a token names a
//! `kid` it does not hold (the issuer rotated its keys) — but never twice within
//! `jwks_refresh_min_s`: a client presenting random `kid`s gets its CONNECT refused (and
//! counted as `jwks_refresh_throttled`) instead of making the hub hammer the JWKS server.
//! One fetch runs at a time; callers that arrive meanwhile wait for it and read its result.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use siohub_actors::{HubCounters, RefusalReason};

use super::{clip, TokenError};
use crate::http_client::HttpClient;

/// Largest JWKS document read, in bytes (a set of a few dozen keys is a few KiB).
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// One key of the set.
pub struct JwkKey {
    /// The verification key.
    pub key: DecodingKey,
    /// The `alg` the set pins this key to, if it names one.
    pub alg: Option<Algorithm>,
}

/// How often the set may be fetched, and how long a fetch may take.
#[derive(Debug, Clone, Copy)]
pub struct JwksTimings {
    /// Least time between two fetches.
    pub refresh_min: Duration,
    /// Age after which the cached set is fetched again on next use.
    pub cache_ttl: Duration,
    /// Longest a fetch may take.
    pub timeout: Duration,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, Arc<JwkKey>>,
    /// When the keys were last fetched successfully.
    fetched: Option<Instant>,
    /// When a fetch was last started, successful or not.
    attempted: Option<Instant>,
}

/// The JWKS of one URL, shared by every worker.
pub struct Jwks {
    url: String,
    http: HttpClient,
    timings: JwksTimings,
    cache: Mutex<Cache>,
    /// Held while a fetch runs, so that only one runs at a time.
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks").field("url", &self.url).finish()
    }
}

enum Lookup {
    /// Cached and fresh.
    Fresh(Arc<JwkKey>),
    /// Cached but older than the TTL (still usable if a refresh fails).
    Stale(Arc<JwkKey>),
    Missing,
}

impl Jwks {
    /// The set at `url`, fetched with `http` on first use.
    pub fn new(url: &str, http: HttpClient, timings: JwksTimings) -> Self {
        Jwks {
            url: url.to_owned(),
            http,
            timings,
            cache: Mutex::new(Cache::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    fn lookup(&self, kid: &str) -> Lookup {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        match cache.keys.get(kid) {
            Some(key) => {
                let fresh = cache
                    .fetched
                    .is_some_and(|at| at.elapsed() < self.timings.cache_ttl);
                if fresh {
                    Lookup::Fresh(key.clone())
                } else {
                    Lookup::Stale(key.clone())
                }
            }
            None => Lookup::Missing,
        }
    }

    /// The key `kid`, fetching the set first if it is not cached (or is too old) and the
    /// last fetch is old enough. Must run on an actix system.
    pub async fn key(&self, kid: &str, counters: &HubCounters) -> Result<Arc<JwkKey>, TokenError> {
        if let Lookup::Fresh(key) = self.lookup(kid) {
            return Ok(key);
        }
        let _one_fetch = self.fetching.lock().await;
        // Whoever held the lock before may have fetched what we need.
        let stale = match self.lookup(kid) {
            Lookup::Fresh(key) => return Ok(key),
            Lookup::Stale(key) => Some(key),
            Lookup::Missing => None,
        };
        let may_fetch = {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            let recent = cache
                .attempted
                .is_some_and(|at| at.elapsed() < self.timings.refresh_min);
            if !recent {
                cache.attempted = Some(Instant::now());
            }
            !recent
        };
        if !may_fetch {
            return match stale {
                Some(key) => Ok(key),
                None => {
                    counters.refused(RefusalReason::JwksRefreshThrottled);
                    Err(TokenError::UnknownKey(clip(kid)))
                }
            };
        }
        match self.fetch().await {
            Ok(keys) => {
                counters.jwks_fetched(true);
                log::info!("JWKS {}: {} keys", self.url, keys.len());
                let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                cache.keys = keys;
                cache.fetched = Some(Instant::now());
                cache
                    .keys
                    .get(kid)
                    .cloned()
                    .ok_or_else(|| TokenError::UnknownKey(clip(kid)))
            }
            Err(why) => {
                counters.jwks_fetched(false);
                log::warn!("JWKS {} could not be fetched: {why}", self.url);
                // A stale key is better than refusing everyone while the issuer is down.
                stale.ok_or(TokenError::KeysUnavailable)
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<JwkKey>>, String> {
        let client = self.http.client();
        let exchange = async {
            let mut response = client
                .get(&self.url)
                .timeout(self.timings.timeout)
                .insert_header(("accept", "application/json"))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !response.status().is_success() {
                return Err(format!("the server answered {}", response.status()));
            }
            response
                .body()
                .limit(MAX_JWKS_BYTES)
                .await
                .map_err(|e| e.to_string())
        };
        let body = actix_rt::time::timeout(self.timings.timeout, exchange)
            .await
            .map_err(|_| format!("no answer within {:?}", self.timings.timeout))??;
        parse_set(&body)
    }
}

/// The signing keys of a JWKS document by `kid`. Keys without a `kid`, for encryption,
/// or of a type this hub cannot use are skipped (one odd key does not void the set).
pub fn parse_set(body: &[u8]) -> Result<HashMap<String, Arc<JwkKey>>, String> {
    let document: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let Some(Value::Array(entries)) = document.get("keys") else {
        return Err("no \"keys\" array".into());
    };
    let mut keys = HashMap::new();
    for entry in entries {
        let Ok(jwk) = serde_json::from_value::<Jwk>(entry.clone()) else {
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        let alg = jwk
            .common
            .key_algorithm
            .and_then(|a| Algorithm::from_str(&a.to_string()).ok());
        keys.insert(kid, Arc::new(JwkKey { key, alg }));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_keeps_its_signing_keys_by_kid() {
        let fixture = include_bytes!("../../tests/fixtures/jwks.json");
        let keys = parse_set(fixture).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys["rsa-1"].alg, Some(Algorithm::RS256));
        assert_eq!(keys["ec-1"].alg, Some(Algorithm::ES256));
        assert_eq!(
            keys["rsa-1"].key.family(),
            jsonwebtoken::AlgorithmFamily::Rsa
        );
        let odd = br#"{"keys":[{"kty":"weird","kid":"w"},{"kty":"oct","k":"AAAA"},
            {"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"}]}"#;
        assert!(parse_set(odd).unwrap().is_empty());
        assert!(parse_set(b"[]").is_err());
        assert!(parse_set(b"<html>").is_err());
    }
}
