//! The websocket transport without an actor of its own: the session writes encoded frames
//! into an [`Outbox`] that the connection drains (several frames per write when a backlog
//! builds), and the connection hands the client's frames to the session. One actor per
//! connection, one mailbox hop from a broadcaster to the writer, and an outgoing backlog the
//! session can measure and bound.

mod assembler;
mod connection;
mod outbox;

pub use assembler::{Assembler, WsEvent};
pub use connection::run;
pub use outbox::{Outbox, OutboxStream};
