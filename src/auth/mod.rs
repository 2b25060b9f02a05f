//! Identity: JSON Web Tokens, taken from the CONNECT auth (`{"token": ..}`), an
//! `Authorization: Bearer` header or a `token` query parameter. `sub` is the user id and
//! `roles` the roles; `exp`, `nbf`, and the configured issuer and audience are checked.
//!
//! Verification is the `jsonwebtoken` crate's; this module chooses the key. The keys are
//! what `[auth]` configures: an HMAC secret (`HS256`/`HS384`/`HS512`), an RSA or EC public
//! key from a PEM file (`RS*`/`PS*`, `ES256`/`ES384`), and the keys of a JWKS URL (looked
//! up by the token's `kid`). A token's `alg` only ever selects among keys of its own family,
//! so a token that says `HS256` is never checked against a public key used as an HMAC
//! secret (the "algorithm confusion" forgery).
//!
//! [`with_auth`] puts the check in front of a namespace's CONNECT.

mod jwks;
mod middleware;

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};
use serde_json::Value;
use siohub_actors::{HandshakeInfo, HubCounters};

use jwks::{JwkKey, Jwks, JwksTimings};
pub use middleware::with_auth;

use crate::config::{read_public_key, AuthSettings, KeyError};
use crate::http_client::HttpClient;

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
    /// `alg` names no algorithm this hub has a key for.
    #[error("the token is signed with {0}, for which no key is configured")]
    Algorithm(String),
    /// The signature does not match the key.
    #[error("the token's signature is invalid")]
    Signature,
    /// `exp` is in the past.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// A time claim that is not a NumericDate (a non-negative whole number of seconds).
    #[error("the token's {0} is not a non-negative whole number of seconds")]
    ClaimFormat(String),
    /// `iss` differs from the configured issuer.
    #[error("the token's issuer is not accepted")]
    Issuer,
    /// `aud` does not contain the configured audience.
    #[error("the token's audience is not accepted")]
    Audience,
    /// No usable `sub`.
    #[error("the token has no subject (sub)")]
    Subject,
    /// The token's `kid` is not in the JWKS.
    #[error("the token's key id \"{0}\" is not in the JWKS")]
    UnknownKey(String),
    /// A public-key token without a `kid` where only a JWKS holds public keys.
    #[error("the token has no key id (kid) to look up in the JWKS")]
    NoKeyId,
    /// The JWKS could not be fetched and holds no cached copy of the key.
    #[error("the token's signing keys cannot be fetched right now; retry later")]
    KeysUnavailable,
}

/// At most 64 characters of something a client sent, control characters escaped, for
/// messages and logs (no client can forge a log line through its token).
fn clip(text: &str) -> String {
    let head: String = text.chars().take(64).collect();
    head.escape_debug().to_string()
}

/// Checks tokens against the configured keys (and optionally an issuer and an audience).
/// Cheap to clone: every clone shares the keys and the JWKS cache.
#[derive(Clone)]
pub struct JwtVerifier {
    inner: Arc<Keys>,
}

struct Keys {
    secret: Option<(DecodingKey, EncodingKey)>,
    public: Option<DecodingKey>,
    jwks: Option<Jwks>,
    validation: Validation,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("secret", &self.inner.secret.as_ref().map(|_| "***"))
            .field("public", &self.inner.public.as_ref().map(|k| k.family()))
            .field("jwks", &self.inner.jwks)
            .finish()
    }
}

fn validation(issuer: &str, audience: &str) -> Validation {
    let mut v = Validation::new(Algorithm::HS256);
    // `exp` stays optional, as it was; when present it (and `nbf`) must be a NumericDate.
    v.required_spec_claims = HashSet::new();
    v.validate_exp = true;
    v.validate_nbf = true;
    v.leeway = LEEWAY_S;
    if !issuer.is_empty() {
        v.set_issuer(&[issuer]);
        v.required_spec_claims.insert("iss".into());
    }
    if audience.is_empty() {
        v.validate_aud = false;
    } else {
        v.set_audience(&[audience]);
        v.required_spec_claims.insert("aud".into());
    }
    v
}

/// The `alg` a token's header names, read before anything else so that a refusal can
/// name it (`none` included).
fn alg_of(token: &str) -> Result<String, TokenError> {
    let header = token.split('.').next().ok_or(TokenError::Malformed)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .map_err(|_| TokenError::Malformed)?;
    let header: Value = serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)?;
    match header.get("alg") {
        Some(Value::String(alg)) => Ok(clip(alg)),
        _ => Err(TokenError::Malformed),
    }
}

