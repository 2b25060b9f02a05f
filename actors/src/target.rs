//! Who a broadcast goes to: a namespace, narrowed to rooms, users and single sockets, minus
//! excepted rooms and sockets. Plain data, read by the Broadcaster (to resolve recipients
//! and match logged events) and by subscribers.

use std::collections::HashSet;

/// Who a broadcast goes to. Empty `rooms`, `users` and `socket_ids` mean the whole
/// namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Target {
    /// The namespace.
    pub nsp: String,
    /// Rooms whose members get it (union, one copy per socket).
    pub rooms: Vec<String>,
    /// Users whose sockets get it (their `user:<id>` rooms).
    pub users: Vec<String>,
    /// Single sockets that get it.
    pub socket_ids: Vec<String>,
    /// Rooms whose members do not get it.
    pub except_rooms: Vec<String>,
    /// Sockets that do not get it (the sender, typically).
    pub except_socket_ids: Vec<String>,
}

impl Target {
    /// The whole namespace.
    pub fn namespace(nsp: &str) -> Self {
        Target {
            nsp: nsp.to_owned(),
            ..Target::default()
        }
    }

    /// Whether the target is the whole namespace.
    pub fn is_namespace_wide(&self) -> bool {
        self.rooms.is_empty() && self.users.is_empty() && self.socket_ids.is_empty()
    }

    /// Whether a socket with this id and these rooms is targeted (used for recovery).
    pub fn includes(&self, socket_id: &str, rooms: &HashSet<String>) -> bool {
        let excepted = self.except_socket_ids.iter().any(|s| s == socket_id)
            || self.except_rooms.iter().any(|r| rooms.contains(r));
        if excepted {
            return false;
        }
        self.is_namespace_wide()
            || self.socket_ids.iter().any(|s| s == socket_id)
            || self.rooms.iter().any(|r| rooms.contains(r))
            || self
                .users
                .iter()
                .any(|u| rooms.contains(&crate::policy::user_room(u)))
    }
}
