//! The Socket.IO conformance server (port 3000, path /socket.io/, ping 300/200 ms, CORS
//! `*`): on connect to `/` or `/custom` it emits `auth` with the handshake auth; in `/`,
//! `message` is answered with `message-back` carrying the same arguments (binary included)
//! and `message-with-ack` is acked with the same arguments.
//!
//! `cargo run --release --example socketio_conformance`

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let settings =
        siohub::conformance::settings("/socket.io/", &[]).map_err(std::io::Error::other)?;
    siohub::logging::init(&settings.logging);
    let state =
        siohub::state::AppState::new(&settings, siohub::conformance::socketio_application());
    let (server, addrs) = siohub::server::bind(&settings, state, false)?;
    log::info!(
        "Socket.IO conformance server on http://{}/socket.io/",
        addrs[0]
    );
    server.await
}
