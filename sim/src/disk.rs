//! A simulated disk: what is durable survives a crash; what is only in the page cache is
//! lost with it. A sync (fsync) moves the cache to the durable image, in order. A crash
//! can also tear the write in progress, as on a real disk.

use bytes::Bytes;
use shardsim_core::storage::{apply, DiskImage, StorageKey, StorageOp};

#[derive(Clone, Debug, Default)]
pub struct SimDisk {
    durable: DiskImage,
    cache: Vec<StorageOp>,
}

impl SimDisk {
    pub fn new() -> SimDisk {
        SimDisk::default()
    }

    pub fn durable(&self) -> &DiskImage {
        &self.durable
    }

    /// Writes in the page cache, not yet durable, oldest first.
    pub fn cache(&self) -> &[StorageOp] {
        &self.cache
    }

    /// Queues a write in the page cache; it is durable only after the next sync.
    pub fn write(&mut self, op: StorageOp) {
        self.cache.push(op);
    }

    pub fn has_unsynced(&self) -> bool {
        !self.cache.is_empty()
    }

    pub fn sync(&mut self) {
        for op in self.cache.drain(..) {
            apply(&mut self.durable, op);
        }
    }

    /// A crash: the page cache is gone, the durable image stays.
    pub fn crash(&mut self) {
        self.cache.clear();
    }

    /// The stored shard records (shard metadata and log entries), in key order: what
    /// rot at rest and read errors hit.
    pub fn shard_records(&self) -> Vec<StorageKey> {
        self.durable
            .keys()
            .filter(|key| matches!(key, StorageKey::ShardMeta(_) | StorageKey::LogEntry(..)))
            .copied()
            .collect()
    }

    /// Flips bit `bit` (modulo the record's length) of a durable record at rest. Returns
    /// the bytes it held before; `None` for a record that is not there or is empty.
    pub fn flip_bit(&mut self, key: StorageKey, bit: u64) -> Option<Bytes> {
        let meant = self.durable.get(&key)?.clone();
        if meant.is_empty() {
            return None;
        }
        let mut flipped = meant.to_vec();
        let bit = bit % (flipped.len() as u64 * 8);
        flipped[(bit / 8) as usize] ^= 1 << (bit % 8);
        self.durable.insert(key, Bytes::from(flipped));
        Some(meant)
    }

    /// Whether the page cache's last write is a log entry: what a torn crash tears.
    pub fn tears_a_log_entry(&self) -> bool {
        matches!(self.cache.last(), Some(StorageOp::Put { key: StorageKey::LogEntry(..), .. }))
    }

    /// A crash in the middle of writing back the page cache, when its last write is a log
    /// entry: what came before it reached the disk whole, the entry itself only its first
    /// half (the rest of its sectors read zero), and nothing after. Returns the torn key
    /// and the bytes it was meant to hold; `None` (a plain crash) otherwise.
    pub fn crash_torn(&mut self) -> Option<(StorageKey, Bytes)> {
        if !self.tears_a_log_entry() {
            self.crash();
            return None;
        }
        let mut ops: Vec<StorageOp> = self.cache.drain(..).collect();
        let StorageOp::Put { key, value } = ops.pop().expect("the last op") else { unreachable!("found a put") };
        for op in ops {
            apply(&mut self.durable, op);
        }
        let mut torn = value.to_vec();
        let half = torn.len() / 2;
        torn[half..].fill(0);
        self.durable.insert(key, Bytes::from(torn));
        Some((key, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardsim_core::storage::{checked_body, put};
    use shardsim_core::{LogIndex, ShardId};

    #[test]
    fn a_crash_loses_what_was_not_synced_and_keeps_what_was() {
        let mut disk = SimDisk::new();
        let put = |value: &'static [u8]| StorageOp::Put { key: StorageKey::NodeMeta, value: Bytes::from_static(value) };
        disk.write(put(b"synced"));
        disk.sync();
        disk.write(put(b"cached"));
        disk.crash();
        assert_eq!(disk.durable().get(&StorageKey::NodeMeta).map(|value| &value[..]), Some(&b"synced"[..]));
        assert!(!disk.has_unsynced());
    }

    fn entry(index: u64) -> StorageOp {
        put(StorageKey::LogEntry(ShardId(1), LogIndex(index)), &(index, "payload of the entry"))
    }

    #[test]
    fn a_torn_crash_keeps_what_came_before_and_half_of_the_last_entry() {
        let mut disk = SimDisk::new();
        disk.write(entry(1));
        disk.write(entry(2));
        let (key, meant) = disk.crash_torn().expect("the last write is a log entry");
        assert_eq!(key, StorageKey::LogEntry(ShardId(1), LogIndex(2)));
        assert!(checked_body(
            StorageKey::LogEntry(ShardId(1), LogIndex(1)),
            &disk.durable()[&StorageKey::LogEntry(ShardId(1), LogIndex(1))]
        )
        .is_ok());
        let torn = &disk.durable()[&key];
        assert_eq!(torn.len(), meant.len());
        assert!(checked_body(key, torn).is_err(), "the checksum finds the tear");
        assert!(!disk.has_unsynced());
        disk.write(StorageOp::Delete { key });
        assert_eq!(disk.crash_torn(), None, "a last write that is no log entry: a plain crash");
        assert!(disk.durable().contains_key(&key));
    }

    #[test]
    fn a_flipped_bit_changes_one_bit_of_a_record_at_rest_and_its_checksum_finds_it() {
        let mut disk = SimDisk::new();
        disk.write(entry(1));
        disk.write(put(StorageKey::NodeMeta, &7u64));
        disk.sync();
        assert_eq!(disk.shard_records(), vec![StorageKey::LogEntry(ShardId(1), LogIndex(1))]);
        let key = StorageKey::LogEntry(ShardId(1), LogIndex(1));
        let meant = disk.flip_bit(key, 13).expect("the record is there");
        let held = &disk.durable()[&key];
        let differing: u32 = meant.iter().zip(held.iter()).map(|(a, b)| (a ^ b).count_ones()).sum();
        assert_eq!(differing, 1);
        assert!(checked_body(key, held).is_err());
        assert_eq!(disk.flip_bit(StorageKey::ShardMeta(ShardId(9)), 0), None);
    }
}
