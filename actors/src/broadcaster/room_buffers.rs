//! The replay buffers of every namespace: events kept for sockets that join a room later
//! (`buffer = "if_no_clients" | "always"`) and the offline queues of users (their
//! `user:<id>` rooms). The Broadcaster owns them: it keeps, replays and sweeps them, and
//! publishes their sizes for `/metrics` ([`BufferSizesView`]). Each kept event carries the
//! number of the broadcast it came from, so a join replays exactly the events resolved
//! without the new member (numbered up to the join's cutoff).
//!
//! What is kept is bounded three ways:
//! - per room: `buffer_size` events (the offline queue's size for user rooms), the oldest
//!   going first;
//! - per namespace: `max_buffer_bytes`, charged per event with its frames, its room's name
//!   and a fixed bookkeeping cost ([`EVENT_OVERHEAD`]), so that a flood of tiny events into
//!   distinct rooms is bounded as well as one of large events; over it the oldest event of
//!   the whole namespace goes first (the newest history is the one worth replaying);
//! - in time: every event expires after its TTL. A periodic [`RoomBuffers::sweep`] removes
//!   expired events whether or not their room is ever touched again. Each namespace keeps
//!   its events in arrival order too (one queue per kind, whose TTL is uniform), so a sweep
//!   costs the expired events only, never a walk over every room.
//!
//! Every event dropped before its TTL is counted with a [`DropReason`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::sync::Mutex;

use crate::history::{HistoryEntry, HistoryStamp};
use crate::policy::{BufferPolicy, RoomBuffering, USER_ROOM_PREFIX};
use crate::room_history::{HistoryKey, LoadSkip, LoadedEvent};
use crate::stats::{DropReason, HubCounters};
use crate::target::Target;
use crate::wire_frame::Frames;

/// Bytes charged per kept event besides its frames and its room's name: the entry in the
/// room's queue and in the arrival queue, and the room's share of the map. A rough figure
/// on purpose: it only has to make many tiny events cost what they really hold.
pub const EVENT_OVERHEAD: usize = 128;

/// Which kind of buffer a room has: its kind decides the drop reason and the metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferKind {
    /// An ordinary room's replay buffer.
    Room = 0,
    /// A user room (`user:<id>`): the offline queue of that user.
    Offline = 1,
}

impl BufferKind {
    /// The kind of `room`'s buffer, from its name.
    pub fn of(room: &str) -> Self {
        if room.starts_with(USER_ROOM_PREFIX) {
            BufferKind::Offline
        } else {
            BufferKind::Room
        }
    }

    fn full_reason(self) -> DropReason {
        match self {
            BufferKind::Room => DropReason::RoomBufferFull,
            BufferKind::Offline => DropReason::OfflineQueueFull,
        }
    }
}

/// One kept event.
#[derive(Debug)]
struct Kept {
    /// Its place in the namespace's arrival order.
    seq: u64,
    /// The number of the broadcast it came from (see the Broadcaster's sequence).
    number: u64,
    at: Instant,
    frames: Frames,
    /// The broadcast's target when it could reach a socket otherwise than through this
    /// room (several rooms, users or socket ids): a joiner that got it that way is not
    /// handed it again.
    reach: Option<Arc<Target>>,
    /// What it is charged against `max_buffer_bytes`.
    cost: usize,
    /// Its name in the cluster, when it has one (see `room_history`).
    key: Option<HistoryKey>,
    /// Its offset in `history` answers (see [`HistoryStamp`]).
    stamp: Option<HistoryStamp>,
}

/// A page of a room's history (see [`RoomBuffers::history`]).
#[derive(Debug, Clone, Default)]
pub struct HistoryPage {
    /// The events, oldest first.
    pub events: Vec<HistoryEntry>,
    /// False when `since` was asked for and the buffer no longer holds it.
    pub complete: bool,
    /// Whether the limit left later events out (read on from the last offset).
    pub more: bool,
}

/// What one namespace keeps of one kind, and how much.
#[derive(Debug, Default)]
struct KindBuffers {
    rooms: HashMap<Arc<str>, VecDeque<Kept>>,
    /// Every kept event as (seq, room), oldest first. An entry whose event already left
    /// (its room overflowed, or a join took it) stays until it reaches the front or the
    /// queue is compacted.
    arrivals: VecDeque<(u64, Arc<str>)>,
    /// The TTL of this kind in this namespace (one policy per namespace, so one TTL).
    ttl: Duration,
    events: usize,
    bytes: usize,
}

