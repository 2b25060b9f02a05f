//! Cross-origin headers for the Engine.IO endpoint: off unless configured; with credentials
//! the exact origin is echoed with `Access-Control-Allow-Credentials: true`, never `*`.

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
