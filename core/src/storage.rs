//! What actors persist: typed keys, encoded values, and the operations a driver applies.
//!
//! A disk is a sorted map from [`StorageKey`] to bytes. The driver owns it (it outlives a
//! crash); the core only emits [`StorageOp`]s and reads a [`DiskImage`] at boot.

use crate::ids::{LogIndex, MigrationId, NodeId, ShardId};
use bytes::Bytes;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum StorageKey {
    /// A data node's incarnation counter.
    NodeMeta,
    /// A client's incarnation counter (its write ids must never repeat).
    ClientMeta,
    /// A data node's role for one shard (owner, fenced, incoming, forwarding).
    ShardMeta(ShardId),
    /// One entry of a shard log held by a data node.
    LogEntry(ShardId, LogIndex),
    /// The coordinator's incarnation and migration-id counter.
    CoordinatorMeta,
    /// The coordinator's routing entry for one shard.
    Route(ShardId),
    /// One migration in the coordinator's tracker.
    Migration(MigrationId),
    /// One member as the coordinator last saw it.
    Member(NodeId),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StorageOp {
    Put {
        key: StorageKey,
        value: Bytes,
    },
    Delete {
        key: StorageKey,
    },
    /// Drops every log entry of one shard.
    ClearShardLog {
        shard: ShardId,
    },
}

pub type DiskImage = BTreeMap<StorageKey, Bytes>;

/// Applies one operation to a disk image. Drivers call this when they carry out a persist.
pub fn apply(disk: &mut DiskImage, op: &StorageOp) {
    match op {
        StorageOp::Put { key, value } => {
            disk.insert(*key, value.clone());
        }
        StorageOp::Delete { key } => {
            disk.remove(key);
        }
        StorageOp::ClearShardLog { shard } => {
            let range = StorageKey::LogEntry(*shard, LogIndex(0))..=StorageKey::LogEntry(*shard, LogIndex(u64::MAX));
            let doomed: Vec<StorageKey> = disk.range(range).map(|(key, _)| *key).collect();
            for key in doomed {
                disk.remove(&key);
            }
        }
    }
}

/// A record on disk that does not decode: the disk is corrupt or from another version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorruptRecord {
    pub key: StorageKey,
    pub detail: String,
}

impl fmt::Display for CorruptRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "corrupt record at {:?}: {}", self.key, self.detail)
    }
}

impl std::error::Error for CorruptRecord {}

pub fn encode_record<T: Serialize>(record: &T) -> Bytes {
    // Our own record types always serialize; a failure is a programming error.
    Bytes::from(postcard::to_allocvec(record).expect("records serialize"))
}

pub fn decode_record<T: DeserializeOwned>(key: StorageKey, value: &[u8]) -> Result<T, CorruptRecord> {
    postcard::from_bytes(value).map_err(|error| CorruptRecord { key, detail: error.to_string() })
}

pub fn put<T: Serialize>(key: StorageKey, record: &T) -> StorageOp {
    StorageOp::Put { key, value: encode_record(record) }
}
