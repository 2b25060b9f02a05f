//! The integration tests of siohub, in one crate (one link step): each module holds the
//! tests of one area, and `support` holds what they share (servers to start, the wire and
//! real clients that drive them, the binary runner, the small backends).
//!
//! Every test starts its own server on an ephemeral port and touches no process-wide
//! state: nothing here sets an environment variable, installs a logger or changes a
//! limit. What needs those (the environment layer of the configuration, the log lines)
//! runs the `siohub` binary in a process of its own (`support::binary`). So the tests
//! run side by side in one process (`cargo test`) as well as one process each
//! (`cargo nextest`, the README's command when it is installed).
//!
//! One area: `cargo nextest run --test it -E 'test(/^hub_rooms::/)'` or
//! `cargo test --test it hub_rooms::`.

mod support;

mod admin_ui;
mod api_http;
mod auth_tokens;
mod binary_cli;
mod chaos;
mod cluster_attack;
mod cluster_faults;
mod cluster_history;
mod cluster_history_attack;
mod cluster_node;
mod cluster_nodes;
mod cluster_recovery;
mod cluster_views;
mod config_layers;
mod config_validation;
mod conformance;
mod conformance_load;
mod dashboard_browser;
mod dashboard_routes;
mod eio3_clients;
mod engine_access;
mod engine_connect_churn;
mod engine_deflate;
mod engine_errors;
mod engine_heartbeat;
mod engine_options;
mod engine_polling;
mod engine_read_backpressure;
mod engine_upgrade_paths;
mod engine_websocket;
mod fuzz_corpus;
mod hub_acks;
mod hub_delivery;
mod hub_fanout_order;
mod hub_faults;
mod hub_fields;
mod hub_history;
mod hub_presence;
mod hub_publish_rights;
mod hub_rooms;
mod hub_slow_consumer;
mod limits;
mod logging;
mod msgpack_parser;
mod official_admin_ui;
mod ops_connections;
mod ops_health;
mod ops_metrics;
mod ops_shutdown;
mod real_clients;
mod scenario_server_manual;
mod socket_bounds;
mod socketio_protocol;
mod subscriptions_durable;
mod webhook;
mod websocket_suite;
