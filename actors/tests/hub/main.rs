//! Actor-level tests of the hub on an actix System: real sessions, the three singletons and
//! the typed messages between them, with the interleavings that matter forced (see
//! `support::read_lock`). One test crate, a module per area, so the suite links once.

mod support;

mod broadcaster_restart;
mod cluster_seam;
mod dropped_asks;
mod gathering;
mod handler_tasks;
mod join_replay;
mod races;
mod registry_restart;
mod replay_order;
mod restart_rebuild;
