//! A shard's append-only log, with a rolling digest and a write-id index for dedup.

use crate::fixed_hash::FixedHashTable;
use crate::ids::{EntityKey, LogIndex, WriteId};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Rolling FNV-1a-style digest of a log prefix: equal digests at equal indexes mean equal
/// logs (up to hash collisions), so a cut-over can compare source and target cheaply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Digest(pub u64);

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl Digest {
    pub const EMPTY: Digest = Digest(FNV_OFFSET);

    pub fn extend(self, entry: &LogEntry) -> Digest {
        let mut hash = self.0;
        let mut feed = |bytes: &[u8]| {
            for byte in bytes {
                hash ^= u64::from(*byte);
                hash = hash.wrapping_mul(FNV_PRIME);
            }
        };
        feed(&entry.write_id.client.0.to_le_bytes());
        feed(&entry.write_id.incarnation.0.to_le_bytes());
        feed(&entry.write_id.sequence.to_le_bytes());
        feed(&entry.entity.0.to_le_bytes());
        feed(&(entry.payload.len() as u64).to_le_bytes());
        feed(&entry.payload);
        Digest(hash)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub write_id: WriteId,
    /// The entity the write feeds: rebuilt from the log wherever the shard is owned next.
    pub entity: EntityKey,
    pub payload: Bytes,
}

/// The in-memory copy of one shard's log. The disk holds the same entries, one key each.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ShardLog {
    entries: Vec<LogEntry>,
    digest: Digest,
    /// Where each write sits, derived from `entries` (so not part of a state's encoding):
    /// looked up at every write, never walked.
    #[serde(skip)]
    index_of_write: FixedHashTable<WriteId, LogIndex>,
    bytes: u64,
}

impl ShardLog {
    pub fn new() -> ShardLog {
        ShardLog { digest: Digest::EMPTY, ..ShardLog::default() }
    }

    pub fn last_index(&self) -> LogIndex {
        LogIndex(self.entries.len() as u64)
    }

    pub fn digest(&self) -> Digest {
        self.digest
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn index_of(&self, write_id: &WriteId) -> Option<LogIndex> {
        self.index_of_write.get(write_id).copied()
    }

    /// Distinct write ids in the log; equal to the length when no write is held twice.
    pub fn distinct_writes(&self) -> usize {
        self.index_of_write.len()
    }

    pub fn entries(&self) -> &[LogEntry] {
        &self.entries
    }

    /// Entries with indexes `first..=last`, clamped to what the log holds.
    pub fn range(&self, first: LogIndex, last: LogIndex) -> &[LogEntry] {
        let start = (first.0.max(1) - 1) as usize;
        let end = (last.0 as usize).min(self.entries.len());
        if start >= end {
            &[]
        } else {
            &self.entries[start..end]
        }
    }

    /// Appends and returns the new entry's index.
    pub fn append(&mut self, entry: LogEntry) -> LogIndex {
        self.digest = self.digest.extend(&entry);
        self.bytes += entry.payload.len() as u64;
        let index = LogIndex(self.entries.len() as u64 + 1);
        self.index_of_write.insert(entry.write_id, index);
        self.entries.push(entry);
        index
    }
}