/// The claims part of a token, as JSON.
fn claims_of(token: &str) -> Result<Value, TokenError> {
    let claims = token.split('.').nth(1).ok_or(TokenError::Malformed)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims.trim_end_matches('='))
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

/// `exp` and `nbf`, when present, must be NumericDates: whole seconds, not negative.
/// (Skipping a claim that does not parse would make a token whose `exp` is `"never"`
/// valid forever.)
fn time_claims_format(claims: &Value) -> Result<(), TokenError> {
    for claim in ["exp", "nbf"] {
        if claims.get(claim).is_some_and(|v| v.as_u64().is_none()) {
            return Err(TokenError::ClaimFormat(claim.into()));
        }
    }
    Ok(())
}

fn refusal_of(kind: &ErrorKind) -> TokenError {
    match kind {
        ErrorKind::InvalidSignature | ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) => {
            TokenError::Signature
        }
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidClaimFormat(claim) => TokenError::ClaimFormat(claim.clone()),
        ErrorKind::InvalidIssuer => TokenError::Issuer,
        ErrorKind::InvalidAudience => TokenError::Audience,
        ErrorKind::MissingRequiredClaim(claim) if claim == "iss" => TokenError::Issuer,
        ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => TokenError::Audience,
        _ => TokenError::Malformed,
    }
}

impl JwtVerifier {
    /// A verifier of HMAC tokens with `secret`; empty issuer/audience are not checked.
    /// (Start-up refuses secrets under [`crate::config::MIN_SECRET_BYTES`]; this constructor does not.)
    pub fn new(secret: &str, issuer: &str, audience: &str) -> Self {
        JwtVerifier {
            inner: Arc::new(Keys {
                secret: Some((
                    DecodingKey::from_secret(secret.as_bytes()),
                    EncodingKey::from_secret(secret.as_bytes()),
                )),
                public: None,
                jwks: None,
                validation: validation(issuer, audience),
            }),
        }
    }

    /// The verifier `[auth]` configures, or `None` when it configures no key. `http`
    /// fetches the JWKS.
    pub fn from_settings(auth: &AuthSettings, http: &HttpClient) -> Result<Option<Self>, KeyError> {
        let secret = (!auth.jwt_secret.is_empty()).then(|| {
            let bytes = auth.jwt_secret.as_bytes();
            (
                DecodingKey::from_secret(bytes),
                EncodingKey::from_secret(bytes),
            )
        });
        let public = match auth.jwt_public_key.as_str() {
            "" => None,
            path => Some(read_public_key(path)?),
        };
        let jwks = (!auth.jwks_url.is_empty()).then(|| {
            let timings = JwksTimings {
                refresh_min: Duration::from_secs(auth.jwks_refresh_min_s),
                cache_ttl: Duration::from_secs(auth.jwks_cache_ttl_s),
                timeout: Duration::from_millis(auth.jwks_timeout_ms),
            };
            Jwks::new(&auth.jwks_url, http.clone(), timings)
        });
        if secret.is_none() && public.is_none() && jwks.is_none() {
            return Ok(None);
        }
        Ok(Some(JwtVerifier {
            inner: Arc::new(Keys {
                secret,
                public,
                jwks,
                validation: validation(&auth.jwt_issuer, &auth.jwt_audience),
            }),
        }))
    }