/// How much one buffer kind of one namespace holds (for metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BufferSizes {
    /// Rooms (or users) with at least one kept event.
    pub rooms: usize,
    /// Events kept.
    pub events: usize,
    /// Bytes charged for them (see [`EVENT_OVERHEAD`]).
    pub bytes: usize,
}

/// The buffers of one namespace, by kind.
#[derive(Debug, Default)]
struct NspBuffers {
    kinds: [KindBuffers; 2],
    next_seq: u64,
    /// Whether the byte bound was hit since the last sweep (one warning per sweep period).
    warned: bool,
}

/// One event to keep (see [`RoomBuffers::keep_named`]).
pub struct Keep<'a> {
    /// The number of the broadcast it came from.
    pub number: u64,
    /// The event as sent.
    pub frames: &'a Frames,
    /// The broadcast's target when it had other paths than this room.
    pub reach: Option<&'a Arc<Target>>,
    /// Its name in the cluster, if it has one.
    pub key: Option<HistoryKey>,
    /// Its offset in `history` answers, if it has one.
    pub stamp: Option<HistoryStamp>,
}

/// What a merge of loaded history did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Merged {
    /// Loaded events kept.
    pub added: u64,
    /// Events held already.
    pub duplicate: u64,
    /// Events past their TTL.
    pub expired: u64,
    /// Events over `buffer_size` or `max_buffer_bytes` (the oldest go first, loaded or
    /// held before).
    pub over_bound: u64,
}

impl Merged {
    /// How many were skipped for `why`.
    pub fn skipped(&self, why: LoadSkip) -> u64 {
        match why {
            LoadSkip::Duplicate => self.duplicate,
            LoadSkip::Expired => self.expired,
            LoadSkip::OverBound => self.over_bound,
            // The loader skips those before a merge.
            LoadSkip::Invalid => 0,
        }
    }
}

/// Every namespace's replay buffers and offline queues.
#[derive(Debug, Default)]
pub struct RoomBuffers {
    nsps: HashMap<String, NspBuffers>,
    /// Where their sizes are published.
    view: BufferSizesView,
}

/// The sizes of every namespace's room buffers and offline queues, published by the
/// Broadcaster after each change (a lock and a few numbers per change of a namespace), read
/// by `/metrics` without a message.
#[derive(Debug, Clone, Default)]
pub struct BufferSizesView(Arc<Mutex<HashMap<String, [BufferSizes; 2]>>>);

impl BufferSizesView {
    /// Every namespace that buffers something, with the sizes of its room buffers and of
    /// its offline queues, sorted by name.
    pub fn sizes(&self) -> Vec<(String, BufferSizes, BufferSizes)> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut sizes: Vec<_> = map
            .iter()
            .map(|(nsp, [rooms, offline])| (nsp.clone(), *rooms, *offline))
            .collect();
        sizes.sort_by(|a, b| a.0.cmp(&b.0));
        sizes
    }
}

impl KindBuffers {
    /// Takes out the oldest event still kept, if any (dropping stale arrival entries on
    /// the way).
    fn pop_oldest(&mut self) -> Option<Kept> {
        while let Some((seq, room)) = self.arrivals.pop_front() {
            if let Some(kept) = self.take_if_front(seq, &room) {
                return Some(kept);
            }
        }
        None
    }

    /// The seq of the oldest event still kept (dropping stale arrival entries first).
    fn oldest_seq(&mut self) -> Option<u64> {
        while let Some((seq, room)) = self.arrivals.front() {
            let live = self
                .rooms
                .get(room)
                .and_then(|q| q.front())
                .is_some_and(|k| k.seq == *seq);
            if live {
                return Some(*seq);
            }
            self.arrivals.pop_front();
        }
        None
    }

    /// Removes the front event of `room` when it is the one with `seq`.
    fn take_if_front(&mut self, seq: u64, room: &str) -> Option<Kept> {
        let queue = self.rooms.get_mut(room)?;
        if queue.front().is_none_or(|k| k.seq != seq) {
            return None;
        }
        let kept = queue.pop_front()?;
        if queue.is_empty() {
            self.rooms.remove(room);
        }
        self.forget(&kept);
        Some(kept)
    }

    fn forget(&mut self, kept: &Kept) {
        self.events -= 1;
        self.bytes -= kept.cost;
    }

