//! The two conformance servers of SPEC.md §1, started as the examples start them (on a free
//! port instead of 3000) and checked with the real Node clients.

use crate::support::clients;

use siohub::conformance;
use siohub::server::BackgroundServer;

fn check(mode: &str, path: &str, app: siohub::Application) {
    let settings = conformance::settings(
        path,
        &[
            ("server.host", "127.0.0.1".into()),
            ("server.port", "0".into()),
        ],
    )
    .unwrap();
    let server = BackgroundServer::start(settings, app).unwrap();
    let out = clients::node("conformance.mjs")
        .args([mode, &server.url()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(r#""ok":true"#),
        "{mode} conformance failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn socketio_conformance_server() {
    check(
        "socketio",
        "/socket.io/",
        conformance::socketio_application(),
    );
}

#[test]
fn engineio_conformance_server() {
    check(
        "engineio",
        "/engine.io/",
        conformance::engineio_application(),
    );
}
