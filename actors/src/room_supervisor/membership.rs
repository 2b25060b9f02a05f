//! Room membership, as plain data: per namespace the connected sockets (by socket id, with
//! their session, incarnation and rooms), the rooms with their members, and the user of each
//! socket in a user room.
//!
//! The RoomSupervisor is its only writer, and that is a fact of the types: the write half
//! ([`MembershipWriter`]) and every mutating method are visible in `room_supervisor` only.
//! Everyone else holds a [`MembershipView`], which has read methods only: the Broadcaster
//! resolves targets through it without a message round trip, and the `Hub` queries read it
//! directly. Every write bumps the view's version, so a reader can tell whether what it
//! resolved earlier (a gathered run of deliveries) is still what it would resolve now.

use std::collections::{HashMap, HashSet};
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::ids::{SidHasher, SidMap};
use crate::policy::{user_room, USER_ROOM_PREFIX};
use crate::room_set::RoomMap;
use crate::session::SessionAddr;
use crate::target::Target;

mod room_filters;

use room_filters::{forget_fields, RoomFilters};

/// One connected socket: where it lives, which life of it this is, and its rooms.
struct Member {
    session: SessionAddr,
    /// Which life of the socket id this entry belongs to: a recovered socket keeps its id
    /// on a new session, and the old session's late removal must not remove it.
    incarnation: u64,
    /// The cutoff it was added at: every broadcast numbered above it was resolved with it.
    added_at: u64,
    /// Its rooms, each with the cutoff it entered at.
    rooms: RoomMap<u64>,
}

/// One namespace's sockets and rooms.
#[derive(Default)]
struct NspMembers {
    sockets: SidMap<Member>,
    rooms: HashMap<String, SidMap<SessionAddr>>,
    /// The user of each socket in a user room (`user:<id>`), for member listings.
    users: SidMap<String>,
    /// The field sets of the rooms with filtered members (see `room_filters`).
    filters: HashMap<String, RoomFilters>,
}

/// A member of a room, as the HTTP API lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoomMember {
    /// The socket id.
    #[serde(rename = "sid")]
    pub socket_id: String,
    /// Its authenticated user, if any.
    pub user: Option<String>,
}

/// One life of a socket: its namespace, id and incarnation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketLife {
    /// The namespace.
    pub nsp: String,
    /// The socket id.
    pub socket_id: Arc<str>,
    /// Its incarnation.
    pub incarnation: u64,
}

/// Sockets with their sessions, as a target resolves to.
pub type Recipients = Vec<(Arc<str>, SessionAddr)>;

/// Every namespace's sockets and rooms. A namespace with no socket has no entry, so a client
/// trying many dynamic names (`/tenant-1`, `/tenant-2`, …) leaves nothing behind.
#[derive(Default)]
pub struct Membership {
    nsps: HashMap<String, NspMembers>,
}

/// Why a membership change did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NotMember {
    /// No socket with that id and incarnation is connected in the namespace.
    UnknownSocket,
}

impl Membership {
    /// Registers a socket with its rooms (replacing an older incarnation of it), at cutoff
    /// `at` (see `broadcaster::sequence`).
    pub(super) fn add_socket(
        &mut self,
        nsp: &str,
        socket_id: Arc<str>,
        session: SessionAddr,
        incarnation: u64,
        rooms: impl IntoIterator<Item = String>,
        at: u64,
    ) {
        // The same life announced again (after a restart) keeps the cutoffs it had: it
        // was in those rooms since then, whatever the announcement's moment.
        let kept = self
            .nsps
            .get(nsp)
            .and_then(|t| t.sockets.get(&*socket_id))
            .filter(|m| m.incarnation == incarnation)
            .map(|m| (m.added_at, m.rooms.clone()));
        self.remove_socket(nsp, &socket_id, None);
        let (added_at, old_rooms) = kept.unwrap_or((at, RoomMap::new()));
        let table = match self.nsps.get_mut(nsp) {
            Some(table) => table,
            None => self.nsps.entry(nsp.to_owned()).or_default(),
        };
        let mut member = Member {
            session,
            incarnation,
            added_at,
            rooms: RoomMap::new(),
        };
        for room in rooms {
            enter_room(table, &socket_id, &member.session, &room);
            let entered = old_rooms.get(&room).copied().unwrap_or(at);
            member.rooms.insert(room, entered);
        }
        table.sockets.insert(socket_id, member);
    }

