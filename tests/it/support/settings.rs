//! The settings test servers start from: the loopback on a free port, an operator key, and
//! the small variations many tests share (a fast heartbeat, a namespace policy by name).

use siohub::config::{NamespacePolicy, Settings};

/// The API key every test server from [`test_settings`] opens `/api` and `/connections`
/// with.
pub const OPERATOR_KEY: &str = "test-operator-key";

/// The header that makes a request an operator's (`/connections` needs it).
pub const OPERATOR: [(&str, &str); 1] = [("X-API-Key", OPERATOR_KEY)];

/// Settings for a test server on a free port of the loopback, whose `/connections` opens
/// with [`OPERATOR_KEY`].
pub fn test_settings() -> Settings {
    Settings::load(
        None,
        &[
            ("server.host", "127.0.0.1".into()),
            ("server.port", "0".into()),
            ("server.workers", "2".into()),
            ("api.keys", OPERATOR_KEY.into()),
        ],
    )
    .expect("test settings are valid")
}

/// [`test_settings`] with the conformance suites' heartbeat: a ping every 300 ms, 200 ms
/// for the pong.
pub fn fast_heartbeat() -> Settings {
    let mut settings = test_settings();
    settings.engine.ping_interval_ms = 300;
    settings.engine.ping_timeout_ms = 200;
    settings
}

/// A namespace policy with the defaults and this name.
pub fn policy(name: &str) -> NamespacePolicy {
    NamespacePolicy {
        name: name.into(),
        ..Default::default()
    }
}
