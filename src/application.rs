//! The application the binary runs: one namespace per `[[namespaces]]` entry, each with
//! token checking ([`crate::auth::with_auth`]) in front of the built-in events
//! ([`crate::builtins`]), sharing one HTTP client for the webhook and the JWKS; and the
//! admin namespace ([`crate::admin`]). With `[subscriptions] store = "postgres"` the
//! store ([`crate::subscriptions`]) is started here and hung on the namespaces, where
//! [`crate::state::AppState`] finds it for the API, `/health` and `/metrics`.

use std::sync::Arc;

use siohub_actors::{Application, Namespaces, ADMIN_NSP};

use crate::auth::{with_auth, JwtVerifier};
use crate::builtins::with_builtins;
use crate::config::{AuthSettings, Settings};
use crate::http_client::HttpClient;
use crate::subscriptions::Subscriptions;
use crate::webhook::Webhook;

/// The namespaces the hub serves: one per `[[namespaces]]` entry, with token checking and
/// the built-ins.
pub fn namespaces(settings: &Settings) -> Namespaces {
    // Both were checked by `Settings::validate`; a file that vanished since start-up
    // leaves the roots only / no public key, and says so.
    let http = HttpClient::new(&settings.http_client.ca_file).unwrap_or_else(|e| {
        log::error!("http_client.ca_file: {e}; trusting the webpki roots only");
        HttpClient::new("").expect("the webpki roots load")
    });
    let verifier = JwtVerifier::from_settings(&settings.auth, &http).unwrap_or_else(|e| {
        log::error!("[auth]: {e}; tokens are checked with the other keys only");
        let without_file = AuthSettings {
            jwt_public_key: String::new(),
            ..settings.auth.clone()
        };
        JwtVerifier::from_settings(&without_file, &http).unwrap_or_default()
    });
    let webhook = Webhook::new(&settings.webhook, settings.engine.max_payload, http);
    let subscriptions = Subscriptions::start(&settings.subscriptions).unwrap_or_else(|e| {
        log::error!("[subscriptions]: {e}; rooms are not kept");
        None
    });
    if settings.namespaces.iter().any(|n| n.name == ADMIN_NSP) {
        log::warn!("[[namespaces]] names {ADMIN_NSP}: it is the admin namespace, served as such");
    }
    let nsps = match &subscriptions {
        Some(subs) => Namespaces::new().with_extension(subs.clone()),
        None => Namespaces::new(),
    };
    settings
        .namespaces
        .iter()
        .fold(nsps, |nsps, policy| {
            let policy = policy.clone();
            let verifier = verifier.clone();
            let webhook = webhook.clone();
            let subs = subscriptions.clone();
            nsps.add(&policy.name.clone(), move |ns| {
                let required = policy.require_auth;
                with_builtins(with_auth(ns, verifier, required), policy, webhook, subs)
            })
        })
        // Last: an exact name, so neither a configured `/admin` nor a pattern shadows it.
        .add(ADMIN_NSP, crate::admin::namespace(settings))
}

/// The application of `settings`: [`namespaces`] on Socket.IO.
pub fn from_settings(settings: &Settings) -> Application {
    Application::SocketIo(Arc::new(namespaces(settings)))
}
