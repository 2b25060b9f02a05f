//! Tokens as a backend issues them to its users: HS256 with the hub's shared secret (the
//! hub's own verifier signs them), valid for an hour.

use serde_json::{json, Value};
use siohub::auth::JwtVerifier;

/// `claims` (an object) with an `exp` an hour from now, signed with `secret`.
pub fn user_token(secret: &str, mut claims: Value) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    claims["exp"] = json!(exp);
    JwtVerifier::new(secret, "", "")
        .sign(&claims)
        .expect("an HMAC verifier signs")
}
