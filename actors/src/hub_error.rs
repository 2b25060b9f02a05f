//! The errors of the hub's operations, one type per operation whose callers handle the
//! cases differently (as socketioxide's `BroadcastError` / `DisconnectError` do).

/// An actor's mailbox is closed (it is stopping, or the hub is shutting down); try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the {0} actor is not available")]
pub struct Unavailable(pub &'static str);

/// The socket is not connected (any more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the socket is not connected")]
pub struct NotConnected;

/// Why a socket could not join a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The socket is not connected (any more).
    #[error("the socket is not connected")]
    NotConnected,
    /// The socket is in as many rooms as `max_rooms_per_socket` allows; it must leave one
    /// before it joins another.
    #[error("the socket is in {max} rooms, the most max_rooms_per_socket allows; leave one first")]
    TooManyRooms {
        /// The bound.
        max: usize,
    },
    /// The join named a field set the room has no room for (see
    /// [`FieldsError::TooManyFieldSets`](crate::fields::FieldsError)); the socket was not
    /// joined.
    #[error("{0}")]
    Fields(crate::fields::FieldsError),
}

impl From<NotConnected> for JoinError {
    fn from(_: NotConnected) -> Self {
        JoinError::NotConnected
    }
}
