//! Runs the scenario server until killed, for running tests/clients/run_against.sh by hand:
//! `cargo test --test it scenario_server_manual -- --ignored --nocapture`.

use crate::support;

#[test]
#[ignore = "runs until killed; for manual use"]
fn serve_forever() {
    let mut settings = support::test_settings();
    settings.server.port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3100);
    let (server, _records) = support::start_scenario_server(settings);
    println!("scenario server on {}", server.url());
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
