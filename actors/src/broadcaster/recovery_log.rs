//! The connection state recovery log of one namespace: every non-volatile event with its
//! offset (what the client acknowledges by holding it), its broadcast number and its target,
//! bounded in time (the recovery window), in bytes and in count.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::target::Target;
use crate::wire_frame::Frames;

/// Most events kept per namespace for connection state recovery, whatever the window.
pub const RECOVERY_LOG_MAX: usize = 10_000;

/// One logged event.
pub(super) struct LoggedPacket {
    pub(super) offset: u64,
    /// The number of its broadcast (see `sequence`).
    pub(super) number: u64,
    pub(super) at: Instant,
    pub(super) frames: Frames,
    pub(super) target: Target,
    /// What it is charged against `recovery_max_bytes`.
    pub(super) cost: usize,
    /// For another node's event (kept in a log of their own, see `remote_replay`): its
    /// offset as that node appended it (`offset` is then that node's counter).
    pub(super) origin: Option<Arc<str>>,
}

/// One namespace's log.
#[derive(Default)]
pub(super) struct PacketLog {
    /// The newest offset handed out in this namespace.
    pub(super) next: u64,
    pub(super) entries: VecDeque<LoggedPacket>,
    pub(super) bytes: usize,
}

impl PacketLog {
    fn pop_oldest(&mut self) {
        if let Some(p) = self.entries.pop_front() {
            self.bytes -= p.cost;
        }
    }

    /// Adds an event.
    pub(super) fn push(&mut self, packet: LoggedPacket) {
        self.bytes += packet.cost;
        self.entries.push_back(packet);
    }

    /// Whether a client holding `offset` can be told everything after it: the offset is
    /// still in the log, or is the newest one handed out.
    pub(super) fn knows(&self, offset: u64) -> bool {
        // Entries are logged in increasing offset order.
        let logged = self
            .entries
            .binary_search_by_key(&offset, |p| p.offset)
            .is_ok();
        logged || offset == self.next
    }

    /// The events after `offset` and numbered up to `upto` that targeted a socket with this
    /// id and these rooms, oldest first.
    pub(super) fn missed(
        &self,
        offset: u64,
        upto: u64,
        socket_id: &str,
        rooms: &HashSet<String>,
    ) -> impl Iterator<Item = (&Frames, &Target)> + '_ {
        let rooms = rooms.clone();
        let socket_id = socket_id.to_owned();
        self.entries
            .iter()
            .filter(move |p| {
                p.offset > offset && p.number <= upto && p.target.includes(&socket_id, &rooms)
            })
            .map(|p| (&p.frames, &p.target))
    }
}

/// Drops the entries older than `window`.
pub(super) fn expire_log(log: &mut PacketLog, window: Duration) {
    let now = Instant::now();
    while log
        .entries
        .front()
        .is_some_and(|p| now.duration_since(p.at) > window)
    {
        log.pop_oldest();
    }
}

/// Drops the oldest entries while the log is over `max_bytes` or [`RECOVERY_LOG_MAX`]
/// events; returns how many went.
pub(super) fn bound_log(log: &mut PacketLog, max_bytes: usize) -> u64 {
    let mut dropped = 0;
    while !log.entries.is_empty() && (log.bytes > max_bytes || log.entries.len() > RECOVERY_LOG_MAX)
    {
        log.pop_oldest();
        dropped += 1;
    }
    dropped
}

/// What a logged target holds besides its frames.
pub(super) fn target_bytes(target: &Target) -> usize {
    let lists = [
        &target.rooms,
        &target.users,
        &target.socket_ids,
        &target.except_rooms,
        &target.except_socket_ids,
    ];
    target.nsp.len()
        + lists
            .iter()
            .flat_map(|l| l.iter())
            .map(|s| s.len() + std::mem::size_of::<String>())
            .sum::<usize>()
}

/// An offset as the client holds it.
pub(super) fn format_offset(offset: u64) -> String {
    format!("{offset:x}")
}

/// An offset from the client.
pub(super) fn parse_offset(text: &str) -> Option<u64> {
    u64::from_str_radix(text, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recovery_log_is_bounded_in_bytes() {
        let mut log = PacketLog::default();
        for offset in 0..100 {
            log.entries.push_back(LoggedPacket {
                offset,
                number: offset,
                at: Instant::now(),
                frames: Vec::new().into(),
                target: Target::namespace("/"),
                cost: 100,
                origin: None,
            });
            log.bytes += 100;
        }
        assert_eq!(bound_log(&mut log, 1000), 90);
        assert_eq!((log.entries.len(), log.bytes), (10, 1000));
        assert_eq!(log.entries.front().map(|p| p.offset), Some(90));
        assert_eq!(bound_log(&mut log, 1000), 0);
    }

    #[test]
    fn offsets_round_trip() {
        assert_eq!(parse_offset(&format_offset(0xabc)), Some(0xabc));
        assert_eq!(parse_offset("zz"), None);
    }
}
