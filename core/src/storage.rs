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
/// The op is moved in: cloning a value's `Bytes` would allocate its shared header.
pub fn apply(disk: &mut DiskImage, op: StorageOp) {
    match op {
        StorageOp::Put { key, value } => {
            disk.insert(key, value);
        }
        StorageOp::Delete { key } => {
            disk.remove(&key);
        }
        StorageOp::ClearShardLog { shard } => {
            let range = StorageKey::LogEntry(shard, LogIndex(0))..=StorageKey::LogEntry(shard, LogIndex(u64::MAX));
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

/// Bytes of the CRC-32 every stored record ends in.
pub const CHECKSUM_BYTES: usize = 4;

/// A record as stored: its postcard encoding, then a CRC-32 of that encoding (little
/// endian), so that a torn write or a flipped bit is found when the record is read.
pub fn encode_record<T: Serialize>(record: &T) -> Bytes {
    // Our own record types always serialize; a failure is a programming error.
    crate::encoding::encode_exact(record, |encoded| crc32fast::hash(encoded).to_le_bytes()).expect("records serialize")
}

/// The record's encoding, once its checksum matches.
pub fn checked_body(key: StorageKey, value: &[u8]) -> Result<&[u8], CorruptRecord> {
    let corrupt = |detail: String| CorruptRecord { key, detail };
    let Some(split) = value.len().checked_sub(CHECKSUM_BYTES) else {
        return Err(corrupt(format!("{} bytes: shorter than a checksum", value.len())));
    };
    let (body, stored) = value.split_at(split);
    let stored = u32::from_le_bytes(stored.try_into().expect("four bytes"));
    let computed = crc32fast::hash(body);
    if stored != computed {
        return Err(corrupt(format!("checksum {stored:08x} stored, {computed:08x} computed")));
    }
    Ok(body)
}

/// The record's encoding without looking at its checksum (only the
/// `ChecksumsIgnored` canary reads records this way).
pub fn unchecked_body(value: &[u8]) -> &[u8] {
    &value[..value.len().saturating_sub(CHECKSUM_BYTES)]
}

pub fn decode_record<T: DeserializeOwned>(key: StorageKey, value: &[u8]) -> Result<T, CorruptRecord> {
    decode_body(key, checked_body(key, value)?)
}

pub fn decode_body<T: DeserializeOwned>(key: StorageKey, body: &[u8]) -> Result<T, CorruptRecord> {
    postcard::from_bytes(body).map_err(|error| CorruptRecord { key, detail: error.to_string() })
}

pub fn put<T: Serialize>(key: StorageKey, record: &T) -> StorageOp {
    StorageOp::Put { key, value: encode_record(record) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_only_while_its_checksum_matches() {
        let key = StorageKey::NodeMeta;
        let stored = encode_record(&(7u64, "seven"));
        assert_eq!(decode_record::<(u64, String)>(key, &stored), Ok((7, "seven".to_string())));
        let mut flipped = stored.to_vec();
        flipped[1] ^= 0x04;
        let error = decode_record::<(u64, String)>(key, &flipped).expect_err("a flipped bit");
        assert!(error.detail.contains("checksum"), "{error}");
        let torn = &stored[..stored.len() / 2];
        assert!(decode_record::<(u64, String)>(key, torn).is_err());
        assert!(decode_record::<(u64, String)>(key, &[1, 2]).expect_err("too short").detail.contains("shorter"));
        assert_eq!(unchecked_body(&flipped).len(), stored.len() - CHECKSUM_BYTES);
    }
}
