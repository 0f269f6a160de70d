//! A map kept as a sorted vector, for the few entries a client holds at once (its pending
//! writes): lookups scan one short array instead of walking B-tree nodes, and an insert
//! allocates nothing once the vector has room. Same order, same serialized form as a
//! `BTreeMap`: a state encodes and iterates the same either way.

use serde::ser::{Serialize, Serializer};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmallMap<K, V> {
    /// Sorted by key, no key twice.
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap { entries: Vec::new() }
    }
}

impl<K: Ord, V> SmallMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    fn position(&self, key: &K) -> Result<usize, usize> {
        self.entries.binary_search_by(|(held, _)| held.cmp(key))
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.position(key).ok().map(|at| &self.entries[at].1)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.position(key).ok().map(|at| &mut self.entries[at].1)
    }

    /// Inserts or replaces; returns the value replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.position(&key) {
            Ok(at) => Some(std::mem::replace(&mut self.entries[at].1, value)),
            Err(at) => {
                self.entries.insert(at, (key, value));
                None
            }
        }
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.position(key).ok().map(|at| self.entries.remove(at).1)
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(key, value)| (key, value))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, value)| value)
    }
}

impl<K: Serialize, V: Serialize> Serialize for SmallMap<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.entries.iter().map(|(key, value)| (key, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Every operation answers as a `BTreeMap` does, and both serialize alike.
    #[test]
    fn answers_as_a_btree_map_does() {
        let (mut small, mut btree) = (SmallMap::new(), BTreeMap::new());
        let mut state = 7u64;
        for _ in 0..2_000 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let (key, value, op) = ((state >> 33) % 12, state >> 40, (state >> 20) % 4);
            match op {
                0 | 1 => assert_eq!(small.insert(key, value), btree.insert(key, value)),
                2 => assert_eq!(small.remove(&key), btree.remove(&key)),
                _ => {
                    if let (Some(small), Some(btree)) = (small.get_mut(&key), btree.get_mut(&key)) {
                        *small += 1;
                        *btree += 1;
                    }
                }
            }
            assert_eq!(small.get(&key), btree.get(&key));
            assert_eq!(small.len(), btree.len());
            assert!(small.iter().eq(btree.iter()), "the same entries in the same order");
        }
        assert_eq!(postcard::to_allocvec(&small).unwrap(), postcard::to_allocvec(&btree).unwrap());
        assert!(small.values().eq(btree.values()));
        small.clear();
        assert_eq!(small.len(), 0);
    }
}