    /// The key that may check a token signed with `alg`: only ever one of `alg`'s own
    /// family.
    async fn key_for(
        &self,
        token: &str,
        alg: Algorithm,
        counters: &HubCounters,
    ) -> Result<KeyRef<'_>, TokenError> {
        let keys = &*self.inner;
        let refused = || TokenError::Algorithm(format!("{alg:?}"));
        match alg.family() {
            AlgorithmFamily::Hmac => keys
                .secret
                .as_ref()
                .map(|(key, _)| KeyRef::Static(key))
                .ok_or_else(refused),
            AlgorithmFamily::Rsa | AlgorithmFamily::Ec => {
                let kid = jsonwebtoken::decode_header(token)
                    .map_err(|_| TokenError::Malformed)?
                    .kid;
                match (&keys.jwks, kid, &keys.public) {
                    (Some(jwks), Some(kid), _) => {
                        let key = jwks.key(&kid, counters).await?;
                        if key.alg.is_some_and(|pinned| pinned != alg) {
                            return Err(refused());
                        }
                        Ok(KeyRef::Fetched(key))
                    }
                    (_, _, Some(public)) => Ok(KeyRef::Static(public)),
                    (Some(_), None, None) => Err(TokenError::NoKeyId),
                    (None, _, None) => Err(refused()),
                }
            }
            AlgorithmFamily::Ed => Err(refused()),
        }
    }

    /// Verifies a token and returns who it names. Fetching a JWKS needs an actix system;
    /// `counters` count throttled and failed fetches.
    pub async fn verify(
        &self,
        token: &str,
        counters: &HubCounters,
    ) -> Result<Identity, TokenError> {
        let alg_name = alg_of(token)?;
        let alg = Algorithm::from_str(&alg_name).map_err(|_| TokenError::Algorithm(alg_name))?;
        jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let key = self.key_for(token, alg, counters).await?;
        let key = key.get();
        // The family check again, on the key actually chosen: a public key must never be
        // used as an HMAC secret, whatever the token says.
        if key.family() != alg.family() {
            return Err(TokenError::Algorithm(format!("{alg:?}")));
        }
        let mut validation = self.inner.validation.clone();
        validation.algorithms = vec![alg];
        match jsonwebtoken::decode::<Value>(token, key, &validation) {
            Ok(data) => {
                // The crate reads a `null` time claim as absent; it is not a NumericDate.
                time_claims_format(&data.claims)?;
                identity_of(&data.claims)
            }
            // The header was read above, so a JSON error here is in the claims, which the
            // crate reads after the signature: say which claim when it is a time claim
            // (an array or object `exp` makes its claim reader fail as a whole).
            Err(e) if matches!(e.kind(), ErrorKind::Json(_)) => {
                time_claims_format(&claims_of(token)?)?;
                Err(TokenError::Malformed)
            }
            Err(e) => Err(refusal_of(e.kind())),
        }
    }

    /// Signs claims with this verifier's HMAC secret as HS256 (for tests and tools);
    /// `None` without a secret.
    pub fn sign(&self, claims: &Value) -> Option<String> {
        let (_, key) = self.inner.secret.as_ref()?;
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, key).ok()
    }
}

/// A key borrowed from the verifier, or one of the JWKS cache.
enum KeyRef<'a> {
    Static(&'a DecodingKey),
    Fetched(Arc<JwkKey>),
}

impl KeyRef<'_> {
    fn get(&self) -> &DecodingKey {
        match self {
            KeyRef::Static(key) => key,
            KeyRef::Fetched(jwk) => &jwk.key,
        }
    }
}

