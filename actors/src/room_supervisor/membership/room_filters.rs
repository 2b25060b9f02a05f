//! The field sets of a room's filtered members (see `crate::fields`), kept with the
//! membership so the Broadcaster resolves a target and its members' field sets under one
//! read lock. Only rooms with a filtered member have an entry, and only namespaces with
//! one pay anything at fan-out: an unfiltered target resolves as before.
//!
//! Each distinct set is interned per room (members asking for equal sets share one
//! allocation), which is what the bound `max_field_sets_per_room` counts.

use std::collections::HashMap;
use std::sync::Arc;

use super::{user_room, Excluded, Membership, NspMembers};
use crate::fields::{FieldSet, FieldsError, Reach, Unions};
use crate::ids::SidMap;
use crate::session::SessionAddr;
use crate::target::Target;

/// One room's filtered members.
#[derive(Default)]
pub(super) struct RoomFilters {
    members: SidMap<FieldSet>,
    /// The distinct sets, each with how many members use it.
    sets: Vec<(FieldSet, usize)>,
}

impl RoomFilters {
    fn of(&self, socket_id: &str) -> Option<&FieldSet> {
        self.members.get(socket_id)
    }

    /// Whether `socket_id` may take `fields` without the room going over `max` sets.
    fn check(&self, socket_id: &str, fields: &FieldSet, max: usize) -> Result<(), FieldsError> {
        if self.sets.iter().any(|(set, _)| set == fields) {
            return Ok(());
        }
        // Its own set goes away when it was the only user of it.
        let freed = self
            .members
            .get(socket_id)
            .and_then(|own| self.sets.iter().find(|(set, _)| set.same(own)))
            .is_some_and(|(_, users)| *users == 1);
        let after = self.sets.len() + 1 - usize::from(freed);
        if after > max {
            return Err(FieldsError::TooManyFieldSets { max });
        }
        Ok(())
    }

    fn remove(&mut self, socket_id: &str) {
        let Some(old) = self.members.remove(socket_id) else {
            return;
        };
        if let Some(at) = self.sets.iter().position(|(set, _)| set.same(&old)) {
            self.sets[at].1 -= 1;
            if self.sets[at].1 == 0 {
                self.sets.swap_remove(at);
            }
        }
    }

    fn set(&mut self, socket_id: &Arc<str>, fields: FieldSet) {
        self.remove(socket_id);
        let interned = match self.sets.iter_mut().find(|(set, _)| *set == fields) {
            Some((set, users)) => {
                *users += 1;
                set.clone()
            }
            None => {
                self.sets.push((fields.clone(), 1));
                fields
            }
        };
        self.members.insert(socket_id.clone(), interned);
    }

    fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// Recipients grouped by what they get of an event: one group per distinct reach.
pub struct FieldGroups {
    /// Each group: its field set (`None`: the whole event) and its sockets.
    pub groups: Vec<(Option<FieldSet>, crate::room_supervisor::Recipients)>,
}

impl FieldGroups {
    /// How many sockets in all.
    pub fn len(&self) -> usize {
        self.groups.iter().map(|(_, r)| r.len()).sum()
    }

    /// Whether there is no recipient.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push(&mut self, reach: Option<&FieldSet>, id: &Arc<str>, addr: &SessionAddr) {
        let at = self
            .groups
            .iter()
            .position(|(set, _)| match (set, reach) {
                (None, None) => true,
                (Some(a), Some(b)) => a.same(b) || a == b,
                _ => false,
            })
            .unwrap_or_else(|| {
                self.groups.push((reach.cloned(), Vec::new()));
                self.groups.len() - 1
            });
        self.groups[at].1.push((id.clone(), addr.clone()));
    }
}

impl NspMembers {
    fn filters_of(&self, room: &str, socket_id: &str) -> Option<&FieldSet> {
        self.filters.get(room)?.of(socket_id)
    }
}

impl Membership {
    /// Whether `socket_id` (connected, in `room`) may take `fields` in that room; with
    /// `None` (everything) it always may.
    pub(in crate::room_supervisor) fn check_fields(
        &self,
        nsp: &str,
        room: &str,
        socket_id: &str,
        fields: Option<&FieldSet>,
        max: usize,
    ) -> Result<(), FieldsError> {
        let Some(fields) = fields else {
            return Ok(());
        };
        let Some(table) = self.nsps.get(nsp) else {
            return Ok(());
        };
        match table.filters.get(room) {
            Some(filters) => filters.check(socket_id, fields, max),
            None if max == 0 => Err(FieldsError::TooManyFieldSets { max }),
            None => Ok(()),
        }
    }

