//! The Socket.IO conformance server (port 3000, path /socket.io/, ping 300/200 ms, CORS
//! `*`): on connect to `/` or `/custom` it emits `auth` with the handshake auth; in `/`,
//! `message` is answered with `message-back` carrying the same arguments (binary included)
//! and `message-with-ack` is acked with the same arguments.
//!
//! `cargo run --release --example socketio_conformance`

use std::sync::Arc;

use siohub::config::Settings;
use siohub::{Application, Namespaces};

fn namespaces() -> Namespaces {
    Namespaces::new()
        .add("/", |ns| {
            ns.on_connect(|socket, auth| socket.emit("auth", serde_json::json!([auth])))
                .on("message", |socket, payload, _ack| {
                    socket.emit_payload("message-back", payload)
                })
                .on("message-with-ack", |_socket, payload, ack| {
                    if let Some(ack) = ack {
                        ack.send(payload);
                    }
                })
        })
        .add("/custom", |ns| {
            ns.on_connect(|socket, auth| socket.emit("auth", serde_json::json!([auth])))
        })
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/config/conformance.toml");
    let settings = Settings::load(Some(file), &[]).map_err(std::io::Error::other)?;
    siohub::logging::init(&settings.logging);
    let app = Application::SocketIo(Arc::new(namespaces()));
    let state = siohub::server::engine_state(&settings, app);
    let (server, addrs) = siohub::server::bind(&settings, state, false)?;
    log::info!(
        "Socket.IO conformance server on http://{}/socket.io/",
        addrs[0]
    );
    server.await
}
