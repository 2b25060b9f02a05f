//! The table of sockets and rooms per namespace, with the replay buffers (`room_buffers`).
//! The RoomSupervisor writes membership and the Broadcaster writes buffers; both hold its lock
//! only for the length of one join or one broadcast, never per recipient, and a join's
//! replay and a broadcast's delivery are ordered by it (no event is both replayed and
//! delivered live, none is missed).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix::Addr;

use bytes::Bytes;
use siohub_protocol::SocketPacket;

use crate::fanout::Run;
use crate::policy::{BufferPolicy, DeliveryPolicy, USER_ROOM_PREFIX};
use crate::registry::{SidHasher, SidMap};
use crate::room_buffers::{BufferSizes, RoomBuffers};
use crate::session::Session;
use crate::stats::{DropReason, HubCounters};
use crate::subscription::{sse_chunk, Offer, Subscriber};
use crate::wire_frame::WireFrame;

/// The frames of one encoded event, shared by every recipient.
pub type Frames = Arc<[WireFrame]>;

/// How a room keeps events for sockets that join later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomBuffering {
    /// The policy.
    pub policy: BufferPolicy,
    /// Most events kept.
    pub size: usize,
    /// How long an event stays replayable.
    pub ttl: Duration,
}

impl RoomBuffering {
    /// The buffering of an ordinary room under `policy`.
    pub fn for_room(policy: &DeliveryPolicy) -> Self {
        RoomBuffering {
            policy: policy.buffer,
            size: policy.buffer_size,
            ttl: policy.buffer_ttl,
        }
    }

    /// The buffering of a user room: the offline queue when the policy has one.
    pub fn for_user(policy: &DeliveryPolicy) -> Self {
        if policy.offline_queue {
            RoomBuffering {
                policy: BufferPolicy::IfNoClients,
                size: policy.offline_queue_size,
                ttl: policy.offline_queue_ttl,
            }
        } else {
            Self::for_room(policy)
        }
    }
}

#[derive(Default)]
struct Room {
    members: SidMap<Addr<Session>>,
}

/// One namespace: its sockets and rooms. The table forgets it once nothing is left in it
/// (see [`NspTable::is_unused`]), so a client trying many dynamic names (`/tenant-1`,
/// `/tenant-2`, …) leaves no entry, and no `/metrics` series, behind.
#[derive(Default)]
pub struct NspTable {
    sockets: SidMap<Addr<Session>>,
    rooms: HashMap<String, Room>,
    /// The user of each socket in a user room (`user:<id>`), for member listings.
    users: SidMap<String>,
    /// Event subscribers (the HTTP API's SSE streams); usually none.
    subscribers: Vec<Subscriber>,
}

impl NspTable {
    /// No socket, no room (a room without members stays only while it buffers events) and
    /// no subscriber: nothing the namespace's entry is needed for.
    fn is_unused(&self) -> bool {
        self.sockets.is_empty() && self.rooms.is_empty() && self.subscribers.is_empty()
    }
}

/// A member of a room, as the HTTP API lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoomMember {
    /// The socket id.
    pub sid: String,
    /// Its authenticated user, if any.
    pub user: Option<String>,
}

/// Every namespace's sockets and rooms.
#[derive(Default)]
pub struct RoomTable {
    nsps: HashMap<String, NspTable>,
    /// Broadcast events gathered for one target and not handed out yet (see `fanout`).
    run: Option<Run>,
    /// Replay buffers and offline queues, apart from membership: a room that keeps events
    /// needs no member, and a namespace no socket uses may still keep some.
    buffers: RoomBuffers,
}

/// Sockets with their sessions, as a target resolves to.
pub type Recipients = Vec<(Arc<str>, Addr<Session>)>;

/// The table, shared by the RoomSupervisor, the Broadcaster and the HTTP API.
pub type SharedRoomTable = Arc<Mutex<RoomTable>>;

/// Locks the table; a panic elsewhere while it was held leaves consistent-enough data (the
/// supervisor rebuilds membership anyway).
pub fn lock(table: &SharedRoomTable) -> MutexGuard<'_, RoomTable> {
    table.lock().unwrap_or_else(|e| e.into_inner())
}