    /// Sets (or, with `None`, clears) the field set of a socket (this incarnation) in one
    /// of its rooms, within `max` distinct sets in the room.
    pub(in crate::room_supervisor) fn set_fields(
        &mut self,
        nsp: &str,
        room: &str,
        socket_id: &str,
        incarnation: u64,
        fields: Option<FieldSet>,
        max: usize,
    ) -> Result<(), FieldsError> {
        let table = self.nsps.get_mut(nsp).ok_or(FieldsError::NotConnected)?;
        let (key, member) = table
            .sockets
            .get_key_value(socket_id)
            .filter(|(_, m)| m.incarnation == incarnation)
            .ok_or(FieldsError::NotConnected)?;
        if !member.rooms.contains_key(room) {
            return Err(FieldsError::NotInRoom);
        }
        let key = key.clone();
        match fields {
            None => forget_fields(table, room, socket_id),
            Some(fields) => {
                if let Some(filters) = table.filters.get(room) {
                    filters.check(socket_id, &fields, max)?;
                } else if max == 0 {
                    return Err(FieldsError::TooManyFieldSets { max });
                }
                table
                    .filters
                    .entry(room.to_owned())
                    .or_default()
                    .set(&key, fields);
            }
        }
        Ok(())
    }

    /// The field set of a socket in a room (`None`: it gets everything).
    pub fn fields_of(&self, nsp: &str, room: &str, socket_id: &str) -> Option<FieldSet> {
        self.nsps.get(nsp)?.filters_of(room, socket_id).cloned()
    }

    /// Distinct field sets of a room.
    pub fn field_set_count(&self, nsp: &str, room: &str) -> usize {
        self.nsps
            .get(nsp)
            .and_then(|t| t.filters.get(room))
            .map_or(0, |f| f.sets.len())
    }

    /// Filtered memberships (a socket in a room with a field set) and distinct field sets
    /// (summed over the rooms), in every namespace.
    pub fn field_filter_counts(&self) -> (usize, usize) {
        let filters = self.nsps.values().flat_map(|t| t.filters.values());
        filters.fold((0, 0), |(members, sets), f| {
            (members + f.members.len(), sets + f.sets.len())
        })
    }

    /// Whether a target reaches a filtered member: then it resolves with
    /// [`Membership::resolve_grouped`], else with [`Membership::for_each_recipient`].
    pub fn has_filtered(&self, target: &Target) -> bool {
        let Some(table) = self.nsps.get(&target.nsp) else {
            return false;
        };
        !table.filters.is_empty() && target.rooms.iter().any(|r| table.filters.contains_key(r))
    }

    /// What a socket gets of an event sent to `target`: the union of what each path to it
    /// gives (see `crate::fields`).
    pub fn reach_of(&self, nsp: &str, socket_id: &str, target: &Target) -> Reach {
        let Some(table) = self.nsps.get(nsp) else {
            return Reach::Everything;
        };
        let Some(member) = table.sockets.get(socket_id) else {
            return Reach::Everything;
        };
        let direct = target.is_namespace_wide()
            || target.socket_ids.iter().any(|s| s == socket_id)
            || target
                .users
                .iter()
                .any(|u| member.rooms.contains_key(&user_room(u)));
        if direct {
            return Reach::Everything;
        }
        let mut reach: Option<Reach> = None;
        for room in target.rooms.iter().filter(|r| member.rooms.contains_key(r)) {
            let path = table.filters_of(room, socket_id);
            match &mut reach {
                Some(reach) => reach.add(path),
                None => reach = Some(Reach::of(path)),
            }
        }
        reach.unwrap_or(Reach::Everything)
    }

    /// Resolves a target to its recipients grouped by what they get (one copy per socket,
    /// excepted ones never): one group per distinct field set, plus one for the sockets
    /// that get everything.
    pub fn resolve_grouped(&self, target: &Target) -> FieldGroups {
        let mut out = FieldGroups { groups: Vec::new() };
        let Some(table) = self.nsps.get(&target.nsp) else {
            return out;
        };
        let mut excluded = Excluded::new(&target.except_socket_ids);
        for room in &target.except_rooms {
            if let Some(r) = table.rooms.get(room) {
                excluded.extend(r.keys().map(|k| &**k));
            }
        }
        if target.rooms.len() == 1 && target.users.is_empty() && target.socket_ids.is_empty() {
            // One room: its members are distinct, each with its own set or none.
            let room = &target.rooms[0];
            let filters = table.filters.get(room);
            for (id, addr) in table.rooms.get(room).into_iter().flatten() {
                if !excluded.contains(id) {
                    out.push(filters.and_then(|f| f.of(id)), id, addr);
                }
            }
            return out;
        }
        // Several paths: each socket's reach is the union of its paths'.
        let mut reached: HashMap<&Arc<str>, (&SessionAddr, Reach)> = HashMap::new();
        let mut unions = Unions::default();
        for room in &target.rooms {
            let filters = table.filters.get(room);
            for (id, addr) in table.rooms.get(room).into_iter().flatten() {
                let path = filters.and_then(|f| f.of(id));
                reached
                    .entry(id)
                    .and_modify(|(_, reach)| reach.add_with(path, &mut unions))
                    .or_insert_with(|| (addr, Reach::of(path)));
            }
        }
        for user in &target.users {
            for (id, addr) in table.rooms.get(&user_room(user)).into_iter().flatten() {
                reached.insert(id, (addr, Reach::Everything));
            }
        }
        for id in &target.socket_ids {
            if let Some((key, member)) = table.sockets.get_key_value(id.as_str()) {
                reached.insert(key, (&member.session, Reach::Everything));
            }
        }
        for (id, (addr, reach)) in reached {
            if !excluded.contains(id) {
                out.push(reach.fields(), id, addr);
            }
        }
        out
    }
}

