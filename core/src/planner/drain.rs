//! Moves shards off nodes that no longer accept shards (draining for decommission).

use super::{Move, MoveBudget};
use crate::config::MigrationCaps;
use crate::ids::NodeId;
use crate::load::ClusterView;
use std::collections::BTreeMap;

/// Each shard of a non-accepting node goes to the accepting node with the fewest shards
/// (counts updated as moves are planned; ties to the lowest id). O(S + moves * N).
pub fn plan_drain(view: &ClusterView, caps: MigrationCaps) -> Vec<Move> {
    plan_drain_with(view, caps, false)
}

/// `any_target` plants the `DrainingTarget` canary: every other member may take a shard,
/// another leaving one included.
pub(crate) fn plan_drain_with(view: &ClusterView, caps: MigrationCaps, any_target: bool) -> Vec<Move> {
    let mut counts: BTreeMap<NodeId, usize> =
        view.nodes.iter().filter(|node| node.accepts_shards || any_target).map(|node| (node.node, 0)).collect();
    let leaving: Vec<NodeId> = view.nodes.iter().filter(|node| !node.accepts_shards).map(|node| node.node).collect();
    if leaving.is_empty() || counts.is_empty() {
        return Vec::new();
    }
    for shard in &view.shards {
        if let Some(count) = counts.get_mut(&shard.owner) {
            *count += 1;
        }
    }
    let mut budget = MoveBudget::new(view, caps);
    let mut moves = Vec::new();
    for shard in &view.shards {
        if budget.exhausted() {
            break;
        }
        if shard.migrating_to.is_some() || !leaving.contains(&shard.owner) || !budget.node_has_room(shard.owner) {
            continue;
        }
        let target = counts
            .iter()
            .filter(|(node, _)| budget.allows(shard.owner, **node))
            .min_by_key(|(node, count)| (**count, **node))
            .map(|(node, _)| *node);
        if let Some(to) = target {
            budget.spend(shard.owner, to);
            *counts.get_mut(&to).expect("target is counted") += 1;
            moves.push(Move { shard: shard.shard, from: shard.owner, to });
        }
    }
    moves
}