/// Who a broadcast goes to. Empty `rooms`, `users` and `sids` mean the whole namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// The namespace.
    pub nsp: String,
    /// Rooms whose members get it (union, one copy per socket).
    pub rooms: Vec<String>,
    /// Users whose sockets get it (their `user:<id>` rooms).
    pub users: Vec<String>,
    /// Single sockets that get it.
    pub sids: Vec<String>,
    /// Rooms whose members do not get it.
    pub except_rooms: Vec<String>,
    /// Sockets that do not get it (the sender, typically).
    pub except_sids: Vec<String>,
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
        self.rooms.is_empty() && self.users.is_empty() && self.sids.is_empty()
    }

    /// Whether a socket with this id and these rooms is targeted (used for replay).
    pub fn includes(&self, sid: &str, rooms: &HashSet<String>) -> bool {
        let excepted = self.except_sids.iter().any(|s| s == sid)
            || self.except_rooms.iter().any(|r| rooms.contains(r));
        if excepted {
            return false;
        }
        self.is_namespace_wide()
            || self.sids.iter().any(|s| s == sid)
            || self.rooms.iter().any(|r| rooms.contains(r))
            || self
                .users
                .iter()
                .any(|u| rooms.contains(&crate::policy::user_room(u)))
    }
}

impl RoomTable {
    fn nsp(&mut self, nsp: &str) -> &mut NspTable {
        self.nsps.entry(nsp.to_owned()).or_default()
    }

    /// Forgets namespace `nsp` if nothing is left in it. Whoever empties a namespace calls
    /// this: the membership changes here, and the expiry of a room buffer.
    pub fn forget_if_unused(&mut self, nsp: &str) {
        if self.nsps.get(nsp).is_some_and(NspTable::is_unused) {
            self.nsps.remove(nsp);
        }
    }

    /// Namespaces the table holds an entry for.
    pub fn namespace_count(&self) -> usize {
        self.nsps.len()
    }

    /// Registers a connected socket.
    pub fn add_socket(&mut self, nsp: &str, sid: Arc<str>, session: Addr<Session>) {
        self.deliver_run();
        self.nsp(nsp).sockets.insert(sid, session);
    }

    /// Forgets a socket and its membership of `rooms`.
    pub fn remove_socket(&mut self, nsp: &str, sid: &str, rooms: &[String]) {
        self.deliver_run();
        let Some(table) = self.nsps.get_mut(nsp) else {
            return;
        };
        table.sockets.remove(sid);
        table.users.remove(sid);
        for room in rooms {
            leave_room(table, room, sid);
        }
        self.forget_if_unused(nsp);
    }

    /// Adds a socket to a room and returns the buffered events it should get, oldest first
    /// (taken out of the buffer when the room buffers only for absent clients).
    pub fn join(
        &mut self,
        nsp: &str,
        room: &str,
        sid: Arc<str>,
        session: Addr<Session>,
        buffering: RoomBuffering,
    ) -> Vec<Frames> {
        self.deliver_run();
        let table = self.nsp(nsp);
        if let Some(user) = room.strip_prefix(USER_ROOM_PREFIX) {
            table
                .users
                .entry(sid.clone())
                .or_insert_with(|| user.to_owned());
        }
        let entry = table.rooms.entry(room.to_owned()).or_default();
        entry.members.insert(sid, session);
        self.buffers.replay(nsp, room, buffering)
    }

    /// Removes a socket from a room.
    pub fn leave(&mut self, nsp: &str, room: &str, sid: &str) {
        self.deliver_run();
        if let Some(table) = self.nsps.get_mut(nsp) {
            leave_room(table, room, sid);
        }
        self.forget_if_unused(nsp);
    }

    /// Forgets every membership (the sockets stay); used before a rebuild.
    pub fn clear_membership(&mut self) {
        self.deliver_run();
        for table in self.nsps.values_mut() {
            table.sockets.clear();
            table.users.clear();
            table.rooms.clear();
        }
        self.nsps.retain(|_, table| !table.is_unused());
    }

    /// Rooms of a namespace that have members, with their sizes, sorted by name.
    pub fn rooms(&self, nsp: &str) -> Vec<(String, usize)> {
        let mut rooms: Vec<_> = self
            .nsps
            .get(nsp)
            .map(|t| {
                t.rooms
                    .iter()
                    .filter(|(_, r)| !r.members.is_empty())
                    .map(|(name, r)| (name.clone(), r.members.len()))
                    .collect()
            })
            .unwrap_or_default();
        rooms.sort();
        rooms
    }

    /// The socket ids in a room, sorted.
    pub fn members(&self, nsp: &str, room: &str) -> Vec<String> {
        self.member_users(nsp, room)
            .into_iter()
            .map(|m| m.sid)
            .collect()
    }

