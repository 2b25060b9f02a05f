//! Cross-origin headers for the Engine.IO endpoint: off unless configured; with credentials
//! the exact origin is echoed with `Access-Control-Allow-Credentials: true`, never `*`.
//!
//! With an allow-list (origins configured, no `*`) a request whose `Origin` is outside it
//! is refused outright ([`Cors::admits`]), not just left without CORS headers: a browser
//! applies no CORS to a websocket, so a page on any site could otherwise open one to the
//! hub with the user's cookies (cross-site websocket hijacking). Polling is refused too:
//! a cross-site page may send simple GETs and POSTs without a preflight, and nothing from
//! a foreign origin is wanted. No `Origin` (a client that is not a browser) passes, and so
//! does a page of the hub's own origin (`Origin` naming the `Host` the request went to).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};

/// The cross-origin policy.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    origins: Vec<String>,
    credentials: bool,
}

impl Cors {
    /// `origins` empty = off, containing `*` = any origin.
    pub fn new(origins: Vec<String>, credentials: bool) -> Self {
        Cors {
            origins,
            credentials,
        }
    }

    /// Whether a request with this `Origin` (and `Host`) may use the endpoint at all: always,
    /// unless an allow-list is configured and the origin is neither on it nor the hub's own.
    pub fn admits(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else {
            return true;
        };
        if self.origins.is_empty() || self.origins.iter().any(|o| o == "*") {
            return true;
        }
        self.origins.iter().any(|allowed| allowed == origin) || same_origin(origin, host)
    }

    /// Whether any CORS header is ever sent.
    pub fn enabled(&self) -> bool {
        !self.origins.is_empty()
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if allowed.
    fn allow_origin(&self, origin: Option<&str>) -> Option<String> {
        let any = self.origins.iter().any(|o| o == "*");
        match origin {
            Some(o) if any || self.origins.iter().any(|allowed| allowed == o) => {
                Some(if any && !self.credentials {
                    "*".into()
                } else {
                    o.to_owned()
                })
            }
            None if any && !self.credentials => Some("*".into()),
            _ => None,
        }
    }

    /// Adds the CORS headers a response to `req` should carry.
    pub fn decorate(&self, req: &HttpRequest, response: &mut HttpResponse) {
        if !self.enabled() {
            return;
        }
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok());
        let Some(allowed) = self.allow_origin(origin) else {
            return;
        };
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&allowed) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        }
        if self.credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if allowed != "*" {
            headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        }
    }

    /// Answers a preflight `OPTIONS` with 204.
    pub fn preflight(&self, req: &HttpRequest) -> HttpResponse {
        let mut response = HttpResponse::NoContent().finish();
        self.decorate(req, &mut response);
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET,HEAD,PUT,PATCH,POST,DELETE"),
        );
        if let Some(asked) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        }
        response
    }
}

/// Whether `origin` (`scheme://host[:port]`) names the `host` (`host[:port]`) the request
/// was sent to: a page the hub itself serves.
fn same_origin(origin: &str, host: Option<&str>) -> bool {
    let authority = origin.split_once("://").map(|(_, rest)| rest);
    matches!((authority, host), (Some(a), Some(h)) if !a.is_empty() && a.eq_ignore_ascii_case(h.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allow_list_admits_its_origins_the_hubs_own_and_no_origin() {
        let cors = Cors::new(vec!["https://app.example".into()], false);
        let host = Some("hub.example:3000");
        assert!(cors.admits(Some("https://app.example"), host));
        assert!(cors.admits(None, host));
        assert!(cors.admits(Some("http://hub.example:3000"), host));
        assert!(cors.admits(Some("http://HUB.example:3000"), host));
        for foreign in [
            "https://evil.example",
            "https://app.example.evil",
            "http://hub.example",
            "null",
            "",
        ] {
            assert!(!cors.admits(Some(foreign), host), "{foreign}");
        }
        assert!(!cors.admits(Some("https://evil.example"), None));
    }

    #[test]
    fn no_list_or_a_star_admits_every_origin() {
        for cors in [Cors::default(), Cors::new(vec!["*".into()], true)] {
            assert!(cors.admits(Some("https://evil.example"), Some("hub")));
            assert!(cors.admits(None, None));
        }
    }
}