    /// Forgets a socket and its rooms, if it is still the incarnation given (`None`: any).
    pub(super) fn remove_socket(&mut self, nsp: &str, socket_id: &str, incarnation: Option<u64>) {
        let Some(table) = self.nsps.get_mut(nsp) else {
            return;
        };
        let current = table.sockets.get(socket_id).map(|m| m.incarnation);
        if current.is_none() || incarnation.is_some_and(|i| Some(i) != current) {
            return;
        }
        let member = table.sockets.remove(socket_id).expect("checked above");
        for room in member.rooms.keys() {
            leave_room(table, room, socket_id);
        }
        if table.sockets.is_empty() {
            self.nsps.remove(nsp);
        }
    }

    /// Adds a socket (this incarnation of it) to a room at cutoff `at`; returns whether it
    /// was not in it already.
    pub(super) fn join(
        &mut self,
        nsp: &str,
        room: &str,
        socket_id: &str,
        incarnation: u64,
        at: u64,
    ) -> Result<bool, NotMember> {
        let table = self.nsps.get_mut(nsp).ok_or(NotMember::UnknownSocket)?;
        let (key, member) = table
            .sockets
            .get_key_value(socket_id)
            .filter(|(_, m)| m.incarnation == incarnation)
            .ok_or(NotMember::UnknownSocket)?;
        if member.rooms.contains_key(room) {
            return Ok(false);
        }
        let (key, session) = (key.clone(), member.session.clone());
        enter_room(table, &key, &session, room);
        if let Some(member) = table.sockets.get_mut(socket_id) {
            member.rooms.insert(room.to_owned(), at);
        }
        Ok(true)
    }

    /// Removes a socket (this incarnation of it) from a room; returns whether it was in it.
    pub(super) fn leave(
        &mut self,
        nsp: &str,
        room: &str,
        socket_id: &str,
        incarnation: u64,
    ) -> bool {
        let Some(table) = self.nsps.get_mut(nsp) else {
            return false;
        };
        let Some(member) = table.sockets.get_mut(socket_id) else {
            return false;
        };
        if member.incarnation != incarnation || member.rooms.remove(room).is_none() {
            return false;
        }
        leave_room(table, room, socket_id);
        true
    }

    /// The rooms (sorted) and user of a connected socket, when it is this incarnation
    /// (`None`: any).
    pub(super) fn socket_entry(
        &self,
        nsp: &str,
        socket_id: &str,
        incarnation: Option<u64>,
    ) -> Option<(Vec<String>, Option<String>)> {
        let table = self.nsps.get(nsp)?;
        let member = table.sockets.get(socket_id)?;
        if incarnation.is_some_and(|i| i != member.incarnation) {
            return None;
        }
        let rooms = member.rooms.keys().cloned().collect();
        Some((rooms, table.users.get(socket_id).cloned()))
    }

    /// The user of a connected socket (from its user room), if any.
    pub fn user_of(&self, nsp: &str, socket_id: &str) -> Option<String> {
        self.nsps.get(nsp)?.users.get(socket_id).cloned()
    }

    /// How many members a room has.
    pub fn room_size(&self, nsp: &str, room: &str) -> usize {
        self.nsps
            .get(nsp)
            .and_then(|t| t.rooms.get(room))
            .map_or(0, |r| r.len())
    }

    /// Every connected socket as (namespace, socket id, incarnation), by session: what a
    /// restarted supervisor checks against the sessions' announcements.
    // An `Addr` hashes and compares by the identity of its channel, which never changes.
    #[allow(clippy::mutable_key_type)]
    pub(super) fn sockets_by_session(&self) -> HashMap<SessionAddr, Vec<SocketLife>> {
        let mut out: HashMap<SessionAddr, Vec<SocketLife>> = HashMap::new();
        for (nsp, table) in &self.nsps {
            for (id, member) in &table.sockets {
                out.entry(member.session.clone())
                    .or_default()
                    .push(SocketLife {
                        nsp: nsp.clone(),
                        socket_id: id.clone(),
                        incarnation: member.incarnation,
                    });
            }
        }
        out
    }

