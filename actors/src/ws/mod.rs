//! The websocket transport without an actor of its own: the session writes encoded frames
//! into an [`Outbox`] that the connection drains (several frames per write when a backlog
//! builds), and the connection hands the client's frames to the session, no more at a
//! time than the [`InflightLimit`] allows. One actor per connection, one mailbox hop from
//! a broadcaster to the writer, and backlogs in both directions the session can bound.

mod assembler;
pub mod deflate;
mod frame_reader;
mod inflight;
mod outbox;

pub use assembler::{Assembler, WsEvent};
pub use frame_reader::{FrameReader, CLOSE_INVALID_DATA, CLOSE_PROTOCOL_ERROR, CLOSE_TOO_BIG};
pub use inflight::{Credit, Inflight, InflightLimit};
pub use outbox::{Outbox, OutboxStream};
