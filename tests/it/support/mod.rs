//! What the integration tests share, each helper once: the settings and starts of the
//! in-process servers, the scenario server, reads of the hub's state (every read of its
//! internal tables is in `hub_state`), the ops routes, the raw wire clients (HTTP, polling,
//! websocket frames, Socket.IO) and the event-stream reader, the real clients (their
//! scripts and the line driver), the `siohub` binary runner with its config files, users'
//! tokens, waiting with a deadline, a `redis-server` and a PostgreSQL of the test's own, and the small
//! backends a test starts (HTTP, HTTPS).
//!
//! The helpers most modules use are re-exported here.

pub mod backend;
pub mod binary;
pub mod burst;
pub mod clients;
pub mod cluster;
pub mod driver;
pub mod hub_state;
pub mod ops;
pub mod ports;
pub mod postgres;
pub mod redis;
pub mod scenario;
pub mod servers;
pub mod settings;
pub mod sse;
pub mod temp_file;
pub mod tls_backend;
pub mod tokens;
pub mod wait;
pub mod wire;

pub use burst::all_at_once;
pub use driver::{settle, Driver};
pub use hub_state::{hub_broadcast, room_members, wait_gone};
pub use ports::free_port;
pub use postgres::PostgresServer;
pub use redis::RedisServer;
pub use scenario::{start_scenario_server, Record, Records};
pub use servers::{start_echo, start_hub, start_hub_from, start_hub_with};
pub use settings::{fast_heartbeat, policy, test_settings, OPERATOR, OPERATOR_KEY};
pub use wait::wait_until;
