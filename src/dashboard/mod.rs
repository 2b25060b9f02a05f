//! The built-in dashboard at `/dashboard` and the hub's front page at `/`.
//!
//! Every file is compiled into the binary ([`assets`]): the page's HTML, CSS and
//! JavaScript, with its own small Engine.IO v4 / Socket.IO v5 client. The page is a client
//! of the `/admin` namespace; it holds no data itself, so serving it needs no credentials:
//! what it shows comes through `/admin`, which asks for the admin login (or an API key,
//! or nothing with `[api] insecure = true`). Every response carries a
//! `Content-Security-Policy` that lets the page load and connect only to the hub itself.

pub mod assets;
pub mod home;

use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::api::ApiError;
use crate::config::Settings;
use assets::{Asset, Assets};

/// The policy every page and file of the dashboard is served with: scripts, styles,
/// images and connections from the hub only (`'self'` covers its websocket too), no
/// frames, no forms posted elsewhere, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// What the dashboard's routes serve, built once from the settings.
#[derive(Debug, Clone)]
pub struct Dashboard {
    assets: Arc<Assets>,
    home: Arc<Asset>,
}

impl Dashboard {
    /// The dashboard for these settings (the Socket.IO path the page connects to, the
    /// admin state the front page describes).
    pub fn new(settings: &Settings) -> Self {
        let assets = Assets::new(&settings.server.path);
        let home = home::page(settings, &assets);
        Dashboard {
            assets: Arc::new(assets),
            home: Arc::new(home),
        }
    }

    /// Mounts `/`, `/dashboard` and `/dashboard/{file}`.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::new(self.clone()))
            .route("/", web::get().to(front_page))
            .route("/dashboard", web::get().to(dashboard_page))
            .route("/dashboard/", web::get().to(dashboard_page))
            .route("/dashboard/{file}", web::get().to(dashboard_file));
    }
}

async fn front_page(req: HttpRequest, dashboard: web::Data<Dashboard>) -> HttpResponse {
    serve(&req, &dashboard.home)
}

async fn dashboard_page(req: HttpRequest, dashboard: web::Data<Dashboard>) -> HttpResponse {
    serve(&req, dashboard.assets.page())
}

async fn dashboard_file(
    req: HttpRequest,
    file: web::Path<String>,
    dashboard: web::Data<Dashboard>,
) -> Result<HttpResponse, ApiError> {
    match dashboard.assets.file(&file) {
        Some(asset) => Ok(serve(&req, asset)),
        None => Err(ApiError::not_found(
            "the dashboard has no such file; the page is served at /dashboard",
        )),
    }
}

/// `asset` with its type, validator, caching and security headers, or 304 when the
/// client's `If-None-Match` names its current version.
fn serve(req: &HttpRequest, asset: &Asset) -> HttpResponse {
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|t| t.trim() == asset.etag || t.trim() == "*")
        });
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CONTENT_TYPE, asset.content_type))
        .insert_header((header::ETAG, asset.etag.as_str()))
        .insert_header((header::CACHE_CONTROL, asset.cache_control))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    if fresh {
        response.finish()
    } else {
        response.body(asset.body.clone())
    }
}