    /// Removes expired events, oldest first; returns how many.
    fn sweep(&mut self, now: Instant) -> usize {
        let mut expired = 0;
        while let Some((seq, room)) = self.arrivals.front() {
            let front = self.rooms.get(room).and_then(|q| q.front());
            match front {
                Some(k) if k.seq == *seq => {
                    if now.duration_since(k.at) <= self.ttl {
                        break;
                    }
                    let (seq, room) = self.arrivals.pop_front().expect("front exists");
                    self.take_if_front(seq, &room);
                    expired += 1;
                }
                _ => {
                    self.arrivals.pop_front();
                }
            }
        }
        expired
    }

    /// Drops arrival entries whose event is gone once they outnumber the live ones, so
    /// that rooms filled and emptied by joins do not grow the queue until their TTL.
    fn compact(&mut self) {
        if self.arrivals.len() <= 2 * self.events + 64 {
            return;
        }
        let rooms = &self.rooms;
        self.arrivals.retain(|(seq, room)| {
            rooms
                .get(room)
                .is_some_and(|q| q.binary_search_by_key(seq, |k| k.seq).is_ok())
        });
    }

    fn sizes(&self) -> BufferSizes {
        BufferSizes {
            rooms: self.rooms.len(),
            events: self.events,
            bytes: self.bytes,
        }
    }
}

impl NspBuffers {
    fn bytes(&self) -> usize {
        self.kinds.iter().map(|k| k.bytes).sum()
    }

    /// Drops the oldest event of the namespace, whatever its kind.
    fn drop_oldest(&mut self) -> Option<Kept> {
        let [rooms, offline] = &mut self.kinds;
        match (rooms.oldest_seq(), offline.oldest_seq()) {
            (Some(a), Some(b)) if b < a => offline.pop_oldest(),
            (Some(_), _) => rooms.pop_oldest(),
            (None, Some(_)) => offline.pop_oldest(),
            (None, None) => None,
        }
    }

    fn is_empty(&self) -> bool {
        self.kinds.iter().all(|k| k.events == 0)
    }
}

impl RoomBuffers {
    /// Keeps `frames` of broadcast `number` for `room` of `nsp`: at most `buffering.size`
    /// events in the room and `max_bytes` in the namespace, the oldest going first (each
    /// counted). `reach` is the broadcast's target when it had other paths than this room.
    #[cfg(test)]
    #[allow(clippy::too_many_arguments)]
    #[cfg(test)]
    pub fn keep(
        &mut self,
        number: u64,
        nsp: &str,
        room: &str,
        frames: &Frames,
        buffering: RoomBuffering,
        max_bytes: usize,
        counters: &HubCounters,
        reach: Option<&Arc<Target>>,
    ) {
        let kept = Keep {
            number,
            frames,
            reach,
            key: None,
            stamp: None,
        };
        self.keep_named(nsp, room, kept, buffering, max_bytes, counters);
    }

    /// As [`RoomBuffers::keep`], with the event's name in the cluster and the offset
    /// `history` lists it with.
    pub fn keep_named(
        &mut self,
        nsp: &str,
        room: &str,
        event: Keep<'_>,
        buffering: RoomBuffering,
        max_bytes: usize,
        counters: &HubCounters,
    ) {
        let Keep {
            number,
            frames,
            reach,
            key: name,
            stamp,
        } = event;
        let kind = BufferKind::of(room);
        // The target kept for the replay check is charged too (once per room that keeps
        // the event: shared, so this errs towards dropping sooner, never later).
        let reach_bytes = reach.map_or(0, |t| super::recovery_log::target_bytes(t));
        let cost = frames.iter().map(|f| f.len()).sum::<usize>()
            + room.len()
            + EVENT_OVERHEAD
            + reach_bytes;
        let table = match self.nsps.get_mut(nsp) {
            Some(table) => table,
            None => self.nsps.entry(nsp.to_owned()).or_default(),
        };
        if cost > max_bytes {
            counters.dropped(DropReason::NamespaceBufferFull, 1);
            if !std::mem::replace(&mut table.warned, true) {
                log::warn!(
                    "namespace {}: an event of {cost} bytes is larger than max_buffer_bytes ({max_bytes}); not buffered (counted as namespace_buffer_full)",
                    crate::ClientText(nsp)
                );
            }
            // An empty namespace stays until the next sweep, with its warning flag.
            return;
        }
        let seq = table.next_seq;
        table.next_seq += 1;
        let buffers = &mut table.kinds[kind as usize];
        buffers.ttl = buffering.ttl;
        let (key, queue) = match buffers.rooms.get_key_value(room) {
            Some((key, _)) => {
                let key = key.clone();
                let queue = buffers.rooms.get_mut(room).expect("the room exists");
                (key, queue)
            }
            None => {
                let key: Arc<str> = room.into();
                (key.clone(), buffers.rooms.entry(key).or_default())
            }
        };
        let mut overflowed = None;
        if queue.len() >= buffering.size {
            overflowed = queue.pop_front();
        }
        queue.push_back(Kept {
            seq,
            number,
            at: Instant::now(),
            frames: frames.clone(),
            reach: reach.cloned(),
            cost,
            key: name,
            stamp,
        });
        buffers.arrivals.push_back((seq, key));
        buffers.events += 1;
        buffers.bytes += cost;
        if let Some(old) = overflowed {
            buffers.forget(&old);
            counters.dropped(kind.full_reason(), 1);
            log::debug!(
                "namespace {} room {}: buffer full ({}); oldest event dropped",
                crate::ClientText(nsp),
                crate::ClientText(room),
                buffering.size
            );
        }
        buffers.compact();
        let mut evicted = 0u64;
        while table.bytes() > max_bytes {
            if table.drop_oldest().is_none() {
                break;
            }
            evicted += 1;
        }
        if evicted > 0 {
            counters.dropped(DropReason::NamespaceBufferFull, evicted);
            if !std::mem::replace(&mut table.warned, true) {
                log::warn!(
                    "namespace {}: buffered events reached max_buffer_bytes ({max_bytes}); the oldest are dropped (counted as namespace_buffer_full)",
                    crate::ClientText(nsp)
                );
            }
        }
        self.publish(nsp);
    }

