//! The set of states a search has visited: 128-bit fingerprints only, each with the depth
//! it was first reached at (a state reached again closer to the start has more steps left
//! within the bound, so it is searched again). Sharded behind locks so that every worker
//! thread shares it; its memory is counted and capped.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

const SHARDS: usize = 64;

/// Bytes a state takes: its slot (fingerprint and depth, 24 bytes aligned) and the table's
/// control byte, over the table's 7/8 load: 25 * 8 / 7, rounded up.
pub const SLOT_BYTES: u64 = 29;

/// Fingerprints are uniform already: the table hashes them by folding, not rehashing.
#[derive(Default)]
struct Folding(u64);

impl Hasher for Folding {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(word);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = self.0.rotate_left(17) ^ value;
    }
}

type Table = HashMap<(u64, u64), u32, BuildHasherDefault<Folding>>;

/// What [`Visited::visit`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visit {
    /// Not seen before: search on from here.
    New,
    /// Seen only deeper: search on from here again, with more steps left.
    Closer,
    /// Seen at this depth or closer to the start.
    Seen,
    /// Recording it would pass the memory bound.
    Full,
}

pub struct Visited {
    shards: Vec<Mutex<Table>>,
    bytes: AtomicU64,
    bytes_max: u64,
}

impl Visited {
    pub fn new(bytes_max: u64) -> Visited {
        Visited {
            shards: (0..SHARDS).map(|_| Mutex::new(Table::default())).collect(),
            bytes: AtomicU64::new(0),
            bytes_max,
        }
    }

    /// Records `fingerprint` reached at `depth`.
    pub fn visit(&self, fingerprint: u128, depth: u32) -> Visit {
        let key = ((fingerprint >> 64) as u64, fingerprint as u64);
        let shard = (key.0 >> 58) as usize % SHARDS;
        let mut table = self.shards[shard].lock().expect("no worker panics holding the table");
        if let Some(seen_at) = table.get_mut(&key) {
            if *seen_at <= depth {
                return Visit::Seen;
            }
            *seen_at = depth;
            return Visit::Closer;
        }
        if table.len() == table.capacity() {
            // The table is about to double (3, 7, 14, 28, ... slots): refuse if that passes
            // the bound.
            let grown = (table.capacity() * 2 + 4) as u64 * SLOT_BYTES;
            let now = table.capacity() as u64 * SLOT_BYTES;
            if self.bytes.load(Ordering::Relaxed) + grown - now > self.bytes_max {
                return Visit::Full;
            }
            table.reserve(1);
            self.bytes.fetch_add(table.capacity() as u64 * SLOT_BYTES - now, Ordering::Relaxed);
        }
        table.insert(key, depth);
        Visit::New
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| shard.lock().expect("no worker panics holding the table").len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the tables hold (capacity, not just what is used).
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_new_once_unless_reached_closer_to_the_start() {
        let visited = Visited::new(u64::MAX);
        assert_eq!(visited.visit(7, 5), Visit::New);
        assert_eq!(visited.visit(7, 5), Visit::Seen);
        assert_eq!(visited.visit(7, 9), Visit::Seen);
        assert_eq!(visited.visit(7, 2), Visit::Closer, "closer to the start: more steps left");
        assert_eq!(visited.visit(7, 3), Visit::Seen);
        assert_eq!(visited.visit(8 << 64, 3), Visit::New, "the high half counts too");
        assert_eq!(visited.len(), 2);
    }

    #[test]
    fn the_memory_bound_refuses_growth_and_counts_what_is_held() {
        let visited = Visited::new(64 * 1024);
        let mut recorded = 0;
        for fingerprint in 0..100_000u128 {
            match visited.visit(fingerprint.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835), 1) {
                Visit::New => recorded += 1,
                Visit::Full => break,
                Visit::Seen | Visit::Closer => unreachable!("every fingerprint is new"),
            }
        }
        assert!(recorded > 100 && recorded < 100_000, "recorded {recorded}");
        assert!(visited.bytes() <= 64 * 1024, "held {} bytes", visited.bytes());
    }
}
