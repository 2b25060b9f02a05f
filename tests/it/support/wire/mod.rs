//! The raw wire clients the tests drive a server with: a minimal HTTP/1.1 client written on
//! a `TcpStream` (so a test controls every byte: chunked bodies sent slowly, requests dropped
//! half-way, upgrade headers without a handshake), Engine.IO long-polling on top of it, a
//! blocking websocket client (tungstenite), and Socket.IO packets over that websocket. Every
//! read has a deadline, so a server that does not answer fails the test instead of hanging it.

mod frames;
mod http;
mod polling;
mod sio;
mod ws;

use std::time::Duration;

pub use frames::*;
pub use http::*;
pub use polling::*;
pub use sio::*;
pub use ws::*;

/// The endpoint path of `test_settings()`.
pub const PATH: &str = "/socket.io/";
/// The longest any single read may block before the test fails.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// The query of a polling handshake.
pub const POLLING: &str = "EIO=4&transport=polling";
/// The query of a websocket handshake.
pub const WEBSOCKET: &str = "EIO=4&transport=websocket";

/// `PATH?query`.
pub fn target(query: &str) -> String {
    format!("{PATH}?{query}")
}

/// The polling query of session `sid`.
pub fn sid_query(sid: &str) -> String {
    format!("{POLLING}&sid={sid}")
}
