//! siohub: a standalone Socket.IO hub on the actix actor model.
//!
//! The binary (`src/main.rs`) reads [`config::Settings`] and runs [`server::bind`] with the
//! hub's namespaces from [`application`]. The same pieces serve the conformance examples
//! and the integration tests, which start a [`server::BackgroundServer`] on a free port.
#![warn(missing_docs)]

pub mod admin;
pub mod api;
pub mod application;
pub mod auth;
pub mod builtins;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod conformance;
pub mod cors;
pub mod dashboard;
pub mod error_code;
pub mod fuzzing;
pub mod handshake_slots;
pub mod http_client;
pub mod limits;
pub mod logging;
pub mod memory;
pub mod ops;
pub mod server;
pub mod state;
pub mod subscriptions;
pub mod transport;
pub mod webhook;
pub mod workers;

pub use siohub_actors::{
    AckError, AckSender, Application, ConnectRefusal, ConnectRequest, DisconnectReason, Namespace,
    Namespaces, Payload, Socket,
};