    /// Merges a room history loaded from the store into the room buffers of `nsp` (rooms,
    /// never offline queues): events the room holds already (by their name) or past their
    /// TTL are skipped; the others are kept with number 0, so that any later join replays
    /// them, before everything received live since `loaded_before` (when the load started),
    /// among the older ones in the order they were published. Then each room keeps its
    /// newest `buffering.size` events and the namespace `max_bytes`, the oldest going first.
    /// The room buffers of the namespace are renumbered (arrival order by age); a load is
    /// rare (a node starting, a subscription made again), so that costs what is kept once.
    pub fn merge(
        &mut self,
        nsp: &str,
        loaded: Vec<LoadedEvent>,
        loaded_before: Instant,
        buffering: RoomBuffering,
        max_bytes: usize,
    ) -> Merged {
        let mut merged = Merged::default();
        let table = match self.nsps.get_mut(nsp) {
            Some(table) => table,
            None => self.nsps.entry(nsp.to_owned()).or_default(),
        };
        let buffers = &mut table.kinds[BufferKind::Room as usize];
        buffers.ttl = buffering.ttl;
        let now = Instant::now();
        let mut held: HashMap<Arc<str>, HashSet<HistoryKey>> = HashMap::new();
        let mut added: HashSet<HistoryKey> = HashSet::new();
        let mut all: Vec<(Arc<str>, Kept)> = Vec::with_capacity(buffers.events + loaded.len());
        for (room, queue) in buffers.rooms.drain() {
            for kept in queue {
                if let Some(key) = &kept.key {
                    held.entry(room.clone()).or_default().insert(key.clone());
                }
                all.push((room.clone(), kept));
            }
        }
        for event in loaded {
            if event.age > buffering.ttl || BufferKind::of(&event.room) != BufferKind::Room {
                merged.expired += 1;
                continue;
            }
            let room: Arc<str> = match held.get_key_value(event.room.as_str()) {
                Some((room, _)) => room.clone(),
                None => event.room.as_str().into(),
            };
            if !held
                .entry(room.clone())
                .or_default()
                .insert(event.key.clone())
            {
                merged.duplicate += 1;
                continue;
            }
            let at = now.checked_sub(event.age).unwrap_or(loaded_before);
            let cost =
                event.frames.iter().map(|f| f.len()).sum::<usize>() + room.len() + EVENT_OVERHEAD;
            added.insert(event.key.clone());
            all.push((
                room,
                Kept {
                    seq: 0,
                    number: 0,
                    at: at.min(loaded_before),
                    frames: event.frames,
                    reach: None,
                    cost,
                    key: Some(event.key),
                    stamp: None,
                },
            ));
        }
        // Everything received live since the load started goes last; the rest in the order
        // of publication (by the origin's clock: one node's events keep their order), events
        // of a Node.js origin (no name) by when they arrived here.
        let wall_now = super::epoch_us();
        all.sort_by_cached_key(|(_, kept)| {
            let live = kept.at > loaded_before;
            let wall = kept.key.as_ref().map_or_else(
                || {
                    let ago = now.saturating_duration_since(kept.at).as_micros() as u64;
                    wall_now.saturating_sub(ago)
                },
                |k| k.at_us,
            );
            (live, wall)
        });
        buffers.arrivals.clear();
        buffers.events = 0;
        buffers.bytes = 0;
        let mut over = 0u64;
        let mut lost = 0u64;
        let mut went = |old: &Kept| {
            over += 1;
            if old.key.as_ref().is_some_and(|k| added.contains(k)) {
                lost += 1;
            }
        };
        for (room, mut kept) in all {
            kept.seq = table.next_seq;
            table.next_seq += 1;
            let queue = buffers.rooms.entry(room.clone()).or_default();
            if queue.len() >= buffering.size {
                if let Some(old) = queue.pop_front() {
                    buffers.events -= 1;
                    buffers.bytes -= old.cost;
                    went(&old);
                }
            }
            buffers.events += 1;
            buffers.bytes += kept.cost;
            buffers.arrivals.push_back((kept.seq, room));
            queue.push_back(kept);
        }
        buffers.compact();
        while table.bytes() > max_bytes {
            match table.drop_oldest() {
                Some(old) => went(&old),
                None => break,
            }
        }
        // What went over a bound is the oldest of the merged history, loaded or held.
        merged.over_bound = over;
        merged.added = added.len() as u64 - lost;
        if table.is_empty() {
            self.nsps.remove(nsp);
        }
        self.publish(nsp);
        merged
    }

