//! Who may connect to `/admin`, as `@socket.io/admin-ui` 0.5 expects it and more: the
//! `[admin]` login (`auth: {username, password}`, bcrypt-checked by the bounded
//! [`OperatorAccess`] of the operators' routes; on success a `session` id is emitted before
//! the CONNECT reply), `auth: {sessionId}` (one handed out earlier), or `auth: {api_key}`
//! (one of `[api] keys`). `[api] insecure = true` lets anyone in. With none of a password
//! hash, API keys or `insecure`, admin access is off and every CONNECT is refused saying so;
//! with API keys but no password hash, a username/password login is refused the same way.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use serde_json::{json, Value};
use siohub_actors::{ConnectRefusal, ConnectRequest};

use super::sessions::AdminSessions;
use crate::api::operators::{LoginRefusal, OperatorAccess};
use crate::api::KeyRing;
use crate::config::Settings;

/// The refusal when admin access is off.
pub const ADMIN_OFF: &str = "admin access is off: set [admin] password_hash";
/// The refusal of wrong credentials (the admin UI shows it as is).
pub const INVALID_CREDENTIALS: &str = "invalid credentials";

/// The `/admin` login.
pub struct AdminLogin {
    operators: OperatorAccess,
    keys: KeyRing,
    has_keys: bool,
    insecure: bool,
    sessions: AdminSessions,
}

impl AdminLogin {
    /// The login `settings` configure.
    pub fn new(settings: &Settings) -> Arc<Self> {
        Arc::new(AdminLogin {
            operators: OperatorAccess::new(&settings.admin),
            keys: KeyRing::new(&settings.api.keys, false),
            has_keys: !settings.api.keys.is_empty(),
            insecure: settings.api.insecure,
            sessions: AdminSessions::default(),
        })
    }

    /// Whether nobody can log in at all.
    pub fn off(&self) -> bool {
        !self.insecure && !self.has_keys && !self.operators.admin_enabled()
    }

    /// Checks the CONNECT auth; a password login gets a `session` id emitted before the
    /// reply.
    pub async fn check(&self, req: &ConnectRequest) -> Result<(), ConnectRefusal> {
        if self.off() {
            return Err(ConnectRefusal::new(ADMIN_OFF));
        }
        if self.insecure {
            return Ok(());
        }
        let text = |key: &str| req.auth.get(key).and_then(Value::as_str);
        if text("sessionId").is_some_and(|id| self.sessions.valid(id)) {
            return Ok(());
        }
        if let Some(key) = text("api_key") {
            if self.has_keys && self.keys.check(Some(key)).is_ok() {
                return Ok(());
            }
        }
        let (Some(user), Some(password)) = (text("username"), text("password")) else {
            return Err(ConnectRefusal::new(INVALID_CREDENTIALS));
        };
        if !self.operators.admin_enabled() {
            // Only API keys open it: a login form learns why its password cannot work.
            return Err(ConnectRefusal::new(ADMIN_OFF));
        }
        let from = client_ip(&req.handshake.address);
        match self.operators.check_login(user, password, from).await {
            Ok(()) => {
                req.emit_before_connect("session", Value::String(self.sessions.issue()));
                Ok(())
            }
            Err(LoginRefusal::Invalid | LoginRefusal::Off) => {
                Err(ConnectRefusal::new(INVALID_CREDENTIALS))
            }
            Err(refusal) => {
                if let Some(reason) = refusal.counted_as() {
                    req.counters.refused(reason);
                }
                siohub_actors::limited!(warn, "an /admin login refused: {refusal}");
                Err(ConnectRefusal::new(refusal.to_string())
                    .with_data(json!({"code": "RATE_LIMIT_EXCEEDED"})))
            }
        }
    }
}

/// The IP address of a handshake's peer (`ip:port` or a bare IP).
fn client_ip(address: &str) -> Option<IpAddr> {
    address
        .parse::<SocketAddr>()
        .map(|a| a.ip())
        .or_else(|_| address.parse::<IpAddr>())
        .ok()
}
