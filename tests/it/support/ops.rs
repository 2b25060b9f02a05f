//! What the ops routes of a test server answer: `/connections` (as the operator) and the
//! `/metrics` text.

use serde_json::Value;
use siohub::server::BackgroundServer;

use super::settings::OPERATOR;
use super::wire::request;

/// The `/connections` listing (up to 1000 connections), read as the operator.
#[track_caller]
pub fn connections(server: &BackgroundServer) -> Value {
    let response = request(
        server.addr,
        "GET",
        "/connections?limit=1000",
        &OPERATOR,
        b"",
    );
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

/// The `/metrics` exposition text.
pub fn metrics_text(server: &BackgroundServer) -> String {
    request(server.addr, "GET", "/metrics", &[], b"").text()
}