    /// The published view of the sizes.
    pub fn view(&self) -> BufferSizesView {
        self.view.clone()
    }

    /// Publishes the sizes of one namespace (removing it when it keeps nothing).
    fn publish(&self, nsp: &str) {
        let mut map = self.view.0.lock().unwrap_or_else(|e| e.into_inner());
        match self.nsps.get(nsp).filter(|t| !t.is_empty()) {
            Some(t) => {
                let sizes = [t.kinds[0].sizes(), t.kinds[1].sizes()];
                match map.get_mut(nsp) {
                    Some(entry) => *entry = sizes,
                    None => {
                        map.insert(nsp.to_owned(), sizes);
                    }
                }
            }
            None => {
                map.remove(nsp);
            }
        }
    }

    /// What a socket joining `room` is handed, oldest first, as `buffering` says: nothing
    /// (`Drop`, which leaves the buffer as it is), a copy (`Always`) or everything, taken
    /// out (`IfNoClients`). Only events numbered up to `upto` are handed out (later ones
    /// were resolved with the new member, which got them live), never expired ones, nor
    /// those `had(number, target)` says the joiner got through another path.
    pub fn replay(
        &mut self,
        nsp: &str,
        room: &str,
        buffering: RoomBuffering,
        upto: u64,
        had: impl Fn(u64, &Target) -> bool,
    ) -> Vec<Frames> {
        let Some(table) = self.nsps.get_mut(nsp) else {
            return Vec::new();
        };
        let buffers = &mut table.kinds[BufferKind::of(room) as usize];
        let now = Instant::now();
        let fresh = |k: &Kept| {
            now.duration_since(k.at) <= buffering.ttl
                && k.number <= upto
                && !k.reach.as_ref().is_some_and(|t| had(k.number, t))
        };
        let replay = match buffering.policy {
            BufferPolicy::Drop => Vec::new(),
            BufferPolicy::Always => buffers
                .rooms
                .get(room)
                .map(|q| q.iter().filter(|k| fresh(k)).map(|k| k.frames.clone()))
                .into_iter()
                .flatten()
                .collect(),
            BufferPolicy::IfNoClients => {
                let mut taken = buffers.rooms.remove(room).unwrap_or_default();
                // Events are kept in broadcast order: those after the cutoff are a tail,
                // and stay.
                let later = taken.iter().position(|k| k.number > upto);
                if let Some(at) = later {
                    let rest = taken.split_off(at);
                    buffers.rooms.insert(room.into(), rest);
                }
                for kept in &taken {
                    buffers.forget(kept);
                }
                buffers.compact();
                taken
                    .into_iter()
                    .filter(|k| fresh(k))
                    .map(|k| k.frames)
                    .collect()
            }
        };
        if table.is_empty() {
            self.nsps.remove(nsp);
        }
        self.publish(nsp);
        replay
    }

