//! What the oracle may read of the cluster besides observations.

use shardsim_core::log::{Digest, LogEntry};
use shardsim_core::storage::{decode_record, DiskImage, StorageKey};
use shardsim_core::{ActorId, Coordinator, DataNode, LogIndex, NodeId, ShardId};

/// A driver's view of its actors. `None` for an actor that is down.
pub trait ClusterState {
    fn coordinator(&self) -> Option<&Coordinator>;
    fn node(&self, node: NodeId) -> Option<&DataNode>;
    fn node_ids(&self) -> Vec<NodeId>;
    /// What survives a crash: the durable part of an actor's disk.
    fn durable_disk(&self, actor: ActorId) -> Option<&DiskImage>;
}

/// A shard's log as it is durably on a node's disk: its last index and digest, or why it
/// does not decode.
pub fn durable_log(disk: &DiskImage, shard: ShardId) -> Result<(LogIndex, Digest), String> {
    let range = StorageKey::LogEntry(shard, LogIndex(0))..=StorageKey::LogEntry(shard, LogIndex(u64::MAX));
    let mut digest = Digest::EMPTY;
    let mut last = LogIndex::EMPTY;
    for (key, value) in disk.range(range) {
        let StorageKey::LogEntry(_, index) = key else { continue };
        if *index != last.next() {
            return Err(format!("durable log of {shard} jumps from {last} to {index}"));
        }
        let entry: LogEntry = decode_record(*key, value).map_err(|error| error.to_string())?;
        digest = digest.extend(&entry);
        last = *index;
    }
    Ok((last, digest))
}
