//! The front page at `/`: what this server is, a link to the dashboard, and whether admin
//! access is on (and how to turn it on when it is not); and the start-up log line that
//! says the same.

use std::net::SocketAddr;

use super::assets::{html_attribute, Asset, Assets};
use crate::config::Settings;

/// How the dashboard can be reached with these settings (as `/admin` lets watchers in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAccess {
    /// `[api] insecure = true`: the dashboard opens without a login.
    Insecure,
    /// `[admin] password_hash` or `[api] keys` is set: the dashboard asks for the admin
    /// login or an API key.
    Login,
    /// None of them: `/admin` refuses every watcher.
    Off,
}

impl AdminAccess {
    /// The access these settings give.
    pub fn of(settings: &Settings) -> Self {
        if settings.api.insecure {
            AdminAccess::Insecure
        } else if !settings.admin.password_hash.is_empty() || !settings.api.keys.is_empty() {
            AdminAccess::Login
        } else {
            AdminAccess::Off
        }
    }
}

/// The one start-up line about the dashboard, for the server listening on `addr`.
pub fn startup_line(settings: &Settings, addr: SocketAddr) -> String {
    match AdminAccess::of(settings) {
        AdminAccess::Login => format!(
            "dashboard at http://{addr}/dashboard ({}{})",
            login_means(settings),
            if settings.admin.read_only {
                ", read-only"
            } else {
                ""
            }
        ),
        AdminAccess::Insecure => {
            format!("dashboard at http://{addr}/dashboard (no login: [api] insecure = true)")
        }
        AdminAccess::Off => "dashboard: admin off: set [admin] password_hash".to_owned(),
    }
}

/// What the dashboard's login accepts with these settings.
fn login_means(settings: &Settings) -> String {
    match (
        settings.admin.password_hash.is_empty(),
        settings.api.keys.is_empty(),
    ) {
        (false, true) => format!("admin login {:?}", settings.admin.username),
        (false, false) => format!("admin login {:?} or an API key", settings.admin.username),
        _ => "an API key of [api] keys; set [admin] password_hash for a login".to_owned(),
    }
}

/// The front page for these settings.
pub fn page(settings: &Settings, assets: &Assets) -> Asset {
    let access = match AdminAccess::of(settings) {
        // Anyone can read this page: it says that a login is needed, not whose (the user
        // name, whether keys are set or the hub is read-only stay in the start-up log).
        AdminAccess::Login => "<p class=\"state on\">Admin access is <strong>on</strong>: \
             the dashboard asks for the admin login or an API key.</p>"
            .to_owned(),
        AdminAccess::Insecure => "<p class=\"state insecure\">Admin access is open to \
             anyone who reaches this port (<code>[api] insecure = true</code>): use it for \
             development only.</p>"
            .to_owned(),
        AdminAccess::Off => "<p class=\"state off\">Admin access is <strong>off</strong>: \
             the dashboard cannot connect until you set a password.</p>"
            .to_owned(),
    };
    let style = assets.url("style.css").unwrap_or_default();
    let icon = assets.url("favicon.svg").unwrap_or_default();
    let path = html_attribute(&settings.server.path);
    let body = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>siohub</title>
<link rel="icon" href="{icon}" type="image/svg+xml">
<link rel="stylesheet" href="{style}">
</head>
<body class="home">
<main>
<h1>siohub</h1>
<p>A Socket.IO hub. Clients connect on <code>{path}</code>.</p>
<p><a class="button" href="/dashboard">Open the dashboard</a></p>
{access}
<h2>Turning admin access on</h2>
<p>The dashboard and the <code>/admin</code> namespace (for <code>@socket.io/admin-ui</code>)
log in with the <code>[admin]</code> user. Make a bcrypt hash of a password, for example
with one of:</p>
<pre>htpasswd -nbBC 12 admin 'your password' | cut -d: -f2
python3 -c 'import bcrypt; print(bcrypt.hashpw(b"your password", bcrypt.gensalt()).decode())'</pre>
<p>and put it in the configuration file:</p>
<pre>[admin]
username = "admin"
password_hash = "$2b$12$…"
read_only = false   # true: watch only, no disconnect, join, leave or emit</pre>
<p>or in the environment: <code>SOCKETIO_ADMIN__PASSWORD_HASH='$2b$12$…'</code>.
Then restart the hub. <code>/health</code>, <code>/ready</code> and <code>/metrics</code>
are the other operations routes.</p>
</main>
</body>
</html>
"#
    );
    Asset::new(body, "text/html; charset=utf-8", "no-cache")
}
