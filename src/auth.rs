//! Identity: HS256 JSON Web Tokens, taken from the CONNECT auth (`{"token": ..}`), an
//! `Authorization: Bearer` header or a `token` query parameter. `sub` is the user id and
//! `roles` the roles; `exp`, `nbf`, and the configured issuer and audience are checked.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use siohub_actors::HandshakeInfo;

/// Seconds of clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_S: u64 = 30;

/// Who a valid token says the client is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user id (`sub`).
    pub user: String,
    /// The roles (`roles`), possibly none.
    pub roles: Vec<String>,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts of JSON.
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// `alg` is not HS256.
    #[error("the token is signed with {0}; only HS256 is accepted")]
    Algorithm(String),
    /// The signature does not match the configured secret.
    #[error("the token's signature is invalid")]
    Signature,
    /// `exp` is in the past.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` differs from the configured issuer.
    #[error("the token's issuer is not accepted")]
    Issuer,
    /// `aud` does not contain the configured audience.
    #[error("the token's audience is not accepted")]
    Audience,
    /// No usable `sub`.
    #[error("the token has no subject (sub)")]
    Subject,
}

/// Checks tokens against one secret (and optionally an issuer and an audience).
#[derive(Clone)]
pub struct JwtVerifier {
    secret: Vec<u8>,
    issuer: Option<String>,
    audience: Option<String>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("secret", &"***")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

fn b64(part: &str) -> Result<Vec<u8>, TokenError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| TokenError::Malformed)
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl JwtVerifier {
    /// A verifier for `secret`; empty issuer/audience are not checked.
    pub fn new(secret: &str, issuer: &str, audience: &str) -> Self {
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        JwtVerifier {
            secret: secret.as_bytes().to_vec(),
            issuer: non_empty(issuer),
            audience: non_empty(audience),
        }
    }

    /// Verifies a token and returns who it names.
    pub fn verify(&self, token: &str) -> Result<Identity, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Value =
            serde_json::from_slice(&b64(header)?).map_err(|_| TokenError::Malformed)?;
        match header.get("alg").and_then(Value::as_str) {
            Some("HS256") => {}
            Some(other) => return Err(TokenError::Algorithm(other.to_owned())),
            None => return Err(TokenError::Malformed),
        }
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).map_err(|_| TokenError::Signature)?;
        mac.update(&token.as_bytes()[..token.len() - signature.len() - 1]);
        mac.verify_slice(&b64(signature)?)
            .map_err(|_| TokenError::Signature)?;
        let claims: Value =
            serde_json::from_slice(&b64(claims)?).map_err(|_| TokenError::Malformed)?;
        self.check_claims(&claims)
    }

    fn check_claims(&self, claims: &Value) -> Result<Identity, TokenError> {
        let now = now_s();
        if let Some(exp) = claims.get("exp").and_then(Value::as_u64) {
            if exp + LEEWAY_S < now {
                return Err(TokenError::Expired);
            }
        }
        if let Some(nbf) = claims.get("nbf").and_then(Value::as_u64) {
            if nbf > now + LEEWAY_S {
                return Err(TokenError::NotYetValid);
            }
        }
        if let Some(issuer) = &self.issuer {
            if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
                return Err(TokenError::Issuer);
            }
        }
        if let Some(audience) = &self.audience {
            let ok = match claims.get("aud") {
                Some(Value::String(aud)) => aud == audience,
                Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
                _ => false,
            };
            if !ok {
                return Err(TokenError::Audience);
            }
        }
        let user = match claims.get("sub") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(TokenError::Subject),
        };
        let roles = match claims.get("roles") {
            Some(Value::Array(roles)) => roles
                .iter()
                .filter_map(|r| r.as_str().map(String::from))
                .collect(),
            Some(Value::String(role)) => vec![role.clone()],
            _ => Vec::new(),
        };
        Ok(Identity { user, roles })
    }

    /// Signs claims with this verifier's secret (for tests and tools).
    pub fn sign(&self, claims: &Value) -> String {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let head = engine.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let body = engine.encode(claims.to_string());
        let signing_input = format!("{head}.{body}");
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC accepts keys of any length");
        mac.update(signing_input.as_bytes());
        let signature = engine.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }
}

