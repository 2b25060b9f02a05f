//! Who may read the operators' routes (`/connections`): whoever holds an API key (as for
//! `/api`, with `[api] insecure = true` the development escape), or whoever logs in with
//! HTTP Basic as the `[admin]` user when `[admin] password_hash` (bcrypt) is set.
//!
//! `/connections` lists every Engine.IO sid, and a polling sid is a bearer credential for
//! its session, so a request that is neither gets 401 and sees nothing.
//!
//! bcrypt is slow on purpose (about a quarter of a second at cost 12), so checking a
//! password is bounded: one check runs at a time on the blocking pool, at most
//! `[admin] max_pending_logins` wait for it (more are refused at once and counted), and
//! the digest of the last login that passed is kept, so an operator's repeated requests
//! cost a SHA-256, not a bcrypt. Each client address has its own budget of waiting and
//! failed logins ([`LoginBudget`]), so one source cannot fill that queue.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};
use base64::Engine as _;
use tokio::sync::Semaphore;

use siohub_actors::RefusalReason;

use super::keys::{constant_time_eq, digest, presented_key};
use super::login_budget::{LoginBudget, Spent, MAX_PENDING_PER_ADDRESS};
use super::v1::ApiState;
use super::ApiError;
use crate::config::AdminSettings;
use crate::state::AppState;

/// The `WWW-Authenticate` challenge sent when admin logins are possible.
const CHALLENGE: &str = "Basic realm=\"siohub operators\", charset=\"UTF-8\"";

/// The admin login and the state of its checks.
pub struct OperatorAccess {
    admin: Option<AdminLogin>,
    checking: Semaphore,
    pending: AtomicUsize,
    max_pending: usize,
    /// SHA-256 of `user:password` of the last login bcrypt accepted.
    accepted: Mutex<Option<[u8; 32]>>,
    /// What each address may still try.
    budget: LoginBudget,
}

/// One login waiting for or in its bcrypt check: counted in `pending` and in its
/// address's budget until dropped (as a failure unless it passed), so a login whose
/// client left mid-check gives its place back too.
struct Attempt<'a> {
    access: &'a OperatorAccess,
    from: Option<IpAddr>,
    passed: bool,
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        self.access.pending.fetch_sub(1, Ordering::AcqRel);
        if let Some(address) = self.from {
            self.access.budget.end(address, self.passed);
        }
    }
}

struct AdminLogin {
    username: String,
    password_hash: String,
}

impl std::fmt::Debug for OperatorAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorAccess")
            .field("admin_login", &self.admin.is_some())
            .finish()
    }
}

impl OperatorAccess {
    /// Admin logins as `[admin]` configures them: off while `password_hash` is empty.
    pub fn new(admin: &AdminSettings) -> Self {
        OperatorAccess {
            admin: (!admin.password_hash.is_empty()).then(|| AdminLogin {
                username: admin.username.clone(),
                password_hash: admin.password_hash.clone(),
            }),
            checking: Semaphore::new(1),
            pending: AtomicUsize::new(0),
            max_pending: admin.max_pending_logins.max(1),
            accepted: Mutex::new(None),
            budget: LoginBudget::default(),
        }
    }

    /// Whether admin logins are possible at all.
    pub fn admin_enabled(&self) -> bool {
        self.admin.is_some()
    }

    /// Whether `user`:`password` is the admin login; `from` is the client's address (its
    /// budget of waiting and failed logins is checked and spent).
    pub async fn check_login(
        &self,
        user: &str,
        password: &str,
        from: Option<IpAddr>,
    ) -> Result<(), LoginRefusal> {
        let Some(admin) = &self.admin else {
            return Err(LoginRefusal::Off);
        };
        let presented = digest(format!("{user}:{password}").as_bytes());
        let cached = *self.accepted.lock().unwrap_or_else(|e| e.into_inner());
        if cached.is_some_and(|known| constant_time_eq(&known, &presented)) {
            return Ok(());
        }
        if !constant_time_eq(&digest(admin.username.as_bytes()), &digest(user.as_bytes())) {
            return Err(LoginRefusal::Invalid);
        }
        if self.pending.fetch_add(1, Ordering::AcqRel) >= self.max_pending {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            return Err(LoginRefusal::Busy(self.max_pending));
        }
        if let Some(address) = from {
            if let Err(spent) = self.budget.start(address) {
                self.pending.fetch_sub(1, Ordering::AcqRel);
                return Err(match spent {
                    Spent::Pending => LoginRefusal::AddressBusy(MAX_PENDING_PER_ADDRESS),
                    Spent::Failures(left) => LoginRefusal::TooManyFailures(left.as_secs()),
                });
            }
        }
        let mut attempt = Attempt {
            access: self,
            from,
            passed: false,
        };
        if self.verify(password, &admin.password_hash).await {
            attempt.passed = true;
            *self.accepted.lock().unwrap_or_else(|e| e.into_inner()) = Some(presented);
            Ok(())
        } else {
            Err(LoginRefusal::Invalid)
        }
    }

    /// One bcrypt check at a time, off the async workers.
    async fn verify(&self, password: &str, hash: &str) -> bool {
        let Ok(_turn) = self.checking.acquire().await else {
            return false;
        };
        let (password, hash) = (password.to_owned(), hash.to_owned());
        web::block(move || bcrypt::verify(password, &hash).unwrap_or(false))
            .await
            .unwrap_or(false)
    }
}

