//! The cluster: what the nodes sharing one Redis keep there.

pub mod recovery_store;
