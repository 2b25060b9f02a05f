//! The CONNECT middleware that checks tokens: a valid token sets the socket's `data.user`
//! and `data.roles`; an invalid one, or none where the namespace requires one, refuses the
//! CONNECT with `AUTH_REQUIRED`.

use serde_json::json;
use siohub_actors::{ConnectRefusal, Namespace, RefusalReason};

use super::{presented_token, JwtVerifier};
use crate::error_code::ErrorCode;

/// Adds token checking to `ns`: with `verifier` (if any key is configured), and refusing
/// sockets without a valid token when `required`.
pub fn with_auth(ns: Namespace, verifier: Option<JwtVerifier>, required: bool) -> Namespace {
    if verifier.is_none() && !required {
        return ns;
    }
    ns.middleware(move |req| {
        let verifier = verifier.clone();
        async move {
            let refuse = |why: String| {
                siohub_actors::limited!(
                    info,
                    "CONNECT to {} refused: AUTH_REQUIRED ({})",
                    siohub_actors::ClientText(&req.nsp),
                    siohub_actors::ClientText(&why)
                );
                Err(ConnectRefusal::new(ErrorCode::AuthRequired.as_str())
                    .with_data(json!({ "code": ErrorCode::AuthRequired.as_str(), "message": why })))
            };
            let token = presented_token(&req.auth, &req.handshake);
            match (token, verifier) {
                (Some(token), Some(verifier)) => match verifier.verify(&token, &req.counters).await
                {
                    Ok(identity) => {
                        let mut data = req.data.lock().unwrap_or_else(|e| e.into_inner());
                        data.insert("user".into(), json!(identity.user));
                        data.insert("roles".into(), json!(identity.roles));
                        Ok(())
                    }
                    Err(e) => {
                        req.counters.refused(RefusalReason::TokenInvalid);
                        refuse(format!("invalid token: {e}"))
                    }
                },
                _ if required => {
                    req.counters.refused(RefusalReason::TokenInvalid);
                    refuse("this namespace requires a valid token".into())
                }
                _ => Ok(()),
            }
        }
    })
}