fn identity_of(claims: &Value) -> Result<Identity, TokenError> {
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
    use std::time::{SystemTime, UNIX_EPOCH};

    use super::*;
    use futures::executor::block_on;
    use serde_json::json;
    use siohub_actors::HeaderList;

    const SECRET: &str = "a-test-secret-of-thirty-two-bytes!";
    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

    fn now_s() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }

    fn verifier() -> JwtVerifier {
        JwtVerifier::new(SECRET, "", "")
    }

    fn check(v: &JwtVerifier, token: &str) -> Result<Identity, TokenError> {
        block_on(v.verify(token, &HubCounters::default()))
    }

    fn signed(v: &JwtVerifier, claims: Value) -> String {
        v.sign(&claims).expect("an HMAC verifier signs")
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
    }

    fn settings(public_key: &str) -> AuthSettings {
        AuthSettings {
            jwt_public_key: public_key.into(),
            ..AuthSettings::default()
        }
    }

    fn public_verifier(file: &str) -> JwtVerifier {
        let http = HttpClient::new("").unwrap();
        JwtVerifier::from_settings(&settings(&format!("{FIXTURES}/{file}")), &http)
            .unwrap()
            .expect("a public key is a key")
    }

    fn sign_with(alg: Algorithm, key: &EncodingKey, claims: Value) -> String {
        jsonwebtoken::encode(&Header::new(alg), &claims, key).unwrap()
    }

    #[test]
    fn a_signed_token_names_its_user_and_roles() {
        let v = verifier();
        let token = signed(
            &v,
            json!({"sub": "alice", "roles": ["admin"], "exp": now_s() + 60}),
        );
        assert_eq!(
            check(&v, &token),
            Ok(Identity {
                user: "alice".into(),
                roles: vec!["admin".into()]
            })
        );
        let numeric = signed(&v, json!({"sub": 42}));
        assert_eq!(check(&v, &numeric).unwrap().user, "42");
        let hs512 = sign_with(
            Algorithm::HS512,
            &EncodingKey::from_secret(SECRET.as_bytes()),
            json!({"sub": "bob"}),
        );
        assert_eq!(check(&v, &hs512).unwrap().user, "bob");
    }

    #[test]
    fn bad_tokens_say_why() {
        let v = verifier();
        let other = JwtVerifier::new("another-secret-of-thirty-two-bytes", "", "");
        assert_eq!(check(&v, "abc"), Err(TokenError::Malformed));
        assert_eq!(check(&v, "a.b.c"), Err(TokenError::Malformed));
        assert_eq!(
            check(&v, &signed(&other, json!({"sub": "x"}))),
            Err(TokenError::Signature)
        );
        assert_eq!(
            check(&v, &signed(&v, json!({"sub": "x", "exp": now_s() - 3600}))),
            Err(TokenError::Expired)
        );
        assert_eq!(
            check(&v, &signed(&v, json!({"sub": "x", "nbf": now_s() + 3600}))),
            Err(TokenError::NotYetValid)
        );
        assert_eq!(
            check(&v, &signed(&v, json!({"roles": []}))),
            Err(TokenError::Subject)
        );
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let none_alg = format!(
            "{}.{}.",
            engine.encode(br#"{"alg":"none"}"#),
            engine.encode(br#"{"sub":"x"}"#)
        );
        assert_eq!(
            check(&v, &none_alg),
            Err(TokenError::Algorithm("none".into()))
        );
        // What the client wrote is clipped and escaped before it reaches a message.
        let forged_line = format!(
            "{}.{}.",
            engine
                .encode(json!({ "alg": format!("x\nINFO forged{}", "y".repeat(100)) }).to_string()),
            engine.encode(br#"{"sub":"x"}"#)
        );
        let Err(TokenError::Algorithm(alg)) = check(&v, &forged_line) else {
            panic!("an unknown alg is refused");
        };
        assert!(alg.starts_with("x\\nINFO forged"), "{alg}");
        assert!(!alg.contains('\n') && alg.len() < 80, "{alg}");
    }

    #[test]
    fn a_non_numeric_exp_is_refused_not_skipped() {
        let v = verifier();
        for exp in [
            json!("never"),
            json!(null),
            json!([1]),
            json!({"at": 1}),
            json!(true),
        ] {
            assert_eq!(
                check(&v, &signed(&v, json!({"sub": "x", "exp": exp}))),
                Err(TokenError::ClaimFormat("exp".into())),
                "exp = {exp}"
            );
        }
        // A number in a string is still not a NumericDate.
        let later = (now_s() + 3600).to_string();
        assert_eq!(
            check(&v, &signed(&v, json!({"sub": "x", "exp": later}))),
            Err(TokenError::ClaimFormat("exp".into()))
        );
    }

    #[test]
    fn a_negative_exp_is_refused() {
        let v = verifier();
        for exp in [json!(-1), json!(-now_s()), json!(i64::MIN)] {
            assert_eq!(
                check(&v, &signed(&v, json!({"sub": "x", "exp": exp}))),
                Err(TokenError::ClaimFormat("exp".into())),
                "exp = {exp}"
            );
        }
    }

    #[test]
    fn a_non_numeric_nbf_is_refused_not_skipped() {
        let v = verifier();
        for nbf in [json!("now"), json!(null), json!([0]), json!(false)] {
            assert_eq!(
                check(&v, &signed(&v, json!({"sub": "x", "nbf": nbf}))),
                Err(TokenError::ClaimFormat("nbf".into())),
                "nbf = {nbf}"
            );
        }
    }

    #[test]
    fn a_negative_nbf_is_refused() {
        let v = verifier();
        for nbf in [json!(-1), json!(-3600)] {
            assert_eq!(
                check(&v, &signed(&v, json!({"sub": "x", "nbf": nbf}))),
                Err(TokenError::ClaimFormat("nbf".into())),
                "nbf = {nbf}"
            );
        }
        // A past, well-formed nbf is fine.
        let past = signed(&v, json!({"sub": "x", "nbf": now_s() - 60}));
        assert_eq!(check(&v, &past).unwrap().user, "x");
    }

    #[test]
    fn issuer_and_audience_are_checked_when_configured() {
        let v = JwtVerifier::new(SECRET, "me", "hub");
        let ok = |claims| check(&v, &signed(&v, claims)).map(|i| i.user);
        assert_eq!(ok(json!({"sub":"x","iss":"me","aud":"hub"})).unwrap(), "x");
        assert_eq!(
            ok(json!({"sub":"x","iss":"me","aud":["a","hub"]})).unwrap(),
            "x"
        );
        assert_eq!(
            ok(json!({"sub":"x","iss":"you","aud":"hub"})),
            Err(TokenError::Issuer)
        );
        assert_eq!(ok(json!({"sub":"x","aud":"hub"})), Err(TokenError::Issuer));
        assert_eq!(
            ok(json!({"sub":"x","iss":"me","aud":"other"})),
            Err(TokenError::Audience)
        );
        assert_eq!(ok(json!({"sub":"x","iss":"me"})), Err(TokenError::Audience));
        // Without a configured audience, a token's `aud` is not looked at (as before).
        let plain = verifier();
        assert_eq!(
            check(&plain, &signed(&plain, json!({"sub":"x","aud":"whatever"})))
                .unwrap()
                .user,
            "x"
        );
    }

    #[test]
    fn rs256_and_es256_tokens_verify_against_their_pem_public_keys() {
        let rsa = EncodingKey::from_rsa_pem(&fixture("rs256.key")).unwrap();
        let ec = EncodingKey::from_ec_pem(&fixture("es256.key")).unwrap();
        let rs_verifier = public_verifier("rs256.pub.pem");
        let es_verifier = public_verifier("es256.pub.pem");
        let claims = json!({"sub": "carol", "roles": "ops", "exp": now_s() + 60});
        let rs = sign_with(Algorithm::RS256, &rsa, claims.clone());
        let es = sign_with(Algorithm::ES256, &ec, claims);
        assert_eq!(
            check(&rs_verifier, &rs),
            Ok(Identity {
                user: "carol".into(),
                roles: vec!["ops".into()]
            })
        );
        assert_eq!(check(&es_verifier, &es).unwrap().user, "carol");
        // Each key verifies its own family only.
        assert_eq!(
            check(&rs_verifier, &es),
            Err(TokenError::Algorithm("ES256".into()))
        );
        assert_eq!(
            check(&es_verifier, &rs),
            Err(TokenError::Algorithm("RS256".into()))
        );
        // The claim checks hold for public-key tokens too.
        let expired = sign_with(
            Algorithm::RS256,
            &rsa,
            json!({"sub": "carol", "exp": now_s() - 3600}),
        );
        assert_eq!(check(&rs_verifier, &expired), Err(TokenError::Expired));
        let other = JwtVerifier::from_settings(
            &settings(&format!("{FIXTURES}/rs256.pub.pem")),
            &HttpClient::new("").unwrap(),
        )
        .unwrap()
        .unwrap();
        let forged = {
            let mut parts: Vec<String> = rs.split('.').map(String::from).collect();
            parts[1] =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"mallory"}"#);
            parts.join(".")
        };
        assert_eq!(check(&other, &forged), Err(TokenError::Signature));
    }

    #[test]
    fn an_hs256_token_keyed_with_the_public_key_is_refused() {
        // The algorithm-confusion forgery: sign HS256 with the server's public key (its
        // PEM text, or the DER inside) as the HMAC secret, hoping the server verifies
        // HS256 with whatever key it has.
        let verifier = public_verifier("rs256.pub.pem");
        let pem = fixture("rs256.pub.pem");
        let body: String = String::from_utf8(pem.clone())
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        for secret in [pem, der] {
            for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
                let forged = sign_with(
                    alg,
                    &EncodingKey::from_secret(&secret),
                    json!({"sub": "admin", "roles": ["admin"]}),
                );
                assert_eq!(
                    check(&verifier, &forged),
                    Err(TokenError::Algorithm(format!("{alg:?}")))
                );
            }
        }
        assert_eq!(verifier.sign(&json!({"sub": "x"})), None);
    }

    #[test]
    fn no_key_is_no_verifier() {
        let none =
            JwtVerifier::from_settings(&AuthSettings::default(), &HttpClient::new("").unwrap());
        assert!(none.unwrap().is_none());
    }

    #[test]
    fn tokens_come_from_auth_then_header_then_query() {
        let mut handshake = HandshakeInfo {
            headers: HeaderList::from_pairs([("Authorization", "Bearer from-header")]),
            address: String::new(),
            url: "/socket.io/?EIO=4&token=from-query".into(),
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
        handshake.url = "/socket.io/?EIO=4".into();
        assert_eq!(presented_token(&json!({}), &handshake), None);
    }
}
