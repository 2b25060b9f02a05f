//! A map for the handful of namespaces one connection joins (almost always one): a vector
//! searched linearly, which costs a few dozen bytes where a hash table costs hundreds.

use std::borrow::Borrow;

/// A small string-keyed map with the subset of `HashMap`'s API the session uses. The key
/// is a `String`, or an `Arc<str>` shared with the value (a joined socket's namespace).
pub(super) struct SmallMap<V, K = String> {
    entries: Vec<(K, V)>,
}

impl<V, K> Default for SmallMap<V, K> {
    fn default() -> Self {
        SmallMap {
            entries: Vec::new(),
        }
    }
}

impl<V, K: Borrow<str>> SmallMap<V, K> {
    pub(super) fn get(&self, key: &str) -> Option<&V> {
        self.entries
            .iter()
            .find(|(k, _)| k.borrow() == key)
            .map(|(_, v)| v)
    }

    pub(super) fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k.borrow() == key)
            .map(|(_, v)| v)
    }

    pub(super) fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Inserts or replaces; returns the replaced value.
    pub(super) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.get_mut(key.borrow()) {
            Some(slot) => Some(std::mem::replace(slot, value)),
            None => {
                // Grown one entry at a time: a `Vec` doubles to four entries on its first
                // push, three of them never used by a connection with one namespace.
                self.entries.reserve_exact(1);
                self.entries.push((key, value));
                None
            }
        }
    }

    pub(super) fn remove(&mut self, key: &str) -> Option<V> {
        let index = self.entries.iter().position(|(k, _)| k.borrow() == key)?;
        Some(self.entries.swap_remove(index).1)
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub(super) fn drain(&mut self) -> impl Iterator<Item = (K, V)> + '_ {
        self.entries.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_map() {
        let mut map: SmallMap<i32> = SmallMap::default();
        assert!(map.is_empty());
        assert_eq!(map.insert("/".into(), 1), None);
        assert_eq!(map.insert("/chat".into(), 2), None);
        assert_eq!(map.insert("/".into(), 3), Some(1));
        assert_eq!(map.len(), 2);
        assert_eq!(map.get("/"), Some(&3));
        assert!(map.contains_key("/chat"));
        *map.get_mut("/chat").unwrap() += 10;
        assert_eq!(map.remove("/chat"), Some(12));
        assert_eq!(map.remove("/chat"), None);
        assert_eq!(map.values().copied().collect::<Vec<_>>(), vec![3]);
        assert_eq!(map.drain().count(), 1);
        assert!(map.is_empty());
    }
}
