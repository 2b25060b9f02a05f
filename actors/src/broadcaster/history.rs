//! Reading a room's history out of the room buffers: the [`ReadHistory`] request the `Hub`
//! sends, answered with the kept frames (decoded by the asker, off the Broadcaster's
//! thread).

use std::time::Duration;

use actix::prelude::*;

use super::room_buffers::HistoryPage;
use super::Broadcaster;
use crate::supervision::guarded;

/// The kept events of a room (see [`super::room_buffers::RoomBuffers::history`]).
#[derive(Message)]
#[rtype(result = "HistoryPage")]
pub struct ReadHistory {
    /// The namespace.
    pub nsp: String,
    /// The room.
    pub room: String,
    /// The age limit (the namespace's `buffer_ttl`).
    pub ttl: Duration,
    /// The offset to read after, if any.
    pub since: Option<String>,
    /// Most events answered.
    pub limit: usize,
}

impl Handler<ReadHistory> for Broadcaster {
    type Result = MessageResult<ReadHistory>;

    fn handle(&mut self, msg: ReadHistory, ctx: &mut Context<Self>) -> Self::Result {
        let stats = self.stats.clone();
        MessageResult(guarded(&stats, ctx, HistoryPage::default(), |_| {
            let since = msg.since.as_deref();
            self.buffers
                .history(&msg.nsp, &msg.room, msg.ttl, since, msg.limit)
        }))
    }
}
