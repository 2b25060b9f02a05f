//! Starting in-process test servers: the Engine.IO echo server and the hub (its built-in
//! events and namespace policies). The scenario server starts in [`super::scenario`].

use siohub::config::{NamespacePolicy, Settings};
use siohub::server::BackgroundServer;
use siohub::Application;

use super::settings::test_settings;

/// Starts the Engine.IO echo server.
pub fn start_echo(settings: Settings) -> BackgroundServer {
    BackgroundServer::start(settings, Application::EngineEcho).expect("the echo server starts")
}

/// Starts the hub (its built-in events) with `namespaces` as the namespace policies.
pub fn start_hub(namespaces: Vec<NamespacePolicy>) -> BackgroundServer {
    start_hub_with(namespaces, |_| {})
}

/// Starts the hub with `namespaces`, after `adjust` changed the other test settings.
pub fn start_hub_with(
    namespaces: Vec<NamespacePolicy>,
    adjust: impl FnOnce(&mut Settings),
) -> BackgroundServer {
    let mut settings = test_settings();
    settings.namespaces = namespaces;
    adjust(&mut settings);
    start_hub_from(settings)
}

/// Starts the hub with `settings`, once they pass the start-up validation.
pub fn start_hub_from(settings: Settings) -> BackgroundServer {
    settings.validate().expect("the test's settings are valid");
    let app = siohub::application::from_settings(&settings);
    BackgroundServer::start(settings, app).expect("the hub starts")
}