/// Why an admin login was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LoginRefusal {
    /// `[admin] password_hash` is empty.
    #[error("admin logins are off ([admin] password_hash is empty): send an API key")]
    Off,
    /// Not the admin user name and password.
    #[error("the admin user name or password is not valid")]
    Invalid,
    /// `[admin] max_pending_logins` logins already wait for their check.
    #[error("{0} admin logins already wait for their check: try again in a moment")]
    Busy(usize),
    /// This many logins from the client's address already wait for their check.
    #[error(
        "{0} admin logins from your address already wait for their check: wait for their answers"
    )]
    AddressBusy(usize),
    /// The client's address failed too many logins lately; it may try again in this many
    /// seconds.
    #[error("too many failed admin logins from your address: try again in {0} s")]
    TooManyFailures(u64),
}

impl LoginRefusal {
    /// The refusal reason it is counted under, when it is one of the login's bounds.
    pub fn counted_as(self) -> Option<RefusalReason> {
        match self {
            LoginRefusal::Busy(_) | LoginRefusal::AddressBusy(_) => {
                Some(RefusalReason::AdminLoginsBusy)
            }
            LoginRefusal::TooManyFailures(_) => Some(RefusalReason::AdminLoginFailures),
            LoginRefusal::Off | LoginRefusal::Invalid => None,
        }
    }
}

impl From<LoginRefusal> for ApiError {
    fn from(refusal: LoginRefusal) -> Self {
        ApiError::unauthorized(refusal.to_string())
    }
}

/// The user and password of an `Authorization: Basic` header.
fn basic_login(req: &ServiceRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Whether `req` comes from an operator: a valid API key, else a valid admin login.
async fn check(state: &ApiState, req: &ServiceRequest) -> Result<(), ApiError> {
    let by_key = state.keys.check(presented_key(req));
    if by_key.is_ok() {
        return Ok(());
    }
    match basic_login(req) {
        Some((user, password)) => {
            let from = req.peer_addr().map(|a| a.ip());
            let checked = state.operators.check_login(&user, &password, from).await;
            if let Err(refusal) = checked {
                if let Some(reason) = refusal.counted_as() {
                    siohub_actors::limited!(warn, "an admin login refused: {refusal}");
                    if let Some(engine) = req.app_data::<web::Data<AppState>>() {
                        engine.hub.counters().refused(reason);
                    }
                }
            }
            Ok(checked?)
        }
        None if state.operators.admin_enabled() => Err(ApiError::unauthorized(
            "operators only: send an API key (`Authorization: Bearer <key>` or `X-API-Key`) or the [admin] login (HTTP Basic)",
        )),
        None => by_key,
    }
}

/// The middleware of the operators' routes: refuses a request that is not an operator's
/// with 401 (and a Basic challenge when admin logins are on).
pub async fn require_operator(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<ApiState>>().cloned() else {
        return Err(ApiError::unavailable("the HTTP API is not configured on this server").into());
    };
    match check(&state, &req).await {
        Ok(()) => Ok(next.call(req).await?.map_into_left_body()),
        Err(error) => {
            let mut response = error.error_response();
            if state.operators.admin_enabled() {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(CHALLENGE),
                );
            }
            Ok(req.into_response(response).map_into_right_body())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bcrypt of "s3cret" at the lowest cost, so the test stays fast.
    fn admin() -> AdminSettings {
        AdminSettings {
            username: "ops".into(),
            password_hash: bcrypt::hash("s3cret", 4).unwrap(),
            read_only: false,
            max_pending_logins: 1,
        }
    }

    #[actix_rt::test]
    async fn the_admin_login_passes_and_nothing_else_does() {
        let access = OperatorAccess::new(&admin());
        assert!(access.check_login("ops", "s3cret", None).await.is_ok());
        // The second time comes from the digest of the accepted login.
        assert!(access.check_login("ops", "s3cret", None).await.is_ok());
        for (user, password) in [("ops", "s3cre"), ("ops", ""), ("admin", "s3cret"), ("", "")] {
            let err = access.check_login(user, password, None).await.unwrap_err();
            assert_eq!(err, LoginRefusal::Invalid, "{user}:{password}");
            let err = ApiError::from(err);
            assert_eq!((err.status, err.code), (401, "UNAUTHORIZED"));
        }
    }

    #[actix_rt::test]
    async fn logins_over_the_pending_bound_are_refused_at_once() {
        // max_pending_logins = 1: the first guess takes the turn (its check is on the
        // blocking pool when the second is polled), the second is refused without a
        // bcrypt check, and the real login still passes afterwards.
        let access = OperatorAccess::new(&admin());
        let (first, second) = futures::join!(
            access.check_login("ops", "guess-1", None),
            access.check_login("ops", "guess-2", None)
        );
        assert_eq!(first, Err(LoginRefusal::Invalid));
        assert_eq!(second, Err(LoginRefusal::Busy(1)));
        assert!(access.check_login("ops", "s3cret", None).await.is_ok());
    }

    #[actix_rt::test]
    async fn no_hash_means_no_admin_login() {
        let off = OperatorAccess::new(&AdminSettings::default());
        assert!(!off.admin_enabled());
        let err = off.check_login("admin", "", None).await.unwrap_err();
        assert_eq!(err, LoginRefusal::Off);
        assert!(err.to_string().contains("password_hash"), "{err}");
    }
}