/// The token a client presented: CONNECT auth `token`, else a bearer header, else the
/// `token` query parameter.
pub fn presented_token(auth: &Value, handshake: &HandshakeInfo) -> Option<String> {
    if let Some(token) = auth.get("token").and_then(Value::as_str) {
        return Some(token.to_owned());
    }
    if let Some(header) = handshake.header("authorization") {
        if let Some(token) = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
        {
            return Some(token.trim().to_owned());
        }
    }
    handshake
        .query_param("token")
        .filter(|t| !t.is_empty())
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use siohub_actors::HeaderList;

    fn verifier() -> JwtVerifier {
        JwtVerifier::new("s3cret", "", "")
    }

    #[test]
    fn a_signed_token_names_its_user_and_roles() {
        let v = verifier();
        let token = v.sign(&json!({"sub": "alice", "roles": ["admin"], "exp": now_s() + 60}));
        assert_eq!(
            v.verify(&token),
            Ok(Identity {
                user: "alice".into(),
                roles: vec!["admin".into()]
            })
        );
        let numeric = v.sign(&json!({"sub": 42}));
        assert_eq!(v.verify(&numeric).unwrap().user, "42");
    }

    #[test]
    fn bad_tokens_say_why() {
        let v = verifier();
        let other = JwtVerifier::new("other", "", "");
        assert_eq!(v.verify("abc"), Err(TokenError::Malformed));
        assert_eq!(v.verify("a.b.c"), Err(TokenError::Malformed));
        assert_eq!(
            v.verify(&other.sign(&json!({"sub": "x"}))),
            Err(TokenError::Signature)
        );
        assert_eq!(
            v.verify(&v.sign(&json!({"sub": "x", "exp": now_s() - 3600}))),
            Err(TokenError::Expired)
        );
        assert_eq!(
            v.verify(&v.sign(&json!({"sub": "x", "nbf": now_s() + 3600}))),
            Err(TokenError::NotYetValid)
        );
        assert_eq!(
            v.verify(&v.sign(&json!({"roles": []}))),
            Err(TokenError::Subject)
        );
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let none_alg = format!(
            "{}.{}.",
            engine.encode(br#"{"alg":"none"}"#),
            engine.encode(br#"{"sub":"x"}"#)
        );
        assert_eq!(
            v.verify(&none_alg),
            Err(TokenError::Algorithm("none".into()))
        );
    }

    #[test]
    fn issuer_and_audience_are_checked_when_configured() {
        let v = JwtVerifier::new("k", "me", "hub");
        assert_eq!(
            v.verify(&v.sign(&json!({"sub":"x","iss":"me","aud":"hub"})))
                .unwrap()
                .user,
            "x"
        );
        assert_eq!(
            v.verify(&v.sign(&json!({"sub":"x","iss":"me","aud":["a","hub"]})))
                .unwrap()
                .user,
            "x"
        );
        assert_eq!(
            v.verify(&v.sign(&json!({"sub":"x","iss":"you","aud":"hub"}))),
            Err(TokenError::Issuer)
        );
        assert_eq!(
            v.verify(&v.sign(&json!({"sub":"x","iss":"me","aud":"other"}))),
            Err(TokenError::Audience)
        );
    }

    #[test]
    fn tokens_come_from_auth_then_header_then_query() {
        let mut handshake = HandshakeInfo {
            headers: HeaderList::from_pairs([("Authorization", "Bearer from-header")]),
            query: "EIO=4&token=from-query".into(),
            address: String::new(),
            url: String::new(),
            issued: SystemTime::now(),
            secure: false,
        };
        assert_eq!(
            presented_token(&json!({"token":"from-auth"}), &handshake).as_deref(),
            Some("from-auth")
        );
        assert_eq!(
            presented_token(&json!({}), &handshake).as_deref(),
            Some("from-header")
        );
        handshake.headers = HeaderList::default();
        assert_eq!(
            presented_token(&json!({}), &handshake).as_deref(),
            Some("from-query")
        );
        handshake.query = "EIO=4".into();
        assert_eq!(presented_token(&json!({}), &handshake), None);
    }
}
