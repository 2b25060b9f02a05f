//! The room histories in Redis: a room with `buffer = "always"` keeps its history on every
//! node, and Redis holds it too, so that a node started later (or whose subscription was
//! lost while others published) loads it (see `siohub_actors::room_history` for the seam).
//!
//! What is kept, under `[adapter] key_prefix`:
//! - `<prefix>-history#<nsp>#<room>`: a stream per always-room of the events published to
//!   it by siohub nodes (origin uid `o`, the origin's broadcast number `c`, its wall-clock
//!   time `w` in µs since the epoch, the frames as sent: `t` per text frame, `b` per binary one),
//!   trimmed to the namespace's `buffer_size` (exact MAXLEN) and expiring `buffer_ttl` after
//!   its last write;
//! - `<prefix>-history-rooms#<nsp>`: a sorted set of the namespace's rooms scored by when
//!   their history expires (last write + TTL): expired ones leave it at each write, and
//!   beyond `[adapter] history_max_rooms` the least recently written room goes with its
//!   stream (counted);
//! - `<prefix>-history-namespaces`: the namespaces with a history, scored the same way (at
//!   most [`MAX_NAMESPACES`]).
//!
//! [`writer`] adds the writes to the publisher's pipeline, before the broadcast's PUBLISH:
//! an event another node missed on pub/sub because it was not subscribed yet is in Redis
//! by the time its subscription is confirmed. [`loader`] reads them on every
//! (re)subscription. Events published by a Node.js server are not written (its adapter
//! has no such store): a node that starts later does not get them.

pub(crate) mod loader;
pub(crate) mod writer;

/// Namespaces whose histories are listed at most.
pub(crate) const MAX_NAMESPACES: usize = 1_000;

/// The Redis key names of the histories.
#[derive(Debug, Clone)]
pub(crate) struct HistoryKeys {
    prefix: String,
}

impl HistoryKeys {
    /// The keys under `prefix`.
    pub(crate) fn new(prefix: &str) -> Self {
        HistoryKeys {
            prefix: prefix.to_owned(),
        }
    }

    /// What the stream of every room of `nsp` is named after (the room follows).
    pub(crate) fn stream_prefix(&self, nsp: &str) -> String {
        format!("{}-history#{nsp}#", self.prefix)
    }

    /// The stream of `room` in `nsp`.
    pub(crate) fn stream(&self, nsp: &str, room: &str) -> String {
        format!("{}{room}", self.stream_prefix(nsp))
    }

    /// The sorted set of the rooms of `nsp` with a history.
    pub(crate) fn rooms(&self, nsp: &str) -> String {
        format!("{}-history-rooms#{nsp}", self.prefix)
    }

    /// The sorted set of the namespaces with a history.
    pub(crate) fn namespaces(&self) -> String {
        format!("{}-history-namespaces", self.prefix)
    }
}