/// Drops a socket's field set in a room (it left the room, or asked for everything).
pub(super) fn forget_fields(table: &mut NspMembers, room: &str, socket_id: &str) {
    if let Some(filters) = table.filters.get_mut(room) {
        filters.remove(socket_id);
        if filters.is_empty() {
            table.filters.remove(room);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> FieldSet {
        FieldSet::new(names.iter().copied()).unwrap()
    }

    #[actix::test]
    async fn members_are_grouped_once_per_distinct_set_and_sets_are_bounded() {
        let session = crate::session::test_support::idle_session().await;
        let mut members = Membership::default();
        // Nine filtered members over three sets, three unfiltered.
        for i in 0..12u64 {
            let id: Arc<str> = format!("s{i}").into();
            members.add_socket("/", id.clone(), session.clone(), i, ["r".to_owned()], 0);
            if i < 9 {
                let fields = set(&["a", ["x", "y", "z"][i as usize % 3]]);
                members
                    .set_fields("/", "r", &id, i, Some(fields), 3)
                    .unwrap();
            }
        }
        assert_eq!(members.field_set_count("/", "r"), 3);
        assert_eq!(members.field_filter_counts(), (9, 3));
        let target = Target {
            rooms: vec!["r".into()],
            except_socket_ids: vec!["s0".into()],
            ..Target::namespace("/")
        };
        assert!(members.has_filtered(&target));
        let grouped = members.resolve_grouped(&target);
        assert_eq!(grouped.groups.len(), 4, "three sets and everything");
        assert_eq!(grouped.len(), 11, "s0 excepted");
        let mut sizes: Vec<usize> = grouped.groups.iter().map(|(_, r)| r.len()).collect();
        sizes.sort();
        assert_eq!(sizes, vec![2, 3, 3, 3]);

        // A fourth set is refused; the same set again, or none, is not.
        let id: Arc<str> = "s9".into();
        let refused = members.set_fields("/", "r", &id, 9, Some(set(&["w"])), 3);
        assert_eq!(refused, Err(FieldsError::TooManyFieldSets { max: 3 }));
        members
            .set_fields("/", "r", &id, 9, Some(set(&["a", "x"])), 3)
            .unwrap();
        assert_eq!(members.field_set_count("/", "r"), 3);
        // Not in the room, or another incarnation.
        let other = members.set_fields("/", "other", &id, 9, Some(set(&["a"])), 3);
        assert_eq!(other, Err(FieldsError::NotInRoom));
        let stale = members.set_fields("/", "r", &id, 1, None, 3);
        assert_eq!(stale, Err(FieldsError::NotConnected));

        // Leaving and removal forget the sets; the room's entry goes with the last one.
        for i in 0..12u64 {
            members.leave("/", "r", &format!("s{i}"), i);
        }
        assert_eq!(members.field_filter_counts(), (0, 0));
        assert!(!members.has_filtered(&target));
        let whole = Target::namespace("/");
        assert!(!members.has_filtered(&whole));
    }

    #[actix::test]
    async fn the_reach_of_several_paths_is_their_union() {
        let session = crate::session::test_support::idle_session().await;
        let mut members = Membership::default();
        let id: Arc<str> = "s".into();
        let rooms = ["p", "v", "all", "user:u"].map(String::from);
        members.add_socket("/", id.clone(), session.clone(), 1, rooms, 0);
        members
            .set_fields("/", "p", &id, 1, Some(set(&["price"])), 4)
            .unwrap();
        members
            .set_fields("/", "v", &id, 1, Some(set(&["volume"])), 4)
            .unwrap();
        let to = |rooms: &[&str]| Target {
            rooms: rooms.iter().map(|r| r.to_string()).collect(),
            ..Target::namespace("/")
        };
        let reach = members.reach_of("/", "s", &to(&["p", "v"]));
        assert_eq!(reach, Reach::Fields(set(&["price", "volume"])));
        assert_eq!(
            members.reach_of("/", "s", &to(&["p", "all"])),
            Reach::Everything
        );
        let by_user = Target {
            users: vec!["u".into()],
            ..to(&["p"])
        };
        assert_eq!(members.reach_of("/", "s", &by_user), Reach::Everything);
        let grouped = members.resolve_grouped(&to(&["p", "v"]));
        assert_eq!(grouped.groups.len(), 1);
        assert_eq!(grouped.groups[0].0, Some(set(&["price", "volume"])));
    }
}