    /// Rooms of a namespace that have members, with their sizes, sorted by name.
    pub fn rooms(&self, nsp: &str) -> Vec<(String, usize)> {
        let mut rooms: Vec<_> = self
            .nsps
            .get(nsp)
            .map(|t| {
                t.rooms
                    .iter()
                    .map(|(name, members)| (name.clone(), members.len()))
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
            .map(|m| m.socket_id)
            .collect()
    }

    /// The members of a room with their users, sorted by socket id.
    pub fn member_users(&self, nsp: &str, room: &str) -> Vec<RoomMember> {
        self.member_page(nsp, room, None, usize::MAX).1
    }

    /// A page of a room's members: the room's size, and the (at most) `limit` members whose
    /// socket ids sort first after `after` (all when `None`), sorted. Costs one pass over
    /// the room and a heap of `limit`, not a sorted copy of the room.
    pub fn member_page(
        &self,
        nsp: &str,
        room: &str,
        after: Option<&str>,
        limit: usize,
    ) -> (usize, Vec<RoomMember>) {
        let Some((table, members)) = self
            .nsps
            .get(nsp)
            .and_then(|t| Some((t, t.rooms.get(room)?)))
        else {
            return (0, Vec::new());
        };
        let mut first: std::collections::BinaryHeap<&Arc<str>> =
            std::collections::BinaryHeap::with_capacity(limit.min(members.len()) + 1);
        for sid in members.keys() {
            if after.is_some_and(|after| &**sid <= after) {
                continue;
            }
            if first.len() < limit {
                first.push(sid);
            } else if first.peek().is_some_and(|last| sid < *last) {
                first.pop();
                first.push(sid);
            }
        }
        let page = first
            .into_sorted_vec()
            .into_iter()
            .map(|sid| RoomMember {
                socket_id: sid.to_string(),
                user: table.users.get(sid).cloned(),
            })
            .collect();
        (members.len(), page)
    }

    /// The session holding socket `socket_id` of `nsp`, if it is connected.
    pub fn session_of(&self, nsp: &str, socket_id: &str) -> Option<SessionAddr> {
        let member = self.nsps.get(nsp)?.sockets.get(socket_id)?;
        Some(member.session.clone())
    }

    /// Whether a room has a member.
    pub fn has_members(&self, nsp: &str, room: &str) -> bool {
        self.nsps
            .get(nsp)
            .is_some_and(|t| t.rooms.get(room).is_some_and(|r| !r.is_empty()))
    }

    /// The rooms of one socket, sorted (empty when it is not connected).
    pub fn socket_rooms(&self, nsp: &str, socket_id: &str) -> Vec<String> {
        self.nsps
            .get(nsp)
            .and_then(|t| t.sockets.get(socket_id))
            .map(|m| m.rooms.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether socket `socket_id` of `nsp` got broadcast number `number` to `target`
    /// through something else than `room`: it was in another of the target's rooms (or the
    /// user room of one of its users) since before that broadcast, or named by the target
    /// and connected then. A join's replay leaves such events out: the socket has them.
    pub fn reached_otherwise(
        &self,
        nsp: &str,
        socket_id: &str,
        room: &str,
        number: u64,
        target: &Target,
    ) -> bool {
        let Some(member) = self.nsps.get(nsp).and_then(|t| t.sockets.get(socket_id)) else {
            return false;
        };
        let excepted = target.except_socket_ids.iter().any(|s| s == socket_id)
            || target
                .except_rooms
                .iter()
                .any(|r| member.rooms.contains_key(r));
        if excepted {
            return false;
        }
        let before = |r: &str| r != room && member.rooms.get(r).is_some_and(|at| *at < number);
        target.rooms.iter().any(|r| before(r))
            || target.users.iter().any(|u| before(&user_room(u)))
            || (member.added_at < number && target.socket_ids.iter().any(|s| s == socket_id))
    }

    /// A user's sockets in every namespace, as (namespace, socket id), sorted.
    pub fn user_sockets(&self, user: &str) -> Vec<(String, String)> {
        let room = user_room(user);
        let mut out: Vec<(String, String)> = self
            .nsps
            .iter()
            .flat_map(|(nsp, t)| {
                t.rooms
                    .get(&room)
                    .into_iter()
                    .flat_map(|r| r.keys().map(|id| (nsp.clone(), id.to_string())))
            })
            .collect();
        out.sort();
        out
    }

    /// Namespaces with a connected socket.
    pub fn namespace_count(&self) -> usize {
        self.nsps.len()
    }

    /// Every namespace with its connected sockets and its rooms, sorted by name.
    pub fn namespace_counts(&self) -> Vec<(String, usize, usize)> {
        let mut counts: Vec<_> = self
            .nsps
            .iter()
            .map(|(nsp, t)| (nsp.clone(), t.sockets.len(), t.rooms.len()))
            .collect();
        counts.sort();
        counts
    }

    /// Connected sockets of a namespace.
    pub fn socket_count(&self, nsp: &str) -> usize {
        self.nsps.get(nsp).map_or(0, |t| t.sockets.len())
    }

    /// Resolves a target to its recipients: one entry per socket, excepted ones removed.
    pub fn resolve(&self, target: &Target) -> Recipients {
        let mut out = Vec::new();
        self.for_each_recipient(target, |id, addr| out.push((id.clone(), addr.clone())));
        out
    }

    /// Calls `f` once per recipient of `target` (a socket in several targeted rooms once,
    /// excepted ones never); returns how many. Nothing is allocated per recipient.
    pub fn for_each_recipient(
        &self,
        target: &Target,
        mut f: impl FnMut(&Arc<str>, &SessionAddr),
    ) -> usize {
        let Some(table) = self.nsps.get(&target.nsp) else {
            return 0;
        };
        let mut excluded = Excluded::new(&target.except_socket_ids);
        for room in &target.except_rooms {
            if let Some(r) = table.rooms.get(room) {
                excluded.extend(r.keys().map(|k| &**k));
            }
        }
        let mut count = 0;
        let mut visit = |id: &Arc<str>, addr: &SessionAddr| {
            if !excluded.contains(id) {
                f(id, addr);
                count += 1;
            }
        };
        if target.is_namespace_wide() {
            for (id, member) in &table.sockets {
                visit(id, &member.session);
            }
            return count;
        }
        let user_rooms: Vec<String> = target.users.iter().map(|u| user_room(u)).collect();
        let rooms: Vec<&SidMap<SessionAddr>> = target
            .rooms
            .iter()
            .chain(user_rooms.iter())
            .filter_map(|r| table.rooms.get(r))
            .collect();
        if rooms.len() == 1 && target.socket_ids.is_empty() {
            // One room: its members are distinct already.
            rooms[0].iter().for_each(|(id, addr)| visit(id, addr));
            return count;
        }
        let mut seen: HashSet<&str, SidHasher> = HashSet::default();
        for room in rooms {
            for (id, addr) in room {
                if seen.insert(id) {
                    visit(id, addr);
                }
            }
        }
        for id in &target.socket_ids {
            if let Some((key, member)) = table.sockets.get_key_value(id.as_str()) {
                if seen.insert(key) {
                    visit(key, &member.session);
                }
            }
        }
        count
    }
}

fn enter_room(table: &mut NspMembers, socket_id: &Arc<str>, session: &SessionAddr, room: &str) {
    if let Some(user) = room.strip_prefix(USER_ROOM_PREFIX) {
        table
            .users
            .entry(socket_id.clone())
            .or_insert_with(|| user.to_owned());
    }
    let members = match table.rooms.get_mut(room) {
        Some(members) => members,
        None => table.rooms.entry(room.to_owned()).or_default(),
    };
    members.insert(socket_id.clone(), session.clone());
}

fn leave_room(table: &mut NspMembers, room: &str, socket_id: &str) {
    forget_fields(table, room, socket_id);
    if let Some(user) = room.strip_prefix(USER_ROOM_PREFIX) {
        if table.users.get(socket_id).is_some_and(|u| u == user) {
            table.users.remove(socket_id);
        }
    }
    if let Some(members) = table.rooms.get_mut(room) {
        members.remove(socket_id);
        if members.is_empty() {
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

    fn new(socket_ids: &'a [String]) -> Self {
        let mut excluded = Excluded::Few(Vec::new());
        excluded.extend(socket_ids.iter().map(String::as_str));
        excluded
    }

    fn extend(&mut self, socket_ids: impl Iterator<Item = &'a str>) {
        for id in socket_ids {
            match self {
                Excluded::Few(list) if list.len() < Self::LINEAR => list.push(id),
                Excluded::Few(list) => {
                    let mut set: HashSet<&str> = list.drain(..).collect();
                    set.insert(id);
                    *self = Excluded::Many(set);
                }
                Excluded::Many(set) => {
                    set.insert(id);
                }
            }
        }
    }

    fn contains(&self, id: &str) -> bool {
        match self {
            Excluded::Few(list) => list.contains(&id),
            Excluded::Many(set) => set.contains(id),
        }
    }
}

struct Shared {
    data: RwLock<Membership>,
    /// Bumped on every write, under the write lock.
    version: AtomicU64,
}

/// The read-only side of the membership, shared by whoever needs to read it.
#[derive(Clone)]
pub struct MembershipView {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for MembershipView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MembershipView")
            .field("version", &self.version())
            .finish_non_exhaustive()
    }
}

/// A read lock on the membership: its read methods, nothing else. Hold it for one query or
/// one broadcast's resolution, never longer (the RoomSupervisor waits for it).
pub struct MembershipRead<'a>(RwLockReadGuard<'a, Membership>);

impl Deref for MembershipRead<'_> {
    type Target = Membership;

    fn deref(&self) -> &Membership {
        &self.0
    }
}

impl MembershipView {
    /// Locks the membership for reading. A panic while it was written leaves data the
    /// supervisor rebuilds anyway, so a poisoned lock is read through.
    pub fn read(&self) -> MembershipRead<'_> {
        MembershipRead(self.shared.data.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The number of writes so far. Read under [`MembershipView::read`], it names the
    /// membership that lock shows.
    pub fn version(&self) -> u64 {
        self.shared.version.load(Ordering::Acquire)
    }
}

/// The write side of the membership: made by the hub at start and handed to the
/// RoomSupervisor, the only code that can open it (its `write` is private to
/// `room_supervisor`).
pub(crate) struct MembershipWriter {
    shared: Arc<Shared>,
}

/// A write lock on the membership; the version was bumped when it was taken.
pub(super) struct MembershipWrite<'a>(RwLockWriteGuard<'a, Membership>);

impl Deref for MembershipWrite<'_> {
    type Target = Membership;

    fn deref(&self) -> &Membership {
        &self.0
    }
}

impl std::ops::DerefMut for MembershipWrite<'_> {
    fn deref_mut(&mut self) -> &mut Membership {
        &mut self.0
    }
}

impl MembershipWriter {
    /// An empty membership: its writer and a view on it.
    pub(crate) fn new() -> (MembershipWriter, MembershipView) {
        let shared = Arc::new(Shared {
            data: RwLock::new(Membership::default()),
            version: AtomicU64::new(0),
        });
        let view = MembershipView {
            shared: shared.clone(),
        };
        (MembershipWriter { shared }, view)
    }