    /// The members of a room with their users, sorted by socket id; empty when the room
    /// has no member.
    pub fn member_users(&self, nsp: &str, room: &str) -> Vec<RoomMember> {
        let Some(table) = self.nsps.get(nsp) else {
            return Vec::new();
        };
        let mut members: Vec<RoomMember> = table
            .rooms
            .get(room)
            .map(|r| {
                r.members
                    .keys()
                    .map(|sid| RoomMember {
                        sid: sid.to_string(),
                        user: table.users.get(sid).cloned(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        members.sort_by(|a, b| a.sid.cmp(&b.sid));
        members
    }

    /// Adds an event subscriber to a namespace (dropping subscribers whose consumer left).
    pub(crate) fn subscribe(&mut self, nsp: &str, subscriber: Subscriber) {
        let table = self.nsp(nsp);
        table.subscribers.retain(|s| !s.is_gone());
        table.subscribers.push(subscriber);
    }

    /// Removes an event subscriber.
    pub(crate) fn unsubscribe(&mut self, nsp: &str, id: u64) {
        if let Some(table) = self.nsps.get_mut(nsp) {
            table.subscribers.retain(|s| s.id != id);
        }
        self.forget_if_unused(nsp);
    }

    /// Event subscribers of every namespace.
    pub fn subscriber_count(&self) -> usize {
        self.nsps.values().map(|t| t.subscribers.len()).sum()
    }

    /// Hands an event sent to `target` to the subscribers that want it, encoded once (only
    /// if one does). `skip_last` leaves out the recovery offset the packet carries last. A
    /// subscriber whose queue is full is cut off and counted as a slow consumer.
    pub fn notify_subscribers(
        &mut self,
        target: &Target,
        packet: &SocketPacket,
        skip_last: bool,
        counters: &HubCounters,
    ) {
        let Some(table) = self.nsps.get_mut(&target.nsp) else {
            return;
        };
        if table.subscribers.is_empty() {
            return;
        }
        let mut chunk: Option<Bytes> = None;
        table.subscribers.retain_mut(|sub| {
            if !sub.wants(target) {
                return !sub.is_gone();
            }
            let chunk = chunk.get_or_insert_with(|| sse_chunk(packet, skip_last));
            match sub.offer(chunk) {
                Offer::Kept => true,
                Offer::Gone => false,
                Offer::CutOff => {
                    counters.slow_consumer_disconnect();
                    counters.dropped(DropReason::SlowConsumer, 1);
                    log::warn!(
                        "namespace {}: event subscriber {} reads too slowly (queue full); cut off",
                        crate::ClientText(&target.nsp),
                        sub.id
                    );
                    false
                }
            }
        });
    }

    /// Events buffered in a room that are younger than `ttl`.
    pub fn buffered(&self, nsp: &str, room: &str, ttl: Duration) -> usize {
        self.buffers.buffered(nsp, room, ttl)
    }

    /// Every namespace that buffers something, with the sizes of its room buffers and of
    /// its offline queues, sorted by name (for metrics).
    pub fn buffer_sizes(&self) -> Vec<(String, BufferSizes, BufferSizes)> {
        self.buffers.sizes()
    }

    /// Removes every expired buffered event (the Broadcaster's periodic sweep); returns
    /// how many went.
    pub fn sweep_buffers(&mut self) -> usize {
        self.buffers.sweep()
    }

    /// Every namespace with its connected sockets and its rooms that have members, sorted
    /// by name (for metrics; no name but the namespace's is copied).
    pub fn namespace_counts(&self) -> Vec<(String, usize, usize)> {
        let mut counts: Vec<_> = self
            .nsps
            .iter()
            .map(|(nsp, t)| {
                let rooms = t.rooms.values().filter(|r| !r.members.is_empty()).count();
                (nsp.clone(), t.sockets.len(), rooms)
            })
            .collect();
        counts.sort();
        counts
    }

    /// Connected sockets of a namespace.
    pub fn socket_count(&self, nsp: &str) -> usize {
        self.nsps.get(nsp).map_or(0, |t| t.sockets.len())
    }

    /// Adds a broadcast event to the pending run (starting a new run, and handing out the
    /// previous one, when the target differs); returns how many sockets it goes to.
    pub fn gather(
        &mut self,
        target: &Target,
        nsp: &Arc<str>,
        frames: &Frames,
        volatile: bool,
    ) -> usize {
        if let Some(run) = &mut self.run {
            if run.extend(target, frames, volatile) {
                return run.recipients();
            }
        }
        self.deliver_run();
        let recipients = self.resolve(target);
        let count = recipients.len();
        self.run = Some(Run::new(
            target.clone(),
            nsp.clone(),
            recipients,
            frames.clone(),
            volatile,
        ));
        count
    }

    /// Hands out the pending run, if any.
    pub fn deliver_run(&mut self) {
        if let Some(run) = self.run.take() {
            run.deliver();
        }
    }

    /// Whether a run is pending.
    pub fn has_run(&self) -> bool {
        self.run.is_some()
    }

    /// Resolves a target to its recipients: one entry per socket, excepted ones removed.
    pub fn resolve(&self, target: &Target) -> Vec<(Arc<str>, Addr<Session>)> {
        let mut out = Vec::new();
        self.for_each_recipient(target, |sid, addr| out.push((sid.clone(), addr.clone())));
        out
    }

    /// Calls `f` once per recipient of `target` (a socket in several targeted rooms once,
    /// excepted ones never); returns how many. Nothing is allocated per recipient.
    pub fn for_each_recipient(
        &self,
        target: &Target,
        mut f: impl FnMut(&Arc<str>, &Addr<Session>),
    ) -> usize {
        let Some(table) = self.nsps.get(&target.nsp) else {
            return 0;
        };
        let mut excluded = Excluded::new(&target.except_sids);
        for room in &target.except_rooms {
            if let Some(r) = table.rooms.get(room) {
                excluded.extend(r.members.keys().map(|k| &**k));
            }
        }
        let mut count = 0;
        let mut visit = |sid: &Arc<str>, addr: &Addr<Session>| {
            if !excluded.contains(sid) {
                f(sid, addr);
                count += 1;
            }
        };
        if target.is_namespace_wide() {
            table
                .sockets
                .iter()
                .for_each(|(sid, addr)| visit(sid, addr));
            return count;
        }
        let user_rooms: Vec<String> = target
            .users
            .iter()
            .map(|u| crate::policy::user_room(u))
            .collect();
        let rooms: Vec<&Room> = target
            .rooms
            .iter()
            .chain(user_rooms.iter())
            .filter_map(|r| table.rooms.get(r))
            .collect();
        if rooms.len() == 1 && target.sids.is_empty() {
            // One room: its members are distinct already.
            rooms[0]
                .members
                .iter()
                .for_each(|(sid, addr)| visit(sid, addr));
            return count;
        }
        let mut seen: HashSet<&str, SidHasher> = HashSet::default();
        for room in rooms {
            for (sid, addr) in &room.members {
                if seen.insert(sid) {
                    visit(sid, addr);
                }
            }
        }
        for sid in &target.sids {
            if let Some((key, addr)) = table.sockets.get_key_value(sid.as_str()) {
                if seen.insert(key) {
                    visit(key, addr);
                }
            }
        }
        count
    }

    /// Keeps an event in a room's buffer as its policy says (`if_no_clients`: only when
    /// the room has no member now), within the room's size and the namespace's
    /// `max_bytes` (see `room_buffers`).
    pub fn buffer(
        &mut self,
        nsp: &str,
        room: &str,
        frames: &Frames,
        buffering: RoomBuffering,
        max_bytes: usize,
        counters: &HubCounters,
    ) {
        let has_members = self
            .nsps
            .get(nsp)
            .and_then(|t| t.rooms.get(room))
            .is_some_and(|r| !r.members.is_empty());
        let keep = match buffering.policy {
            BufferPolicy::Drop => false,
            BufferPolicy::IfNoClients => !has_members,
            BufferPolicy::Always => true,
        };
        if !keep || buffering.size == 0 {
            return;
        }
        self.buffers
            .keep(nsp, room, frames, buffering, max_bytes, counters);
    }
}

fn leave_room(table: &mut NspTable, room: &str, sid: &str) {
    if let Some(user) = room.strip_prefix(USER_ROOM_PREFIX) {
        if table.users.get(sid).is_some_and(|u| u == user) {
            table.users.remove(sid);
        }
    }
    if let Some(r) = table.rooms.get_mut(room) {
        r.members.remove(sid);
        if r.members.is_empty() {
            table.rooms.remove(room);
        }
    }
}

/// The sockets a broadcast skips: a short list searched linearly (the usual case is one
/// sender), a hash set once it grows.
enum Excluded<'a> {
    Few(Vec<&'a str>),
    Many(HashSet<&'a str>),
}

impl<'a> Excluded<'a> {
    /// Lists this long are searched linearly.
    const LINEAR: usize = 16;

    fn new(sids: &'a [String]) -> Self {
        let mut excluded = Excluded::Few(Vec::new());
        excluded.extend(sids.iter().map(String::as_str));
        excluded
    }

    fn extend(&mut self, sids: impl Iterator<Item = &'a str>) {
        for sid in sids {
            match self {
                Excluded::Few(list) if list.len() < Self::LINEAR => list.push(sid),
                Excluded::Few(list) => {
                    let mut set: HashSet<&str> = list.drain(..).collect();
                    set.insert(sid);
                    *self = Excluded::Many(set);
                }
                Excluded::Many(set) => {
                    set.insert(sid);
                }
            }
        }
    }

    fn contains(&self, sid: &str) -> bool {
        match self {
            Excluded::Few(list) => list.contains(&sid),
            Excluded::Many(set) => set.contains(sid),
        }
    }
}
