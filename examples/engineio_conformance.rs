//! The Engine.IO conformance server (port 3000, path /engine.io/, ping 300/200 ms, CORS
//! `*`): every message, text or binary, is sent back to its sender.
//!
//! `cargo run --release --example engineio_conformance`

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let settings =
        siohub::conformance::settings("/engine.io/", &[]).map_err(std::io::Error::other)?;
    siohub::logging::init(&settings.logging);
    let state =
        siohub::state::AppState::new(&settings, siohub::conformance::engineio_application());
    let (server, addrs) = siohub::server::bind(&settings, state, false)?;
    log::info!(
        "Engine.IO conformance server on http://{}/engine.io/",
        addrs[0]
    );
    server.await
}
