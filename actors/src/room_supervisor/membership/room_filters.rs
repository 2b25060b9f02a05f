//! The field sets of a room's filtered members (see `crate::fields`), kept with the
//! membership so the Broadcaster resolves a target and its members' field sets under one
//! read lock. Only rooms with a filtered member have an entry, and only namespaces with
//! one pay anything at fan-out: an unfiltered target resolves as before.
//!
//! Each distinct set is interned per room (members asking for equal sets share one
//! allocation), which is what the bound `max_field_sets_per_room` counts.

use std::collections::HashMap;
use std::sync::Arc;

use actix::Addr;

use super::{user_room, Excluded, Membership, NspMembers};
use crate::fields::{FieldSet, FieldsError, Reach};
use crate::ids::SidMap;
use crate::session::Session;
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

    fn push(&mut self, reach: Option<&FieldSet>, id: &Arc<str>, addr: &Addr<Session>) {
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

    /// Filtered memberships (a socket in a room with a field set) in every namespace.
    pub fn filtered_memberships(&self) -> usize {
        self.nsps
            .values()
            .flat_map(|t| t.filters.values())
            .map(|f| f.members.len())
            .sum()
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
        for room in target
            .rooms
            .iter()
            .filter(|r| member.rooms.contains_key(*r))
        {
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
        let mut reached: HashMap<&Arc<str>, (&Addr<Session>, Reach)> = HashMap::new();
        for room in &target.rooms {
            let filters = table.filters.get(room);
            for (id, addr) in table.rooms.get(room).into_iter().flatten() {
                let path = filters.and_then(|f| f.of(id));
                reached
                    .entry(id)
                    .and_modify(|(_, reach)| reach.add(path))
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
