//! The front page `/` and the dashboard's files under `/dashboard`: status, content type,
//! the Content-Security-Policy that keeps the page on the hub, caching (an ETag on the
//! page, versioned files cached for good), a JSON 404 for a file that is not there, and
//! the one start-up line about the dashboard. The page in a browser is in
//! `dashboard_browser`.

use crate::support;
use crate::support::binary::Server;
use crate::support::wire::{request, Response};

use std::time::{Duration, Instant};

use siohub::server::BackgroundServer;
use support::test_settings;

fn hub(adjust: impl FnOnce(&mut siohub::config::Settings)) -> BackgroundServer {
    let mut settings = test_settings();
    adjust(&mut settings);
    support::start_hub_from(settings)
}

fn get(server: &BackgroundServer, target: &str) -> Response {
    request(server.addr, "GET", target, &[], b"")
}

/// The policy keeps every load and connection on the hub.
#[track_caller]
fn assert_locked_down(response: &Response) {
    let csp = response
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("no CSP: {:?}", response.headers));
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("http"),
        "{csp}"
    );
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
}

/// The versioned file URLs (`/dashboard/…?v=…`) a page names.
fn file_urls(page: &str) -> Vec<String> {
    page.split('"')
        .filter(|part| part.starts_with("/dashboard/") && part.contains("?v="))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_dashboard_page_is_html_locked_to_the_hub_and_revalidated() {
    let server = hub(|_| {});
    let page = get(&server, "/dashboard");
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_locked_down(&page);
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    let etag = page.header("etag").expect("an ETag").to_owned();
    let text = page.text();
    assert!(text.contains("data-path=\"/socket.io/\""), "{text}");
    assert!(text.contains("id=\"login-form\""));

    // The same version again: 304 with no body, still locked down.
    let again = request(
        server.addr,
        "GET",
        "/dashboard",
        &[("If-None-Match", &etag)],
        b"",
    );
    assert_eq!(again.status, 304, "{again:?}");
    assert!(again.text().is_empty());
    assert_locked_down(&again);
    // Another version: the page.
    let other = request(
        server.addr,
        "GET",
        "/dashboard/",
        &[("If-None-Match", "\"not-this-one\"")],
        b"",
    );
    assert_eq!(other.status, 200);
    assert_eq!(other.text(), text);
}

#[test]
fn every_file_the_page_names_is_served_versioned_and_names_nothing_outside_the_hub() {
    let server = hub(|_| {});
    let page = get(&server, "/dashboard").text();
    let urls = file_urls(&page);
    assert_eq!(urls.len(), 5, "{urls:?}");
    let mut scripts = 0;
    for url in &urls {
        let file = get(&server, url);
        assert_eq!(file.status, 200, "{url}: {file:?}");
        let content_type = file.header("content-type").unwrap().to_owned();
        match url.split('?').next().unwrap().rsplit('.').next().unwrap() {
            "js" => {
                scripts += 1;
                assert_eq!(content_type, "text/javascript; charset=utf-8")
            }
            "css" => assert_eq!(content_type, "text/css; charset=utf-8"),
            "svg" => assert_eq!(content_type, "image/svg+xml"),
            other => panic!("unexpected file type {other} in {url}"),
        }
        assert_eq!(
            file.header("cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{url}"
        );
        assert_locked_down(&file);
        // The SVG namespace is a name, never fetched.
        let text = file
            .text()
            .replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        assert!(!text.is_empty());
        // No address of another host: everything the page needs is on the hub.
        for outside in ["http://", "https://", "//cdn", "@import"] {
            assert!(!text.contains(outside), "{url} names {outside}");
        }
    }
    assert_eq!(scripts, 3);
    for outside in ["http://", "https://"] {
        assert!(!page.contains(outside), "the page names {outside}");
    }
}

#[test]
fn a_file_that_is_not_there_is_a_json_404() {
    let server = hub(|_| {});
    for target in [
        "/dashboard/nope.js",
        "/dashboard/index.html",
        "/dashboard/..%2FCargo.toml",
    ] {
        let response = get(&server, target);
        assert_eq!(response.status, 404, "{target}: {response:?}");
        assert_eq!(response.json()["code"], "NOT_FOUND", "{target}");
        assert!(response.json()["message"]
            .as_str()
            .unwrap()
            .contains("/dashboard"));
    }
}

#[test]
fn the_front_page_links_the_dashboard_and_says_how_to_turn_admin_on() {
    // No password, no API key, not insecure: admin access is off.
    let server = hub(|s| s.api.keys.clear());
    let page = get(&server, "/");
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_locked_down(&page);
    let text = page.text();
    assert!(text.contains("href=\"/dashboard\""), "{text}");
    assert!(
        text.contains("Admin access is <strong>off</strong>"),
        "{text}"
    );
    assert!(text.contains("password_hash"));
    assert!(text.contains("htpasswd -nbBC 12"));
    for url in file_urls(&text) {
        assert_eq!(get(&server, &url).status, 200, "{url}");
    }

    let with_login = hub(|s| {
        s.admin.password_hash = bcrypt::hash("pw", 4).unwrap();
        s.admin.username = "ops<&>".into();
    });
    let text = get(&with_login, "/").text();
    assert!(
        text.contains("Admin access is <strong>on</strong>"),
        "{text}"
    );
    assert!(
        !text.contains("ops"),
        "the page anyone can read names no admin user: {text}"
    );

    // An API key alone opens it too.
    let keys_only = hub(|_| {});
    let text = get(&keys_only, "/").text();
    assert!(
        text.contains("Admin access is <strong>on</strong>"),
        "{text}"
    );
    assert!(text.contains("an API key"), "{text}");

    let insecure = hub(|s| s.api.insecure = true);
    let text = get(&insecure, "/").text();
    assert!(text.contains("insecure = true"), "{text}");
}

/// Waits for a line of the server's standard error that contains `needle`.
#[track_caller]
fn wait_for_line(server: &Server, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(line) = server.stderr().into_iter().find(|l| l.contains(needle)) {
            return line;
        }
        assert!(
            Instant::now() < deadline,
            "no line with {needle:?}: {:?}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn start_up_says_where_the_dashboard_is_or_that_admin_is_off() {
    let off = Server::start(&[], &[("SOCKETIO_LOGGER_LEVEL", "info")]);
    wait_for_line(&off, "admin off: set [admin] password_hash");
    assert!(!off.stderr().iter().any(|l| l.contains("/dashboard")));

    let hash = bcrypt::hash("pw", 4).unwrap();
    let on = Server::start(
        &[],
        &[
            ("SOCKETIO_LOGGER_LEVEL", "info"),
            ("SOCKETIO_ADMIN__PASSWORD_HASH", &hash),
        ],
    );
    let line = wait_for_line(&on, "dashboard at ");
    assert!(
        line.contains(&format!("http://127.0.0.1:{}/dashboard", on.port)),
        "{line}"
    );
    assert!(!on.stderr().iter().any(|l| l.contains("admin off")));
}
