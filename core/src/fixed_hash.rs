//! A fixed, fast hasher (rustc's Fx multiply-rotate) for maps of small keys that are only
//! looked up, never walked in an order that matters. Fixed: the same keys hash the same
//! in every run, so nothing depends on a random seed (std's default hasher is seeded). This is
//! the one file of the core that names std's hash map (`tests/sans_io.rs` holds it to that).

use std::hash::{BuildHasherDefault, Hasher};

/// Builds [`FxHasher`]s.
pub type FixedState = BuildHasherDefault<FxHasher>;

/// std's hash map with the fixed hasher: for lookups only (it iterates in hash order).
pub type FixedHashTable<K, V> = std::collections::HashMap<K, V, FixedState>;

const MULTIPLIER: u64 = 0x51_7c_c1_b7_27_22_0a_95;

#[derive(Clone, Copy, Debug, Default)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(MULTIPLIER);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    fn write_u16(&mut self, value: u16) {
        self.add(u64::from(value));
    }

    fn write_u32(&mut self, value: u32) {
        self.add(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    /// The same value hashes the same from any builder; different values spread.
    #[test]
    fn hashes_are_fixed_and_spread() {
        let (first, second) = (FixedState::default(), FixedState::default());
        let hashes: Vec<u64> = (0u64..1_000).map(|value| first.hash_one((value, value * 7))).collect();
        assert!((0u64..1_000).all(|value| second.hash_one((value, value * 7)) == hashes[value as usize]));
        let mut distinct = hashes.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), hashes.len());
        assert_eq!(first.hash_one(b"bytes".as_slice()), second.hash_one(b"bytes".as_slice()));
        assert_ne!(first.hash_one(b"bytes".as_slice()), first.hash_one(b"bytez".as_slice()));
    }
}
