//! The rooms of one socket, as the session and the membership keep them: a sorted vector
//! sized to what it holds. A socket is in a few rooms (bounded by
//! `max_rooms_per_socket`); a `BTreeSet` or `BTreeMap` allocates a whole node of eleven
//! entries for the first one (280 to 370 bytes), which was a tenth of an idle
//! connection's memory. Lookups are binary searches, and iteration is in name order, as
//! the tree's was.

use std::borrow::Borrow;

/// Room names mapped to a value each (the cutoff a socket entered at, in the
/// membership), in name order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomMap<V> {
    entries: Vec<(String, V)>,
}

impl<V> Default for RoomMap<V> {
    fn default() -> Self {
        RoomMap {
            entries: Vec::new(),
        }
    }
}

impl<V> RoomMap<V> {
    /// An empty map (allocates nothing).
    pub fn new() -> Self {
        Self::default()
    }

    fn find(&self, room: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(name, _)| name.as_str().cmp(room))
    }

    /// Sets the value of `room`; returns the one it replaced, if any.
    pub fn insert(&mut self, room: String, value: V) -> Option<V> {
        match self.find(&room) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                if self.entries.len() == self.entries.capacity() {
                    // One at a time while small (most sockets are in one or two rooms),
                    // doubling after.
                    let len = self.entries.len();
                    self.entries.reserve_exact(if len < 4 { 1 } else { len });
                }
                self.entries.insert(i, (room, value));
                None
            }
        }
    }

    /// Removes `room`; returns its value if it was there. An emptied map gives its memory
    /// back.
    pub fn remove(&mut self, room: &str) -> Option<V> {
        let i = self.find(room).ok()?;
        let (_, value) = self.entries.remove(i);
        if self.entries.is_empty() {
            self.entries = Vec::new();
        } else if self.entries.len() * 4 <= self.entries.capacity() {
            self.entries.shrink_to(self.entries.len() * 2);
        }
        Some(value)
    }

    /// The value of `room`, if it is there.
    pub fn get(&self, room: &str) -> Option<&V> {
        self.find(room).ok().map(|i| &self.entries[i].1)
    }

    /// Whether `room` is there.
    pub fn contains_key(&self, room: &str) -> bool {
        self.find(room).is_ok()
    }

    /// The room names, in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &String> + Clone + '_ {
        self.entries.iter().map(|(name, _)| name)
    }

    /// How many rooms.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A set of room names, in name order (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomSet {
    rooms: RoomMap<()>,
}

impl RoomSet {
    /// An empty set (allocates nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `room`; returns whether it was not there.
    pub fn insert(&mut self, room: String) -> bool {
        self.rooms.insert(room, ()).is_none()
    }

    /// Removes `room`; returns whether it was there.
    pub fn remove<Q: Borrow<str> + ?Sized>(&mut self, room: &Q) -> bool {
        self.rooms.remove(room.borrow()).is_some()
    }

    /// Whether `room` is there.
    pub fn contains<Q: Borrow<str> + ?Sized>(&self, room: &Q) -> bool {
        self.rooms.contains_key(room.borrow())
    }

    /// The rooms, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &String> + Clone + '_ {
        self.rooms.keys()
    }

    /// How many rooms.
    pub fn len(&self) -> usize {
        self.rooms.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }
}

impl FromIterator<String> for RoomSet {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        let mut entries: Vec<(String, ())> = iter.into_iter().map(|room| (room, ())).collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|a, b| a.0 == b.0);
        entries.shrink_to_fit();
        RoomSet {
            rooms: RoomMap { entries },
        }
    }
}

impl<'a> IntoIterator for &'a RoomSet {
    type Item = &'a String;
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, (String, ())>, fn(&(String, ())) -> &String>;

    fn into_iter(self) -> Self::IntoIter {
        self.rooms.entries.iter().map(|(name, _)| name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_keeps_names_sorted_unique_and_sized_to_its_content() {
        let mut set = RoomSet::new();
        assert!(set.insert("b".into()));
        assert_eq!(set.rooms.entries.capacity(), 1, "one room, room for one");
        assert!(set.insert("a".into()));
        assert!(!set.insert("b".into()), "already there");
        assert!(set.insert("c".into()));
        assert_eq!(set.iter().cloned().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(set.contains("a") && !set.contains("d"));
        assert!(set.remove("b") && !set.remove("b"));
        assert!(set.remove("a") && set.remove("c"));
        assert!(set.is_empty());
        assert_eq!(
            set.rooms.entries.capacity(),
            0,
            "emptied: memory given back"
        );
        let built: RoomSet = ["z", "x", "z", "y"].map(String::from).into_iter().collect();
        assert_eq!(built.iter().cloned().collect::<Vec<_>>(), ["x", "y", "z"]);
    }

    #[test]
    fn a_map_replaces_and_removes_values() {
        let mut map = RoomMap::new();
        assert_eq!(map.insert("r".into(), 1), None);
        assert_eq!(map.insert("r".into(), 2), Some(1));
        assert_eq!(map.get("r"), Some(&2));
        for i in 0..40 {
            map.insert(format!("room-{i:02}"), i);
        }
        assert_eq!(map.len(), 41);
        assert!(map.keys().zip(map.keys().skip(1)).all(|(a, b)| a < b));
        for i in 0..40 {
            assert_eq!(map.remove(&format!("room-{i:02}")), Some(i));
        }
        assert!(map.entries.capacity() <= 4, "{}", map.entries.capacity());
        assert_eq!(map.remove("r"), Some(2));
        assert!(map.is_empty());
    }
}