    /// Locks the membership for writing and bumps its version.
    pub(super) fn write(&mut self) -> MembershipWrite<'_> {
        let guard = self.shared.data.write().unwrap_or_else(|e| e.into_inner());
        self.shared.version.fetch_add(1, Ordering::AcqRel);
        MembershipWrite(guard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(members: &Membership, room: &str) -> Vec<String> {
        members.members("/", room)
    }

    #[actix::test]
    async fn a_removal_removes_only_its_own_incarnation() {
        let session = crate::session::test_support::idle_session().await;
        let mut members = Membership::default();
        let id: Arc<str> = "s1".into();
        members.add_socket("/", id.clone(), session.clone(), 1, ["r".to_owned()], 0);
        // The socket is recovered on another session before the old one's removal lands.
        members.add_socket("/", id.clone(), session.clone(), 2, ["r".to_owned()], 0);
        members.remove_socket("/", &id, Some(1));
        assert_eq!(ids(&members, "r"), vec!["s1".to_owned()]);
        members.leave("/", "r", &id, 1);
        assert_eq!(ids(&members, "r"), vec!["s1".to_owned()]);
        members.remove_socket("/", &id, Some(2));
        assert!(ids(&members, "r").is_empty());
        assert_eq!(members.namespace_count(), 0);
    }

    #[actix::test]
    async fn a_member_page_is_the_first_members_after_the_cursor() {
        let session = crate::session::test_support::idle_session().await;
        let mut members = Membership::default();
        for sid in ["s5", "s2", "s9", "s1", "s7", "s3"] {
            members.add_socket("/", sid.into(), session.clone(), 1, ["r".to_owned()], 0);
        }
        let sids = |page: Vec<RoomMember>| -> Vec<String> {
            page.into_iter().map(|m| m.socket_id).collect()
        };
        let (count, page) = members.member_page("/", "r", None, 4);
        assert_eq!(
            (count, sids(page)),
            (6, vec!["s1".into(), "s2".into(), "s3".into(), "s5".into()])
        );
        let (_, page) = members.member_page("/", "r", Some("s5"), 4);
        assert_eq!(sids(page), vec!["s7".to_owned(), "s9".to_owned()]);
        let (_, page) = members.member_page("/", "r", Some("s4"), 1);
        assert_eq!(
            sids(page),
            vec!["s5".to_owned()],
            "a cursor need not be a member"
        );
        assert!(members.member_page("/", "r", Some("s9"), 4).1.is_empty());
        assert_eq!(members.member_page("/", "none", None, 4), (0, Vec::new()));
    }
}
