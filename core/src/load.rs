//! Load as nodes report it in heartbeats and as the planners see it.

use crate::ids::{NodeId, ShardId};
use serde::{Deserialize, Serialize};

/// One shard's load over the last heartbeat window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardLoad {
    pub shard: ShardId,
    pub bytes: u64,
    pub writes_per_s: u64,
    pub reads_per_s: u64,
}

/// One node's load over the last heartbeat window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeLoad {
    pub shards_led: u32,
    pub bytes: u64,
    pub writes_per_s: u64,
    pub reads_per_s: u64,
    pub cpu_permille: u32,
}

/// A node as a planner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeView {
    pub node: NodeId,
    /// Active members may receive shards; others (draining, suspect, down) may not.
    pub accepts_shards: bool,
    pub cpu_permille: u32,
}

/// A shard as a planner sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardView {
    pub shard: ShardId,
    pub owner: NodeId,
    pub load: ShardLoad,
    /// The target of the shard's active migration, if it has one: such a shard is never
    /// moved again until the migration ends, and planners count it where it is going.
    pub migrating_to: Option<NodeId>,
}

/// Everything a planner reads: a snapshot, so planners stay pure functions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterView {
    pub nodes: Vec<NodeView>,
    pub shards: Vec<ShardView>,
    /// Active migrations each node takes part in (as source or target).
    pub active_by_node: Vec<(NodeId, usize)>,
    pub active_total: usize,
}