    /// Removes every expired event, and the namespaces left with none; returns how many
    /// events went.
    pub fn sweep(&mut self) -> usize {
        let now = Instant::now();
        let mut expired = 0;
        self.nsps.retain(|_, table| {
            table.warned = false;
            for buffers in &mut table.kinds {
                expired += buffers.sweep(now);
                buffers.compact();
            }
            !table.is_empty()
        });
        let mut map = self.view.0.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|nsp, _| self.nsps.contains_key(nsp));
        for (nsp, t) in &self.nsps {
            map.insert(nsp.clone(), [t.kinds[0].sizes(), t.kinds[1].sizes()]);
        }
        expired
    }

    /// A page of `room`'s history (its kept events younger than `ttl`, oldest first): with
    /// `since`, the first `limit` events after the one with that offset (`complete` false,
    /// and the first `limit` events kept, when the buffer no longer holds it); without, the
    /// newest `limit` events. Reading takes nothing out.
    pub fn history(
        &self,
        nsp: &str,
        room: &str,
        ttl: Duration,
        since: Option<&str>,
        limit: usize,
    ) -> HistoryPage {
        let now = Instant::now();
        let queue = self
            .nsps
            .get(nsp)
            .and_then(|t| t.kinds[BufferKind::of(room) as usize].rooms.get(room));
        let listed: Vec<HistoryEntry> = queue
            .into_iter()
            .flatten()
            .filter(|k| now.duration_since(k.at) <= ttl)
            .filter_map(|k| {
                let stamp = k.stamp.clone()?;
                let frames = k.frames.clone();
                Some(HistoryEntry { stamp, frames })
            })
            .collect();
        let (start, complete) = match since {
            None => (listed.len().saturating_sub(limit), true),
            Some(since) => match listed.iter().position(|e| &*e.stamp.offset == since) {
                Some(at) => (at + 1, true),
                None => (0, false),
            },
        };
        let end = listed.len().min(start.saturating_add(limit));
        let more = end < listed.len();
        let events = listed.into_iter().skip(start).take(end - start).collect();
        HistoryPage {
            events,
            complete,
            more,
        }
    }

    /// Events kept for `room` that are younger than `ttl`.
    pub fn buffered(&self, nsp: &str, room: &str, ttl: Duration) -> usize {
        let now = Instant::now();
        self.nsps
            .get(nsp)
            .and_then(|t| t.kinds[BufferKind::of(room) as usize].rooms.get(room))
            .map_or(0, |q| {
                q.iter().filter(|k| now.duration_since(k.at) <= ttl).count()
            })
    }

    #[cfg(test)]
    /// Every namespace that keeps something, with the sizes of its room buffers and of its
    /// offline queues, sorted by name.
    pub fn sizes(&self) -> Vec<(String, BufferSizes, BufferSizes)> {
        let mut sizes: Vec<_> = self
            .nsps
            .iter()
            .filter(|(_, t)| !t.is_empty())
            .map(|(nsp, t)| (nsp.clone(), t.kinds[0].sizes(), t.kinds[1].sizes()))
            .collect();
        sizes.sort_by(|a, b| a.0.cmp(&b.0));
        sizes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire_frame::WireFrame;

    fn frames(text: &str) -> Frames {
        vec![WireFrame::text(format!("42[\"ev\",\"{text}\"]"))].into()
    }

    fn always(size: usize, ttl: Duration) -> RoomBuffering {
        RoomBuffering {
            policy: BufferPolicy::Always,
            size,
            ttl,
        }
    }

    fn payloads(replay: &[Frames]) -> Vec<String> {
        replay
            .iter()
            .map(|f| String::from_utf8_lossy(f[0].payload()).into_owned())
            .collect()
    }

    #[test]
    fn the_sweep_forgets_rooms_nobody_touches_again() {
        let counters = HubCounters::default();
        let mut buffers = RoomBuffers::default();
        let short = always(10, Duration::from_millis(50));
        for n in 0..1000 {
            buffers.keep(
                0,
                "/",
                &format!("r{n}"),
                &frames("x"),
                short,
                usize::MAX,
                &counters,
                None,
            );
        }
        assert_eq!(buffers.sizes()[0].1.rooms, 1000);
        assert_eq!(buffers.sweep(), 0, "nothing expired yet");
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(buffers.sweep(), 1000);
        assert!(buffers.sizes().is_empty(), "the namespace is gone too");
        assert_eq!(counters.drops(DropReason::RoomBufferFull), 0);
    }

    #[test]
    fn the_byte_bound_drops_the_oldest_of_the_namespace() {
        let counters = HubCounters::default();
        let mut buffers = RoomBuffers::default();
        let long = always(10, Duration::from_secs(600));
        let one = frames("00").iter().map(|f| f.len()).sum::<usize>() + 2 + EVENT_OVERHEAD;
        let bound = 5 * one;
        for n in 0..20 {
            let room = format!("r{}", n % 7);
            buffers.keep(
                0,
                "/",
                &room,
                &frames(&format!("{n:02}")),
                long,
                bound,
                &counters,
                None,
            );
            assert!(buffers.sizes()[0].1.bytes + buffers.sizes()[0].2.bytes <= bound);
        }
        let (_, rooms, _) = &buffers.sizes()[0];
        assert_eq!(rooms.events, 5);
        assert_eq!(counters.drops(DropReason::NamespaceBufferFull), 15);
        // The five newest are left: 15..=19, in rooms r1, r2, r3, r4, r5.
        let kept: Vec<String> = (0..7)
            .flat_map(|r| {
                payloads(&buffers.replay("/", &format!("r{r}"), long, u64::MAX, |_, _| false))
            })
            .collect();
        assert_eq!(kept.len(), 5);
        for n in 15..20 {
            assert!(
                kept.iter().any(|p| p.contains(&format!("\"{n:02}\""))),
                "{n}"
            );
        }
        // Another namespace has a bound of its own.
        buffers.keep(
            0,
            "/other",
            "r0",
            &frames("o"),
            long,
            bound,
            &counters,
            None,
        );
        assert_eq!(buffers.sizes().len(), 2);
    }

    #[test]
    fn an_event_over_the_bound_is_not_kept_and_counted() {
        let counters = HubCounters::default();
        let mut buffers = RoomBuffers::default();
        buffers.keep(
            0,
            "/",
            "r",
            &frames("big"),
            always(10, Duration::from_secs(60)),
            16,
            &counters,
            None,
        );
        assert!(buffers.sizes().is_empty());
        assert_eq!(counters.drops(DropReason::NamespaceBufferFull), 1);
        buffers.sweep();
        assert!(
            buffers.nsps.is_empty(),
            "the sweep removes the empty namespace"
        );
    }

    #[test]
    fn offline_queues_and_rooms_share_the_bound_oldest_first() {
        let counters = HubCounters::default();
        let mut buffers = RoomBuffers::default();
        let long = always(10, Duration::from_secs(600));
        let queue = RoomBuffering {
            policy: BufferPolicy::IfNoClients,
            ..long
        };
        buffers.keep(
            0,
            "/",
            "user:a",
            &frames("q1"),
            queue,
            usize::MAX,
            &counters,
            None,
        );
        buffers.keep(
            0,
            "/",
            "room",
            &frames("r1"),
            long,
            usize::MAX,
            &counters,
            None,
        );
        let (_, rooms, offline) = buffers.sizes()[0];
        assert_eq!((rooms.rooms, offline.rooms), (1, 1));
        // A bound just above what is kept now: the next event pushes the oldest (the
        // user's) out.
        let bound = rooms.bytes + offline.bytes + 8;
        buffers.keep(0, "/", "room", &frames("r2"), long, bound, &counters, None);
        assert_eq!(
            buffers.replay("/", "user:a", queue, u64::MAX, |_, _| false),
            Vec::<Frames>::new()
        );
        assert_eq!(
            payloads(&buffers.replay("/", "room", long, u64::MAX, |_, _| false)),
            vec!["42[\"ev\",\"r1\"]", "42[\"ev\",\"r2\"]"]
        );
        assert_eq!(counters.drops(DropReason::NamespaceBufferFull), 1);
    }

    #[test]
    fn the_room_size_bound_and_if_no_clients_hand_over() {
        let counters = HubCounters::default();
        let mut buffers = RoomBuffers::default();
        let mailbox = RoomBuffering {
            policy: BufferPolicy::IfNoClients,
            size: 2,
            ttl: Duration::from_secs(60),
        };
        for n in 1..=3 {
            buffers.keep(
                0,
                "/",
                "box",
                &frames(&n.to_string()),
                mailbox,
                usize::MAX,
                &counters,
                None,
            );
        }
        assert_eq!(counters.drops(DropReason::RoomBufferFull), 1);
        assert_eq!(buffers.buffered("/", "box", Duration::from_secs(60)), 2);
        let quiet = RoomBuffering {
            policy: BufferPolicy::Drop,
            size: 0,
            ttl: Duration::ZERO,
        };
        assert!(
            buffers
                .replay("/", "box", quiet, u64::MAX, |_, _| false)
                .is_empty(),
            "a quiet join"
        );
        assert_eq!(buffers.buffered("/", "box", Duration::from_secs(60)), 2);
        assert_eq!(
            payloads(&buffers.replay("/", "box", mailbox, u64::MAX, |_, _| false)),
            vec!["42[\"ev\",\"2\"]", "42[\"ev\",\"3\"]"]
        );
        assert!(buffers.sizes().is_empty());
    }

    #[test]
    fn join_hand_overs_do_not_grow_the_arrival_queue() {
        let counters = HubCounters::default();
        let mut buffers = RoomBuffers::default();
        let mailbox = RoomBuffering {
            policy: BufferPolicy::IfNoClients,
            size: 10,
            ttl: Duration::from_secs(600),
        };
        // A long-lived event keeps the namespace; many hand-overs come and go.
        buffers.keep(
            0,
            "/",
            "keep",
            &frames("k"),
            mailbox,
            usize::MAX,
            &counters,
            None,
        );
        for n in 0..10_000 {
            let room = format!("b{n}");
            buffers.keep(
                0,
                "/",
                &room,
                &frames("x"),
                mailbox,
                usize::MAX,
                &counters,
                None,
            );
            assert_eq!(
                buffers
                    .replay("/", &room, mailbox, u64::MAX, |_, _| false)
                    .len(),
                1
            );
        }
        let arrivals = buffers.nsps["/"].kinds[0].arrivals.len();
        assert!(
            arrivals <= 2 + 64 + 1,
            "{arrivals} arrival entries for 1 event"
        );
    }

    fn named(origin: &str, seq: u64, at_us: u64) -> HistoryKey {
        HistoryKey {
            origin: Some(origin.into()),
            seq,
            at_us,
        }
    }

    fn loaded(room: &str, key: HistoryKey, age: Duration, text: &str) -> LoadedEvent {
        LoadedEvent {
            room: room.into(),
            key,
            age,
            frames: frames(text),
        }
    }

    #[test]
    fn a_merge_puts_the_loaded_history_first_once_in_publication_order_within_bounds() {
        let counters = HubCounters::default();
        let mut buffers = RoomBuffers::default();
        let long = always(3, Duration::from_secs(600));
        let now_us = super::super::epoch_us();
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(5));
        // Received live since the load started: a2 (also in the load).
        let live = Keep {
            number: 7,
            frames: &frames("a2"),
            reach: None,
            key: Some(named("a", 2, now_us - 1_000)),
            stamp: None,
        };
        buffers.keep_named("/", "r", live, long, usize::MAX, &counters);
        let second = Duration::from_secs(1);
        let history = vec![
            loaded("r", named("a", 1, now_us - 2_000), second, "a1"),
            loaded("r", named("a", 2, now_us - 1_000), second, "a2"),
            loaded("r", named("b", 1, now_us - 3_000), second, "b1"),
            loaded("r", named("b", 0, now_us - 9_000), second, "b0"),
            loaded("r", named("b", 9, now_us), Duration::from_secs(601), "old"),
        ];
        let merged = buffers.merge("/", history, started, long, usize::MAX);
        assert_eq!(
            merged,
            Merged {
                added: 2,
                duplicate: 1,
                expired: 1,
                over_bound: 1,
            }
        );
        // b0 went for buffer_size 3: the oldest.
        assert_eq!(
            payloads(&buffers.replay("/", "r", long, 0, |_, _| false)),
            vec!["42[\"ev\",\"b1\"]", "42[\"ev\",\"a1\"]"],
            "a join whose cutoff is before the live event gets the loaded ones"
        );
        assert_eq!(
            payloads(&buffers.replay("/", "r", long, u64::MAX, |_, _| false)),
            vec![
                "42[\"ev\",\"b1\"]",
                "42[\"ev\",\"a1\"]",
                "42[\"ev\",\"a2\"]"
            ]
        );
        // The namespace's byte bound holds too: the oldest go.
        let one = buffers.sizes()[0].1.bytes / 3;
        let more = vec![loaded("r2", named("c", 1, now_us), second, "c1")];
        let merged = buffers.merge("/", more, Instant::now(), long, 2 * one + one / 2);
        assert_eq!((merged.added, merged.over_bound), (1, 2), "b1 and a1 went");
        assert!(buffers.sizes()[0].1.bytes <= 2 * one + one / 2);
    }
}
