//! API keys: every request under `/api` presents one, as `Authorization: Bearer <key>` or
//! `X-API-Key: <key>`, or gets 401 `UNAUTHORIZED`. Keys are compared as SHA-256 digests in
//! constant time, against every configured key, so neither the length nor the first wrong
//! byte of a guess shows in the answer's timing.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web;
use sha2::{Digest, Sha256};

use super::v1::ApiState;
use super::ApiError;

/// The keys that open the API.
#[derive(Debug, Clone)]
pub struct KeyRing {
    digests: Vec<[u8; 32]>,
    insecure: bool,
}

impl KeyRing {
    /// The ring of `keys`; `insecure` opens the API without any.
    pub fn new(keys: &[String], insecure: bool) -> Self {
        KeyRing {
            digests: keys.iter().map(|k| digest(k.as_bytes())).collect(),
            insecure,
        }
    }

    /// Whether `presented` opens the API; the error says what to do.
    pub fn check(&self, presented: Option<&str>) -> Result<(), ApiError> {
        if self.insecure {
            return Ok(());
        }
        if self.digests.is_empty() {
            return Err(ApiError::unauthorized(
                "the HTTP API has no keys configured: set api.keys (or api.insecure = true for development)",
            ));
        }
        let Some(presented) = presented else {
            return Err(ApiError::unauthorized(
                "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`",
            ));
        };
        let presented = digest(presented.as_bytes());
        let matched = self
            .digests
            .iter()
            .fold(false, |any, key| any | constant_time_eq(key, &presented));
        if matched {
            Ok(())
        } else {
            Err(ApiError::unauthorized("the API key is not valid"))
        }
    }
}

pub(super) fn digest(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub(super) fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The key a request presents: a Bearer token, else the `X-API-Key` header.
pub(super) fn presented_key(req: &ServiceRequest) -> Option<&str> {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    bearer.or_else(|| {
        req.headers()
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    })
}

/// The middleware of the `/api` scope: refuses a request without a valid key.
pub async fn require_key(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<ApiState>>() else {
        return Err(ApiError::unavailable("the HTTP API is not configured on this server").into());
    };
    state.keys.check(presented_key(&req))?;
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_open_the_api_and_nothing_else_does() {
        let ring = KeyRing::new(&["alpha".into(), "beta".into()], false);
        assert!(ring.check(Some("alpha")).is_ok());
        assert!(ring.check(Some("beta")).is_ok());
        for bad in [Some("alph"), Some("alphaa"), Some(""), None] {
            let err = ring.check(bad).unwrap_err();
            assert_eq!((err.status, err.code), (401, "UNAUTHORIZED"), "{bad:?}");
        }
    }

    #[test]
    fn no_keys_means_closed_unless_insecure() {
        let closed = KeyRing::new(&[], false);
        let err = closed.check(Some("anything")).unwrap_err();
        assert!(err.message.contains("api.keys"), "{err}");
        assert!(KeyRing::new(&[], true).check(None).is_ok());
    }
}
